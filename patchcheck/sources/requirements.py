"""Requirements files in pip's syntax, and requirement strings from the command line.

Follows pip's ``req_file.py`` closely so a file that pip accepts reads the same here:
comments (``#`` at the start or after whitespace), ``\\`` continuations (the joined line keeps
the first line's number), ``${VAR}`` expansion (upper-case names only; unset variables stay
as written), options split from the requirement at the first token starting with ``-``.
Index and install options are accepted and ignored (with a note): patchcheck inspects the
target environment and never talks to an index.
"""
from __future__ import annotations

import os
import re
import shlex
import urllib.parse
from collections.abc import Iterator, Mapping
from dataclasses import dataclass

from packaging.markers import InvalidMarker, Marker
from packaging.requirements import InvalidRequirement
from packaging.requirements import Requirement as PackagingRequirement
from packaging.utils import (
    InvalidSdistFilename,
    InvalidWheelFilename,
    parse_sdist_filename,
    parse_wheel_filename,
)

from patchcheck.errors import SourceError
from patchcheck.model import Requirement
from patchcheck.net import redact_url
from patchcheck.sources.base import (
    REQUIREMENT_HINT,
    Collector,
    ParsedSource,
    clip,
    display_join,
    first_line,
    from_packaging,
    read_text,
)

COMMAND_LINE = "<command line>"

# pip's req_file.py: a comment starts at "#" at the line's start or after whitespace
# (``(^|\s+)#.*$``). That pattern, searched, is quadratic on a long run of blanks (a 10 MB
# line took minutes); _strip_comment finds the same cut in one pass.
_COMMENT_RE = re.compile(r"(^|\s+)#.*$")
_ENV_VAR_RE = re.compile(r"(?P<var>\$\{(?P<name>[A-Z0-9_]+)\})")
_SCHEME_RE = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:")
_VCS_SCHEMES = ("git+", "hg+", "svn+", "bzr+")
_URL_SCHEMES = ("http:", "https:", "file:", "ftp:") + _VCS_SCHEMES
_EGG_RE = re.compile(r"[#&]egg=([^&]*)")
_ARCHIVE_SUFFIXES = (".whl", ".tar.gz", ".tgz", ".tar.bz2", ".tbz", ".tar.xz", ".txz", ".tar",
                     ".zip")


@dataclass(frozen=True)
class _Option:
    long: str
    short: str | None
    takes_value: bool
    kind: str  # "requirement", "constraint", "editable", "per-requirement", "index"


_OPTIONS = (
    _Option("--requirement", "-r", True, "requirement"),
    _Option("--constraint", "-c", True, "constraint"),
    _Option("--editable", "-e", True, "editable"),
    _Option("--index-url", "-i", True, "index"),
    _Option("--extra-index-url", None, True, "index"),
    _Option("--no-index", None, False, "index"),
    _Option("--find-links", "-f", True, "index"),
    _Option("--no-binary", None, True, "index"),
    _Option("--only-binary", None, True, "index"),
    _Option("--prefer-binary", None, False, "index"),
    _Option("--require-hashes", None, False, "index"),
    _Option("--pre", None, False, "index"),
    _Option("--trusted-host", None, True, "index"),
    _Option("--use-feature", None, True, "index"),
    _Option("--hash", None, True, "per-requirement"),
    _Option("--global-option", None, True, "per-requirement"),
    _Option("--config-settings", None, True, "per-requirement"),
    _Option("--install-option", None, True, "per-requirement"),
)
_BY_LONG = {o.long: o for o in _OPTIONS}
_BY_SHORT = {o.short: o for o in _OPTIONS if o.short}


# --- pre-processing (pip's preprocess(): join, strip comments) -----------------------------


