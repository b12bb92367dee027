"""Poetry's dependency tables (``[tool.poetry.dependencies]``, ``[tool.poetry.group.NAME.
dependencies]``, the older ``[tool.poetry.dev-dependencies]``) as PEP 508 requirements.

Poetry writes constraints in its own syntax (``^1.2.3``, ``~1.2``, ``*``, ``>=1,<2 || >=3``)
and tables (``{version = "...", extras = [...], optional = true, markers = "...",
python = "...", git = "..."}``); this module translates them so the rest of patchcheck sees
ordinary requirements. Poetry's rules: https://python-poetry.org/docs/dependency-specification/
"""
from __future__ import annotations

import os
import re
import urllib.parse
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from packaging.markers import InvalidMarker, Marker
from packaging.specifiers import InvalidSpecifier, SpecifierSet

from patchcheck.errors import SourceError

POETRY_HINT = "see https://python-poetry.org/docs/dependency-specification/"

_VERSION = re.compile(r"^v?(?P<release>\d+(?:\.\d+)*)(?P<rest>[A-Za-z0-9.+!-]*)$")
_OPERATOR = re.compile(r"^(===|==|!=|~=|<=|>=|<|>)\s*(.+)$")


class ConstraintError(ValueError):
    """A Poetry constraint that has no PEP 440 translation; the message says why."""


def poetry_constraint(text: str) -> str:
    """A PEP 440 specifier for a Poetry version constraint (``""`` for any version).

    ``^1.2.3`` → ``>=1.2.3,<2.0.0``; ``^0.2.3`` → ``>=0.2.3,<0.3.0``; ``~1.2`` →
    ``>=1.2,<1.3``; ``~=1.2`` stays; ``1.2.3`` → ``==1.2.3``; ``1.2.*`` → ``==1.2.*``;
    ``*`` → ``""``; ``>=1.2 <2`` and ``>=1.2, <2`` → ``>=1.2,<2``.

    :raises ConstraintError: ``||`` (a union PEP 440 cannot express) or an unreadable part.
    """
    text = text.strip()
    if "||" in text or re.search(r"(?<![<>=!~])\|(?!\|)", text):
        raise ConstraintError(f"the union {text!r} has no PEP 440 form")
    # "> = 1.2" is not Poetry, but ">= 1.2, < 2" and ">=1.2 <2" (space means "and") are.
    text = re.sub(r"(===|==|!=|~=|<=|>=|<|>|\^|~)\s+", r"\1", text)
    parts = [p for p in re.split(r"[\s,]+", text) if p]
    out: list[str] = []
    for part in parts:
        out.extend(_one(part))
    specifier = ",".join(out)
    try:
        SpecifierSet(specifier)
    except InvalidSpecifier as exc:
        raise ConstraintError(f"{text!r} is not a version constraint ({exc})") from None
    return specifier


def _one(part: str) -> list[str]:
    if part in ("*", ""):
        return []
    if part.startswith("~="):
        return [part.replace(" ", "")]
    if part[0] in "^~":
        match = _VERSION.match(part[1:].strip())
        if not match:
            raise ConstraintError(f"{part!r} is not a version constraint")
        release = [int(n) for n in match.group("release").split(".")]
        if part[0] == "^":
            # The first non-zero component is the one that may not change (^0.0 bumps the last).
            bump = next((i for i, n in enumerate(release) if n), len(release) - 1)
        else:
            bump = min(1, len(release) - 1)  # ~1 → <2; ~1.2 and ~1.2.3 → <1.3
        upper = release[:bump] + [release[bump] + 1] + [0] * (len(release) - bump - 1)
        lower = part[1:].strip().lstrip("v")
        return [f">={lower}", "<" + ".".join(map(str, upper))]
    operator = _OPERATOR.match(part)
    if operator:
        return [f"{operator.group(1)}{operator.group(2).strip()}"]
    if _VERSION.match(part) or re.match(r"^\d+(\.\d+)*\.\*$", part):
        return [f"=={part}"]
    raise ConstraintError(f"{part!r} is not a version constraint")


def python_marker(constraint: str) -> str:
    """A PEP 508 marker for Poetry's ``python = "^3.8"`` field on a dependency."""
    clauses = []
    for spec in SpecifierSet(poetry_constraint(constraint)):
        version = spec.version
        # python_version has two components; a three-part bound needs python_full_version.
        variable = "python_full_version" if version.count(".") >= 2 else "python_version"
        if spec.operator in ("==", "!=") and version.endswith(".*"):
            variable = "python_version" if version.count(".") <= 2 else "python_full_version"
        clauses.append(f'{variable} {spec.operator} "{version}"')
    return " and ".join(sorted(clauses))


