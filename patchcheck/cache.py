"""The result cache: one JSON file per (distribution, environment, patchcheck) key.

A cached result is reused only when everything that could change it is the same: the
distribution's name, version and installed files, the interpreter, gevent and greenlet, the
patch arguments, the probes, and patchcheck itself. The caller passes those to :meth:`key`.

The cache is an optimisation and never a reason to fail: an entry that is missing, truncated,
corrupt, unreadable, or whose folder disappeared is a miss, and a write that fails is dropped.
Each entry is written atomically (temporary file + rename), so parallel writers and a killed
run never leave half an entry behind.

Beside the result, an entry records when it was measured (``measured_at``, UTC ISO 8601) and
on which environment (``environment``: Python, gevent, greenlet, platform), for ``patchcheck
explain``; both are optional when read (entries written before them have neither).

``patchcheck cache export FILE`` / ``import FILE`` move the whole cache as one JSON-lines file
(for a CI cache step): a header line ``{"schema": "patchcheck.cache-export/1", "layout": ...}``,
then one ``{"key": ..., "result": ...}`` line per entry (with its ``measured_at`` and
``environment`` when it has them). A file of another layout is skipped
as a whole (its results mean something else); an entry that does not read back is skipped.
"""
from __future__ import annotations

import hashlib
import json
import os
import shutil
import sys
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from patchcheck.files import write_atomic
from patchcheck.model import DistributionResult, Environment

CACHE_SCHEMA = "patchcheck.cache/1"
EXPORT_SCHEMA = "patchcheck.cache-export/1"
CACHE_DIR_ENV = "PATCHCHECK_CACHE_DIR"
#: Bump when a cached result's meaning changes without the patchcheck version changing.
_LAYOUT = "v2"  # v2: Measurement.hung, ProbeOutcome.order, typed finding evidence


def default_cache_dir(env: Mapping[str, str] | None = None, platform: str | None = None) -> Path:
    """Where the cache lives: ``$PATCHCHECK_CACHE_DIR``, else the platform's user cache folder.

    Linux and others: ``$XDG_CACHE_HOME/patchcheck`` or ``~/.cache/patchcheck``; macOS:
    ``~/Library/Caches/patchcheck``; Windows: ``%LOCALAPPDATA%\\patchcheck\\Cache``.
    """
    env = os.environ if env is None else env
    platform = sys.platform if platform is None else platform
    override = env.get(CACHE_DIR_ENV, "").strip()
    if override:
        return Path(override).expanduser()
    if platform.startswith("win"):
        local = env.get("LOCALAPPDATA", "").strip()
        base = Path(local) if local else Path.home() / "AppData" / "Local"
        return base / "patchcheck" / "Cache"
    if platform == "darwin":
        return Path.home() / "Library" / "Caches" / "patchcheck"
    xdg = env.get("XDG_CACHE_HOME", "").strip()
    # The XDG spec says relative paths are invalid and must be ignored.
    base = Path(xdg) if xdg and os.path.isabs(xdg) else Path.home() / ".cache"
    return base / "patchcheck"


def file_digest(path: str) -> str:
    """A short digest of one file's content (a probe file's, for cache keys); ``?`` when it
    cannot be read."""
    try:
        with open(path, "rb") as fh:
            return hashlib.sha256(fh.read()).hexdigest()[:16]
    except OSError:
        return "?"


def tool_digest() -> str:
    """A digest of patchcheck's own code and data (the package's ``.py``, ``.json`` and
    ``.toml`` files): a result measured by another patchcheck (a new harness, native scanner or
    verdict rule) is a new measurement, not a cache hit. Computed once per process."""
    global _TOOL_DIGEST
    if _TOOL_DIGEST is None:
        root = Path(__file__).resolve().parent
        h = hashlib.sha256()
        for path in sorted(p for p in root.rglob("*")
                           if p.suffix in (".py", ".json", ".toml") and p.is_file()):
            h.update(str(path.relative_to(root)).encode())
            h.update(file_digest(str(path)).encode())
        _TOOL_DIGEST = h.hexdigest()[:16]
    return _TOOL_DIGEST


_TOOL_DIGEST: str | None = None


def files_digest(hashes: Iterable[str]) -> str:
    """One sha256 over the installed files' hashes (e.g. RECORD's ``path,sha256=...`` lines).

    Order-independent, so the caller can pass them as they come.
    """
    h = hashlib.sha256()
    for item in sorted(hashes):
        h.update(item.encode("utf-8"))
        h.update(b"\n")
    return h.hexdigest()


