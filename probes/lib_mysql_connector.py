"""mysql-connector-python: its C extension and its pure-Python protocol, against MariaDB.

The probe runs ``SELECT SLEEP(wait)`` on a connection to the ``mariadb`` service. By default
``mysql.connector.connect()`` uses the C extension (``_mysql_connector``, over libmysqlclient)
when it is installed, and that waits for the answer in C: it blocks the hub. ``use_pure=True``
selects the pure-Python implementation over the ``socket`` module, which cooperates once
patched: the remedy measures exactly that switch, on the same call.
"""
from __future__ import annotations

from patchcheck_probe import probe

# The remedy flips this before the factory runs (both run in the same child).
_CONNECT_OPTIONS = {}


def _remedy_use_pure():
    """mysql.connector.connect(use_pure=True): the pure-Python protocol implementation."""
    _CONNECT_OPTIONS["use_pure"] = True


@probe(distributions=["mysql-connector-python"], services=["mariadb"], wait=0.3,
       remedies={"mysql.connector.connect(use_pure=True)": _remedy_use_pure})
def mysql_connector_python_sleep(ctx):
    """mysql.connector (default: the C extension when installed): SELECT SLEEP(wait)."""
    import mysql.connector

    peer = ctx.service("mariadb")
    kwargs = {"host": peer.host, "port": int(peer.port), "user": peer.get("user") or "root",
              "database": peer.get("database") or None, "connection_timeout": 10}
    if peer.get("password"):
        kwargs["password"] = peer.password
    kwargs.update(_CONNECT_OPTIONS)
    conn = mysql.connector.connect(**kwargs)

    def call():
        try:
            cur = conn.cursor()
            cur.execute("SELECT SLEEP(%s)", (ctx.wait,))
            cur.fetchall()
            cur.close()
        finally:
            conn.close()

    return call
