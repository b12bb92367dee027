"""Validation of one setting at a time: raw value (TOML, environment text, argv) → typed value.

Each converter takes ``(value, text, base)``: ``text`` is True for values from the environment
or the command line given as strings; ``base`` is where relative paths start. A bad value
raises :class:`~patchcheck.config.messages.Invalid` saying what was expected; the caller adds
where the value came from.
"""
from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Callable

from patchcheck.config.messages import Invalid, show
from patchcheck.config.patch import FALSE, TRUE, conv_patch
from patchcheck.config.services import conv_services
from patchcheck.model import FAIL_ON_LEVELS, normalize_name
from patchcheck.verdicts.waivers import Waiver


def _conv_fail_on(value: Any, text: bool, base: Path) -> str:
    if isinstance(value, str) and value in FAIL_ON_LEVELS:
        return value
    raise Invalid(f"expected one of {', '.join(FAIL_ON_LEVELS)}")


def _conv_timeout(value: Any, text: bool, base: Path) -> float:
    expected = "expected a number of seconds greater than 0"
    if text and isinstance(value, str):
        try:
            value = float(value)
        except ValueError:
            raise Invalid(expected) from None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise Invalid(expected)
    if not value > 0 or value != value or value == float("inf"):
        raise Invalid(expected)
    return float(value)


def _conv_jobs(value: Any, text: bool, base: Path) -> int:
    expected = "expected a whole number of parallel jobs, 1 or more"
    if text and isinstance(value, str):
        try:
            value = int(value)
        except ValueError:
            raise Invalid(expected) from None
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise Invalid(expected)
    return value


def _conv_bool(value: Any, text: bool, base: Path) -> bool:
    if text and isinstance(value, str):
        if value.lower() in TRUE:
            return True
        if value.lower() in FALSE:
            return False
    if isinstance(value, bool):
        return value
    raise Invalid("expected true or false")


def _conv_str(value: Any, text: bool, base: Path) -> str:
    if isinstance(value, str) and value.strip():
        return value
    raise Invalid("expected a non-empty string")


def _conv_path(value: Any, text: bool, base: Path) -> Path:
    if isinstance(value, Path) or (isinstance(value, str) and value.strip()):
        return absolute(value, base)
    raise Invalid("expected a path (a non-empty string)")


def _conv_python(value: Any, text: bool, base: Path) -> str:
    # A bare command name ("python3.12") is looked up on PATH by the runner; anything with a
    # separator is a path, relative to where it was written.
    if isinstance(value, Path):
        return str(absolute(value, base))
    value = _conv_str(value, text, base)
    if os.sep in value or (os.altsep and os.altsep in value) or value.startswith("~"):
        return str(absolute(value, base))
    return value


def _conv_probe_paths(value: Any, text: bool, base: Path) -> tuple[Path, ...]:
    items = _str_list(value, text, "expected a list of folder or file paths")
    paths = []
    for item in items:
        path = absolute(item, base)
        if not path.exists():
            raise Invalid(f"{path} does not exist", hint="create it or fix the path")
        paths.append(path)
    return tuple(paths)


def _conv_skip(value: Any, text: bool, base: Path) -> tuple[str, ...]:
    items = _str_list(value, text, "expected a list of distribution names")
    return tuple(dict.fromkeys(normalize_name(i) for i in items))


_IMPORT_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$")


def _conv_import_names(value: Any, text: bool, base: Path) -> dict[str, tuple[str, ...]]:
    if not isinstance(value, Mapping):
        raise Invalid('expected a table of distribution = ["module", ...]')
    out = {}
    for dist, names in value.items():
        if isinstance(names, str):
            names = [names]
        if not isinstance(names, list) or not names:
            raise Invalid(f"{dist} must be a list of module names, not {show(names)}")
        for name in names:
            if not isinstance(name, str) or not _IMPORT_NAME.match(name):
                raise Invalid(f"{dist}: {show(name)} is not a module name")
        out[normalize_name(str(dist))] = tuple(names)
    return out


def _conv_waivers(value: Any, text: bool, base: Path) -> tuple[Any, ...]:
    # Files go through parse_waivers (it needs the origin for line numbers); the command line
    # may pass ready Waiver objects.
    if isinstance(value, (list, tuple)) and all(isinstance(w, Waiver) for w in value):
        return tuple(value)
    raise Invalid("expected a list of waiver tables")


def _str_list(value: Any, text: bool, expected: str) -> list[str]:
    if isinstance(value, (str, Path)):
        value = value.split(",") if text and isinstance(value, str) else [value]
    if not isinstance(value, (list, tuple)):
        raise Invalid(expected)
    out = []
    for item in value:
        if isinstance(item, Path):
            item = str(item)
        if not isinstance(item, str) or not item.strip():
            raise Invalid(expected)
        out.append(item.strip())
    return out


def absolute(value: str | os.PathLike[str], base: Path) -> Path:
    """``value`` (``~`` expanded) relative to ``base``, normalised."""
    path = Path(value).expanduser()
    return Path(os.path.normpath(base / path))


Converter = Callable[[Any, bool, Path], Any]

#: Setting name → its converter.
CONVERTERS: dict[str, Converter] = {
    "fail_on": _conv_fail_on,
    "timeout": _conv_timeout,
    "jobs": _conv_jobs,
    "patch": conv_patch,
    "probe_paths": _conv_probe_paths,
    "services": conv_services,
    "import_names": _conv_import_names,
    "include_test_packages": _conv_bool,
    "waivers": _conv_waivers,
    "baseline": _conv_path,
    "stalls": _conv_path,
    "format": _conv_str,
    "output": _conv_path,
    "python": _conv_python,
    "cache": _conv_bool,
    "skip": _conv_skip,
    "patches_first": _conv_bool,
}
