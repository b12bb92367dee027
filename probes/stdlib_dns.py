"""Standard library: DNS resolution (``socket.getaddrinfo``), with each of gevent's resolvers.

gevent picks its resolver from ``GEVENT_RESOLVER`` / ``gevent.config.resolver``; the default is
the threadpool resolver (``thread``), ``ares`` is c-ares. Each probe installs its resolver on the
hub itself, so both are measured whatever the environment says.

``stdlib.dns`` (c-ares) measures the *patched* ``socket.getaddrinfo``
(``gevent.socket.getaddrinfo``) routed through gevent's c-ares resolver pointed at the slow DNS
fixture on 127.0.0.1:<port>. When ``socket.getaddrinfo`` is not patched (``dns=False``) or
c-ares is not available, it is skipped rather than send a query off the machine.

``stdlib.dns.thread`` measures the default threadpool resolver. That resolver runs the system's
``getaddrinfo``, which reads ``/etc/resolv.conf``: it cannot be pointed at a loopback port, and
patchcheck never contacts the machine's own nameservers. So the probe sends no DNS traffic: it
resolves the numeric address ``127.0.0.1`` (``AI_NUMERICHOST``: answered from the text, never
by a nameserver) over and over for ``wait`` seconds. With the thread resolver each call runs
on a native thread and the hub keeps running between them; unpatched, the calls run back to
back in the hub's thread and it stalls for the whole loop (on CPU: ``cpu-bound``).
"""
from __future__ import annotations

from patchcheck_probe import Skip, probe

_installed = {}


def _ares_resolver(peer, wait):
    """One c-ares resolver per child, shared by the concurrent copies, installed on the hub."""
    key = (peer.host, int(peer.port))
    if key in _installed:
        return _installed[key]
    import gevent

    try:
        from gevent.resolver.ares import Resolver
    except Exception as exc:  # built without c-ares (some PyPy builds)
        raise Skip(f"gevent's c-ares resolver is not available ({exc}); the system resolver "
                   "cannot be pointed at a loopback port") from exc
    hub = gevent.get_hub()
    options = dict(servers=[peer.host], udp_port=int(peer.port), tcp_port=int(peer.port),
                   tries=1, timeout=max(5.0, wait * 10))
    try:
        resolver = Resolver(hub=hub, use_environ=False, **options)
    except TypeError:  # gevent without use_environ
        resolver = Resolver(hub=hub, **options)
    hub.resolver = resolver
    _installed[key] = resolver
    return resolver


@probe("stdlib.dns", distributions=["stdlib"], services=["slow_dns"], wait=0.3)
def stdlib_dns(ctx):
    """socket.getaddrinfo of a unique name; the DNS server answers after ``wait``."""
    import socket

    from gevent import monkey

    if not monkey.is_object_patched("socket", "getaddrinfo"):
        raise Skip("socket.getaddrinfo is not patched (patch_all(dns=False)?): the system "
                   "resolver would query the machine's nameservers, which patchcheck never does")
    _ares_resolver(ctx.service("slow_dns"), ctx.wait)
    name = ctx.unique("q").replace("_", "-") + ".patchcheck.test"

    def call():
        infos = socket.getaddrinfo(name, 80, socket.AF_INET, socket.SOCK_STREAM)
        if not infos:
            raise LookupError(f"no address for {name}")

    return call


@probe("stdlib.dns.thread", distributions=["stdlib"], wait=0.3)
def stdlib_dns_thread(ctx):
    """socket.getaddrinfo("127.0.0.1", AI_NUMERICHOST) for ``wait`` s, thread resolver."""
    import socket
    import time

    import gevent
    from gevent import monkey

    if monkey.is_object_patched("socket", "getaddrinfo"):
        from gevent.resolver.thread import Resolver

        hub = gevent.get_hub()
        if not isinstance(hub.resolver, Resolver):
            hub.resolver = Resolver(hub=hub)
    clock = monkey.get_original("time", "time") if monkey.is_module_patched("time") else time.time

    def call():
        end = clock() + ctx.wait
        while clock() < end:
            if not socket.getaddrinfo("127.0.0.1", 80, socket.AF_INET, socket.SOCK_STREAM, 0,
                                      socket.AI_NUMERICHOST):
                raise LookupError("no address for 127.0.0.1")

    return call
