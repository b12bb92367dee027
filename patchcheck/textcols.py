"""Plain-text columns for listings (``patchcheck probes``, ``plugins``, ``doctor``), and the one
word-boundary clip every short text uses (finding summaries, table cells).

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


#: A clip backs up to a space only within this share of the limit; a longer word (a path, a
#: URL) is cut inside it rather than leaving a mostly empty line.
_WORD_BACKUP = 0.6


def clip_words(text: str, limit: int) -> str:
    """``text`` on one line, at most ``limit`` characters: cut at a word boundary with an
    ellipsis, never mid-word (issue #15: "incorrect behav"); a single long word is cut inside."""
    text = " ".join(str(text).split())
    if limit <= 0:
        return ""
    if len(text) <= limit:
        return text
    head = text[: max(limit - 1, 0)]
    space = head.rfind(" ")
    if text[len(head)] != " " and space >= limit * _WORD_BACKUP:
        head = head[:space]
    return head.rstrip(" ,;:") + "…"
