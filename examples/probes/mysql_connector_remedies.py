"""Two kinds of remedy for mysql-connector-python's C extension (it blocks the hub):

    patchcheck scan mysql-connector-python --probe-path examples/probes
"""
from patchcheck_probe import Remedy, probe


def _in_threadpool(ctx, call):  # gets each copy's context and call; returns the call to measure
    import gevent

    return lambda: gevent.get_hub().threadpool.apply(call)


@probe(distributions=["mysql-connector-python"], services=["mariadb"], wait=0.3,
       remedies={"connect(use_pure=True)": Remedy(options={"use_pure": True}),
                 "threadpool, by hand": Remedy(wrap=_in_threadpool)})
def mysql_connector_python_cext_sleep(ctx):
    import mysql.connector

    db = ctx.service("mariadb")
    options = {"use_pure": False, **ctx.options}  # the remedy's options win
    conn = mysql.connector.connect(host=db.host, port=db.port, user=db.user or "root",
                                   password=db.password or "", **options)
    return lambda: conn.cmd_query(f"SELECT SLEEP({ctx.wait})") and conn.get_rows()
