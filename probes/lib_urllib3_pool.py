"""urllib3: waiting for a connection of a full pool (``maxsize=1, block=True``).

Under gevent, urllib3's pool checkout waits on its ``QueueCls`` (a ``queue.LifoQueue``
subclass); a non-deterministic deadlock there is gevent#1957 / urllib3#3061 / urllib3#3289, and
Locust sets ``ConnectionPool.QueueCls = gevent.queue.LifoQueue`` to avoid it. gevent 25.4.1
makes ``patch_all()`` patch ``queue.LifoQueue`` itself.

Each copy of the call has its own one-connection pool. A helper greenlet takes the connection
with a GET the slow HTTP fixture answers after ``wait``; the call's own GET must wait for that
connection to come back, then waits ``wait`` itself. If the checkout wait held the hub, the
helper could never return the connection: the call ends with urllib3's EmptyPoolError after
``pool_timeout`` (breaks) instead of ~2 × ``wait``. What this does *not* reproduce is the
garbage-collector/finaliser timing of gevent#1957: a cooperating result says the wait yields,
not that the race cannot happen (the knowledge entry keeps the upstream reports).

``import_order="both"``: imported before ``patch_all()`` the queue classes are the ones
urllib3 captured at import time. Proxies from the environment are never used.
"""
from __future__ import annotations

from patchcheck_probe import probe

_TIMEOUT = 30.0
#: how long the call waits for the pool's connection before urllib3 raises EmptyPoolError
_POOL_TIMEOUT = 10.0


def _remedy_gevent_queue():
    """Locust's fix (locust/__init__.py): the pool waits on gevent's own LIFO queue."""
    import gevent.queue
    from urllib3.connectionpool import ConnectionPool

    ConnectionPool.QueueCls = gevent.queue.LifoQueue


@probe(distributions=["urllib3"], services=["slow_http"], wait=0.3, import_order="both",
       remedies={"ConnectionPool.QueueCls = gevent.queue.LifoQueue": _remedy_gevent_queue})
def urllib3_pool_wait(ctx):
    """Two GETs on a HTTPConnectionPool(maxsize=1, block=True): the second waits for the
    pool's only connection while the first holds it for ``wait``."""
    import gevent
    import urllib3

    peer = ctx.service("slow_http")
    pool = urllib3.HTTPConnectionPool(
        peer.host, peer.port, maxsize=1, block=True, retries=False,
        timeout=urllib3.Timeout(connect=_TIMEOUT, read=_TIMEOUT))

    def get():
        response = pool.urlopen("GET", "/", pool_timeout=_POOL_TIMEOUT)
        if response.status != 200:
            raise ValueError(f"HTTP {response.status}")

    def call():
        holder = gevent.spawn(get)
        try:
            gevent.sleep(0)  # let the helper check the connection out first
            get()
            holder.get(timeout=_TIMEOUT)
        finally:
            holder.kill()
            pool.close()

    return call
