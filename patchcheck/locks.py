"""One inter-process file lock: exclusive, waited for with a deadline, released by the OS.

``flock`` (POSIX) or ``msvcrt.locking`` (Windows) on an open file: the kernel drops the lock
when the holder dies, so a crashed patchcheck never leaves a stale lock behind (a lock *file*
created with ``O_EXCL`` would). ``filelock`` does the same; it is not a dependency because the
tool's own dependencies are scanned when the target is patchcheck's interpreter, and these
forty lines are all we need.
"""
from __future__ import annotations

import contextlib
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Callable

#: How often a waiting process tries the lock again (seconds).
POLL_S = 0.2


class LockTimeout(Exception):
    """The lock was still held by another process at the deadline."""

    def __init__(self, path: Path) -> None:
        super().__init__(f"gave up waiting for the lock {path}")
        self.path = path


@contextlib.contextmanager
def exclusive_lock(path: Path, *, timeout: float,
                   on_wait: Callable[[], None] | None = None) -> Iterator[None]:
    """Hold an exclusive lock on ``path`` (created if missing) for the ``with`` block.

    ``on_wait`` is called once if another process holds the lock (to say that we wait);
    :class:`LockTimeout` if it still does after ``timeout`` seconds.
    """
    fh = open(path, "a+b")
    try:
        deadline = time.monotonic() + timeout
        waited = False
        while not _try_lock(fh):
            if not waited and on_wait is not None:
                on_wait()
            waited = True
            if time.monotonic() > deadline:
                raise LockTimeout(path)
            time.sleep(POLL_S)
        try:
            yield
        finally:
            _unlock(fh)
    finally:
        fh.close()


def _try_lock(fh: Any) -> bool:
    if sys.platform.startswith("win"):
        import msvcrt

        try:
            fh.seek(0)
            msvcrt.locking(fh.fileno(), msvcrt.LK_NBLCK, 1)  # type: ignore[attr-defined]
            return True
        except OSError:
            return False
    import fcntl

    try:
        fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        return True
    except BlockingIOError:
        return False


def _unlock(fh: Any) -> None:
    if sys.platform.startswith("win"):
        import msvcrt

        with contextlib.suppress(OSError):
            fh.seek(0)
            msvcrt.locking(fh.fileno(), msvcrt.LK_UNLCK, 1)  # type: ignore[attr-defined]
        return
    import fcntl

    fcntl.flock(fh.fileno(), fcntl.LOCK_UN)
