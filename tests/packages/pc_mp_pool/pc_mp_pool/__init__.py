"""Runs ``multiprocessing.Pool(2).map()`` at import, as a library that fans work out would.

Under patch_all() on Python 3.11 + gevent 26.9 the map never returns (the pool's handler
threads are greenlets that never run while the main greenlet waits in a real lock). The mapped
function is a builtin: a function of this module would make the forked workers import this
half-imported module and deadlock on its import lock, patched or not.
"""
import multiprocessing

with multiprocessing.get_context("fork").Pool(2) as _pool:
    RESULTS = _pool.map(abs, [-1, -2, -3, -4])
