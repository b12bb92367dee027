"""A team's own probe for a standard-library module (a --probe-path file): sqlite3 waiting on
a lock another process holds. ``distributions=["stdlib"]`` puts it in the stdlib row."""
from __future__ import annotations

from patchcheck_probe import probe

_HOLD = r"""
import sqlite3, sys, time
db = sqlite3.connect(sys.argv[1], isolation_level=None)
db.execute("BEGIN EXCLUSIVE")
print("locked", flush=True)
sys.stdin.readline()
time.sleep(float(sys.argv[2]))
db.execute("COMMIT")
"""


@probe("stdlib.sqlite3.team_update", distributions=["stdlib"], wait=0.3)
def team_sqlite_update(ctx):
    """UPDATE on a database another process holds locked for ``wait``."""
    import os
    import sqlite3
    import subprocess
    import sys

    path = os.path.join(ctx.tmpdir, ctx.unique("team") + ".db")
    with sqlite3.connect(path) as db:
        db.execute("CREATE TABLE jobs (state)")
        db.execute("INSERT INTO jobs VALUES ('new')")
    holder = subprocess.Popen([sys.executable, "-c", _HOLD, path, repr(ctx.wait)],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    if holder.stdout.readline().strip() != b"locked":
        raise RuntimeError("the lock holder did not start")

    def call():
        os.write(holder.stdin.fileno(), b"go\n")  # a raw write: it must not yield
        db = sqlite3.connect(path, timeout=30, isolation_level=None)
        try:
            db.execute("UPDATE jobs SET state = 'done'")
        finally:
            db.close()

    return call
