"""pg8000: a pure-Python PostgreSQL driver, against the ``postgresql`` service.

The probe runs ``SELECT pg_sleep(wait)`` on an open connection (the server answers after
``wait``). pg8000 speaks the protocol over the ``socket`` module itself (no libpq), so after
``patch_all()`` it is expected to cooperate.
"""
from __future__ import annotations

from patchcheck_probe import probe


@probe(distributions=["pg8000"], services=["postgresql"], wait=0.3)
def pg8000_native_run(ctx):
    """pg8000.native: SELECT pg_sleep(wait) on an open connection."""
    import pg8000.native

    peer = ctx.service("postgresql")
    conn = pg8000.native.Connection(
        user=peer.get("user") or "postgres", password=peer.get("password") or None,
        host=peer.host, port=int(peer.port), database=peer.get("database") or "postgres",
        timeout=30, application_name="patchcheck-probe")

    def call():
        try:
            conn.run("SELECT pg_sleep(:wait)", wait=ctx.wait)
        finally:
            conn.close()

    return call
