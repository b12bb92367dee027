"""Small text helpers every reporter shares: durations, ratios, truncation, names, paths.

No knowledge of findings or evidence here (that is ``_sentences`` and ``_details``).
"""
from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping, Sequence
from typing import Any

from patchcheck.model import DistributionResult
from patchcheck.textcols import clip_words

#: How many lines of a stack or traceback reporters show (the innermost ones).
STACK_LINES = 8


def ms(value: Any) -> str:
    """``503 ms`` (whole milliseconds; a sub-millisecond stall is still "0 ms")."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        return str(value)
    if math.isnan(number) or math.isinf(number):
        return str(number)
    return f"{number:.0f} ms"


def ratio(value: Any) -> str:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return str(value)
    if math.isnan(number) or math.isinf(number):
        return str(number)
    return f"{number:.1f}×"


def shorten(text: str, limit: int) -> str:
    """One line, at most ``limit`` characters, with an ellipsis when cut (at a word
    boundary: ``textcols.clip_words``)."""
    return clip_words(text, limit)


def shorten_code(line: str, limit: int) -> str:
    """Cut a verbatim line (indentation kept) to ``limit`` characters."""
    line = line.rstrip().expandtabs(4)
    if len(line) <= limit:
        return line
    return line[: max(limit - 1, 0)] + "…"


_FRAME = re.compile(r'^\s*File "(?P<path>[^"]+)", line (?P<line>\d+)(?:, in (?P<func>.+))?$')


def frame_path(path: str) -> str:
    """A frame's file as a reader knows it: after site-packages, after ``lib/pythonX.Y/``
    (the standard library), else its last two parts."""
    norm = str(path).replace("\\", "/")
    short = short_path(norm)
    if short != norm:
        return short
    match = re.search(r"/lib/python\d+\.\d+/(.+)$", norm)
    if match:
        return match.group(1)
    return "/".join(norm.split("/")[-2:])


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip())


def frame_line(lines: Sequence[str]) -> str | None:
    """The innermost frame of a stack or traceback in one line,
    ``psycopg2/extras.py:146 in execute: return super().execute(query, vars)``; None when the
    lines hold no ``File "…", line N`` frame (a stderr tail). gevent's and greenlet's own
    frames, and importlib's frozen ones, are passed over for the library's caller (a LoopExit
    is raised in the hub's wait; the frame that matters is the call that waited), unless
    there is no other."""
    frames = []
    for i, text in enumerate(lines):
        match = _FRAME.match(text)
        if match is None:
            continue
        path = frame_path(match["path"])
        where = f"{path}:{match['line']}"
        if match["func"]:
            where += f" in {match['func']}"
        # The frame's source line is indented deeper than the frame; a traceback's last line
        # (the exception, said in the finding's summary) is not.
        nxt = lines[i + 1] if i + 1 < len(lines) else ""
        if nxt.strip() and _indent(nxt) > _indent(text):
            where += f": {nxt.strip()}"
        # importlib's frozen frames (a lazy import inside the call) say less than the
        # library line that imported.
        passed_over = path.startswith(_INSTRUMENT_DIRS) or match["path"].startswith("<frozen ")
        frames.append((passed_over, where))
    if not frames:
        return None
    return next((where for own, where in reversed(frames) if not own), frames[-1][1])


#: Where gevent's and greenlet's own frames live (``frame_path`` of their files).
_INSTRUMENT_DIRS = ("gevent/", "greenlet/")


def as_lines(value: Any) -> list[str]:
    """Evidence that is either a list of lines or one multi-line string, as lines."""
    if value is None:
        return []
    if isinstance(value, str):
        return value.rstrip("\n").splitlines()
    if isinstance(value, (list, tuple)):
        lines: list[str] = []
        for item in value:
            lines.extend(str(item).rstrip("\n").splitlines() or [""])
        return lines
    return [str(value)]


def last_lines(value: Any, count: int = STACK_LINES) -> tuple[list[str], int]:
    """The last ``count`` lines and how many were left out before them."""
    lines = as_lines(value)
    if len(lines) <= count:
        return lines, 0
    return lines[-count:], len(lines) - count


def list_phrase(items: Sequence[str], limit: int = 4) -> str:
    """``a, b, c (+2 more)``."""
    items = [str(i) for i in items]
    head = ", ".join(items[:limit])
    if len(items) > limit:
        head += f" (+{len(items) - limit} more)"
    return head


def compact(value: Any, limit: int = 120) -> str:
    if isinstance(value, str):
        return shorten(value, limit)
    try:
        text = json.dumps(value, ensure_ascii=False, sort_keys=True, default=str)
    except (TypeError, ValueError):
        text = repr(value)
    return shorten(text, limit)


def error_headline(text: str) -> str:
    """The line that names the exception: the last one of a traceback, else the first."""
    lines = [line.strip() for line in str(text).strip().splitlines() if line.strip()]
    if not lines:
        return ""
    if lines[0].startswith("Traceback") or len(lines) > 1 and not lines[-1].startswith("File "):
        return lines[-1]
    return lines[0]


def exception_type(text: str) -> str:
    """``"RecursionError: maximum…"`` → ``"RecursionError"``; a dotted path keeps its tail;
    a whole traceback gives the type of its last line."""
    head = error_headline(text)
    match = re.match(r"^([A-Za-z_][\w.]*)(?::|$)", head)
    if match:
        return match.group(1).rsplit(".", 1)[-1]
    return shorten(head, 40)


def short_path(path: str) -> str:
    """The part after site-packages (what a reader recognises), else the path as is."""
    norm = str(path).replace("\\", "/")
    for marker in ("/site-packages/", "/dist-packages/"):
        if marker in norm:
            return norm.split(marker, 1)[1]
    return str(path)


def json_safe(value: Any) -> Any:
    """Plain JSON data: non-finite floats (a ratio over a zero wait) become None, stray
    objects (a Path in evidence) become text. Evidence is free-form and must never make a
    report unparseable ("NaN" is not JSON for jq or JavaScript)."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, Mapping):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_safe(v) for v in value]
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    return str(value)


def parse_origin(origin: str | None) -> tuple[str, int] | None:
    """``"requirements.txt:3"`` → ``("requirements.txt", 3)``; anything else → None."""
    if not origin:
        return None
    path, sep, line = origin.rpartition(":")
    if not sep or not path or not line.isdigit() or int(line) < 1:
        return None
    if path.startswith("<"):  # "<command line>", "<installed>"
        return None
    return path, int(line)


def display_name(result: DistributionResult) -> str:
    return f"{result.name} {result.version}" if result.version else result.name


def pin_name(result: DistributionResult) -> str:
    return f"{result.name}=={result.version}" if result.version else result.name
