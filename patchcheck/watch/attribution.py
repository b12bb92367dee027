"""Which installed distribution owns a stalled frame: ``psycopg2/extras.py`` → psycopg2-binary.

Top-level import names map to distributions through
``importlib.metadata.packages_distributions()``; when several distributions share a top-level
name (namespace packages such as ``google``), their RECORD files decide. Computed lazily in
the main thread (after a stall, never in the monitor thread) and cached.
"""
from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from patchcheck.watch.stacks import (
    CallHint,
    FrameInfo,
    Sample,
    is_infrastructure_file,
    is_stdlib_file,
)


@dataclass(frozen=True)
class Attribution:
    """Who to blame for one stall."""

    distribution: str | None  # "psycopg2-binary"; None: the project's own code or unknown
    location: str  # "psycopg2/extras.py:236" or "tests/test_db.py:12"
    via: str | None = None  # "cur.execute (psycopg2.extensions.cursor)" for a C call

    @property
    def label(self) -> str:
        return self.distribution or "your code"

    def to_json(self) -> dict[str, Any]:
        return {"library": self.distribution, "location": self.location, "via": self.via}


@lru_cache(maxsize=1)
def _top_level_map() -> dict[str, tuple[str, ...]]:
    try:
        from importlib.metadata import packages_distributions
    except ImportError:  # pragma: no cover - Python < 3.10 without the backport
        return {}
    try:
        return {k: tuple(dict.fromkeys(v)) for k, v in packages_distributions().items()}
    except Exception:
        return {}


@lru_cache(maxsize=1)
def _path_roots() -> tuple[str, ...]:
    """sys.path entries, longest first (a file belongs to the most specific one)."""
    roots = {os.path.normcase(os.path.realpath(p)) for p in sys.path if p and os.path.isdir(p)}
    return tuple(sorted(roots, key=len, reverse=True))


@lru_cache(maxsize=64)
def _record_files(dist_name: str) -> frozenset[str]:
    from importlib.metadata import PackageNotFoundError, distribution

    try:
        dist = distribution(dist_name)
    except PackageNotFoundError:
        return frozenset()
    out = set()
    for f in dist.files or ():
        try:
            out.add(os.path.normcase(os.path.realpath(str(dist.locate_file(f)))))
        except Exception:
            continue
    return frozenset(out)


def _top_name(rel: str) -> str:
    first = rel.replace("\\", "/").split("/", 1)[0]
    for suffix in (".py", ".pyc"):
        if first.endswith(suffix):
            return first[: -len(suffix)]
    if "." in first and not os.path.isdir(first):
        # an extension module: _cffi_backend.cpython-311-x86_64-linux-gnu.so
        return first.split(".", 1)[0]
    return first


@lru_cache(maxsize=4096)
def distribution_for_file(path: str) -> tuple[str | None, str]:
    """(distribution, path relative to its sys.path root) for a source file."""
    if not path or path.startswith("<"):
        return None, path
    norm = os.path.normcase(os.path.realpath(path))
    for root in _path_roots():
        if norm.startswith(root + os.sep):
            rel = norm[len(root) + 1:]
            break
    else:
        return None, path
    candidates = _top_level_map().get(_top_name(rel), ())
    if len(candidates) == 1:
        return candidates[0], rel.replace(os.sep, "/")
    for name in candidates:
        if norm in _record_files(name):
            return name, rel.replace(os.sep, "/")
    return None, rel.replace(os.sep, "/")


def distribution_for_module(module: str) -> str | None:
    candidates = _top_level_map().get(module.split(".", 1)[0], ())
    if len(candidates) == 1:
        return candidates[0]
    mod = sys.modules.get(module)
    path = getattr(mod, "__file__", None)
    if path:
        return distribution_for_file(path)[0]
    return candidates[0] if candidates else None


def _project_path(path: str, rootdir: Path | None) -> str:
    if rootdir is not None:
        try:
            return str(Path(path).resolve().relative_to(rootdir.resolve()))
        except (ValueError, OSError):
            pass
    return path


def attribute(frames: tuple[FrameInfo, ...], call: CallHint | None,
              rootdir: Path | None = None) -> Attribution:
    """Blame the innermost frame outside the standard library and gevent; when that frame's
    line calls into a C-level method of another distribution, blame that one (``via``)."""
    target: FrameInfo | None = None
    for f in reversed(frames):
        if not is_infrastructure_file(f.file):
            target = f
            break
    if target is None:
        inner = frames[-1] if frames else None
        where = f"{inner.file}:{inner.line}" if inner else "<no stack>"
        return Attribution(None, where)
    dist, rel = distribution_for_file(target.file)
    via = None
    if call is not None:
        called = distribution_for_module(call.module)
        if called is not None and called != dist:
            via = f"{call.expression} ({call.type_name})"
            dist = called
    if dist is not None and via is None:
        location = f"{rel}:{target.line}"
    else:
        location = f"{_project_path(target.file, rootdir)}:{target.line}"
    return Attribution(dist, location, via)


def best_attribution(samples: list[Sample], rootdir: Path | None = None
                     ) -> tuple[Attribution | None, Sample | None]:
    """The attribution most samples of one stall agree on; a library beats "your code"."""
    if not samples:
        return None, None
    scored: dict[Attribution, list[Sample]] = {}
    for s in samples:
        scored.setdefault(attribute(s.frames, s.call, rootdir), []).append(s)
    best = max(scored, key=lambda a: (a.distribution is not None, len(scored[a])))
    return best, scored[best][0]


__all__ = ["Attribution", "attribute", "best_attribution", "distribution_for_file",
           "distribution_for_module", "is_stdlib_file"]
