"""What every requirement source returns, and the helpers they share.

A source turns user input (a requirements file, a pyproject.toml, a lock file, names on the
command line) into ``patchcheck.model.Requirement`` objects. Sources never evaluate
environment markers: the markers are evaluated later for the *target* interpreter
(``evaluate_marker`` / ``applicable``), which need not be the one running patchcheck.
"""
from __future__ import annotations

import codecs
import os
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Union

from packaging.markers import InvalidMarker, Marker, UndefinedComparison, UndefinedEnvironmentName
from packaging.requirements import Requirement as PackagingRequirement

from patchcheck.errors import SourceError
from patchcheck.model import Requirement

#: Select every extra or every dependency group.
ALL = "all"
#: ``ALL``, a list of names, or ``None``/``()`` for none.
Selection = Union[str, Sequence[str], None]


@dataclass(frozen=True)
class ParsedSource:
    """The requirements found in one or more sources.

    ``notes`` are one-line, user-facing remarks (each starts with ``file:line:``) about input
    that was accepted but ignored: index options, duplicates, unsupported editable lines.
    ``constraints`` are entries of ``-c`` constraints files: recorded, never scanned.
    """

    requirements: tuple[Requirement, ...] = ()
    notes: tuple[str, ...] = ()
    constraints: tuple[Requirement, ...] = ()

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(r.name for r in self.requirements)


def from_packaging(
    req: PackagingRequirement, *, origin: str, line: str, url: str | None = None
) -> Requirement:
    """Convert a parsed ``packaging`` requirement into patchcheck's model."""
    return Requirement(
        name=req.name,
        specifier=str(req.specifier),
        extras=tuple(sorted(req.extras)),
        marker=str(req.marker) if req.marker is not None else None,
        url=url if url is not None else req.url,
        origin=origin,
        line=line,
    )


def first_line(exc: BaseException) -> str:
    """packaging's messages end with the text and a caret line; we print the text ourselves."""
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


REQUIREMENT_HINT = (
    "a requirement looks like 'name[extra]>=1.0; python_version >= \"3.9\"' (PEP 508); "
    "see https://pip.pypa.io/en/stable/reference/requirements-file-format/"
)


# --- markers -------------------------------------------------------------------------------

def evaluate_marker(req: Requirement, env: Mapping[str, Any]) -> bool:
    """True when ``req`` applies to the interpreter described by ``env``.

    ``env`` is the target interpreter's PEP 508 marker environment (the dict that
    ``packaging.markers.default_environment()`` returns *when run by the target*). Keys that
    are missing fall back to the tool's own interpreter, so pass a complete environment.
    A requirement without a marker always applies. ``extra`` defaults to ``""``.
    """
    if not req.marker:
        return True
    try:
        marker = Marker(req.marker)
    except InvalidMarker as exc:  # sources validate markers, so only hand-built objects get here
        raise SourceError(
            f"{req.origin}: invalid environment marker {req.marker!r}: {first_line(exc)}",
            hint=REQUIREMENT_HINT,
        ) from exc
    # pylock.toml's "extras"/"dependency_groups" clauses were decided by parse_pylock, so a
    # plain PEP 508 environment is enough here.
    try:
        return bool(marker.evaluate(dict(env)))
    except (UndefinedComparison, UndefinedEnvironmentName) as exc:
        raise SourceError(
            f"{req.origin}: cannot evaluate marker {req.marker!r} for the target: {exc}",
            hint="pass the target interpreter's complete marker environment",
        ) from exc


def applicable(source: ParsedSource, env: Mapping[str, Any]) -> ParsedSource:
    """The requirements of ``source`` whose markers are true for ``env``, one per name.

    Sources keep a name twice when the markers differ (``foo<2; python_version < "3.9"`` and
    ``foo>=2; python_version >= "3.9"`` is a common pattern); after evaluation the first one
    that applies wins. Skipped requirements are recorded as notes.
    """
    kept: list[Requirement] = []
    seen: dict[str, Requirement] = {}
    notes = list(source.notes)
    for req in source.requirements:
        if not evaluate_marker(req, env):
            notes.append(f"{req.origin}: {req.name} skipped: marker {req.marker!r} is false "
                         "for the target interpreter")
            continue
        first = seen.get(req.key)
        if first is not None:
            notes.append(f"{req.origin}: {req.name} ignored: already required at {first.origin}")
            continue
        seen[req.key] = req
        kept.append(req)
    return ParsedSource(tuple(kept), tuple(notes), source.constraints)


# --- combining sources ---------------------------------------------------------------------


