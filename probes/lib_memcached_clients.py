"""memcached clients beside pymemcache: python-memcached (``memcache``) and pylibmc.

Like ``lib_memcached``, each probe gets a key through ``proxy:memcached``, a latency proxy in
front of a real memcached that holds every server-to-client chunk for ``wait`` seconds.

* python-memcached is pure Python over the ``socket`` module: it cooperates once patched.
* pylibmc wraps libmemcached (C), which connects, sends and polls its own sockets: it blocks
  the hub, and no pylibmc setting changes that. gevent's threadpool (the generic remedy, always
  measured for a probe that blocks) moves the wait off the hub; the documented alternative is a
  pure-Python client (pymemcache, python-memcached).
"""
from __future__ import annotations

from patchcheck_probe import probe


def _key(ctx, peer):
    return ((peer.get("key_prefix") or "patchcheck:") + ctx.unique("get")).replace(" ", "_")


@probe(distributions=["python-memcached"], services=["proxy:memcached"], wait=0.3)
def python_memcached_get(ctx):
    """python-memcached Client.get(key) through the latency proxy."""
    import memcache

    peer = ctx.service("proxy:memcached")
    client = memcache.Client([f"{peer.host}:{int(peer.port)}"], socket_timeout=30)
    key = _key(ctx, peer)

    def call():
        try:
            client.get(key)
        finally:
            client.disconnect_all()

    return call


@probe(distributions=["pylibmc"], services=["proxy:memcached"], wait=0.3)
def pylibmc_get(ctx):
    """pylibmc Client.get(key) through the latency proxy (libmemcached does the I/O)."""
    import pylibmc

    peer = ctx.service("proxy:memcached")
    # Timeouts well above the wait (libmemcached's are in milliseconds), so the get waits for
    # the late answer instead of giving up.
    client = pylibmc.Client([f"{peer.host}:{int(peer.port)}"],
                            behaviors={"connect_timeout": 10000, "receive_timeout": 30000000,
                                       "send_timeout": 30000000, "_poll_timeout": 30000})
    key = _key(ctx, peer)

    def call():
        try:
            client.get(key)
        finally:
            client.disconnect_all()

    return call
