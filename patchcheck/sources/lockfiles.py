"""Lock files: ``uv.lock`` and PEP 751 ``pylock.toml``.

Every locked package becomes a pinned ``name==version`` requirement: a lock names the whole
dependency tree, so transitive dependencies get scanned too.
"""
from __future__ import annotations

import os
import re
from collections.abc import Iterable
from typing import Any

from packaging.markers import InvalidMarker, Marker

from patchcheck.errors import SourceError
from patchcheck.model import Requirement
from patchcheck.sources.base import (
    ALL,
    Collector,
    ParsedSource,
    Selection,
    first_line,
    load_toml,
    read_text,
)

_UV_HINT = "regenerate it with 'uv lock'"
_PYLOCK_HINT = "see https://packaging.python.org/en/latest/specifications/pylock-toml/"


def _table_lines(text: str, header: str) -> list[int]:
    """Line numbers of each ``[[header]]`` array-of-tables entry, in file order."""
    pattern = re.compile(rf"^\s*\[\[\s*{re.escape(header)}\s*\]\]\s*(#.*)?$")
    return [n for n, line in enumerate(text.splitlines(), start=1) if pattern.match(line)]


def _packages(data: dict[str, Any], key: str, display: str, hint: str) -> list[dict[str, Any]]:
    packages = data.get(key, [])
    if not isinstance(packages, list) or not all(isinstance(p, dict) for p in packages):
        raise SourceError(f"{display}: [[{key}]] must be an array of tables", hint=hint)
    return packages


def _origin(display: str, lines: list[int], index: int) -> str:
    return f"{display}:{lines[index]}" if index < len(lines) else display


def _pinned(package: dict[str, Any], *, origin: str, hint: str,
            marker: str | None, notes: list[str]) -> Requirement:
    name = package.get("name")
    if not isinstance(name, str) or not name:
        raise SourceError(f"{origin}: locked package without a name", hint=hint)
    version = package.get("version")
    if version is not None and not isinstance(version, str):
        raise SourceError(f"{origin}: version of {name!r} must be a string, got {version!r}",
                          hint=hint)
    if not version:
        notes.append(f"{origin}: {name} has no locked version (a local or VCS source); "
                     "checked without a pin")
    specifier = f"=={version}" if version else ""
    line = f"{name}{specifier}" + (f"; {marker}" if marker else "")
    return Requirement(name=name, specifier=specifier, marker=marker, origin=origin, line=line)


# --- uv.lock -------------------------------------------------------------------------------


def parse_uv_lock(path: str | os.PathLike[str], *, display: str | None = None) -> ParsedSource:
    """Pinned requirements for every package in a ``uv.lock``, except the project itself.

    The project is the package whose ``source`` is ``{ editable = "." }`` or
    ``{ virtual = "." }``. Packages locked once per Python range (a forked resolution) keep
    their ``resolution-markers`` as the marker, so each applies only where uv would use it.
    """
    path = os.fspath(path)
    display = display or path
    data = load_toml(path, display)
    lines = _table_lines(read_text(path, display), "package")
    version = data.get("version")
    if version is None:
        # Every uv.lock starts with "version = 1"; without it this is another tool's lock.
        other = ("a poetry.lock" if isinstance(data.get("metadata"), dict)
                 and "lock-version" in data["metadata"]
                 else "a pylock.toml" if "lock-version" in data else "another kind of file")
        raise SourceError(f"{display}: not a uv.lock (no top-level 'version'; it looks like "
                          f"{other})", hint="name the file by what it is, or " + _UV_HINT)
    if version != 1:
        raise SourceError(f"{display}: unsupported uv.lock version {version!r} (expected 1)",
                          hint="upgrade patchcheck, or " + _UV_HINT)
    out = Collector()
    for index, package in enumerate(_packages(data, "package", display, _UV_HINT)):
        origin = _origin(display, lines, index)
        source = package.get("source") or {}
        if isinstance(source, dict) and (source.get("editable") == "."
                                         or source.get("virtual") == "."):
            continue  # the project being locked, not a dependency
        markers = package.get("resolution-markers") or []
        marker = _any_of(markers, origin) if markers else None
        if marker and re.search(r"\bextra\b", marker):
            # uv encodes conflicting extras/groups as "extra == 'extra-5-proj-a'", which no
            # interpreter environment can decide: keep the package for every target instead.
            marker = None
        out.add(_pinned(package, origin=origin, hint=_UV_HINT, marker=marker,
                        notes=out.notes))
    return out.result()


def _any_of(markers: Iterable[Any], origin: str) -> str:
    texts = []
    for text in markers:
        if not isinstance(text, str):
            raise SourceError(f"{origin}: resolution marker must be a string, got {text!r}",
                              hint=_UV_HINT)
        texts.append(_valid_marker(text, origin, _UV_HINT))
    if len(texts) == 1:
        return texts[0]
    return str(Marker(" or ".join(f"({t})" for t in texts)))


def _valid_marker(text: str, origin: str, hint: str) -> str:
    try:
        return str(Marker(text))
    except InvalidMarker as exc:
        raise SourceError(f"{origin}: invalid marker {text!r}: {first_line(exc)}",
                          hint=hint) from None


# --- pylock.toml (PEP 751) -----------------------------------------------------------------