def _logical_lines(text: str) -> Iterator[tuple[int, str]]:
    """Yield ``(first physical line number, logical line)`` without comments or blanks."""
    primary = 0
    pending: list[str] = []
    joined: list[tuple[int, str]] = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.endswith("\\") or _COMMENT_RE.match(line):
            if _COMMENT_RE.match(line):
                # A comment ends a continuation; the space makes sure it is stripped below.
                line = " " + line
            if pending:
                pending.append(line)
                joined.append((primary, "".join(pending)))
                pending = []
            else:
                joined.append((number, line))
        else:
            if not pending:
                primary = number
            pending.append(line.strip("\\"))
    if pending:  # the file ended with a backslash
        joined.append((primary, "".join(pending)))
    for number, line in joined:
        line = _strip_comment(line).strip()
        if line:
            yield number, line


def _strip_comment(line: str) -> str:
    """``line`` up to its comment: the first "#" at the start or after whitespace."""
    at = line.find("#")
    while at > 0 and not line[at - 1].isspace():
        at = line.find("#", at + 1)
    return line if at < 0 else line[:at]


def _break_args_options(line: str) -> tuple[str, str]:
    """Split at the first token starting with ``-`` (markers would not survive shlex)."""
    tokens = line.split(" ")
    args: list[str] = []
    for index, token in enumerate(tokens):
        if token.startswith("-"):
            return " ".join(args).strip(), " ".join(tokens[index:]).strip()
        args.append(token)
    return " ".join(args).strip(), ""


# --- the parser ----------------------------------------------------------------------------


class _FileParser:
    def __init__(self, environ: Mapping[str, str]) -> None:
        self.environ = environ
        self.out = Collector()
        self.stack: list[tuple[str, str]] = []  # (real path, display) of files being read
        self.done: dict[tuple[str, bool], str] = {}  # (real path, constraint) -> display

    def parse_file(self, path: str, display: str, *, constraint: bool,
                   included_from: str | None = None) -> None:
        real = os.path.realpath(path)
        chain = [d for _, d in self.stack]
        if any(real == r for r, _ in self.stack):
            start = next(i for i, (r, _) in enumerate(self.stack) if r == real)
            cycle = " -> ".join(chain[start:] + [display])
            raise SourceError(f"{included_from}: include cycle: {cycle}",
                              hint="remove one of the -r/-c lines that form the cycle")
        if (real, constraint) in self.done:
            self.out.notes.append(
                f"{included_from}: {display} already read (from {self.done[(real, constraint)]});"
                " not read again"
            )
            return
        text = read_text(path, display, included_from=included_from)
        self.done[(real, constraint)] = included_from or display
        self.stack.append((real, display))
        try:
            for number, logical in _logical_lines(text):
                self._line(path, display, number, logical, constraint)
        finally:
            self.stack.pop()

    def _expand(self, line: str) -> tuple[str, list[str]]:
        unset = []
        for var, name in _ENV_VAR_RE.findall(line):
            value = self.environ.get(name)
            if not value:
                unset.append(name)  # pip leaves unset variables as written
                continue
            line = line.replace(var, value)
        return line, unset

    def _line(self, path: str, display: str, number: int, written: str,
              constraint: bool) -> None:
        origin = f"{display}:{number}"
        line, unset = self._expand(written)
        if not unset:
            self._parse_line(path, display, origin, written, line, constraint)
            return
        names = ", ".join(unset)
        try:
            self._parse_line(path, display, origin, written, line, constraint)
        except SourceError as exc:
            raise SourceError(f"{exc.message} (environment variable {names} is not set)",
                              hint=f"set {names}, or write the value into the file") from None
        self.out.notes.append(f"{origin}: environment variable {names} is not set; "
                              "left as written")

    def _parse_line(self, path: str, display: str, origin: str, written: str, line: str,
                    constraint: bool) -> None:
        args, options_text = _break_args_options(line)
        written_args, _ = _break_args_options(written)
        options = _parse_options(options_text, origin, line)
        base_dir = os.path.dirname(os.path.abspath(path))

        if args:
            ignored = [o.long for o, _ in options if o.kind != "per-requirement"]
            if ignored:
                self.out.notes.append(f"{origin}: {', '.join(ignored)} ignored on a "
                                      "requirement line")
            self._requirement(args, written_args, origin, base_dir, constraint, editable=False)
            return

        index_options: list[str] = []
        for option, value in options:
            if option.kind in ("requirement", "constraint"):
                assert value is not None
                self._include(path, display, origin, value, option.kind == "constraint")
            elif option.kind == "editable":
                assert value is not None
                self._requirement(value, f"-e {value}", origin, base_dir, constraint,
                                  editable=True)
            elif option.kind == "per-requirement":
                self.out.notes.append(f"{origin}: {option.long} without a requirement ignored")
            else:
                index_options.append(option.long if value is None else f"{option.long} {value}")
        if index_options:
            self.out.notes.append(
                f"{origin}: ignored {redact_url(' '.join(index_options))} (patchcheck reads "
                "the target environment; index and install options do not apply)"
            )

    def _include(self, path: str, display: str, origin: str, value: str,
                 constraint: bool) -> None:
        if value.startswith(("http:", "https:")):
            raise SourceError(
                f"{origin}: remote requirements file {redact_url(value)!r} is not supported",
                hint="download it and name the local copy; patchcheck contacts no network host",
            )
        if value.startswith("file:"):
            value = _url2pathname(urllib.parse.urlsplit(value).path)
        child = value if os.path.isabs(value) else os.path.join(os.path.dirname(path), value)
        self.parse_file(child, display_join(display, value), constraint=constraint,
                        included_from=origin)

    def _requirement(self, text: str, written: str, origin: str, base_dir: str,
                     constraint: bool, *, editable: bool) -> None:
        req = parse_one(text, origin=origin, line=written, base_dir=base_dir,
                        editable=editable, notes=self.out.notes)
        if req is None:
            return
        if constraint:
            self.out.constraints.append(req)
        else:
            self.out.add(req)


