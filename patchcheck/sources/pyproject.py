"""``pyproject.toml``: ``[project] dependencies``, ``optional-dependencies``, PEP 735
``[dependency-groups]`` (with ``{include-group = "..."}``), and Poetry's dependency tables.

Selected extras and groups are included unconditionally (their ``extra == ...`` meaning is
the user's choice, made here). Line numbers are found by searching the file text for each
string, best effort: TOML parsers do not report positions.
"""
from __future__ import annotations

import json
import os
import re
from collections.abc import Iterable
from typing import Any

from packaging.requirements import InvalidRequirement
from packaging.requirements import Requirement as PackagingRequirement

from patchcheck.errors import SourceError
from patchcheck.model import Requirement, normalize_name
from patchcheck.sources.base import (
    PRODUCTION,
    REQUIREMENT_HINT,
    Collector,
    DependencySelection,
    ParsedSource,
    first_line,
    from_packaging,
    load_toml,
    read_text,
    scanned_groups,
)
from patchcheck.sources.poetry import POETRY_HINT, poetry_dependencies


def parse_pyproject(
    path: str | os.PathLike[str],
    *,
    selection: DependencySelection = PRODUCTION,
    display: str | None = None,
) -> ParsedSource:
    """Requirements of a ``pyproject.toml``, for the groups and extras ``selection`` names.

    Groups: ``main`` (``[project] dependencies``, or Poetry's ``[tool.poetry.dependencies]``
    when ``[project]`` has none or declares them dynamic), every PEP 735
    ``[dependency-groups]`` group, every ``[tool.poetry.group.NAME.dependencies]`` (and the
    older ``[tool.poetry.dev-dependencies]`` as ``dev``). Extras: ``[project.
    optional-dependencies]`` and ``[tool.poetry.extras]`` (which name optional Poetry
    dependencies). The default is production only: ``main``, no extras. What was scanned and
    left out is in the result's ``scanned`` (and a note).

    :param display: how the file is named in origins and messages (default: ``path``).
    :raises SourceError: unreadable file, invalid TOML, a malformed requirement, an unknown
        or cyclic ``include-group``, a group or extra the file lacks.
    """
    path = os.fspath(path)
    display = display or path
    data = load_toml(path, display)
    locator = _Locator(read_text(path, display))
    out = Collector()

    project = data.get("project")
    if project is not None and not isinstance(project, dict):
        raise SourceError(f"{display}: [project] must be a table",
                          hint="see https://packaging.python.org/en/latest/specifications/pyproject-toml/")
    project = project or {}
    dynamic = project.get("dynamic") or []
    poetry = _poetry_tables(data, display)

    optional = project.get("optional-dependencies", {})
    if not isinstance(optional, dict):
        raise SourceError(f"{display}: project.optional-dependencies must be a table",
                          hint="write [project.optional-dependencies] name = [\"req\", ...]")
    groups_table = data.get("dependency-groups", {})
    if not isinstance(groups_table, dict):
        raise SourceError(f"{display}: [dependency-groups] must be a table",
                          hint="write [dependency-groups] name = [\"req\", ...] (PEP 735)")
    normalized = _normalize_groups(groups_table, display)

    group_names = _unique([*groups_table, *poetry.groups])
    extra_names = _unique([*optional, *poetry.extras])
    main, chosen_groups = selection.choose_groups(group_names, display)
    chosen_extras = selection.choose_extras(extra_names, display)
    chosen_keys = {normalize_name(n) for n in chosen_groups}

    deps = project.get("dependencies", [])
    _check_list(deps, display, "project.dependencies")
    use_poetry_main = bool(poetry.main) and (not deps or "dependencies" in dynamic)
    if main:
        anchor = locator.key_after(r"\[project\]", "dependencies")
        for text in deps:
            out.add(_requirement(text, display, locator, anchor))
        if use_poetry_main:
            wanted = {normalize_name(n) for e in chosen_extras
                      for n in poetry.extras.get(e, ())}
            _add_poetry(out, poetry.main, r"\[tool\.poetry\.dependencies\]", display,
                        locator, path, optional_wanted=wanted)
        elif "dependencies" in dynamic:
            out.notes.append(f"{display}:{locator.line_of(locator.header(r'[project]'))}: "
                             "dependencies are dynamic (computed by the build backend) and were "
                             "not read; list them in a requirements file to scan them")

    for name in chosen_extras:
        if name not in optional:
            continue  # a Poetry extra: its optional dependencies were read with main
        _check_list(optional[name], display, f"project.optional-dependencies.{name}")
        anchor = locator.key_after(r"\[project\.optional-dependencies\]|optional-dependencies",
                                   name)
        for text in optional[name]:
            out.add(_requirement(text, display, locator, anchor))

    for name in group_names:
        if normalize_name(name) not in chosen_keys:
            continue
        if name in groups_table:
            for text, anchor in _expand_group(normalized, normalize_name(name), display,
                                              locator, ()):
                out.add(_requirement(text, display, locator, anchor))
        for table, header in poetry.groups.get(name, ()):
            _add_poetry(out, table, header, display, locator, path, optional_wanted=None)

    if group_names or extra_names:
        out.report_groups(scanned_groups(display, main, group_names, chosen_groups,
                                         extra_names, chosen_extras))
    return out.result()


