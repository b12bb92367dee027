"""Finding and reading the config file.

The config file is ``[tool.patchcheck]`` in the nearest ``pyproject.toml`` that has that table,
or a standalone ``patchcheck.toml`` (top-level keys) in the same directories, walking up from the
working directory; ``patchcheck.toml`` wins when a directory has both. ``--config FILE`` names
one explicitly.
"""
from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

from patchcheck.config.messages import show
from patchcheck.config.origin import TABLE, ConfigOrigin
from patchcheck.errors import ConfigError
from patchcheck.tomlfile import parse_toml

PYPROJECT = "pyproject.toml"
STANDALONE = "patchcheck.toml"


def find_config_file(cwd: Path) -> tuple[Path, tuple[str, ...]] | None:
    """The nearest config file walking up from ``cwd``, with the table to read in it.

    In each directory ``patchcheck.toml`` wins over ``pyproject.toml``; a ``pyproject.toml``
    without ``[tool.patchcheck]`` is passed over (like ruff and pytest's ini discovery).
    """
    for directory in (cwd, *cwd.parents):
        standalone = directory / STANDALONE
        if standalone.is_file():
            return standalone, ()
        pyproject = directory / PYPROJECT
        if pyproject.is_file() and _has_table(pyproject):
            return pyproject, TABLE
    return None


def _has_table(pyproject: Path) -> bool:
    # Cheap text test first, then a real parse, so an unrelated broken pyproject.toml is not
    # our error; one that mentions [tool.patchcheck] and fails to parse is.
    try:
        text = pyproject.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return False
    if not re.search(r"tool\s*\.\s*patchcheck|\[\s*tool\s*\][^\[]*patchcheck", text):
        return False
    try:
        data = parse_toml(text, str(pyproject), error=ConfigError)
    except ConfigError:
        return True  # let read_config report it with line and column
    return isinstance(data.get("tool"), dict) and "patchcheck" in data["tool"]


def _display(path: Path, cwd: Path) -> str:
    return os.path.relpath(path, cwd) if path.is_relative_to(cwd) else str(path)


def read_config(
    path: Path, table: tuple[str, ...], cwd: Path
) -> tuple[dict[str, Any], ConfigOrigin]:
    """Parse ``path`` and return the settings table (raw TOML values) and its origin."""
    shown = _display(path, cwd)
    try:
        text = path.read_bytes().decode("utf-8")
    except FileNotFoundError:
        raise ConfigError(
            f"{shown}: config file not found", hint="check the path given to --config"
        ) from None
    except OSError as exc:
        raise ConfigError(f"{shown}: cannot read config file: {exc.strerror or exc}") from None
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{shown}: not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    data = parse_toml(text, shown, error=ConfigError)
    origin = ConfigOrigin(path=path, text=text, table=table, display=shown)
    node: Any = data
    for part in table:
        if not isinstance(node, dict) or part not in node:
            raise ConfigError(
                f"{shown}: no [{'.'.join(table)}] table",
                hint=f"add a [{'.'.join(table)}] table, or point --config at a patchcheck.toml",
            )
        node = node[part]
    if not isinstance(node, dict):
        raise ConfigError(f"{shown}: {'.'.join(table)} must be a table, not {show(node)}")
    return node, origin
