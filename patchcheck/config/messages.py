"""How a setting's value and its source are named in error messages (one style everywhere)::

    pyproject.toml:14: [tool.patchcheck] fail-on = 'blocky': expected one of ...
    --fail-on 'blocky': ...
    PATCHCHECK_FAIL_ON='blocky': ...
"""
from __future__ import annotations

import datetime as _dt
import difflib
from pathlib import Path
from typing import Any

ENV_PREFIX = "PATCHCHECK_"


def show(value: Any) -> str:
    """A value as it appears in messages: strings quoted, long values cut."""
    if isinstance(value, bool):
        text = "true" if value else "false"
    elif isinstance(value, Path):
        text = repr(str(value))
    elif isinstance(value, (_dt.date, _dt.time)):
        text = value.isoformat()  # as TOML writes it
    else:
        text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def describe(origin: str, value: Any) -> str:
    """How a value is named in a message, by where it came from.

    ``--fail-on 'x'`` (command line), ``PATCHCHECK_FAIL_ON='x'`` (environment),
    ``pyproject.toml:3: [tool.patchcheck] fail-on = 'x'`` (a file).
    """
    if origin.startswith("-"):
        return f"{origin} {show(value)}"
    if origin.startswith(ENV_PREFIX):
        return f"{origin}={show(value)}"
    return f"{origin} = {show(value)}"


def did_you_mean(word: str, choices: tuple[str, ...] | list[str]) -> str | None:
    close = difflib.get_close_matches(word, choices, n=1)
    return f"did you mean {close[0]!r}?" if close else None


class Invalid(Exception):
    """A converter's complaint: what was expected (the caller adds where and what)."""

    def __init__(self, expected: str, hint: str | None = None) -> None:
        super().__init__(expected)
        self.expected = expected
        self.hint = hint
