"""An import that daemonizes the classic way: fork, setsid, fork again, parent exits.

The grandchild is re-parented (to init, or to the nearest subreaper). ``PC_DAEMON_PIDFILE``,
when set, receives its pid.
"""
import os
import time

_r, _w = os.pipe()
if os.fork() == 0:
    os.setsid()
    if os.fork() == 0:
        pidfile = os.environ.get("PC_DAEMON_PIDFILE")
        if pidfile:
            with open(pidfile, "a") as f:
                f.write(f"{os.getpid()}\n")
        os.write(_w, b"x")
        for fd in (0, 1, 2):
            os.close(fd)
        while True:
            time.sleep(1)
    os._exit(0)
os.close(_w)
os.read(_r, 1)  # the daemon is up (and its pid written)
os.close(_r)
os.wait()
