"""Whether a cached inspection of the target interpreter still holds, without asking it.

A cached re-scan of an unchanged environment needs no child at all (issue #13, goal 4), but
the ``info`` task's answer (interpreter, ``sys.path``, installed distributions, the plugin
fingerprint) is what every result's cache key is built from, so a stale one would serve stale
verdicts. The proof has two halves (docs/architecture.md, "Caching"):

- :func:`interpreter_facts`, taken here before the lookup and part of the cache key: the
  interpreter's path, its file's ``stat`` (a rebuilt or upgraded Python is a new file), its
  realpath's, ``pyvenv.cfg`` (stat and content), and the environment variables that decide the
  child's ``sys.path`` and start-up (every ``PYTHON*`` one as the child gets it, ``HOME`` for
  the user site, ...).
- the stamps the ``info`` child took of its ``sys.path`` *before* it read anything
  (``harness/pc_info.stamps``): re-checked here with :func:`unchanged` on every lookup.

Rows are ``[path, mtime_ns, ctime_ns, inode, size, device]`` (numbers None for a missing path)
on both sides. An inspection is stored only when :func:`settled`: nothing stamped was modified
within ``RACY_S`` of the inspection (git's "racily clean" rule): on a file system whose clock
is coarse, a change in the same tick as the stamp would otherwise leave every row equal.
"""
from __future__ import annotations

import hashlib
import os
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

#: Besides every ``PYTHON*`` variable: what else changes the child's ``sys.path`` or which
#: interpreter build runs (the user site under ``HOME``/``APPDATA``, a shared libpython).
ENV_KEYS = ("HOME", "APPDATA", "LD_LIBRARY_PATH", "DYLD_LIBRARY_PATH", "VIRTUAL_ENV")
#: A modification this close to the inspection could share a timestamp with a later one
#: (FAT: 2 s, HFS+ and ext3: 1 s).
RACY_S = 2.0

Row = list[Any]


def stat_row(path: str, stat: Any = os.stat) -> Row:
    """The row ``harness/pc_info._stat_row`` takes, for the same path (``stat=os.lstat``: of a
    symlink itself)."""
    try:
        st = stat(path)
    except OSError:
        return [path, None, None, None, None, None]
    return [path, st.st_mtime_ns, st.st_ctime_ns, st.st_ino, st.st_size, st.st_dev]


def _pyvenv_cfg(python: str) -> list[Any]:
    """``pyvenv.cfg`` next to the interpreter or one folder up (where ``site`` looks)."""
    out: list[Any] = []
    bindir = os.path.dirname(python)
    for folder in (bindir, os.path.dirname(bindir)):
        path = os.path.join(folder, "pyvenv.cfg")
        row = stat_row(path)
        try:
            with open(path, "rb") as fh:
                digest = hashlib.sha256(fh.read()).hexdigest()
        except OSError:
            digest = None
        out.append([row, digest])
    return out


def interpreter_facts(python: str, child_env: Mapping[str, str]) -> dict[str, Any]:
    """What can be known of ``python`` without running it; part of the inspection's key.

    ``child_env`` is the environment the child would get (``runner.process.child_env``).
    """
    path = os.path.abspath(python)
    real = os.path.realpath(path)
    return {
        "python": path,
        "link": stat_row(path, os.lstat),
        "real": stat_row(real),
        "pyvenv": _pyvenv_cfg(path),
        "env": {k: v for k, v in sorted(child_env.items())
                if k.startswith("PYTHON") or k in ENV_KEYS},
    }


def fact_rows(facts: Mapping[str, Any]) -> list[Row]:
    """The stat rows inside ``facts`` (for :func:`settled`)."""
    rows = [facts["link"], facts["real"]]
    rows += [row for row, _ in facts["pyvenv"]]
    return rows


def _is_row(row: Any) -> bool:
    return isinstance(row, list) and len(row) == 6 and isinstance(row[0], str)


def unchanged(stamps: Any) -> bool:
    """Every stamped path has the same stat now (False for anything not a list of rows)."""
    if not isinstance(stamps, list) or not stamps:
        return False
    return all(_is_row(row) and stat_row(row[0]) == row for row in stamps)


def settled(rows: Iterable[Sequence[Any]], since_ns: int) -> bool:
    """No row was modified later than ``RACY_S`` before ``since_ns`` (``time.time_ns()``
    taken before the inspection started)."""
    limit = since_ns - int(RACY_S * 1e9)
    return all(row[1] is None or row[1] < limit for row in rows)
