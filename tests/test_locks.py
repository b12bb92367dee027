"""patchcheck.locks: one process holds the lock, another waits for it or gives up."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from patchcheck.locks import LockTimeout, exclusive_lock

HOLD = """
import sys
from pathlib import Path
from patchcheck.locks import exclusive_lock
with exclusive_lock(Path(sys.argv[1]), timeout=5):
    print("held", flush=True)
    sys.stdin.readline()  # hold until the test says so
"""


def test_a_held_lock_is_waited_for_then_given_up(tmp_path: Path) -> None:
    path = tmp_path / "lock"
    holder = subprocess.Popen([sys.executable, "-c", HOLD, str(path)], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline() == "held\n"
        waits = []
        with pytest.raises(LockTimeout) as caught:
            with exclusive_lock(path, timeout=0.3, on_wait=lambda: waits.append(1)):
                pytest.fail("acquired a lock another process holds")
        assert caught.value.path == path and waits == [1]
    finally:
        holder.communicate("\n", timeout=30)
    with exclusive_lock(path, timeout=5, on_wait=lambda: pytest.fail("waited for no one")):
        pass


def test_a_dead_holder_leaves_no_stale_lock(tmp_path: Path) -> None:
    path = tmp_path / "lock"
    holder = subprocess.Popen([sys.executable, "-c", HOLD, str(path)], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, text=True)
    assert holder.stdout is not None and holder.stdout.readline() == "held\n"
    holder.kill()
    holder.wait(timeout=30)
    with exclusive_lock(path, timeout=5):
        assert path.exists()
