"""kazoo, against patchcheck's own ZooKeeper, with each of its two handlers.

The client connects through ``proxy:zookeeper`` (every server-to-client chunk held for
``wait``); the measured call is ``KazooClient.get("/")``, whose reply arrives ``wait`` later.

kazoo is pure Python; its *handler* decides how it waits. The default
``SequentialThreadingHandler`` uses ``threading`` and ``select``, which ``patch_all()`` turns
into gevent's; ``SequentialGeventHandler`` uses gevent directly and is what kazoo's docs tell
gevent users to pass (``KazooClient(handler=SequentialGeventHandler())``). One probe per
handler, so both are measured; the documented advice is a knowledge entry either way.
"""
from __future__ import annotations

from patchcheck_probe import probe


def _client(ctx, handler=None):
    from kazoo.client import KazooClient

    peer = ctx.service("proxy:zookeeper")
    kwargs = {"hosts": f"{peer.host}:{int(peer.port)}", "timeout": 30.0}
    if handler is not None:
        kwargs["handler"] = handler
    client = KazooClient(**kwargs)
    client.start(timeout=15)

    def call():
        # No stop() here: closing the session is one more round trip through the slow proxy;
        # the child's exit ends the connection.
        client.get("/")

    return call


@probe(distributions=["kazoo"], services=["proxy:zookeeper"], wait=0.3)
def kazoo_get(ctx):
    """kazoo KazooClient.get("/") with the default SequentialThreadingHandler."""
    return _client(ctx)


@probe(distributions=["kazoo"], services=["proxy:zookeeper"], wait=0.3)
def kazoo_get_gevent_handler(ctx):
    """kazoo KazooClient.get("/") with handler=SequentialGeventHandler()."""
    from kazoo.handlers.gevent import SequentialGeventHandler

    return _client(ctx, SequentialGeventHandler())