def _parse_options(text: str, origin: str, line: str) -> list[tuple[_Option, str | None]]:
    if not text:
        return []
    try:
        tokens = shlex.split(text)
    except ValueError as exc:
        raise SourceError(f"{origin}: cannot split options {redact_url(text)!r}: {exc}",
                          hint="check the quotes on this line") from None
    result: list[tuple[_Option, str | None]] = []
    i = 0
    while i < len(tokens):
        token = tokens[i]
        i += 1
        value: str | None = None
        if token.startswith("--"):
            name, eq, inline = token.partition("=")
            option = _lookup_long(name, origin, line)
            if eq:
                value = inline
        elif token.startswith("-") and len(token) >= 2:
            short = _BY_SHORT.get(token[:2])
            if short is None:
                raise _unknown_option(token[:2], origin, line)
            option = short
            if len(token) > 2:
                value = token[2:].lstrip("=")
        else:
            # optparse keeps stray words as positional arguments and pip drops them silently.
            raise SourceError(
                f"{origin}: unexpected {clip(token)!r} after the options in "
                f"{clip(redact_url(line))!r}",
                hint="put the requirement before its options, one requirement per line",
            )
        if option.takes_value and value is None:
            if i >= len(tokens):
                raise SourceError(f"{origin}: option {option.long} needs a value",
                                  hint=f"write it as {option.long}=VALUE")
            value = tokens[i]
            i += 1
        elif not option.takes_value and value is not None:
            raise SourceError(f"{origin}: option {option.long} takes no value "
                              f"(got {value!r})", hint=f"write just {option.long}")
        result.append((option, value))
    return result


def _lookup_long(name: str, origin: str, line: str) -> _Option:
    if name in _BY_LONG:
        return _BY_LONG[name]
    # optparse accepts any unambiguous prefix of a long option, so pip does too.
    matches = [o for long, o in _BY_LONG.items() if long.startswith(name)]
    if len(matches) == 1:
        return matches[0]
    raise _unknown_option(name, origin, line)


def _unknown_option(name: str, origin: str, line: str) -> SourceError:
    known = ", ".join(sorted(o.long for o in _OPTIONS))
    return SourceError(f"{origin}: unknown option {clip(name)!r} in {clip(redact_url(line))!r}",
                       hint=f"requirements files accept: {known}")


# --- one requirement -----------------------------------------------------------------------


def _looks_like_url(text: str) -> bool:
    return text.lower().startswith(_URL_SCHEMES)


