"""pymemcache: a get through a latency proxy in front of a real memcached.

memcached cannot be asked to answer late, so the ``proxy:memcached`` service holds every
server-to-client chunk for ``wait`` seconds. pymemcache is pure Python over the ``socket``
module, so after ``patch_all()`` it is expected to cooperate.
"""
from __future__ import annotations

from patchcheck_probe import probe


@probe(distributions=["pymemcache"], services=["proxy:memcached"], wait=0.3)
def pymemcache_get(ctx):
    """pymemcache Client.get(key) through the latency proxy: the reply arrives after ``wait``."""
    from pymemcache.client.base import Client

    peer = ctx.service("proxy:memcached")
    client = Client((peer.host, int(peer.port)), connect_timeout=10, timeout=30)
    key = ((peer.get("key_prefix") or "patchcheck:") + ctx.unique("get")).replace(" ", "_")

    def call():
        try:
            client.get(key)
        finally:
            client.close()

    return call