def _canonical(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {str(k): _canonical(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_canonical(v) for v in value]
    if isinstance(value, (set, frozenset)):
        return sorted(_canonical(v) for v in value)
    if isinstance(value, os.PathLike):
        return os.fspath(value)
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    raise TypeError(f"cache key part of type {type(value).__name__} is not JSON data: {value!r}")


class ResultCache:
    """Cached :class:`DistributionResult` objects under ``root``."""

    def __init__(self, root: Path | None = None) -> None:
        self.root = Path(root) if root is not None else default_cache_dir()

    @property
    def _entries(self) -> Path:
        return self.root / "results" / _LAYOUT

    @staticmethod
    def key(**parts: Any) -> str:
        """sha256 of a canonical JSON of ``parts`` plus patchcheck's version.

        Pass everything a result depends on, e.g. ``distribution``, ``version``, ``files``
        (:func:`files_digest`), ``python`` (path) and ``python_version``, ``gevent``,
        ``greenlet``, ``patch`` (patch_all kwargs), ``probes`` (name -> version).
        Values must be JSON data (Paths, tuples and sets are accepted).
        """
        from patchcheck import __version__

        data = _canonical(parts)
        data.setdefault("patchcheck", __version__)
        data["_schema"] = CACHE_SCHEMA
        text = json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
        return hashlib.sha256(text.encode("ascii")).hexdigest()

    def path_for(self, key: str) -> Path:
        if len(key) < 3 or not all(c in "0123456789abcdef" for c in key):
            raise ValueError(f"not a cache key: {key!r}")
        return self._entries / key[:2] / f"{key}.json"

    def get(self, key: str) -> DistributionResult | None:
        """The cached result, or None for a miss (including any unreadable entry)."""
        path = self.path_for(key)
        try:
            with open(path, encoding="utf-8") as fh:
                data = json.load(fh)
            if data.get("schema") != CACHE_SCHEMA or data.get("key") != key:
                raise ValueError("foreign entry")
            return DistributionResult.from_json(data["result"])
        except OSError:
            return None  # missing, unreadable, or its folder was deleted
        except (ValueError, KeyError, TypeError, AttributeError, RecursionError):
            # Corrupt or truncated: drop it so the next run rewrites it (best effort).
            try:
                path.unlink()
            except OSError:
                pass
            return None

    def put(self, key: str, result: DistributionResult, *,
            environment: Environment | None = None, measured_at: str | None = None) -> bool:
        """Store ``result`` under ``key``; False (never an exception) when it cannot be written.

        :param environment: what it was measured on (shown by ``patchcheck explain``).
        :param measured_at: when (ISO 8601 with a UTC offset); default: now.
        """
        path = self.path_for(key)
        entry: dict[str, Any] = {"schema": CACHE_SCHEMA, "key": key,
                                 "measured_at": measured_at or _now_iso(),
                                 "result": result.to_json()}
        if environment is not None:
            entry["environment"] = environment.to_json()
        text = json.dumps(entry)
        try:
            write_atomic(path, text)
        except OSError:
            return False
        return True

    # -- what is known of an environment: its gevent plugins, its inspection -----------------

    def _aux_path(self, kind: str, key: str) -> Path:
        return self.root / "results" / kind / _LAYOUT / f"{self.path_for(key).stem}.json"

    def _aux_get(self, kind: str, key: str, field: str, typ: type) -> Any:
        try:
            with open(self._aux_path(kind, key), encoding="utf-8") as fh:
                data = json.load(fh)
            if data.get("schema") != CACHE_SCHEMA or data.get("key") != key:
                return None
            value = data[field]
            return value if isinstance(value, typ) else None
        except (OSError, ValueError, KeyError, TypeError, AttributeError, RecursionError):
            return None

    def _aux_put(self, kind: str, key: str, field: str, value: Any) -> bool:
        text = json.dumps({"schema": CACHE_SCHEMA, "key": key, field: value})
        try:
            write_atomic(self._aux_path(kind, key), text)
        except OSError:
            return False
        return True

    def get_plugins(self, key: str) -> list[Any] | None:
        """The cached plugin inventory (``GeventPlugin`` rows as JSON data), or None."""
        return self._aux_get("inventory", key, "plugins", list)  # type: ignore[no-any-return]

    def put_plugins(self, key: str, plugins: list[Any]) -> bool:
        """Store a plugin inventory under ``key``; False when it cannot be written."""
        return self._aux_put("inventory", key, "plugins", plugins)

    def get_inspection(self, key: str) -> dict[str, Any] | None:
        """A cached ``info`` task's data (``targets/resolve.py`` checks its stamps), or None."""
        return self._aux_get("inspection", key, "info", dict)  # type: ignore[no-any-return]

    def put_inspection(self, key: str, info: dict[str, Any]) -> bool:
        """Store an ``info`` task's data under ``key``; False when it cannot be written."""
        return self._aux_put("inspection", key, "info", info)

    def get_durations(self, key: str) -> dict[str, float]:
        """How long each probe took last time in this environment (seconds, by probe name):
        only the order the probes start in (``runner/probing.py``), never a result."""
        found = self._aux_get("durations", key, "seconds", dict) or {}
        return {str(k): float(v) for k, v in found.items() if isinstance(v, (int, float))}

    def put_durations(self, key: str, seconds: Mapping[str, float]) -> bool:
        """Store the probes' durations under ``key``; False when it cannot be written."""
        return self._aux_put("durations", key, "seconds",
                             {k: round(v, 3) for k, v in sorted(seconds.items())})

    def clear(self) -> int:
        """Remove every entry; returns how many there were. Missing folder: 0."""
        count = sum(1 for _ in self._entries.glob("*/*.json")) if self._entries.is_dir() else 0
        shutil.rmtree(self.root / "results", ignore_errors=True)
        return count

    def __len__(self) -> int:
        try:
            return sum(1 for _ in self._entries.glob("*/*.json"))
        except OSError:
            return 0

    # -- one file for a CI cache step ------------------------------------------------------

    def export(self, path: str | os.PathLike[str]) -> int:
        """Write every readable entry to ``path`` (JSON lines, atomically); how many."""
        lines = [json.dumps({"schema": EXPORT_SCHEMA, "layout": _LAYOUT,
                             "cache_schema": CACHE_SCHEMA})]
        files = sorted(self._entries.glob("*/*.json")) if self._entries.is_dir() else []
        for entry in files:
            try:
                data = json.loads(entry.read_text(encoding="utf-8"))
                if data.get("schema") != CACHE_SCHEMA or data.get("key") != entry.stem:
                    continue
                DistributionResult.from_json(data["result"])  # only entries that read back
            except (OSError, ValueError, KeyError, TypeError, AttributeError):
                continue  # a corrupt entry is a miss here too
            line = {"key": data["key"], "result": data["result"]}
            line.update({k: data[k] for k in ("measured_at", "environment") if k in data})
            lines.append(json.dumps(line, sort_keys=True))
        write_atomic(path, "\n".join(lines) + "\n")
        return len(lines) - 1

    def import_file(self, path: str | os.PathLike[str]) -> CacheImport:
        """Add the entries of an exported file (existing keys are overwritten: same key, same
        inputs). A file of another cache layout is skipped with a warning, not an error.

        :raises OSError: the file cannot be read.
        :raises ValueError: the file is not a cache export (``line N: ...``).
        """
        with open(path, encoding="utf-8") as fh:
            header_text = fh.readline()
            try:
                header = json.loads(header_text)
            except json.JSONDecodeError:
                header = None
            if not isinstance(header, dict) or header.get("schema") != EXPORT_SCHEMA:
                raise ValueError("line 1: not a patchcheck cache export "
                                 f"(expected a {EXPORT_SCHEMA!r} header)")
            if header.get("layout") != _LAYOUT or header.get("cache_schema") != CACHE_SCHEMA:
                return CacheImport(0, 0, warning=(
                    f"cache layout {header.get('layout')!r} is not this patchcheck's "
                    f"{_LAYOUT!r}: nothing imported (the next scan measures afresh)"))
            imported = skipped = 0
            for line in fh:
                if not line.strip():
                    continue
                try:
                    data = json.loads(line)
                    key = str(data["key"])
                    self.path_for(key)
                    result = DistributionResult.from_json(data["result"])
                    env = (Environment.from_json(data["environment"])
                           if data.get("environment") else None)
                    when = str(data["measured_at"]) if data.get("measured_at") else None
                except (ValueError, KeyError, TypeError, AttributeError):
                    skipped += 1
                    continue
                if self.put(key, result, environment=env, measured_at=when):
                    imported += 1
                else:
                    skipped += 1
        return CacheImport(imported, skipped)


def _now_iso() -> str:
    import datetime as _dt

    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")


@dataclass(frozen=True)
class CacheImport:
    """What ``ResultCache.import_file`` did."""

    imported: int
    skipped: int  # entries that did not read back or could not be written
    warning: str | None = None  # the whole file was skipped, and why
