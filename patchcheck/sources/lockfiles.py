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
from patchcheck.model import Requirement, normalize_name
from patchcheck.sources.base import (
    MAIN,
    PRODUCTION,
    Collector,
    DependencySelection,
    ParsedSource,
    first_line,
    load_toml,
    read_text,
    scanned_groups,
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


def parse_uv_lock(path: str | os.PathLike[str], *,
                  selection: DependencySelection = PRODUCTION,
                  display: str | None = None) -> ParsedSource:
    """Pinned requirements for the packages of a ``uv.lock`` that ``selection`` installs.

    The project is the package whose ``source`` is ``{ editable = "." }`` or
    ``{ virtual = "." }``; it is not scanned itself. Its ``dependencies`` are the ``main``
    group, its ``[package.optional-dependencies]`` the extras and its
    ``[package.dev-dependencies]`` the dependency groups: the packages scanned are those
    reached from the chosen ones (following each package's ``dependencies`` and the extras
    an edge asks for), as ``uv sync`` would install them. A lock without such a project (a
    script's lock) is scanned whole. Packages locked once per Python range (a forked
    resolution) keep their ``resolution-markers`` as the marker.
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
    packages = _packages(data, "package", display, _UV_HINT)
    roots = [i for i, p in enumerate(packages) if _is_project(p)]
    out = Collector()
    wanted: set[int] | None = None
    if roots:
        wanted = _uv_selected(packages, roots, selection, display, out)
    for index, package in enumerate(packages):
        origin = _origin(display, lines, index)
        if index in roots or (wanted is not None and index not in wanted):
            continue  # the project being locked, or not installed with the chosen groups
        markers = package.get("resolution-markers") or []
        marker = _any_of(markers, origin) if markers else None
        if marker and re.search(r"\bextra\b", marker):
            # uv encodes conflicting extras/groups as "extra == 'extra-5-proj-a'", which no
            # interpreter environment can decide: keep the package for every target instead.
            marker = None
        out.add(_pinned(package, origin=origin, hint=_UV_HINT, marker=marker,
                        notes=out.notes))
    return out.result()


def _is_project(package: dict[str, Any]) -> bool:
    source = package.get("source") or {}
    return isinstance(source, dict) and (source.get("editable") == "."
                                         or source.get("virtual") == ".")


def _uv_selected(packages: list[dict[str, Any]], roots: list[int],
                 selection: DependencySelection, display: str, out: Collector) -> set[int]:
    """Indexes of the packages reached from the chosen groups and extras of the project."""
    by_name: dict[str, list[int]] = {}
    for index, package in enumerate(packages):
        by_name.setdefault(normalize_name(str(package.get("name", ""))), []).append(index)
    group_names: list[str] = []
    extra_names: list[str] = []
    for index in roots:
        project = packages[index]
        raw_metadata = project.get("metadata")
        metadata: dict[str, Any] = raw_metadata if isinstance(raw_metadata, dict) else {}
        for key, names in (("dev-dependencies", group_names),
                           ("optional-dependencies", extra_names)):
            for name in _table(project, key, display):
                if name not in names:
                    names.append(name)
        for name in _table(metadata, "requires-dev", display):
            if name not in group_names:
                group_names.append(name)
    main, chosen = selection.choose_groups(group_names, display)
    extras = selection.choose_extras(extra_names, display)
    if group_names or extra_names:
        out.report_groups(scanned_groups(display, main, group_names, chosen, extra_names,
                                         extras))

    edges: list[Any] = []
    for index in roots:
        project = packages[index]
        if main:
            edges.extend(_edge_list(project.get("dependencies"), display))
        for key, names in (("dev-dependencies", chosen), ("optional-dependencies", extras)):
            table = _table(project, key, display)
            for name in names:
                edges.extend(_edge_list(table.get(name), display))
    reached: set[tuple[int, str]] = set()
    while edges:
        edge = edges.pop()
        if not isinstance(edge, dict) or not isinstance(edge.get("name"), str):
            raise SourceError(f"{display}: dependency entries must be tables with a name, "
                              f"got {edge!r}", hint=_UV_HINT)
        candidates = by_name.get(normalize_name(edge["name"]), [])
        if "version" in edge:  # a forked package: the edge names its version
            candidates = [i for i in candidates
                          if packages[i].get("version") == edge["version"]] or candidates
        for index in candidates:
            asked = [""] + [str(e) for e in edge.get("extra") or ()]
            for extra in asked:
                if (index, extra) in reached:
                    continue
                reached.add((index, extra))
                package = packages[index]
                if extra:
                    edges.extend(_edge_list(
                        _table(package, "optional-dependencies", display).get(extra), display))
                else:
                    edges.extend(_edge_list(package.get("dependencies"), display))
    return {index for index, _ in reached}


def _table(package: dict[str, Any], key: str, display: str) -> dict[str, Any]:
    value = package.get(key) or {}
    if not isinstance(value, dict):
        raise SourceError(f"{display}: [package.{key}] must be a table", hint=_UV_HINT)
    return value


def _edge_list(value: Any, display: str) -> list[Any]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise SourceError(f"{display}: a package's dependencies must be a list of tables",
                          hint=_UV_HINT)
    return list(value)


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
    selection: DependencySelection = PRODUCTION,
    display: str | None = None,
) -> ParsedSource:
    """Pinned requirements for every package in a PEP 751 ``pylock.toml``.

    :param selection: the extras (markers using ``extras``) and dependency groups (markers
        using ``dependency_groups``) the lock is installed with. When it chooses no groups,
        the lock's own ``default-groups`` apply, as an installer would use them. Packages
        without such a marker are always installed (``main``).

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
    declared_extras = _declared(data, "extras", display)
    declared_groups = _declared(data, "dependency-groups", display)
    out = Collector()
    extras = selection.choose_extras(declared_extras, display)
    if selection.explicit and not declared_groups:
        # PEP 751 makes the list optional: decide the markers with the names as given.
        groups = [g for g in (*(selection.base or ()), *selection.groups, *selection.only_groups)
                  if normalize_name(g) != MAIN]
    elif selection.explicit:
        _main, groups = selection.choose_groups(declared_groups, display)
    else:
        groups = [g for g in declared_groups
                  if g in _declared(data, "default-groups", display)]
    if declared_groups or declared_extras:
        out.report_groups(scanned_groups(display, True, declared_groups, groups,
                                         declared_extras, extras))
    chosen = {"extras": set(extras), "dependency_groups": set(groups)}

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


def _declared(data: dict[str, Any], key: str, display: str) -> list[str]:
    declared = data.get(key) or []
    if not isinstance(declared, list) or not all(isinstance(n, str) for n in declared):
        raise SourceError(f"{display}: {key} must be a list of names", hint=_PYLOCK_HINT)
    return declared


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


# --- poetry.lock ---------------------------------------------------------------------------

_POETRY_HINT = "regenerate it with 'poetry lock'"


def parse_poetry_lock(path: str | os.PathLike[str], *,
                      selection: DependencySelection = PRODUCTION,
                      display: str | None = None) -> ParsedSource:
    """Pinned requirements for the packages of a ``poetry.lock`` that ``selection`` installs.

    Which groups need a package is read from the lock: ``groups = [...]`` (lock-version 2.1,
    Poetry 2) or ``category = "main"|"dev"`` (lock-version 1.x and 2.0 before Poetry 1.5).
    A lock with neither (Poetry 1.5 to 1.8) is walked from the dependencies of the chosen
    groups in the ``pyproject.toml`` beside it. Packages marked ``optional = true`` are
    installed only for an extra: they are scanned when a chosen extra of ``[extras]`` names
    them, with what they depend on. Lock-version 2.1 ``markers`` (a string, or a table per
    group) are kept.
    """
    path = os.fspath(path)
    display = display or path
    data = load_toml(path, display)
    lines = _table_lines(read_text(path, display), "package")
    raw_metadata = data.get("metadata")
    metadata: dict[str, Any] = raw_metadata if isinstance(raw_metadata, dict) else {}
    lock_version = str(metadata.get("lock-version", ""))
    if lock_version and not re.match(r"^[12](\.\d+)*$", lock_version):
        raise SourceError(f"{display}: unsupported poetry.lock lock-version {lock_version!r} "
                          "(expected 1.x or 2.x)", hint="upgrade patchcheck, or " + _POETRY_HINT)
    packages = _packages(data, "package", display, _POETRY_HINT)
    by_name = {normalize_name(str(p.get("name", ""))): i for i, p in enumerate(packages)}
    lock_extras = data.get("extras") or {}
    if not isinstance(lock_extras, dict):
        raise SourceError(f"{display}: [extras] must be a table", hint=_POETRY_HINT)

    out = Collector()
    groups_of = [_poetry_groups(p, _origin(display, lines, i)) for i, p in enumerate(packages)]
    if any(g is not None for g in groups_of):
        available = _unique_names(g for gs in groups_of for g in (gs or ()) if g != MAIN)
        available = _with_project_groups(path, available)
        main, chosen = selection.choose_groups(available, display)
        keys = {normalize_name(g) for g in chosen} | ({MAIN} if main else set())
        wanted = {i for i, gs in enumerate(groups_of)
                  if gs is None or keys & {normalize_name(g) for g in gs}}
    else:
        project = _project_beside(path)
        if project is None:
            available, main, chosen, keys = [], True, [], {MAIN}
            wanted = set(range(len(packages)))
            out.notes.append(f"{display}: the lock does not say which group needs each package "
                             "and no pyproject.toml is beside it; every package scanned")
        else:
            from patchcheck.sources.pyproject import parse_pyproject

            parsed = parse_pyproject(project, selection=selection,
                                     display=os.path.join(os.path.dirname(display),
                                                          "pyproject.toml"))
            scanned = parsed.scanned[0] if parsed.scanned else None
            available = [g for g in (scanned.groups + scanned.left_out if scanned else ())
                         if g != MAIN]
            chosen = [g for g in (scanned.groups if scanned else ()) if g != MAIN]
            main = scanned is None or MAIN in scanned.groups
            keys = set()
            wanted = _poetry_reach(packages, by_name, [r.name for r in parsed.requirements])

    extra_names = list(lock_extras)
    extras = selection.choose_extras(extra_names, display)
    optional_roots = [str(n).split()[0] for e in extras for n in lock_extras.get(e) or ()]
    with_extras = _poetry_reach(packages, by_name, optional_roots)
    out.report_groups(scanned_groups(display, main, available, chosen, extra_names, extras))

    for index, package in enumerate(packages):
        origin = _origin(display, lines, index)
        if package.get("optional") is True:
            if index not in with_extras:
                continue  # installed only for an extra that was not chosen
        elif index not in wanted:
            continue
        marker = _poetry_marker(package, keys, origin)
        out.add(_pinned(package, origin=origin, hint=_POETRY_HINT, marker=marker,
                        notes=out.notes))
    return out.result()


def _poetry_groups(package: dict[str, Any], origin: str) -> list[str] | None:
    groups = package.get("groups")
    if groups is not None:
        if not isinstance(groups, list) or not all(isinstance(g, str) for g in groups):
            raise SourceError(f"{origin}: groups must be a list of names", hint=_POETRY_HINT)
        return groups
    category = package.get("category")
    if category is not None:
        if not isinstance(category, str):
            raise SourceError(f"{origin}: category must be a string", hint=_POETRY_HINT)
        return [category]
    return None


def _unique_names(names: Iterable[str]) -> list[str]:
    out: list[str] = []
    for name in names:
        if normalize_name(name) not in {normalize_name(n) for n in out}:
            out.append(name)
    return out


def _project_beside(path: str) -> str | None:
    project = os.path.join(os.path.dirname(os.path.abspath(path)), "pyproject.toml")
    return project if os.path.isfile(project) else None


def _with_project_groups(path: str, available: list[str]) -> list[str]:
    """A group whose packages are all in main too has no package of its own in the lock:
    take the group names of the pyproject beside it, so naming that group is not an error."""
    project = _project_beside(path)
    if project is None:
        return available
    from patchcheck.sources.pyproject import declared_groups

    try:
        return _unique_names([*available, *declared_groups(project)])
    except SourceError:
        return available  # the pyproject is not ours to judge when scanning the lock


def _poetry_reach(packages: list[dict[str, Any]], by_name: dict[str, int],
                  names: Iterable[str]) -> set[int]:
    """Indexes of the packages ``names`` need, following ``[package.dependencies]``."""
    reached: set[int] = set()
    todo = [normalize_name(n) for n in names]
    while todo:
        index = by_name.get(todo.pop())
        if index is None or index in reached:
            continue
        reached.add(index)
        package = packages[index]
        deps = package.get("dependencies") or {}
        if not isinstance(deps, dict):
            continue
        for name, value in deps.items():
            todo.append(normalize_name(name))
            target = by_name.get(normalize_name(name))
            for entry in value if isinstance(value, list) else [value]:
                asked = entry.get("extras") if isinstance(entry, dict) else None
                if target is None or not isinstance(asked, list):
                    continue
                # name = {extras = ["x"]}: also what the target's extra "x" lists.
                offered = packages[target].get("extras") or {}
                for extra in asked:
                    for spec in offered.get(extra, ()) if isinstance(offered, dict) else ():
                        match = re.match(r"\s*([A-Za-z0-9][A-Za-z0-9._-]*)", str(spec))
                        if match:
                            todo.append(normalize_name(match.group(1)))
    return reached


def _poetry_marker(package: dict[str, Any], keys: set[str], origin: str) -> str | None:
    markers = package.get("markers")
    if markers is None:
        return None
    if isinstance(markers, str):
        return _valid_marker(markers, origin, _POETRY_HINT)
    if not isinstance(markers, dict):
        raise SourceError(f"{origin}: markers must be a string or a table", hint=_POETRY_HINT)
    # Per group (Poetry 2): the package is needed where the marker of any chosen group holds;
    # a chosen group without a marker needs it everywhere.
    groups = _poetry_groups(package, origin) or []
    chosen = [g for g in groups if normalize_name(g) in keys] or groups
    texts = []
    for group in chosen:
        text = markers.get(group)
        if text is None:
            return None
        texts.append(_valid_marker(str(text), origin, _POETRY_HINT))
    if not texts:
        return None
    return texts[0] if len(set(texts)) == 1 else _any_of(sorted(set(texts)), origin)
