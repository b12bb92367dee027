"""Runs ``multiprocessing.Pool(2).map()`` at import, as a library that fans work out would.

Under patch_all() on Python 3.11 + gevent 26.9 the map never returns; it returns with
patch_all(thread=False, queue=False), and hangs with either one alone (with thread=False only,
the pool's handler thread dies with LoopExit in gevent's queue.SimpleQueue). The mapped
function is a builtin: a function of this module would make the forked workers import this
half-imported module and deadlock on its import lock, patched or not.
"""
import multiprocessing

with multiprocessing.get_context("fork").Pool(2) as _pool:
    RESULTS = _pool.map(abs, [-1, -2, -3, -4])
