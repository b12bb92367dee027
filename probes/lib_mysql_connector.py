"""mysql-connector-python: its C extension and its pure-Python protocol, against MariaDB.

Each probe runs ``SELECT SLEEP(wait)`` on a connection to the ``mariadb`` service.

* ``sleep``: ``mysql.connector.connect()`` as an application calls it. It uses the C extension
  (``_mysql_connector``, over libmysqlclient) when that loads, and the C extension waits for the
  answer in C: it blocks the hub. When the extension cannot load (newer wheels need a newer
  OpenSSL than some systems have) connect() silently falls back to pure Python, and this probe
  measures that instead.
* ``sleep_cext``: ``use_pure=False``, the C extension explicitly (skipped, with the reason, when
  it cannot load), so its blocking is measured whatever the default picks.

The remedy ``use_pure=True`` selects the pure-Python implementation over the ``socket`` module,
which cooperates once patched: it measures exactly that switch, on the same call. It is a
``Remedy(options=...)``: the factory receives ``ctx.options`` and passes them to ``connect()``.
"""
from __future__ import annotations

from patchcheck_probe import Remedy, Skip, probe

USE_PURE = "mysql.connector.connect(use_pure=True)"
#: the pure-Python protocol implementation, passed to connect() through ctx.options
_USE_PURE = Remedy(options={"use_pure": True})


def _connect(ctx, options):
    import mysql.connector

    peer = ctx.service("mariadb")
    kwargs = {"host": peer.host, "port": int(peer.port), "user": peer.get("user") or "root",
              "database": peer.get("database") or None, "connection_timeout": 10}
    if peer.get("password"):
        kwargs["password"] = peer.password
    kwargs.update(options)
    kwargs.update(ctx.options)  # the remedy's connect() arguments win
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


@probe(distributions=["mysql-connector-python"], services=["mariadb"], wait=0.3,
       remedies={USE_PURE: _USE_PURE})
def mysql_connector_python_sleep(ctx):
    """mysql.connector.connect() with its defaults: SELECT SLEEP(wait)."""
    return _connect(ctx, {})


@probe(distributions=["mysql-connector-python"], services=["mariadb"], wait=0.3,
       remedies={USE_PURE: _USE_PURE})
def mysql_connector_python_sleep_cext(ctx):
    """mysql.connector.connect(use_pure=False), the C extension: SELECT SLEEP(wait)."""
    if not ctx.options:
        try:
            import mysql.connector.connection_cext  # noqa: F401
        except ImportError as exc:
            raise Skip(f"the C extension of mysql-connector-python cannot load: {exc}") from None
    return _connect(ctx, {"use_pure": False})