def _looks_like_path(text: str) -> bool:
    return (
        "/" in text
        or os.sep in text
        or text.startswith(".")
        or text.lower().endswith(_ARCHIVE_SUFFIXES)
    )


def parse_one(
    text: str,
    *,
    origin: str,
    line: str,
    base_dir: str,
    editable: bool = False,
    notes: list[str],
) -> Requirement | None:
    """Parse one requirement (PEP 508, URL, VCS URL, local path); None when it has no name.

    A requirement that cannot be named (``git+https://...`` without ``#egg=``, a local
    folder without a ``pyproject.toml`` name) is reported in ``notes``, not as an error:
    the rest of the file is still worth scanning.
    """
    # Only the part before a marker decides: a marker value may contain "/".
    head = text.split(";", 1)[0].strip()
    if editable or _looks_like_url(text) or (
        _looks_like_path(head) and not _is_pep508_with_url(text)
    ):
        return _parse_unnamed(text, origin=origin, line=line, base_dir=base_dir,
                              editable=editable, notes=notes)
    try:
        parsed = PackagingRequirement(text)
    except InvalidRequirement as exc:
        raise SourceError(f"{origin}: invalid requirement {clip(text)!r}: "
                          f"{clip(first_line(exc))}", hint=REQUIREMENT_HINT) from None
    return from_packaging(parsed, origin=origin, line=line)


def _is_pep508_with_url(text: str) -> bool:
    """``name @ url`` (also ``name[x] @ url``, ``name@url``), which packaging parses itself."""
    return re.match(r"^\s*[A-Za-z0-9][A-Za-z0-9._-]*\s*(\[[^\]]*\])?\s*@", text) is not None


def _parse_unnamed(text: str, *, origin: str, line: str, base_dir: str, editable: bool,
                   notes: list[str]) -> Requirement | None:
    if _is_pep508_with_url(text):
        try:
            parsed = PackagingRequirement(text)
        except InvalidRequirement as exc:
            raise SourceError(f"{origin}: invalid requirement {clip(text)!r}: "
                              f"{clip(first_line(exc))}", hint=REQUIREMENT_HINT) from None
        return from_packaging(parsed, origin=origin, line=line)

    # pip: for URLs the marker separator must be "; " (a bare ";" may belong to the URL).
    separator = "; " if _looks_like_url(text) else ";"
    location, _, marker_text = text.partition(separator)
    location = location.strip()
    marker = _check_marker(marker_text.strip(), origin, text) if marker_text.strip() else None

    extras: tuple[str, ...] = ()
    is_url = _looks_like_url(location)
    if not is_url:
        match = re.match(r"^(.*?)(\[[^\]]*\])$", location)
        if match:  # "./pkg[extra]"
            location, extras = match.group(1), _parse_extras(match.group(2), origin, text)

    name: str | None = None
    specifier = ""
    fragment = _EGG_RE.search(location)
    if fragment:
        try:
            egg = PackagingRequirement(urllib.parse.unquote(fragment.group(1)))
        except InvalidRequirement as exc:
            raise SourceError(
                f"{origin}: invalid #egg= name {fragment.group(1)!r}: {first_line(exc)}",
                hint="write '#egg=name' or use 'name @ url' (PEP 508)",
            ) from None
        if egg.specifier or egg.url or egg.marker:
            raise SourceError(f"{origin}: #egg= must be a bare name, got {fragment.group(1)!r}",
                              hint="write '#egg=name' or use 'name @ url' (PEP 508)")
        name, extras = egg.name, extras + tuple(sorted(egg.extras))

    if is_url:
        parts = urllib.parse.urlsplit(location)
        local = (_url2pathname(parts.path)
                 if parts.scheme == "file" and not location.lower().startswith(_VCS_SCHEMES)
                 else None)
        url = location
        basename = parts.path.rstrip("/").rsplit("/", 1)[-1]
    else:
        local = location if os.path.isabs(location) else os.path.join(base_dir, location)
        url = urllib.parse.urljoin("file:", _pathname2url(os.path.abspath(local)))
        basename = os.path.basename(location.rstrip("/\\"))

    if name is None and not location.lower().startswith(_VCS_SCHEMES):
        name, specifier = _name_from_archive(basename)
    if name is None and local is not None and os.path.isdir(local):
        name = _name_from_project_dir(local)
    if name is None:
        kind = "editable requirement" if editable else "requirement"
        why = ("VCS URL" if location.lower().startswith(_VCS_SCHEMES)
               else "URL" if is_url else "local path")
        notes.append(
            f"{origin}: {kind} {redact_url(text)!r} not checked: cannot tell the distribution "
            f"name from a {why} (write 'name @ {redact_url(location)}' or add '#egg=name')"
        )
        return None
    return Requirement(name=name, specifier=specifier, extras=tuple(sorted(set(extras))),
                       marker=marker, url=url, origin=origin, line=line)


