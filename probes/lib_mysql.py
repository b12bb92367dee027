"""MySQL/MariaDB drivers: PyMySQL and mysqlclient (``MySQLdb``).

Each probe runs ``SELECT SLEEP(wait)`` on a connection to the scratch database of the
``mariadb`` service: the server answers after ``wait``.

* PyMySQL is pure Python over the ``socket`` module: it cooperates once patched.
* mysqlclient waits inside libmysqlclient/libmariadb (C) and offers no wait hook, so nothing
  makes it cooperate in place; gevent's threadpool (the generic remedy) moves the wait off the
  hub, and the documented fix is to switch to PyMySQL (mysqlclient #464). The remedy
  ``pymysql.install_as_MySQLdb()`` measures exactly that switch: the same ``import MySQLdb``
  code, served by PyMySQL.
"""
from __future__ import annotations

from patchcheck_probe import Remedy, probe


def _connect_kwargs(peer):
    kwargs = {"host": peer.host, "port": int(peer.port), "user": peer.get("user") or "root",
              "database": peer.get("database") or None, "connect_timeout": 10}
    if peer.get("password"):
        kwargs["password"] = peer.password
    return kwargs


def _sleep_call(conn, wait):
    def call():
        try:
            cur = conn.cursor()
            cur.execute("SELECT SLEEP(%s)", (wait,))
            cur.fetchall()
            cur.close()
        finally:
            conn.close()

    return call


@probe(distributions=["PyMySQL"], services=["mariadb"], wait=0.3)
def pymysql_sleep(ctx):
    """PyMySQL: SELECT SLEEP(wait) on an open connection."""
    import pymysql

    conn = pymysql.connect(read_timeout=30, **_connect_kwargs(ctx.service("mariadb")))
    return _sleep_call(conn, ctx.wait)


def _remedy_pymysql():
    """Replace mysqlclient with PyMySQL under the name MySQLdb (PyMySQL must be installed)."""
    import pymysql

    pymysql.install_as_MySQLdb()


@probe(distributions=["mysqlclient"], services=["mariadb"], wait=0.3,
       remedies={"pymysql.install_as_MySQLdb() (switch to PyMySQL)":
                 Remedy(_remedy_pymysql, requires=["pymysql"], install="pip install PyMySQL")})
def mysqlclient_sleep(ctx):
    """mysqlclient (MySQLdb): SELECT SLEEP(wait) on an open connection."""
    import MySQLdb

    conn = MySQLdb.connect(**_connect_kwargs(ctx.service("mariadb")))
    return _sleep_call(conn, ctx.wait)
