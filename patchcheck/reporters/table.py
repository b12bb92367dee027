"""The terminal report: a table of verdicts, details for what is not clean, a summary.

Plain code, no table library: four columns and a few indented sections do not earn a
dependency, and plain code keeps the golden files byte-stable across library releases.
"""

from __future__ import annotations

import os
import re
import sys
import textwrap
import threading
from typing import TextIO

from patchcheck.model import ScanReport, Verdict
from patchcheck.reporters import _views as v

_RESET = "\x1b[0m"
_STYLES = {
    "bold": "\x1b[1m",
    "dim": "\x1b[2m",
    "red": "\x1b[31m",
    "green": "\x1b[32m",
    "yellow": "\x1b[33m",
    "magenta": "\x1b[35m",
    "cyan": "\x1b[36m",
    "boldred": "\x1b[1;31m",
}
_VERDICT_STYLE = {
    Verdict.COOPERATES: "green",
    Verdict.UNTESTED: "cyan",
    Verdict.SKIPPED: "dim",
    Verdict.NOT_INSTALLED: "dim",
    Verdict.ORDER_SENSITIVE: "yellow",
    Verdict.WARNS: "yellow",
    Verdict.SUSPECT: "magenta",
    Verdict.BLOCKS: "red",
    Verdict.BREAKS: "boldred",
}
_SEVERITY_STYLE = {"info": "dim", "order-only": "yellow", "warning": "yellow",
                   "suspect": "magenta", "blocks": "red", "breaks": "boldred"}

_GAP = "  "
_MIN_EVIDENCE = 12
_MAX_NAME = 32
_MAX_VERSION = 16


def render_table(report: ScanReport, *, color: bool = False, width: int = 100) -> str:
    """Render ``report`` for a terminal ``width`` columns wide; ANSI colour only if ``color``."""
    width = max(int(width), 40)

    def paint(text: str, style: str) -> str:
        return f"{_STYLES[style]}{text}{_RESET}" if color and text else text

    out: list[str] = []
    out.extend(_table(report, width, paint))
    details = [r for r in report.results if v.needs_details(r)]
    if details:
        out.append("")
        out.append(paint("Details", "bold"))
        for result in details:
            out.append("")
            out.extend(_details(result, width, paint))
    if report.conflicts:
        out.append("")
        out.append(paint("the requirements cannot be installed together (measured on an "
                         "environment you cannot deploy)", "boldred"))
        for conflict in report.conflicts:
            out.extend(_wrap(conflict.text, width, "  - ", "    "))
    if report.problems:
        out.append("")
        out.append(paint("patchcheck problems (not library verdicts)", "boldred"))
        for problem in report.problems:
            out.extend(_wrap(problem, width, "  - ", "    "))
    out.append("")
    control = v.control_line(report)
    if control:
        out.extend(_wrap(control, width, "", "  "))
    out.extend(_summary(report, width, paint))
    out.extend(_wrap(v.environment_line(report.environment), width, "", "  "))
    return "\n".join(out) + "\n"


def _table(report: ScanReport, width: int, paint) -> list[str]:
    if not report.results:
        return ["no distributions scanned"]
    headers = ("distribution", "version", "verdict", "evidence")
    rows = [(r.name, r.version or "-", r.verdict, v.key_evidence(r)) for r in report.results]
    name_w = min(max(len(headers[0]), *(len(r[0]) for r in rows)), _MAX_NAME)
    ver_w = min(max(len(headers[1]), *(len(r[1]) for r in rows)), _MAX_VERSION)
    verdict_w = max(len(headers[2]), *(len(r[2].value) for r in rows))
    evidence_w = width - name_w - ver_w - verdict_w - 3 * len(_GAP)
    if evidence_w < _MIN_EVIDENCE:  # narrow terminal: the name column gives way first
        name_w = max(name_w - (_MIN_EVIDENCE - evidence_w), 8)
        evidence_w = width - name_w - ver_w - verdict_w - 3 * len(_GAP)

    def cell(text: str, w: int) -> str:
        return v.shorten(text, w).ljust(w)

    evidence_w = max(evidence_w, 1)  # a very narrow terminal: evidence shrinks to "…"
    lines = [
        paint(
            _GAP.join(
                (
                    cell(headers[0], name_w),
                    cell(headers[1], ver_w),
                    cell(headers[2], verdict_w),
                    v.shorten(headers[3], evidence_w),
                )
            ),
            "bold",
        ),
        _GAP.join(("─" * name_w, "─" * ver_w, "─" * verdict_w, "─" * evidence_w)),
    ]
    for name, version, verdict, evidence in rows:
        # Pad before painting: escape codes must not count towards the column width.
        line = _GAP.join(
            (
                cell(name, name_w),
                cell(version, ver_w),
                paint(cell(verdict.value, verdict_w), _VERDICT_STYLE[verdict]),
                v.shorten(evidence, evidence_w),
            )
        )
        lines.append(line.rstrip())
    return lines