@dataclass(frozen=True)
class PoetryDependency:
    """One entry of a Poetry dependency table, translated: a PEP 508 line or a note."""

    name: str
    line: str | None  # a PEP 508 requirement string; None when the entry cannot be scanned
    optional: bool = False
    note: str | None = None


def poetry_dependencies(name: str, value: Any, *, where: str,
                        base_dir: str) -> Iterator[PoetryDependency]:
    """Translate ``name = value`` of a Poetry dependency table (a list yields one per entry).

    :param where: ``file:line`` for messages. :param base_dir: the pyproject's folder, for
        ``path`` dependencies.
    :raises SourceError: an entry patchcheck cannot read.
    """
    entries = value if isinstance(value, list) else [value]
    for entry in entries:
        yield _dependency(name, entry, where=where, base_dir=base_dir)


def _dependency(name: str, entry: Any, *, where: str, base_dir: str) -> PoetryDependency:
    if isinstance(entry, str):
        entry = {"version": entry}
    if not isinstance(entry, dict):
        raise SourceError(f"{where}: dependency {name!r} must be a string or a table, got "
                          f"{entry!r}", hint=POETRY_HINT)
    extras = entry.get("extras") or []
    if not isinstance(extras, list) or not all(isinstance(e, str) for e in extras):
        raise SourceError(f"{where}: extras of {name!r} must be a list of names",
                          hint=POETRY_HINT)
    head = name + (f"[{','.join(sorted(extras))}]" if extras else "")
    markers = _markers(name, entry, where)
    optional = bool(entry.get("optional", False))
    tail = f"; {markers}" if markers else ""

    url = _url(entry, base_dir)
    if url:
        return PoetryDependency(name, f"{head} @ {url}{tail}", optional)
    if "path" in entry:
        return PoetryDependency(
            name, None, optional,
            note=f"{where}: {name} is a local path dependency ({entry['path']!r}) that does not "
                 "exist; not scanned")
    version = entry.get("version", "*")
    if not isinstance(version, str):
        raise SourceError(f"{where}: version of {name!r} must be a string, got {version!r}",
                          hint=POETRY_HINT)
    try:
        specifier = poetry_constraint(version)
    except ConstraintError as exc:
        # Still scan the distribution; only --install would have used the version.
        return PoetryDependency(
            name, f"{head}{tail}", optional,
            note=f"{where}: {name}: {exc}; scanned without a version constraint")
    return PoetryDependency(name, f"{head}{specifier}{tail}", optional)


def _url(entry: dict[str, Any], base_dir: str) -> str | None:
    if "git" in entry:
        git = str(entry["git"])
        url = git if git.startswith("git+") else f"git+{git}"
        ref = entry.get("rev") or entry.get("tag") or entry.get("branch")
        if ref:
            url += f"@{ref}"
        if entry.get("subdirectory"):
            url += f"#subdirectory={entry['subdirectory']}"
        return url
    if "url" in entry:
        return str(entry["url"])
    if "path" in entry:
        path = os.path.join(base_dir, str(entry["path"]))
        if os.path.exists(path):
            return "file://" + urllib.parse.quote(os.path.abspath(path))
    return None


def _markers(name: str, entry: dict[str, Any], where: str) -> str | None:
    clauses = []
    if entry.get("markers"):
        text = entry["markers"]
        try:
            clauses.append(str(Marker(str(text))))
        except InvalidMarker as exc:
            raise SourceError(f"{where}: invalid markers for {name!r}: {text!r} "
                              f"({str(exc).splitlines()[0]})", hint=POETRY_HINT) from None
    if entry.get("python"):
        try:
            clauses.append(python_marker(str(entry["python"])))
        except (ConstraintError, InvalidSpecifier) as exc:
            raise SourceError(f"{where}: python constraint of {name!r}: {exc}",
                              hint=POETRY_HINT) from None
    if entry.get("platform"):
        clauses.append(f'sys_platform == "{entry["platform"]}"')
    clauses = [c for c in clauses if c]
    if not clauses:
        return None
    if len(clauses) == 1:
        return clauses[0]
    return " and ".join(f"({c})" for c in clauses)
