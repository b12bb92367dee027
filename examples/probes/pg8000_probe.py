"""A probe for pg8000, a pure-Python PostgreSQL driver (the built-in one is pg8000.native_run).

    patchcheck scan pg8000 --probe-path examples/probes
"""
from patchcheck_probe import probe


@probe(distributions=["pg8000"], services=["postgresql"], wait=0.3)
def pg8000_pg_sleep(ctx):
    import pg8000.native  # imported in the child, after patch_all()

    db = ctx.service("postgresql")
    conn = pg8000.native.Connection(db.user, host=db.host, port=db.port,
                                    database=db.database, password=db.password or None)
    return lambda: conn.run("SELECT pg_sleep(:s)", s=ctx.wait)  # waits on the server
