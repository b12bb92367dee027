"""PostgreSQL drivers: psycopg2 (and psycopg2-binary) and psycopg 3.

Each probe runs ``SELECT pg_sleep(wait)`` on a connection to the scratch database of the
``postgresql`` service: the server answers after ``wait``.

* psycopg2 waits for libpq's answer inside its C extension, so it blocks the hub unless a wait
  callback is installed: psycogreen's ``patch_psycopg()`` installs one that waits with
  ``gevent.socket.wait_read``/``wait_write`` (psycopg2's documented coroutine support).
* psycopg 3 chooses its wait function **when it is imported** (``psycopg/waiting.py``): if
  ``gevent.monkey`` has patched ``select`` it uses a Python wait over the (patched) selectors,
  otherwise the C ``wait_c``. Hence ``import_order="both"``: imported after ``patch_all()`` it
  should cooperate, imported before it keeps the blocking C wait.
"""
from __future__ import annotations

from patchcheck_probe import Remedy, probe


def _dsn_kwargs(peer):
    kwargs = {"host": peer.host, "port": int(peer.port), "user": peer.get("user") or "postgres",
              "dbname": peer.get("database") or "postgres", "connect_timeout": 10,
              "application_name": "patchcheck-probe"}
    if peer.get("password"):
        kwargs["password"] = peer.password
    return kwargs


def _remedy_psycogreen():
    """psycogreen.gevent.patch_psycopg(): a gevent wait callback for psycopg2."""
    from psycogreen.gevent import patch_psycopg

    patch_psycopg()


@probe(distributions=["psycopg2", "psycopg2-binary"], services=["postgresql"], wait=0.3,
       remedies={"psycogreen.gevent.patch_psycopg()":
                 Remedy(_remedy_psycogreen, requires=["psycogreen"],
                        install="pip install psycogreen")})
def psycopg2_pg_sleep(ctx):
    """psycopg2: SELECT pg_sleep(wait) on an open connection."""
    import psycopg2

    conn = psycopg2.connect(**_dsn_kwargs(ctx.service("postgresql")))
    conn.autocommit = True

    def call():
        try:
            with conn.cursor() as cur:
                cur.execute("SELECT pg_sleep(%s)", (ctx.wait,))
                cur.fetchall()
        finally:
            conn.close()

    return call


@probe(distributions=["psycopg"], services=["postgresql"], wait=0.3, import_order="both")
def psycopg_pg_sleep(ctx):
    """psycopg 3: SELECT pg_sleep(wait) on an open connection (both import orders)."""
    import psycopg

    conn = psycopg.connect(autocommit=True, **_dsn_kwargs(ctx.service("postgresql")))

    def call():
        try:
            with conn.cursor() as cur:
                cur.execute("SELECT pg_sleep(%s)", (ctx.wait,))
                cur.fetchall()
        finally:
            conn.close()

    return call