def _details(result, width: int, paint) -> list[str]:
    view = v.detail_view(result)
    head = (
        paint(v.display_name(result), "bold")
        + " — "
        + paint(result.verdict.value, _VERDICT_STYLE[result.verdict])
    )
    if result.origin:
        head += f"  ({result.origin})"
    out = [head]
    if (
        result.origin
        and len(v.display_name(result) + result.verdict.value + result.origin) + 7 > width
    ):
        # Too long for one line: the origin goes on its own line rather than off-screen.
        out[0] = head[: head.rindex("  (")]
        out.append(v.shorten_code(f"  ({result.origin})", width))
    if view.modules:
        out.extend(_wrap("by module: " + ", ".join(view.modules), width, "  ", "    "))
    for f in view.findings:
        tag = paint(f.code, _SEVERITY_STYLE.get(f.severity, "bold"))
        # The code is painted after wrapping so the escape codes do not skew the wrap width.
        wrapped = _wrap(f"{f.code} {f.summary}", width, "  ", "        ")
        wrapped[0] = wrapped[0].replace(f.code, tag, 1)
        out.extend(wrapped)
        if f.waived:
            out.extend(_wrap(f"waived: {f.waived}", width, "      ", "        "))
        for fact in f.facts:
            out.extend(_wrap(fact, width, "      ", "        "))
        for block in f.blocks:
            title = f"{block.title}:"
            if block.omitted:
                title += f" (last {len(block.lines)} of {len(block.lines) + block.omitted} lines)"
            out.extend(_wrap(title, width, "      ", "        "))
            out.extend(
                paint(v.shorten_code("        " + line, width), "dim") for line in block.lines
            )
        if f.hint:
            out.extend(_wrap(f"hint: {f.hint}", width, "      ", "            "))
    if view.probes:
        out.append("  probes:")
        for probe in view.probes:
            out.extend(_wrap(probe, width, "      ", "        "))
    if view.remedies:
        out.append("  remedies measured:")
        for remedy in view.remedies:
            out.extend(_wrap(remedy, width, "      ", "        "))
    for label, lines in view.remedy_code:
        out.extend(_wrap(f"to apply {label}, add after patch_all():", width, "  ", "    "))
        out.extend(f"      {line}" for line in lines)  # code: copied as is, never wrapped
    if view.known:
        out.append(f"  {view.known_title}:")
        for known in view.known:
            out.extend(_wrap(known, width, "      - ", "        "))
    if result.bisect is not None:
        out.extend(_wrap(f"bisect: {result.bisect.summary()}", width, "  ", "        "))
    return out


def _summary(report: ScanReport, width: int, paint) -> list[str]:
    lines = _wrap(v.summary_line(report), width, "", "  ")
    if not lines:
        return lines
    painted = []
    todo = [
        (f"{count} {verdict.value}", _VERDICT_STYLE[verdict])
        for verdict, count in v.verdict_counts(report)
    ]
    for line in lines:
        # Wrapping keeps "N verdict" together (see _wrap), so each count is on one line.
        for text, style in list(todo):
            if re.search(rf"(?<![\w-]){re.escape(text)}(?![\w-])", line):
                line = re.sub(
                    rf"(?<![\w-]){re.escape(text)}(?![\w-])", paint(text, style), line, count=1
                )
                todo.remove((text, style))
        painted.append(line)
    return painted


