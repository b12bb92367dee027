"""Standard library: ``sqlite3`` waiting for a lock another process holds.

SQLite waits for a locked database in C (its busy handler sleeps with ``usleep``, the GIL
released): ``patch_all()`` cannot reach that, so the hub stalls for the whole wait. gevent's
threadpool (the generic remedy patchcheck tries) moves the wait to a native thread.

A helper process opens a database in the probe's temporary folder, takes an exclusive lock,
says so on stdout, and holds the lock for ``wait`` seconds after the measured call tells it to
start (a line on its stdin), so the copies' waits begin when each call does.
"""
from __future__ import annotations

from patchcheck_probe import probe

_HOLDER = r"""
import sqlite3, sys, time
db = sqlite3.connect(sys.argv[1], isolation_level=None)
db.execute("BEGIN EXCLUSIVE")
print("locked", flush=True)
sys.stdin.readline()
time.sleep(float(sys.argv[2]))
db.execute("COMMIT")
db.close()
"""


@probe("stdlib.sqlite3.locked", distributions=["stdlib"], wait=0.3)
def stdlib_sqlite3_locked(ctx):
    """sqlite3 BEGIN IMMEDIATE on a database another process holds locked for ``wait``."""
    import os
    import sqlite3
    import subprocess
    import sys

    path = os.path.join(ctx.tmpdir, ctx.unique("db") + ".sqlite3")
    setup = sqlite3.connect(path)
    setup.execute("CREATE TABLE t (x)")
    setup.commit()
    setup.close()
    holder = subprocess.Popen([sys.executable, "-c", _HOLDER, path, repr(ctx.wait)],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    if holder.stdout.readline().strip() != b"locked":
        holder.kill()
        raise RuntimeError("the lock-holding helper process did not start")

    def call():
        # os.write, not the (cooperative) pipe object: a write that yields would let every
        # copy start its holder at once, and the copies' waits would overlap. Nothing after
        # the COMMIT may yield either (closing the pipe, waiting for the holder: it exits on
        # its own once it has committed), or this copy's time would include the next one's.
        os.write(holder.stdin.fileno(), b"go\n")
        db = sqlite3.connect(path, timeout=30, isolation_level=None)
        try:
            db.execute("BEGIN IMMEDIATE")  # waits for the holder's COMMIT
            db.execute("INSERT INTO t VALUES (1)")
            db.execute("COMMIT")
        except BaseException:
            holder.kill()
            raise
        finally:
            db.close()

    return call
