"""LDAP clients: ldap3 (pure Python) and python-ldap (``ldap``, over libldap), against slapd.

Each probe binds to the ``ldap`` service (patchcheck's own slapd) through ``proxy:ldap``, a
latency proxy that holds every server-to-client chunk for ``wait``, then the measured call
searches the base entry: the answer arrives ``wait`` later.

* ldap3 speaks LDAP over the ``socket`` module: it cooperates once patched.
* python-ldap waits for the answer inside libldap (C, ``ldap_result``): it blocks the hub.
  gevent's threadpool (always measured for a probe that blocks) moves the wait off the hub.
"""
from __future__ import annotations

from patchcheck_probe import probe


@probe(distributions=["ldap3"], services=["proxy:ldap"], wait=0.3)
def ldap3_search(ctx):
    """ldap3 Connection.search(base, BASE scope) after a simple bind."""
    import ldap3

    peer = ctx.service("proxy:ldap")
    server = ldap3.Server(peer.host, port=int(peer.port), connect_timeout=10)
    conn = ldap3.Connection(server, user=peer.user, password=peer.password, auto_bind=True,
                            receive_timeout=30)

    def call():
        try:
            if not conn.search(peer.base_dn, "(objectClass=*)", search_scope=ldap3.BASE):
                raise LookupError(f"search of {peer.base_dn} found nothing: "
                                  f"{conn.result}")
        finally:
            conn.unbind()

    return call


@probe(distributions=["python-ldap"], services=["proxy:ldap"], wait=0.3)
def python_ldap_search(ctx):
    """python-ldap search_s(base, SCOPE_BASE) after a simple bind (libldap does the I/O)."""
    import ldap

    peer = ctx.service("proxy:ldap")
    conn = ldap.initialize(f"ldap://{peer.host}:{int(peer.port)}/")
    conn.set_option(ldap.OPT_NETWORK_TIMEOUT, 10)
    conn.set_option(ldap.OPT_TIMEOUT, 30)
    conn.simple_bind_s(peer.user, peer.password)

    def call():
        try:
            if not conn.search_s(peer.base_dn, ldap.SCOPE_BASE, "(objectClass=*)"):
                raise LookupError(f"search of {peer.base_dn} found nothing")
        finally:
            conn.unbind_s()

    return call