def _check_marker(text: str, origin: str, line: str) -> str:
    try:
        return str(Marker(text))
    except InvalidMarker as exc:
        raise SourceError(f"{origin}: invalid environment marker {clip(text)!r} in "
                          f"{clip(redact_url(line))!r}: {clip(first_line(exc))}",
                          hint=REQUIREMENT_HINT) from None


def _parse_extras(text: str, origin: str, line: str) -> tuple[str, ...]:
    try:
        return tuple(sorted(PackagingRequirement(f"placeholder{text}").extras))
    except InvalidRequirement as exc:
        raise SourceError(f"{origin}: invalid extras {clip(text)!r} in {clip(line)!r}: "
                          f"{clip(first_line(exc))}",
                          hint=REQUIREMENT_HINT) from None


def _name_from_archive(basename: str) -> tuple[str | None, str]:
    """Wheel and sdist file names carry the name and version (PEP 427, PEP 625)."""
    try:
        if basename.endswith(".whl"):
            name, version, _, _ = parse_wheel_filename(basename)
            return str(name), f"=={version}"
        if basename.endswith((".tar.gz", ".zip")):
            name, version = parse_sdist_filename(basename)
            return str(name), f"=={version}"
    except (InvalidWheelFilename, InvalidSdistFilename):
        pass
    return None, ""


def _name_from_project_dir(folder: str) -> str | None:
    """A local project folder names itself in ``pyproject.toml`` ``[project] name``."""
    pyproject = os.path.join(folder, "pyproject.toml")
    if not os.path.isfile(pyproject):
        return None
    try:
        from patchcheck.sources.base import load_toml

        name = load_toml(pyproject, pyproject).get("project", {}).get("name")
    except SourceError:
        return None
    return name if isinstance(name, str) and name else None


# --- public API ----------------------------------------------------------------------------


def parse_requirements_file(
    path: str | os.PathLike[str],
    *,
    display: str | None = None,
    environ: Mapping[str, str] | None = None,
) -> ParsedSource:
    """Read a pip requirements file, following ``-r`` and ``-c`` includes.

    :param path: the file; includes are resolved relative to the file that names them.
    :param display: how the file is named in origins and messages (default: ``path``).
    :param environ: variables for ``${VAR}`` expansion (default: ``os.environ``).
    :raises SourceError: a missing/unreadable file, a malformed line, an include cycle.
    """
    path = os.fspath(path)
    parser = _FileParser(os.environ if environ is None else environ)
    parser.parse_file(path, display or path, constraint=False)
    return parser.out.result()


def parse_requirement_strings(args: list[str], *, base_dir: str | None = None) -> ParsedSource:
    """Parse requirement strings given on the command line (``redis 'psycopg2-binary>=2.9'``)."""
    out = Collector()
    for arg in args:
        text = arg.strip()
        if not text:
            continue
        req = parse_one(text, origin=COMMAND_LINE, line=text, base_dir=base_dir or os.getcwd(),
                        notes=out.notes)
        if req is not None:
            out.add(req)
    return out.result()


# urllib.request is imported only for the rare file: URL (it pulls in http.client, email and
# ssl: a fifth of patchcheck's start-up, paid by every scan).
def _url2pathname(path: str) -> str:
    from urllib.request import url2pathname

    return url2pathname(path)


def _pathname2url(path: str) -> str:
    from urllib.request import pathname2url

    return pathname2url(path)
