"""Writing files the user (or the next run) relies on: all or nothing."""
from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path


def write_atomic(path: str | os.PathLike[str], text: str, *, durable: bool = False) -> None:
    """Write ``text`` to ``path`` through a temporary file in the same folder and a rename, so
    a reader sees the old file or the new one, never half of one; on any error the temporary
    file is removed and ``path`` is left as it was. ``durable`` also fsyncs before the rename
    (baselines and install markers: files a crash must not truncate).

    :raises OSError: the file cannot be written.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
            if durable:
                fh.flush()
                os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
