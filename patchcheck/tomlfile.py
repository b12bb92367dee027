"""The one TOML loader: every TOML file patchcheck reads (config, pyproject.toml, lock files,
the knowledge base) is parsed here, so a malformed file gives the same one-line error everywhere::

    pyproject.toml:3:22: invalid TOML: Unclosed array

tomllib from Python 3.11, else its backport tomli (the same parser and error type).
"""
from __future__ import annotations

import re
import sys
from pathlib import Path
from typing import Any

from patchcheck.errors import UsageError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on 3.9/3.10 only
    import tomli as tomllib

HINT = "fix the TOML syntax (https://toml.io)"

# tomllib puts the position at the end of its message: "Invalid value (at line 3, column 11)"
_AT_POSITION = re.compile(r"\s*\(at line (\d+), column (\d+)\)\s*$")
_AT_END = re.compile(r"\s*\(at end of document\)\s*$")


def parse_toml(text: str, display: str, *,
               error: type[UsageError] = UsageError) -> dict[str, Any]:
    """Parse TOML ``text`` read from the file shown as ``display``.

    :param error: the caller's layer error (``SourceError``, ``ConfigError``) to raise; every
        one of them is a usage error (exit 2).
    :raises UsageError: ``file:line:column: invalid TOML: <what>``, with a hint.
    """
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise error(_message(display, str(exc)), hint=HINT) from None


def load_toml(path: str | Path, display: str | None = None, *,
              error: type[UsageError] = UsageError) -> dict[str, Any]:
    """Read a UTF-8 TOML file (TOML is always UTF-8) and parse it with :func:`parse_toml`."""
    shown = display or str(path)
    try:
        text = Path(path).read_bytes().decode("utf-8")
    except OSError as exc:
        raise error(f"{shown}: cannot read: {exc.strerror or exc}") from None
    except UnicodeDecodeError as exc:
        raise error(f"{shown}: not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    return parse_toml(text, shown, error=error)


def _message(display: str, message: str) -> str:
    match = _AT_POSITION.search(message)
    if match:
        return f"{display}:{match[1]}:{match[2]}: invalid TOML: {message[: match.start()]}"
    match = _AT_END.search(message)
    if match:
        return f"{display}: invalid TOML at end of document: {message[: match.start()]}"
    return f"{display}: invalid TOML: {message}"
