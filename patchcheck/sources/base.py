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
import stat
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from packaging.markers import InvalidMarker, Marker, UndefinedComparison, UndefinedEnvironmentName
from packaging.requirements import Requirement as PackagingRequirement

from patchcheck.errors import SourceError
from patchcheck.model import Requirement, normalize_name
from patchcheck.tomlfile import parse_toml

#: The group name (Poetry's) for a project's own dependencies: ``[project] dependencies``,
#: ``[tool.poetry.dependencies]``, a lock's packages that production needs.
MAIN = "main"


@dataclass(frozen=True)
class DependencySelection:
    """Which dependency groups and extras of a pyproject or lock file are scanned.

    The default is what ships: the ``main`` dependencies, no other group, no extra (uv and
    Poetry install the ``dev`` group by default; patchcheck judges production). Names follow
    uv and Poetry and compare normalised (PEP 503):

    ``base``: the groups scanned before the options below (``[tool.patchcheck] groups``;
    ``None``: ``("main",)``). ``groups``: added (``--group``/``--with``). ``only_groups``:
    instead of ``base`` and ``groups`` (``--only-group``/``--only``; ``main`` must be named to
    keep it). ``all_groups``: every group. ``no_groups``: removed from the result
    (``--no-group``/``--without``/``--no-dev``); an unknown name here is not an error, so
    ``--no-dev`` works on every project. ``extras``/``all_extras``: ``--extra``/``--all-extras``.
    """

    base: tuple[str, ...] | None = None
    groups: tuple[str, ...] = ()
    only_groups: tuple[str, ...] = ()
    all_groups: bool = False
    no_groups: tuple[str, ...] = ()
    extras: tuple[str, ...] = ()
    all_extras: bool = False

    @property
    def explicit(self) -> bool:
        """True when the user chose groups (a pylock's ``default-groups`` apply otherwise)."""
        return bool(self.base is not None or self.groups or self.only_groups
                    or self.all_groups or self.no_groups)

    def choose_groups(self, available: Sequence[str], display: str) -> tuple[bool, list[str]]:
        """(is ``main`` scanned, the chosen names of ``available`` in file order).

        :raises SourceError: a group named by ``base``, ``groups`` or ``only_groups`` that is
            neither ``main`` nor in ``available``.
        """
        if self.only_groups:
            wanted = list(self.only_groups)
        elif self.all_groups:
            wanted = [MAIN, *available]
        else:
            wanted = [*(self.base if self.base is not None else (MAIN,)), *self.groups]
        known = {normalize_name(n) for n in available}
        for name in wanted:
            key = normalize_name(name)
            if key != MAIN and key not in known:
                raise SourceError(
                    f"{display}: no dependency group named {name!r} "
                    f"(known groups: {', '.join([MAIN, *available])})",
                    hint="name a known group with --group NAME (or in [tool.patchcheck] groups)",
                )
        keys = {normalize_name(n) for n in wanted} - {normalize_name(n) for n in self.no_groups}
        return MAIN in keys, [n for n in available if normalize_name(n) in keys]

    def choose_extras(self, available: Sequence[str], display: str) -> list[str]:
        """The chosen names of ``available``; an unknown ``--extra`` is a ``SourceError``."""
        if self.all_extras:
            return list(available)
        known = {normalize_name(n): n for n in available}
        chosen: list[str] = []
        for name in self.extras:
            found = known.get(normalize_name(name))
            if found is None:
                raise SourceError(
                    f"{display}: no extra named {name!r} "
                    f"(known extras: {', '.join(available) or 'none'})",
                    hint="name a known extra with --extra NAME, or use --all-extras",
                )
            if found not in chosen:
                chosen.append(found)
        return chosen


#: Production only: ``main``, no other group, no extra.
PRODUCTION = DependencySelection()


