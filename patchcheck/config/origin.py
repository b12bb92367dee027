"""Where in a config file a key is set, to put ``file:line`` and the table name in messages.

TOML parsers give values, not positions, so the line is found by searching the key in the
file's text (best effort: a key that cannot be found is reported with the file alone).
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

#: The table patchcheck reads in a pyproject.toml.
TABLE: tuple[str, ...] = ("tool", "patchcheck")


def _header_re(parts: tuple[str, ...], *, double: bool = False) -> re.Pattern[str]:
    """Matches the ``[a.b]`` (or ``[[a.b]]``) header line, spaces around dots allowed."""
    dotted = r"\s*\.\s*".join(re.escape(p) for p in parts)
    return re.compile(rf"^\s*\[\[\s*{dotted}\s*\]\]" if double
                      else rf"^\s*\[\s*{dotted}\s*\](?!\])")


@dataclass(frozen=True)
class ConfigOrigin:
    """A config file and its text, to put ``file:line`` and the table name in messages."""

    path: Path
    text: str
    table: tuple[str, ...] = TABLE  # () for patchcheck.toml's top-level keys
    display: str = ""  # the path as shown in messages (relative to cwd when possible)

    @property
    def shown(self) -> str:
        return self.display or str(self.path)

    @property
    def header(self) -> str:
        """``[tool.patchcheck] `` or ``""`` for top-level keys."""
        return f"[{'.'.join(self.table)}] " if self.table else ""

    def line_of(self, key: str, *, array: str | None = None, index: int = 0) -> int | None:
        """The 1-based line where ``key`` is set, searched in the text (best effort).

        ``array``/``index`` look inside the index-th ``[[<table>.<array>]]`` block (``key=""``
        gives the block's own line). None when the key cannot be found.
        """
        lines = self.text.splitlines()
        if array is not None:
            blocks = [i for i, line in enumerate(lines)
                      if _header_re((*self.table, array), double=True).match(line)]
            if index >= len(blocks):
                return self.line_of(array)  # waivers = [{...}] written inline
            start = blocks[index]
            return (self._find_key(lines, key, start + 1) if key else None) or start + 1
        if not self.table:
            found = self._find_key(lines, key, 0)
        else:
            starts = [i for i, line in enumerate(lines) if _header_re(self.table).match(line)]
            found = self._find_key(lines, key, starts[0] + 1) if starts else None
        if found is None:  # a [<table>.<key>] sub-table or [[<table>.<key>]] array
            sub = _header_re((*self.table, key))
            sub_array = _header_re((*self.table, key), double=True)
            found = next((i + 1 for i, line in enumerate(lines)
                          if sub.match(line) or sub_array.match(line)), None)
        return found

    @staticmethod
    def _find_key(lines: list[str], key: str, start: int) -> int | None:
        """The first ``key = ...`` (or dotted ``key.x = ...``) from ``start`` to the next header."""
        key_re = re.compile(rf"""^\s*["']?{re.escape(key)}["']?\s*[=.]""")
        for j in range(start, len(lines)):
            if lines[j].lstrip().startswith("["):
                return None
            if key_re.match(lines[j]):
                return j + 1
        return None

    def where(self, key: str, *, array: str | None = None, index: int = 0) -> str:
        """``pyproject.toml:14`` (or just the file when the key cannot be found)."""
        line = self.line_of(key, array=array, index=index)
        return f"{self.shown}:{line}" if line else self.shown
