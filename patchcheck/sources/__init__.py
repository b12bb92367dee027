"""Requirement sources: turn what the user names into ``patchcheck.model.Requirement`` objects.

``load_sources(["requirements.txt", "redis"], base_dir=...)`` is the entry point for the CLI
and the pytest plugin; the per-format parsers are public for callers that know the format.
Markers are *not* evaluated here: call ``applicable(source, env)`` (or ``evaluate_marker``)
with the target interpreter's marker environment.
"""
from __future__ import annotations

import fnmatch
import os
from collections.abc import Mapping, Sequence

from patchcheck.errors import SourceError
from patchcheck.sources.base import (
    MAIN,
    PRODUCTION,
    DependencySelection,
    ParsedSource,
    ScannedGroups,
    applicable,
    evaluate_marker,
    load_toml,
    merge_sources,
)
from patchcheck.sources.lockfiles import parse_poetry_lock, parse_pylock, parse_uv_lock
from patchcheck.sources.pyproject import parse_pyproject
from patchcheck.sources.requirements import parse_requirement_strings, parse_requirements_file

__all__ = [
    "MAIN",
    "PRODUCTION",
    "DependencySelection",
    "ParsedSource",
    "ScannedGroups",
    "applicable",
    "evaluate_marker",
    "load_sources",
    "merge_sources",
    "parse_poetry_lock",
    "parse_pylock",
    "parse_pyproject",
    "parse_requirement_strings",
    "parse_requirements_file",
    "parse_uv_lock",
    "source_kind",
]

_PATH_SUFFIXES = (".txt", ".in", ".toml", ".lock", ".cfg")
# Formats people reasonably try that we do not read: say how to get a file we do read.
_UNSUPPORTED = {
    "pipfile.lock": "export it with 'pipenv requirements > requirements.txt'",
    "pipfile": "export it with 'pipenv requirements > requirements.txt'",
    "setup.py": "list the dependencies in pyproject.toml or a requirements file",
    "setup.cfg": "list the dependencies in pyproject.toml or a requirements file",
    "pdm.lock": "export it with 'pdm export -o requirements.txt'",
}


def source_kind(path: str, display: str | None = None) -> str:
    """Which parser reads the existing file ``path``: "pyproject", "pylock", "uv-lock",
    "poetry-lock" or "requirements". ``display`` names the file in messages (default ``path``)."""
    display = display or path
    name = os.path.basename(path).lower()
    if name in _UNSUPPORTED:
        raise SourceError(f"{display}: {os.path.basename(path)} is not a supported input",
                          hint=_UNSUPPORTED[name])
    if name == "pyproject.toml":
        return "pyproject"
    if name == "pylock.toml" or fnmatch.fnmatch(name, "pylock.*.toml"):
        return "pylock"
    if name == "uv.lock":
        return "uv-lock"
    if name == "poetry.lock":
        return "poetry-lock"
    if name.endswith(".toml"):
        # Another name: tell a lock from a project by its keys (PEP 751 / PEP 621 / PEP 735).
        data = load_toml(path, display)
        if "lock-version" in data:
            return "pylock"
        if "project" in data or "dependency-groups" in data or "poetry" in data.get("tool", {}):
            return "pyproject"
        raise SourceError(f"{display}: neither a pyproject.toml nor a pylock.toml",
                          hint="name a pyproject.toml, pylock.toml, uv.lock or requirements file")
    return "requirements"


def _looks_like_path(arg: str) -> bool:
    if ";" in arg or "@" in arg:
        return False  # a PEP 508 marker or URL: "name @ https://..."
    return "/" in arg or os.sep in arg or arg.lower().endswith(_PATH_SUFFIXES)


def load_sources(
    paths_or_names: Sequence[str],
    *,
    base_dir: str | os.PathLike[str],
    selection: DependencySelection = PRODUCTION,
    environ: Mapping[str, str] | None = None,
) -> ParsedSource:
    """Read every argument of ``patchcheck scan`` and merge them, in order.

    Each argument is an existing file (dispatched by name: ``pyproject.toml``,
    ``pylock.toml``/``pylock.*.toml``, ``uv.lock``, any other ``.toml`` by content, anything
    else as a requirements file) or a requirement string (``redis``, ``'psycopg2-binary>=2.9'``).
    An argument that looks like a path (contains ``/`` or ends in ``.txt``, ``.in``,
    ``.toml``, ``.lock``, ``.cfg``) but does not exist is an error, not a package name.
    Relative paths are resolved against ``base_dir`` but shown as written.

    :param selection: the dependency groups and extras of a pyproject or lock file to scan
        (default: production, ``main`` only, no extras); what each file offered and what was
        scanned is in the result's ``scanned``. Requirements files have no groups.
    :param environ: variables for ``${VAR}`` in requirements files (default ``os.environ``).
    """
    base = os.fspath(base_dir)
    parts: list[ParsedSource] = []
    names: list[str] = []

    def flush_names() -> None:
        if names:
            parts.append(parse_requirement_strings(names, base_dir=base))
            names.clear()

    for arg in paths_or_names:
        if not arg.strip():
            continue
        full = os.path.join(base, os.path.expanduser(arg))
        # Anything that exists and is not a directory is read as a file, so a FIFO or a
        # device is an error from read_text ("is a FIFO"), not a package name.
        if os.path.lexists(full) and not os.path.isdir(full):
            flush_names()
            parts.append(_load_file(full, arg, selection=selection, environ=environ))
        elif os.path.isdir(full) and (_looks_like_path(arg) or arg in (".", "..")):
            found = [n for n in ("pyproject.toml", "pylock.toml", "uv.lock", "requirements.txt")
                     if os.path.isfile(os.path.join(full, n))]
            raise SourceError(
                f"{arg}: is a directory; name a file inside it",
                hint=("found: " + ", ".join(os.path.join(arg, n) for n in found)) if found
                else "give a requirements file, pyproject.toml, pylock.toml or uv.lock",
            )
        elif _looks_like_path(arg):
            raise SourceError(
                f"{arg}: file not found (looked in {base})",
                hint="check the path; to scan a distribution by name, give just its name, "
                     "e.g. 'redis'",
            )
        else:
            names.append(arg)
    flush_names()
    return merge_sources(parts)


def _load_file(path: str, display: str, *, selection: DependencySelection,
               environ: Mapping[str, str] | None) -> ParsedSource:
    kind = source_kind(path, display)
    if kind == "pyproject":
        return parse_pyproject(path, selection=selection, display=display)
    if kind == "pylock":
        return parse_pylock(path, selection=selection, display=display)
    if kind == "uv-lock":
        return parse_uv_lock(path, selection=selection, display=display)
    if kind == "poetry-lock":
        return parse_poetry_lock(path, selection=selection, display=display)
    return parse_requirements_file(path, display=display, environ=environ)