@dataclass(frozen=True)
class ScannedGroups:
    """What one pyproject or lock file offered and what of it was scanned (for the report)."""

    file: str
    groups: tuple[str, ...]
    left_out: tuple[str, ...]
    extras: tuple[str, ...] = ()
    extras_left_out: tuple[str, ...] = ()

    def note(self) -> str:
        text = f"{self.file}: scanned groups: {', '.join(self.groups) or 'none'}"
        if self.left_out:
            text += f"; left out: {', '.join(self.left_out)} (add with --group NAME)"
        if self.extras:
            text += f"; extras: {', '.join(self.extras)}"
        if self.extras_left_out:
            text += (f"; extras left out: {', '.join(self.extras_left_out)} "
                     "(add with --extra NAME)")
        return text


def scanned_groups(display: str, main: bool, available: Sequence[str], chosen: Sequence[str],
                   extras: Sequence[str] = (), chosen_extras: Sequence[str] = ()
                   ) -> ScannedGroups:
    all_groups = [MAIN, *available]
    scanned = ([MAIN] if main else []) + list(chosen)
    return ScannedGroups(
        file=display, groups=tuple(scanned),
        left_out=tuple(g for g in all_groups if g not in scanned),
        extras=tuple(chosen_extras),
        extras_left_out=tuple(e for e in extras if e not in chosen_extras))