#: Stands in for the space inside "503 ms" or "3 × 300" while wrapping: textwrap splits only
#: on ASCII whitespace, so a unit never lands alone at the start of a line.
_GLUE = " "
_GLUE_RE = re.compile(
    r"(?<=\d) (?=(?:ms|s|distributions?|breaks|blocks|warns|untested|skipped|not-installed"
    r"|cooperates)\b)|(?<=\d) (?=×)|(?<=×) (?=\d)"
)


def _wrap(text: str, width: int, first: str, rest: str) -> list[str]:
    text = _GLUE_RE.sub(_GLUE, text)
    lines = textwrap.wrap(
        text,
        width=width,
        initial_indent=first,
        subsequent_indent=rest,
        break_long_words=True,
        break_on_hyphens=False,
    )
    return [line.replace(_GLUE, " ") for line in lines] or [first.rstrip()]


# --- progress -----------------------------------------------------------------------------


class ProgressDisplay:
    """``[12/40] scanning redis…`` on one line of stderr, rewritten in place.

    Shown only when the stream is a terminal and the ``CI`` environment variable is not set
    (DESIGN: "a progress display on a terminal, none when piped or in CI"); otherwise every
    method is a no-op. Thread-safe: runner threads call :meth:`advance` concurrently.
    """

    def __init__(
        self,
        total: int = 0,
        *,
        stream: TextIO | None = None,
        verb: str = "",
        enabled: bool | None = None,
    ) -> None:
        """``total``: how many items (0: unknown, shown as ``[12]``); ``verb``: put before each
        label (``"scanning"`` → ``[12/40] scanning redis…``); ``enabled``: force on or off
        (default: on for a terminal outside CI)."""
        self._stream = stream if stream is not None else sys.stderr
        self._total = total
        self._verb = verb
        self._done = 0
        self._lock = threading.Lock()
        self._shown = False
        self._closed = False
        if enabled is None:
            enabled = self.stream_wants_progress(self._stream)
        self.enabled = enabled

    def set_total(self, total: int) -> None:
        """The item count, once known (the planner knows it after resolving targets)."""
        with self._lock:
            self._total = total

    @staticmethod
    def stream_wants_progress(stream: TextIO) -> bool:
        if os.environ.get("CI"):
            return False
        try:
            return bool(stream.isatty())
        except (AttributeError, ValueError, OSError):  # closed or not a real file
            return False

    def _columns(self) -> int:
        try:
            columns = os.get_terminal_size(self._stream.fileno()).columns
        except (AttributeError, ValueError, OSError):
            return 80
        return columns or 80  # a fresh pty (docker exec, some CI runners) reports 0

    def advance(self, label: str) -> None:
        """Count one more item and show ``label`` as the one being worked on."""
        if not self.enabled:
            return
        with self._lock:
            if self._closed:
                return
            self._done += 1
            count = f"[{self._done}/{self._total}]" if self._total else f"[{self._done}]"
            words = f"{self._verb} {label}" if self._verb else label
            text = v.shorten(f"{count} {words}…", max(self._columns() - 1, 10))
            # \r returns to column 0, \x1b[K clears what a longer previous label left behind.
            self._write(f"\r{text}\x1b[K")
            self._shown = True

    def close(self) -> None:
        """Erase the progress line (idempotent), so the report starts on a clean line."""
        if not self.enabled:
            return
        with self._lock:
            if self._closed:
                return
            self._closed = True
            if self._shown:
                self._write("\r\x1b[K")

    def _write(self, text: str) -> None:
        try:
            self._stream.write(text)
            self._stream.flush()
        except (OSError, ValueError):  # the terminal went away: progress is not worth a crash
            self.enabled = False

    def __enter__(self) -> ProgressDisplay:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
