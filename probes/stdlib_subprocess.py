"""Standard library: waiting for a child process."""
from __future__ import annotations

from patchcheck_probe import probe


@probe("stdlib.subprocess", distributions=["stdlib"], wait=0.3)
def stdlib_subprocess(ctx):
    """subprocess.run() of a child that sleeps ``wait`` seconds (Popen + wait)."""
    import shutil
    import subprocess
    import sys

    sleep = shutil.which("sleep")
    if sleep:
        argv = [sleep, f"{ctx.wait:.3f}"]
    else:  # no coreutils: a Python child (its start-up adds to the call, which is measured)
        argv = [sys.executable, "-c", f"import time; time.sleep({ctx.wait!r})"]

    def call():
        subprocess.run(argv, check=True, stdin=subprocess.DEVNULL, timeout=60)

    return call