@dataclass(frozen=True)
class ParsedSource:
    """The requirements found in one or more sources.

    ``notes`` are one-line, user-facing remarks (each starts with ``file:line:``) about input
    that was accepted but ignored: index options, duplicates, unsupported editable lines.
    ``constraints`` are entries of ``-c`` constraints files: recorded, never scanned.
    ``scanned`` says, per pyproject or lock file, which dependency groups and extras were
    read and which were left out (its ``note()`` is also among ``notes``).
    """

    requirements: tuple[Requirement, ...] = ()
    notes: tuple[str, ...] = ()
    constraints: tuple[Requirement, ...] = ()
    scanned: tuple[ScannedGroups, ...] = ()
    #: left out by ``applicable()``: their environment marker is false for the target (one
    #: list, not one note each: a big requirements file can hold dozens; issue #15)
    marker_skipped: tuple[Requirement, ...] = ()

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
    that applies wins. Requirements whose marker is false are ``marker_skipped``; duplicates
    are recorded as notes.
    """
    kept: list[Requirement] = []
    seen: dict[str, Requirement] = {}
    notes = list(source.notes)
    skipped: list[Requirement] = []
    for req in source.requirements:
        if not evaluate_marker(req, env):
            skipped.append(req)
            continue
        first = seen.get(req.key)
        if first is not None:
            notes.append(f"{req.origin}: {req.name} ignored: already required at {first.origin}")
            continue
        seen[req.key] = req
        kept.append(req)
    return ParsedSource(tuple(kept), tuple(notes), source.constraints, source.scanned,
                        marker_skipped=(*source.marker_skipped, *skipped))


# --- combining sources ---------------------------------------------------------------------


class Collector:
    """Accumulates requirements in order, keeping the first of each (name, marker)."""

    def __init__(self) -> None:
        self.requirements: list[Requirement] = []
        self.constraints: list[Requirement] = []
        self.notes: list[str] = []
        self.scanned: list[ScannedGroups] = []
        self._seen: dict[tuple[str, str | None], Requirement] = {}

    def add(self, req: Requirement) -> None:
        check_name(req.name, req.origin)
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
        self.scanned.extend(source.scanned)

    def report_groups(self, scanned: ScannedGroups) -> None:
        """Record what a file offered and what was scanned, with its note for the user."""
        self.scanned.append(scanned)
        self.notes.append(scanned.note())

    def result(self) -> ParsedSource:
        return ParsedSource(tuple(self.requirements), tuple(self.notes), tuple(self.constraints),
                            tuple(self.scanned))


def check_name(name: str, origin: str) -> None:
    """A distribution name over ``MAX_NAME_CHARS`` is an input error at ``origin``."""
    if len(name) > MAX_NAME_CHARS:
        raise SourceError(f"{origin}: distribution name {clip(name, 40)!r} is longer than "
                          f"{MAX_NAME_CHARS} characters",
                          hint="no published distribution has a name that long")


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


#: Input limits (README "Input limits"): a source file is read whole, so its size is bounded;
#: a physical line and a distribution name longer than any real one are input errors, named
#: by file:line, rather than megabytes pushed through parsers and into the report.
MAX_FILE_BYTES = 32 * 1024 * 1024
MAX_LINE_CHARS = 100_000
MAX_NAME_CHARS = 200
#: How much of a long value a message or note shows.
SHOWN_CHARS = 120


def clip(text: str, limit: int = SHOWN_CHARS) -> str:
    """``text`` cut to ``limit`` characters (with how much was cut) for messages and reports."""
    if len(text) <= limit:
        return text
    return f"{text[:limit]}… ({len(text)} characters)"


def _file_kind(mode: int) -> str:
    if stat.S_ISFIFO(mode):
        return "a FIFO (named pipe)"
    if stat.S_ISSOCK(mode):
        return "a socket"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    return "not a regular file"


def _read_bounded(path: str) -> bytes:
    """The bytes of the regular file ``path``, at most ``MAX_FILE_BYTES`` + 1 of them.

    Opened non-blocking so that a FIFO (or a device) fails here instead of waiting for a
    writer; then ``fstat`` of the open file decides, so a file swapped meanwhile cannot slip by.
    """
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    try:
        mode = os.fstat(fd).st_mode
        if stat.S_ISDIR(mode):
            raise IsADirectoryError(path)
        if not stat.S_ISREG(mode):
            raise _NotRegular(_file_kind(mode))
        chunks: list[bytes] = []
        size = 0
        while size <= MAX_FILE_BYTES:
            chunk = os.read(fd, min(1 << 20, MAX_FILE_BYTES + 1 - size))
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
        return b"".join(chunks)
    finally:
        os.close(fd)


class _NotRegular(OSError):
    pass


def _check_line_lengths(text: str, where: str, display: str) -> None:
    """Linear scan for a physical line over ``MAX_LINE_CHARS``; the error names file:line."""
    start = number = 0
    end = len(text)
    while start <= end:
        number += 1
        stop = text.find("\n", start)
        if stop < 0:
            stop = end
        if stop - start > MAX_LINE_CHARS:
            raise SourceError(
                f"{where}{display}:{number}: line is {stop - start} characters long "
                f"(the limit is {MAX_LINE_CHARS})",
                hint="no requirement is that long; check that this is the file you meant")
        start = stop + 1


def read_text(path: str, display: str, *, included_from: str | None = None) -> str:
    """Read a source file as text the way pip does (BOM, coding line, else UTF-8).

    ``display`` is how the file is named in messages; ``included_from`` is the ``file:line``
    of the ``-r``/``-c`` line that named it. Only regular files of at most ``MAX_FILE_BYTES``
    with lines of at most ``MAX_LINE_CHARS`` are read; anything else is a ``SourceError``.
    """
    where = f"{included_from}: " if included_from else ""
    try:
        data = _read_bounded(path)
    except _NotRegular as exc:
        raise SourceError(f"{where}{display}: is {exc}, not a regular file",
                          hint="name a requirements file, pyproject.toml, pylock.toml or "
                               "uv.lock") from None
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
    if len(data) > MAX_FILE_BYTES:
        raise SourceError(f"{where}{display}: larger than {MAX_FILE_BYTES // (1024 * 1024)} MiB",
                          hint="no requirements or lock file is that large; check that this "
                               "is the file you meant")
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
        text = data.decode(encoding)
    except LookupError:
        raise SourceError(f"{where}{display}: unknown encoding {encoding!r} in coding line",
                          hint="save the file as UTF-8") from None
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise SourceError(
            f"{where}{display}:{line}: cannot decode byte {data[exc.start]:#04x} as {encoding}",
            hint="save the file as UTF-8",
        ) from None
    _check_line_lengths(text, where, display)
    return text


def load_toml(path: str, display: str) -> dict[str, Any]:
    """A TOML source, read the way pip reads files, parsed by the one TOML loader."""
    return parse_toml(read_text(path, display), display, error=SourceError)


def display_join(parent_display: str, child: str) -> str:
    """How an included file is named: relative to its parent's displayed path."""
    if os.path.isabs(child):
        return child
    return os.path.normpath(os.path.join(os.path.dirname(parent_display), child))