# PEP 751 markers may test what the installer was asked for: '"dev" in dependency_groups'.
# Decided on the raw text, before packaging parses it: packaging < 25 rejects these names.
_LOCK_CLAUSE = re.compile(
    r"""(?P<q>['"])(?P<value>[^'"]*)(?P=q)\s+(?P<op>not\s+in|in)\s+"""
    r"""(?P<var>extras|dependency_groups)\b"""
)
_TRUE, _FALSE = 'python_full_version >= "0"', 'python_full_version < "0"'


def parse_pylock(
    path: str | os.PathLike[str],
    *,
    extras: Selection = (),
    groups: Selection = None,
    display: str | None = None,
) -> ParsedSource:
    """Pinned requirements for every package in a PEP 751 ``pylock.toml``.

    :param extras: extras the lock is installed with (markers using ``extras``): names,
        ``"all"`` for every extra in the lock's ``extras`` key, or none (default).
    :param groups: dependency groups it is installed with (markers using
        ``dependency_groups``): names, ``"all"`` for every group in the lock's
        ``dependency-groups`` key, or ``None`` (default) for its ``default-groups``.

    A package's ``marker`` is kept for evaluation against the target. Its clauses about
    ``extras``/``dependency_groups`` are decided here (they describe what the user asked for,
    not the interpreter), so the marker stays evaluable with a plain PEP 508 environment.
    """
    path = os.fspath(path)
    display = display or path
    data = load_toml(path, display)
    lines = _table_lines(read_text(path, display), "packages")
    lock_version = data.get("lock-version")
    if not isinstance(lock_version, str) or not re.match(r"^\d+(\.\d+)*$", lock_version):
        raise SourceError(f"{display}: missing or invalid lock-version {lock_version!r}",
                          hint=_PYLOCK_HINT)
    if int(lock_version.split(".")[0]) != 1:
        # PEP 751: an installer must refuse a major version it does not know.
        raise SourceError(f"{display}: unsupported lock-version {lock_version!r} (expected 1.x)",
                          hint="upgrade patchcheck or re-create the lock with a 1.x locker")
    chosen = {
        "extras": _chosen(extras, data, "extras", display, default=()),
        "dependency_groups": _chosen(groups, data, "dependency-groups", display,
                                     default=data.get("default-groups") or ()),
    }

    out = Collector()
    for index, package in enumerate(_packages(data, "packages", display, _PYLOCK_HINT)):
        origin = _origin(display, lines, index)
        directory = package.get("directory")
        if isinstance(directory, dict) and os.path.normpath(str(directory.get("path"))) == ".":
            continue  # the project next to the lock, not a dependency
        marker = package.get("marker")
        if marker is not None:
            if not isinstance(marker, str):
                raise SourceError(f"{origin}: marker must be a string, got {marker!r}",
                                  hint=_PYLOCK_HINT)
            decided = _decide_lock_clauses(marker, chosen)
            if decided == _FALSE:
                continue  # not installed with the chosen extras/groups
            marker = _valid_marker(decided, origin, _PYLOCK_HINT) if decided else None
        out.add(_pinned(package, origin=origin, hint=_PYLOCK_HINT,
                        marker=marker, notes=out.notes))
    return out.result()


def _chosen(selection: Selection, data: dict[str, Any], key: str, display: str, *,
            default: Any) -> set[str]:
    declared = data.get(key) or []
    if not isinstance(declared, list) or not all(isinstance(n, str) for n in declared):
        raise SourceError(f"{display}: {key} must be a list of names", hint=_PYLOCK_HINT)
    if selection is None:
        selection = default
    if selection == ALL:
        return set(declared)
    if isinstance(selection, str):
        selection = [selection]
    wanted = set(selection or ())
    unknown = sorted(wanted - set(declared))
    if unknown and declared:
        raise SourceError(f"{display}: no {key[:-1].replace('-', ' ')} named {unknown[0]!r} "
                          "in the lock", hint=f"available: {', '.join(declared)}")
    return wanted


def _decide_lock_clauses(marker: str, chosen: dict[str, set[str]]) -> str | None:
    if not _LOCK_CLAUSE.search(marker):
        return marker

    def decide(match: re.Match[str]) -> str:
        present = match.group("value") in chosen[match.group("var")]
        return _TRUE if present == (match.group("op") == "in") else _FALSE

    try:
        decided = str(Marker(_LOCK_CLAUSE.sub(decide, marker)))
    except InvalidMarker:
        return marker  # reported with the package's line by the caller
    if " or " not in decided:
        # A plain conjunction (the usual shape): drop true clauses, any false one decides.
        clauses = [c.strip("() ") for c in decided.split(" and ")]
        if _FALSE in clauses:
            return _FALSE
        kept = [c for c in clauses if c != _TRUE]
        if not kept:
            return None
        try:
            return str(Marker(" and ".join(kept)))
        except InvalidMarker:  # " and " inside a quoted value: keep the marker whole
            return decided
    rest = decided.replace(_TRUE, "").replace(_FALSE, "")
    if re.fullmatch(r"[\s()]*((and|or)[\s()]*)*", rest):
        # Nothing left that depends on the interpreter: the package is always or never used.
        return None if Marker(decided).evaluate({"python_full_version": "1"}) else _FALSE
    return decided