def declared_groups(path: str | os.PathLike[str]) -> list[str]:
    """The dependency group names a ``pyproject.toml`` declares (PEP 735 and Poetry)."""
    path = os.fspath(path)
    data = load_toml(path, path)
    table = data.get("dependency-groups", {})
    return _unique([*(table if isinstance(table, dict) else ()),
                    *_poetry_tables(data, path).groups])


def _unique(names: list[str]) -> list[str]:
    seen: set[str] = set()
    out = []
    for name in names:
        if normalize_name(name) not in seen:
            seen.add(normalize_name(name))
            out.append(name)
    return out


# --- Poetry --------------------------------------------------------------------------------


class _PoetryTables:
    def __init__(self) -> None:
        self.main: dict[str, Any] = {}
        # group name → the tables that list its dependencies, with their header pattern
        self.groups: dict[str, list[tuple[dict[str, Any], str]]] = {}
        self.extras: dict[str, list[str]] = {}


def _poetry_tables(data: dict[str, Any], display: str) -> _PoetryTables:
    found = _PoetryTables()
    tool = data.get("tool")
    poetry = tool.get("poetry") if isinstance(tool, dict) else None
    if not isinstance(poetry, dict):
        return found
    main = poetry.get("dependencies", {})
    _check_table(main, display, "tool.poetry.dependencies")
    found.main = main
    legacy_dev = poetry.get("dev-dependencies")
    if legacy_dev is not None:
        _check_table(legacy_dev, display, "tool.poetry.dev-dependencies")
        found.groups.setdefault("dev", []).append(
            (legacy_dev, r"\[tool\.poetry\.dev-dependencies\]"))
    groups = poetry.get("group", {})
    _check_table(groups, display, "tool.poetry.group")
    for name, group in groups.items():
        _check_table(group, display, f"tool.poetry.group.{name}")
        table = group.get("dependencies", {})
        _check_table(table, display, f"tool.poetry.group.{name}.dependencies")
        quoted = re.escape(name)
        header = (rf"\[tool\.poetry\.group\.(?:{quoted}|\"{quoted}\"|'{quoted}')"
                  r"\.dependencies\]")
        found.groups.setdefault(name, []).append((table, header))
    extras = poetry.get("extras", {})
    _check_table(extras, display, "tool.poetry.extras")
    for name, members in extras.items():
        if not isinstance(members, list) or not all(isinstance(m, str) for m in members):
            raise SourceError(f"{display}: tool.poetry.extras.{name} must be a list of "
                              "dependency names", hint=POETRY_HINT)
        found.extras[name] = members
    return found


def _check_table(value: Any, display: str, key: str) -> None:
    if not isinstance(value, dict):
        raise SourceError(f"{display}: [{key}] must be a table, got {type(value).__name__}",
                          hint=POETRY_HINT)


def _add_poetry(out: Collector, table: dict[str, Any], header: str, display: str,
                locator: _Locator, path: str, *, optional_wanted: set[str] | None) -> None:
    """Add the requirements of one Poetry dependency table. ``optional_wanted``: the
    optional dependencies the chosen extras name (``None``: keep optional ones too)."""
    for name, value in table.items():
        if normalize_name(name) == "python":
            continue  # the interpreter constraint, not a distribution
        line = locator.line_of(locator.key_after(header, name))
        where = f"{display}:{line}"
        for dep in poetry_dependencies(name, value, where=where,
                                       base_dir=os.path.dirname(os.path.abspath(path))):
            if dep.note:
                out.notes.append(dep.note)
            if dep.line is None:
                continue
            if dep.optional and optional_wanted is not None \
                    and normalize_name(name) not in optional_wanted:
                continue  # only installed with an extra that was not chosen
            try:
                parsed = PackagingRequirement(dep.line)
            except InvalidRequirement as exc:
                raise SourceError(f"{where}: cannot read dependency {name!r} as "
                                  f"{dep.line!r}: {first_line(exc)}", hint=POETRY_HINT) from None
            out.add(from_packaging(parsed, origin=where, line=dep.line))


def _check_list(value: Any, display: str, key: str) -> None:
    if not isinstance(value, list):
        raise SourceError(f"{display}: {key} must be a list of requirement strings, "
                          f"got {type(value).__name__}", hint="write [\"name>=1.0\", ...]")


