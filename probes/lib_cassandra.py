"""cassandra-driver against a silent node: ``Cluster.connect()`` with ``connect_timeout=wait``.

The ``silent`` fixture accepts TCP connections and never answers the driver's ``OPTIONS``
message, so the measured call waits ``wait`` seconds for the connection to become ready and
ends with ``NoHostAvailable`` (OperationTimedOut), which the probe expects.

cassandra-driver chooses its connection class (its event loop) when ``cassandra.cluster`` is
imported: ``GeventConnection`` only if gevent has already patched ``socket``, otherwise libev
(``LibevConnection``, a C extension with its own loop thread) or asyncore. ``import cassandra``
alone does not load ``cassandra.cluster``, so an import-before-patch run of ``connect`` would
still get ``GeventConnection``; ``connect_libev`` instead names the class an app gets when it
imports ``cassandra.cluster`` before ``patch_all()`` (libev is in the wheels). Under
``patch_all()`` libev's loop "thread" is a greenlet that runs libev's C loop on the hub's
thread and never yields, so ``connect()`` never returns (``breaks``). The remedy is the
driver's documented one, ``connection_class=GeventConnection``; cassandra-driver 3.30
deprecates ``GeventConnection`` (removal planned for 3.31).
"""
from __future__ import annotations

from patchcheck_probe import probe

#: The connection class ``connect_libev`` passes to ``Cluster``; the remedy replaces it. A
#: module global because a remedy runs before the factory, in the same child and module.
_LIBEV_PROBE_CLASS = {"name": "libev"}


def _remedy_gevent_connection():
    """What ``Cluster(connection_class=GeventConnection)`` does, for every Cluster."""
    import cassandra.cluster

    cassandra.cluster.Cluster.connection_class = _connection_class("gevent")
    _LIBEV_PROBE_CLASS["name"] = "gevent"


def _connection_class(name):
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # 3.30: "gevent loop deprecated"
        if name == "gevent":
            from cassandra.io.geventreactor import GeventConnection
            return GeventConnection
        from cassandra.io.libevreactor import LibevConnection
        return LibevConnection


_REMEDIES = {"Cluster(connection_class=cassandra.io.geventreactor.GeventConnection)":
             _remedy_gevent_connection}


@probe(distributions=["cassandra-driver"], services=["silent"], wait=0.3, remedies=_REMEDIES)
def cassandra_driver_connect(ctx):
    """Cluster(connect_timeout=wait).connect() on a node that never answers."""
    return _connect_call(ctx, None)


@probe(distributions=["cassandra-driver"], services=["silent"], wait=0.3, remedies=_REMEDIES)
def cassandra_driver_connect_libev(ctx):
    """Cluster(connection_class=LibevConnection).connect(): the pre-patch default."""
    try:
        cls = _connection_class(_LIBEV_PROBE_CLASS["name"])
    except ImportError as exc:  # a source build without libev
        from patchcheck_probe import Skip

        raise Skip(f"cassandra.io.libevreactor is not available: {exc}") from None
    return _connect_call(ctx, cls)


def _connect_call(ctx, connection_class):
    import warnings

    from cassandra.cluster import Cluster, NoHostAvailable
    from cassandra.policies import RoundRobinPolicy

    peer = ctx.service("silent")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        cluster = Cluster([peer.host], port=int(peer.port), connect_timeout=ctx.wait,
                          control_connection_timeout=ctx.wait, protocol_version=4,
                          load_balancing_policy=RoundRobinPolicy())
    if connection_class is not None:
        cluster.connection_class = connection_class

    def call():
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", DeprecationWarning)
                session = cluster.connect()
        except NoHostAvailable:
            return  # expected: the node never answered within connect_timeout
        finally:
            cluster.shutdown()
        session.shutdown()
        raise ValueError("Cluster.connect() succeeded against a node that never answers")

    return call
