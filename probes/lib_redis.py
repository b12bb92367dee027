"""redis-py: a blocking command that waits server-side.

``BLPOP`` on an empty scratch key with a timeout of ``wait`` seconds: Redis holds the reply
until the timeout (fractional timeouts need Redis >= 6.0). redis-py is pure Python over the
``socket`` module (hiredis, when installed, only parses replies), so after ``patch_all()`` it
is expected to cooperate.
"""
from __future__ import annotations

from patchcheck_probe import probe


@probe(distributions=["redis"], services=["redis"], wait=0.3)
def redis_blpop(ctx):
    """redis.Redis().blpop(empty key, timeout=wait): Redis answers nil after ``wait``."""
    import redis

    peer = ctx.service("redis")
    client = redis.Redis(host=peer.host, port=int(peer.port), password=peer.get("password"),
                         username=peer.get("user"), db=int(peer.get("database") or 0),
                         socket_timeout=30, socket_connect_timeout=10)
    key = (peer.get("key_prefix") or "patchcheck:") + ctx.unique("blpop")
    client.ping()  # connect and authenticate during setup, not in the measured call

    def call():
        try:
            reply = client.blpop([key], timeout=ctx.wait)
            if reply is not None:
                raise ValueError(f"BLPOP on the scratch key {key} returned {reply!r}")
        finally:
            client.close()

    return call
