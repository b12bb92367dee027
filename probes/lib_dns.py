"""dnspython: a query answered late by the slow DNS fixture.

``dns.resolver.Resolver(configure=False)`` pointed at the fixture (127.0.0.1 and its port), so
neither ``/etc/resolv.conf`` nor the machine's nameservers are ever used. dnspython sends and
waits with the ``socket`` and ``selectors`` modules, so after ``patch_all()`` it is expected to
cooperate.
"""
from __future__ import annotations

from patchcheck_probe import probe


@probe(distributions=["dnspython"], services=["slow_dns"], wait=0.3)
def dnspython_resolve(ctx):
    """dns.resolver.Resolver.resolve(unique name, "A"); the server answers after ``wait``."""
    import dns.resolver

    peer = ctx.service("slow_dns")
    resolver = dns.resolver.Resolver(configure=False)
    resolver.nameservers = [peer.host]
    resolver.port = int(peer.port)
    resolver.timeout = 10.0
    resolver.lifetime = 20.0
    # A fresh name for every copy: no cache can answer early.
    name = ctx.unique("q").replace("_", "-") + ".patchcheck.test."

    def call():
        answer = resolver.resolve(name, "A", search=False)
        if not any(r.address == "127.0.0.1" for r in answer):
            raise LookupError(f"unexpected answer for {name}: {answer.rrset}")

    return call
