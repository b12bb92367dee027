"""Standard library: ``multiprocessing`` under ``patch_all()``.

* ``Queue.get()`` (no timeout) reads the queue's pipe with a blocking ``os.read`` in C: the hub
  stalls until another process puts an item.
* ``Pool()``: its result-handler thread is a greenlet once threads are patched, and the first
  thing it does is a blocking read of the result pipe, in the hub's thread, with no worker
  result coming: ``Pool()`` never returns (nor does anything else in the process). A hang that
  blocks the hub cannot be seen by the meter, so the probe bounds it itself with ``SIGALRM``
  (the *original* ``signal.signal``: gevent's would need the hub to run the handler), which
  interrupts the read and reports the hang as this probe's error.
"""
from __future__ import annotations

from patchcheck_probe import probe

#: how long Pool() may take before the probe calls it a hang (it takes ~50 ms unpatched)
POOL_BOUND_S = 3.0


def _put_later(queue, go_fd, wait):
    import os
    import time

    os.read(go_fd, 1)
    time.sleep(wait)
    queue.put("item")
    queue.close()
    queue.join_thread()


@probe("stdlib.multiprocessing.queue", distributions=["stdlib"], wait=0.3)
def stdlib_multiprocessing_queue(ctx):
    """multiprocessing.Queue().get() of an item another process puts ``wait`` after the call
    starts."""
    import multiprocessing
    import os

    queue = multiprocessing.Queue()
    go_read, go_write = os.pipe()
    putter = multiprocessing.Process(target=_put_later, args=(queue, go_read, ctx.wait),
                                     daemon=True)
    putter.start()

    def call():
        os.write(go_write, b"g")  # never yields: each copy's wait starts with its call
        if queue.get() != "item":
            raise ValueError("wrong item")

    return call


class PoolHang(Exception):
    """multiprocessing.Pool() did not return within the probe's bound."""


@probe("stdlib.multiprocessing.pool", distributions=["stdlib"], wait=0.3, concurrency=1)
def stdlib_multiprocessing_pool(ctx):
    """multiprocessing.Pool(1).apply(time.sleep, (wait,)), bounded at POOL_BOUND_S for Pool()."""
    import multiprocessing
    import signal
    import time

    from gevent.monkey import get_original

    set_handler = get_original("signal", "signal")
    where = {}

    def on_alarm(signum, frame):
        # The frame the hub's thread was blocked in (the pool's result handler, reading).
        import os

        code = frame.f_code
        where["at"] = f"{code.co_name}() at {os.path.basename(code.co_filename)}:{frame.f_lineno}"
        raise PoolHang(hang_message())

    def hang_message():
        return (f"multiprocessing.Pool() did not return within {POOL_BOUND_S:.0f} s: the hub's "
                f"thread was blocked in {where.get('at', '?')}")

    def call():
        previous = set_handler(signal.SIGALRM, on_alarm)
        signal.setitimer(signal.ITIMER_REAL, POOL_BOUND_S)
        pool = None
        try:
            pool = multiprocessing.Pool(1)
            signal.setitimer(signal.ITIMER_REAL, 0)
            if where:  # the alarm killed one of the pool's handler greenlets, not this call
                raise PoolHang(hang_message())
            pool.apply(time.sleep, (ctx.wait,))
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
            set_handler(signal.SIGALRM, previous)
            if pool is not None:
                for worker in list(getattr(pool, "_pool", ())):
                    worker.kill()  # never join: joining the handlers would block the hub

    return call