class Collector:
    """Accumulates requirements in order, keeping the first of each (name, marker)."""

    def __init__(self) -> None:
        self.requirements: list[Requirement] = []
        self.constraints: list[Requirement] = []
        self.notes: list[str] = []
        self._seen: dict[tuple[str, str | None], Requirement] = {}

    def add(self, req: Requirement) -> None:
        key = (req.key, req.marker)
        first = self._seen.get(key)
        if first is not None and (first.origin, first.line) == (req.origin, req.line):
            return  # the same entry reached twice (a group included by two groups)
        if first is not None:
            same = "listed again" if _same(first, req) else f"conflicts with {first.line!r}"
            self.notes.append(
                f"{req.origin}: duplicate requirement {req.line!r} ignored ({same}); "
                f"keeping the first, from {first.origin}"
            )
            return
        self._seen[key] = req
        self.requirements.append(req)

    def add_source(self, source: ParsedSource) -> None:
        self.notes.extend(source.notes)
        for req in source.requirements:
            self.add(req)
        self.constraints.extend(source.constraints)

    def result(self) -> ParsedSource:
        return ParsedSource(tuple(self.requirements), tuple(self.notes), tuple(self.constraints))


def _same(a: Requirement, b: Requirement) -> bool:
    return (a.specifier, a.extras, a.url) == (b.specifier, b.extras, b.url)


def merge_sources(sources: Iterable[ParsedSource]) -> ParsedSource:
    """Concatenate sources in order; a repeated (name, marker) keeps its first occurrence."""
    collector = Collector()
    for source in sources:
        collector.add_source(source)
    return collector.result()


# --- files ---------------------------------------------------------------------------------

_BOMS = (
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_BE, "utf-16"),
    (codecs.BOM_UTF16_LE, "utf-16"),
)
# PEP 263 style declaration, which pip also honours in requirements files.
_CODING = re.compile(rb"^[ \t\f]*#.*?coding[:=][ \t]*([-\w.]+)")


def read_text(path: str, display: str, *, included_from: str | None = None) -> str:
    """Read a source file as text the way pip does (BOM, coding line, else UTF-8).

    ``display`` is how the file is named in messages; ``included_from`` is the ``file:line``
    of the ``-r``/``-c`` line that named it.
    """
    where = f"{included_from}: " if included_from else ""
    try:
        with open(path, "rb") as fh:
            data = fh.read()
    except FileNotFoundError:
        raise SourceError(
            f"{where}{display}: file not found",
            hint=(
                "paths in -r/-c lines are relative to the file that contains them"
                if included_from
                else "check the path; to scan a distribution by name, give just its name"
            ),
        ) from None
    except IsADirectoryError:
        raise SourceError(f"{where}{display}: is a directory, not a file",
                          hint="name the file inside it, e.g. requirements.txt") from None
    except OSError as exc:
        raise SourceError(f"{where}{display}: cannot read: {exc.strerror or exc}",
                          hint="check the file's permissions") from None
    encoding = "utf-8"
    for bom, name in _BOMS:
        if data.startswith(bom):
            encoding = name
            break
    else:
        for raw in data.split(b"\n")[:2]:
            match = _CODING.match(raw)
            if match:
                encoding = match.group(1).decode("ascii")
                break
    try:
        return data.decode(encoding)
    except LookupError:
        raise SourceError(f"{where}{display}: unknown encoding {encoding!r} in coding line",
                          hint="save the file as UTF-8") from None
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise SourceError(
            f"{where}{display}:{line}: cannot decode byte {data[exc.start]:#04x} as {encoding}",
            hint="save the file as UTF-8",
        ) from None


def load_toml(path: str, display: str) -> dict[str, Any]:
    try:
        import tomllib  # type: ignore[import-not-found]
    except ImportError:  # Python < 3.11
        import tomli as tomllib  # type: ignore[no-redef]

    text = read_text(path, display)
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        # tomllib says "... (at line 3, column 7)"; lift the line into our file:line prefix.
        message = str(exc)
        match = re.search(r"\(at line (\d+), column \d+\)$", message)
        where = f"{display}:{match.group(1)}" if match else display
        if match:
            message = message[: match.start()].rstrip()
        raise SourceError(f"{where}: invalid TOML: {message}",
                          hint="fix the TOML syntax (https://toml.io)") from None


def display_join(parent_display: str, child: str) -> str:
    """How an included file is named: relative to its parent's displayed path."""
    if os.path.isabs(child):
        return child
    return os.path.normpath(os.path.join(os.path.dirname(parent_display), child))
