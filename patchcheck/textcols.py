"""Plain-text columns for listings (``patchcheck probes``, ``plugins``, ``doctor``).

The scan report's table (``reporters/table.py``) is a different job: it fits a terminal's
width, shortens cells and colours them after padding.
"""
from __future__ import annotations

from collections.abc import Sequence

GAP = "  "


def column_widths(rows: Sequence[Sequence[object]]) -> list[int]:
    """The width of each column: its longest cell (as ``str``)."""
    if not rows:
        return []
    return [max(len(str(row[i])) for row in rows) for i in range(len(rows[0]))]


def pad_columns(rows: Sequence[Sequence[object]], *, indent: str = "",
                gap: str = GAP) -> list[str]:
    """One line per row, each cell left-aligned to its column's width; no trailing spaces."""
    widths = column_widths(rows)
    return [(indent + gap.join(str(c).ljust(w) for c, w in zip(row, widths))).rstrip()
            for row in rows]
