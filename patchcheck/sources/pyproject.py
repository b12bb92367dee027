"""``pyproject.toml``: ``[project] dependencies``, ``optional-dependencies`` and PEP 735
``[dependency-groups]`` (with ``{include-group = "..."}``).

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
    ALL,
    REQUIREMENT_HINT,
    Collector,
    ParsedSource,
    Selection,
    first_line,
    from_packaging,
    load_toml,
    read_text,
)


def parse_pyproject(
    path: str | os.PathLike[str],
    *,
    groups: Selection = ALL,
    extras: Selection = ALL,
    display: str | None = None,
) -> ParsedSource:
    """Requirements of a ``pyproject.toml``.

    :param groups: dependency groups to include: ``"all"`` (default), a list of names, or
        ``None``/``()`` for none. Naming a group the file lacks is an error.
    :param extras: optional-dependency extras, same convention.
    :param display: how the file is named in origins and messages (default: ``path``).
    :raises SourceError: unreadable file, invalid TOML, a malformed requirement, an unknown
        or cyclic ``include-group``, an unknown extra or group.
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

    deps = project.get("dependencies", [])
    _check_list(deps, display, "project.dependencies")
    anchor = locator.key_after(r"\[project\]", "dependencies")
    for text in deps:
        out.add(_requirement(text, display, locator, anchor))
    if "dependencies" in dynamic:
        out.notes.append(f"{display}:{locator.line_of(locator.header(r'[project]'))}: "
                         "dependencies are dynamic (computed by the build backend) and were not "
                         "read; list them in a requirements file to scan them")

    optional = project.get("optional-dependencies", {})
    if not isinstance(optional, dict):
        raise SourceError(f"{display}: project.optional-dependencies must be a table",
                          hint="write [project.optional-dependencies] name = [\"req\", ...]")
    for name in _select(extras, list(optional), display, "extra",
                        "[project.optional-dependencies]"):
        _check_list(optional[name], display, f"project.optional-dependencies.{name}")
        anchor = locator.key_after(r"\[project\.optional-dependencies\]|optional-dependencies",
                                   name)
        for text in optional[name]:
            out.add(_requirement(text, display, locator, anchor))

    groups_table = data.get("dependency-groups", {})
    if not isinstance(groups_table, dict):
        raise SourceError(f"{display}: [dependency-groups] must be a table",
                          hint="write [dependency-groups] name = [\"req\", ...] (PEP 735)")
    normalized = _normalize_groups(groups_table, display)
    for name in _select(groups, list(groups_table), display, "dependency group",
                        "[dependency-groups]"):
        for text, anchor in _expand_group(normalized, normalize_name(name), display, locator,
                                          ()):
            out.add(_requirement(text, display, locator, anchor))

    if not deps and not optional and not groups_table and "tool" in data:
        if "poetry" in data["tool"]:
            out.notes.append(f"{display}: [tool.poetry] dependencies are not read; export them "
                             "with 'poetry export -f requirements.txt' and scan that file")
    return out.result()


def _select(selection: Selection, available: list[str], display: str, kind: str,
            table: str) -> list[str]:
    if selection == ALL:
        return available
    if not selection:
        return []
    if isinstance(selection, str):
        selection = [selection]
    by_key = {normalize_name(n): n for n in available}
    chosen = []
    for wanted in selection:
        found = by_key.get(normalize_name(wanted))
        if found is None:
            have = ", ".join(available) or "none"
            raise SourceError(f"{display}: no {kind} named {wanted!r} in {table}",
                              hint=f"available: {have}")
        if found not in chosen:
            chosen.append(found)
    return chosen


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
