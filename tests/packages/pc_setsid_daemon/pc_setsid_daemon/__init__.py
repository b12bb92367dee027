"""An import that starts a daemon in a new session (killing the importer's group misses it).

``PC_DAEMON_PIDFILE``, when set, receives the daemon's pid so a test can look for it.
"""
import os
import subprocess
import sys

_proc = subprocess.Popen(
    [sys.executable, "-c", "import time; time.sleep(600)"],
    start_new_session=True, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
    stderr=subprocess.DEVNULL)
if os.environ.get("PC_DAEMON_PIDFILE"):
    with open(os.environ["PC_DAEMON_PIDFILE"], "a") as f:
        f.write(f"{_proc.pid}\n")
