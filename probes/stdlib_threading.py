"""Standard library: threading primitives and queue.Queue released by another thread.

The measured call starts a ``threading.Thread`` (a greenlet once patched) that releases the
primitive after ``wait`` seconds, then waits on it. Unpatched, the wait would block the only
thread that could run the releaser: a hang, which the meter reports as ``breaks``.
"""
from __future__ import annotations

from patchcheck_probe import probe


def _later(wait, fn):
    import threading
    import time

    def run():
        time.sleep(wait)
        fn()

    thread = threading.Thread(target=run, name="patchcheck-releaser", daemon=True)
    thread.start()
    return thread


@probe("stdlib.threading.lock", distributions=["stdlib"], wait=0.3)
def stdlib_threading_lock(ctx):
    """threading.Lock().acquire() while another thread holds it for ``wait``."""
    import threading

    lock = threading.Lock()

    def call():
        lock.acquire()  # held by "another thread" that releases it after wait
        _later(ctx.wait, lock.release)
        if not lock.acquire(timeout=60):
            raise TimeoutError("the lock was never released")
        lock.release()

    return call


@probe("stdlib.threading.event", distributions=["stdlib"], wait=0.3)
def stdlib_threading_event(ctx):
    """threading.Event().wait() set by another thread after ``wait``."""
    import threading

    event = threading.Event()

    def call():
        _later(ctx.wait, event.set)
        if not event.wait(60):
            raise TimeoutError("the event was never set")

    return call


@probe("stdlib.threading.condition", distributions=["stdlib"], wait=0.3)
def stdlib_threading_condition(ctx):
    """threading.Condition().wait_for() notified by another thread after ``wait``."""
    import threading

    cond = threading.Condition()
    state = {"ready": False}

    def notify():
        with cond:
            state["ready"] = True
            cond.notify_all()

    def call():
        _later(ctx.wait, notify)
        with cond:
            if not cond.wait_for(lambda: state["ready"], timeout=60):
                raise TimeoutError("the condition was never notified")

    return call


@probe("stdlib.queue", distributions=["stdlib"], wait=0.3)
def stdlib_queue(ctx):
    """queue.Queue().get() of an item another thread puts after ``wait``."""
    import queue

    q = queue.Queue()

    def call():
        _later(ctx.wait, lambda: q.put("item"))
        if q.get(timeout=60) != "item":
            raise ValueError("wrong item")

    return call
