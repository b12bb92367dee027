"""Standard library: ``concurrent.futures.ThreadPoolExecutor`` running C code that releases
the GIL (hashlib over large buffers).

Under ``patch_all()`` the executor's worker threads are greenlets in the hub's thread: the C
work that would run in parallel on a native thread now runs in the hub, which stalls for all
of it. ``gevent.threadpool.ThreadPoolExecutor`` (native threads) keeps the hub running.
"""
from __future__ import annotations

from patchcheck_probe import probe

_use = {"gevent_pool": False}
_CHUNK = 4 * 1024 * 1024  # hashlib releases the GIL for buffers over 2047 bytes


def _remedy_gevent_pool():
    """Submit to gevent.threadpool.ThreadPoolExecutor (native threads) instead."""
    _use["gevent_pool"] = True


def _rounds(buf, wait):
    """How many sha256 updates of ``buf`` take about ``wait`` seconds here (measured once)."""
    import hashlib
    import time

    h = hashlib.sha256()
    start = time.perf_counter()
    for _ in range(4):
        h.update(buf)
    per_round = max((time.perf_counter() - start) / 4, 1e-4)
    return max(1, int(wait / per_round))


def _digest(buf, rounds):
    import hashlib

    h = hashlib.sha256()
    for _ in range(rounds):
        h.update(buf)
    return h.hexdigest()


# concurrency=1: each copy's caller yields while its future is pending, so K copies would all
# start before the first worker greenlet runs and the ratio could not show the serialisation;
# the hub's heartbeat gap alone is the evidence.
@probe("stdlib.concurrent.futures.threadpool", distributions=["stdlib"], wait=0.3, concurrency=1,
       remedies={"gevent.threadpool.ThreadPoolExecutor": _remedy_gevent_pool})
def stdlib_concurrent_futures_threadpool(ctx):
    """ThreadPoolExecutor().submit(sha256 over ~``wait`` seconds of data).result()."""
    if _use["gevent_pool"]:
        from gevent.threadpool import ThreadPoolExecutor
    else:
        from concurrent.futures import ThreadPoolExecutor

    buf = b"\x5a" * _CHUNK
    rounds = _rounds(buf, ctx.wait)
    executor = ThreadPoolExecutor(max_workers=1)

    def call():
        try:
            executor.submit(_digest, buf, rounds).result(timeout=60)
        finally:
            executor.shutdown(wait=False)

    return call