def _requirement(text: Any, display: str, locator: _Locator, anchor: int) -> Requirement:
    line = locator.find(text, anchor) if isinstance(text, str) else 0
    origin = f"{display}:{line}" if line else display
    if not isinstance(text, str):
        raise SourceError(f"{origin}: requirement must be a string, got {text!r}",
                          hint=REQUIREMENT_HINT)
    try:
        parsed = PackagingRequirement(text)
    except InvalidRequirement as exc:
        raise SourceError(f"{origin}: invalid requirement {text!r}: {first_line(exc)}",
                          hint=REQUIREMENT_HINT) from None
    return from_packaging(parsed, origin=origin, line=text)


# --- PEP 735 dependency groups -------------------------------------------------------------


def _normalize_groups(table: dict[str, Any], display: str) -> dict[str, tuple[str, Any]]:
    result: dict[str, tuple[str, Any]] = {}
    for name, value in table.items():
        key = normalize_name(name)
        if key in result:
            # PEP 735: names that normalise to the same value are an error.
            raise SourceError(f"{display}: dependency groups {result[key][0]!r} and {name!r} "
                              "have the same normalised name",
                              hint="rename one of them (PEP 735)")
        result[key] = (name, value)
    return result


def _expand_group(groups: dict[str, tuple[str, Any]], key: str, display: str,
                  locator: _Locator, chain: tuple[str, ...]) -> Iterable[tuple[str, int]]:
    name, items = groups[key]
    if key in chain:
        cycle = " -> ".join([groups[k][0] for k in chain] + [name])
        raise SourceError(f"{display}: include-group cycle in [dependency-groups]: {cycle}",
                          hint="remove one of the include-group entries")
    _check_list(items, display, f"dependency-groups.{name}")
    anchor = locator.key_after(r"\[dependency-groups\]|dependency-groups", name)
    for item in items:
        if isinstance(item, str):
            yield item, anchor
        elif isinstance(item, dict) and set(item) == {"include-group"}:
            target = item["include-group"]
            if not isinstance(target, str) or normalize_name(target) not in groups:
                have = ", ".join(n for n, _ in groups.values())
                line = locator.line_of(anchor) if anchor else 0
                where = f"{display}:{line}" if line else display
                raise SourceError(f"{where}: group {name!r} includes unknown group {target!r}",
                                  hint=f"available: {have}")
            yield from _expand_group(groups, normalize_name(target), display, locator,
                                     chain + (key,))
        else:
            raise SourceError(f"{display}: dependency-groups.{name} has an invalid entry "
                              f"{item!r}",
                              hint="entries are requirement strings or {include-group = "
                                   "\"name\"} (PEP 735)")


# --- locating strings in the text ----------------------------------------------------------


class _Locator:
    """Finds the line of a string in the TOML text (best effort).

    Each requirement string is searched from its table's key onwards; an occurrence is used
    once, so the same string in two groups maps to two lines.
    """

    def __init__(self, text: str) -> None:
        self.text = text
        self.used: set[int] = set()
        self.cache: dict[tuple[str, int], int] = {}

    def line_of(self, offset: int) -> int:
        return self.text.count("\n", 0, offset) + 1

    def header(self, literal: str) -> int:
        index = self.text.find(literal)
        return max(index, 0)

    def key_after(self, table_pattern: str, key: str) -> int:
        """Offset of ``key =`` after the first match of ``table_pattern`` (0 if not found)."""
        table = re.search(rf"(?m)^\s*(?:{table_pattern})", self.text)
        start = table.end() if table else 0
        quoted = re.escape(key)
        match = re.compile(rf"(?m)^\s*(?:{quoted}|\"{quoted}\"|'{quoted}')\s*=|"
                           rf"[{{,]\s*(?:{quoted}|\"{quoted}\"|'{quoted}')\s*=").search(
            self.text, start)
        return match.start() if match else start

    def find(self, value: str, anchor: int) -> int:
        # A group included twice yields the same (string, anchor): same line both times.
        if (value, anchor) not in self.cache:
            self.cache[(value, anchor)] = self._find(value, anchor)
        return self.cache[(value, anchor)]

    def _find(self, value: str, anchor: int) -> int:
        candidates = []
        for form in {value, json.dumps(value)[1:-1]}:
            for quote in ('"', "'"):
                needle = f"{quote}{form}{quote}"
                start = 0
                while True:
                    index = self.text.find(needle, start)
                    if index < 0:
                        break
                    candidates.append(index)
                    start = index + 1
        fresh = sorted(i for i in candidates if i not in self.used)
        after = [i for i in fresh if i >= anchor]
        chosen = after[0] if after else (fresh[0] if fresh else None)
        if chosen is None:
            return 0
        self.used.add(chosen)
        return self.line_of(chosen)
