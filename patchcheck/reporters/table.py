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
from patchcheck.progress import ScanPhase
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


def render_table(report: ScanReport, *, color: bool = False, width: int = 100,
                 verbose: bool = False) -> str:
    """Render ``report`` for a terminal ``width`` columns wide; ANSI colour only if ``color``.

    The default view is one screen per problem (issue #15): the measurement, the frame that
    blocked, the remedies, one line naming what ``verbose`` (``-v``) adds — whole stacks,
    suspicions a measurement settled, knowledge that agrees, every control.
    """
    width = max(int(width), 40)

    def paint(text: str, style: str) -> str:
        return f"{_STYLES[style]}{text}{_RESET}" if color and text else text

    out: list[str] = []
    out.extend(_table(report, width, paint))
    # The default view leaves out a section with nothing but what -v would add.
    sections = [lines for lines in (_details(r, width, paint, verbose) for r in report.results
                                    if v.needs_details(r)) if lines]
    if sections:
        out.append("")
        out.append(paint("Details", "bold"))
        for lines in sections:
            out.append("")
            out.extend(lines)
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
    control = v.control_line(report, verbose=verbose)
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


def _details(result, width: int, paint, verbose: bool = False) -> list[str]:
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
    more: list[str] = []  # what -v would add, said in one line at the end
    modules = view.modules if verbose else view.modules_default
    if modules:
        out.extend(_wrap("by module: " + ", ".join(modules), width, "  ", "    "))
    if result.implicit and not verbose:
        # Reported because probes ran, failing nothing: its modules say enough by default.
        out.extend(_wrap("not failing this run (add 'stdlib' to the requirements for that); "
                         "-v shows the evidence", width, "  ", "    "))
        return out
    body = len(out)
    hidden = [f for f in view.findings if f.verbose_only and not verbose]
    hints: set[str] = set()  # the default view says a hint once per distribution
    for f in view.findings:
        if f in hidden:
            continue
        out.extend(_finding(f, width, paint, verbose, more, None if verbose else hints))
    if hidden:
        more.insert(0, v.list_phrase(list(dict.fromkeys(f.code for f in hidden)), 4))
    if view.probes:
        out.append("  probes:")
        for probe in view.probes:
            out.extend(_wrap(probe, width, "      ", "        "))
    for heading, results in view.remedy_groups:
        out.extend(_wrap(f"remedies measured {heading}:", width, "  ", "    "))
        for line in results:
            out.extend(_wrap(line, width, "      ", "        "))
    if view.remedy_code and not verbose:
        more.append("how to apply " + v.list_phrase([label for label, _ in view.remedy_code], 2))
    for label, lines in view.remedy_code if verbose else ():
        out.extend(_wrap(f"to apply {label}, add after patch_all():", width, "  ", "    "))
        out.extend(f"      {line}" for line in lines)  # code: copied as is, never wrapped
    known = view.known if verbose else view.known_default
    if known:
        out.append(f"  {view.known_title}:")
        for entry in known:
            out.extend(_wrap(entry, width, "      - ", "        "))
    if len(known) < len(view.known):
        more.append("upstream notes")
    if result.bisect is not None:
        out.extend(_wrap(f"bisect: {result.bisect.summary()}", width, "  ", "        "))
    if len(out) == body and not verbose:
        return []  # nothing to say by default (gevent's row with its controls passing)
    if more:  # one line, whatever the width: it only points at -v
        out.append("  " + v.shorten("more with -v: " + ", ".join(dict.fromkeys(more)), width - 2))
    return out


def _finding(f, width: int, paint, verbose: bool, more: list[str],
             hints: set[str] | None = None) -> list[str]:
    out: list[str] = []
    tag = paint(f.code, _SEVERITY_STYLE.get(f.severity, "bold"))
    # The code is painted after wrapping so the escape codes do not skew the wrap width.
    wrapped = _wrap(f"{f.code} {f.summary}", width, "  ", "        ")
    wrapped[0] = wrapped[0].replace(f.code, tag, 1)
    out.extend(wrapped)
    if f.waived:
        out.extend(_wrap(f"waived: {f.waived}", width, "      ", "        "))
    if f.measurement and verbose:
        out.extend(_wrap(f.measurement, width, "      ", "        "))
    elif f.measurement:
        more.append("the full measurement")
    for fact in (*f.facts, *f.verbose_facts) if verbose else f.facts:
        out.extend(_wrap(fact, width, "      ", "        "))
    if f.verbose_facts and not verbose:
        more.append(f.verbose_what)
    for block in f.blocks:
        frame = v.frame_line(block.lines) if block.lead and not verbose else None
        if frame is not None:
            out.extend(_wrap(f"{block.lead} {frame}", width, "      ", "        "))
            if len(block.lines) + block.omitted > 2:
                more.append(f"the full {block.title}")
            continue
        title = f"{block.title}:"
        if block.omitted:
            title += f" (last {len(block.lines)} of {len(block.lines) + block.omitted} lines)"
        out.extend(_wrap(title, width, "      ", "        "))
        out.extend(
            paint(v.shorten_code("        " + line, width), "dim") for line in block.lines
        )
    if f.hint and (hints is None or f.hint not in hints):
        out.extend(_wrap(f"hint: {f.hint}", width, "      ", "            "))
    if f.hint and hints is not None:
        hints.add(f.hint)
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
    """``[3/40] checking imports: redis…`` on one line of stderr, rewritten in place.

    A :class:`patchcheck.progress.ProgressSink`: the scan says which phase it is in
    (``phase``) and each distribution it finishes (``advance``); the count is distributions,
    and a phase that only waits says what it waits for (``starting services: postgresql,
    redis…``). Shown only when the stream is a terminal and the ``CI`` environment variable
    is not set (DESIGN: "a progress display on a terminal, none when piped or in CI");
    otherwise every method is a no-op. Thread-safe: runner threads call :meth:`advance`
    concurrently.
    """

    def __init__(
        self,
        total: int = 0,
        *,
        stream: TextIO | None = None,
        verb: str = "",
        enabled: bool | None = None,
    ) -> None:
        """``total``: how many items (0: unknown, shown as ``[12]``); ``verb``: the words
        before each label until a phase names its own (``"scanning"`` → ``[12/40] scanning
        redis…``); ``enabled``: force on or off (default: on for a terminal outside CI)."""
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
        """The item count, once known."""
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

    def phase(self, phase: ScanPhase, total: int = 0, detail: str = "") -> None:
        """A new phase: its count starts again at 0 of ``total`` (0: a phase not counted,
        shown with its ``detail`` instead: ``starting services: postgresql, redis…``)."""
        if not self.enabled:
            return
        with self._lock:
            if self._closed:
                return
            self._verb = f"{phase}:"
            self._total = total
            self._done = 0
            if total:
                self._show(f"[0/{total}] {phase}" + (f": {detail}" if detail else ""))
            else:
                self._show(f"{phase}: {detail}" if detail else str(phase))

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
            self._show(f"{count} {words}")

    def _show(self, text: str) -> None:
        text = v.shorten(f"{text}…", max(self._columns() - 1, 10))
        # \r returns to column 0, \x1b[K clears what a longer previous label left behind.
        self._write(f"\r{text}\x1b[K")
        self._shown = True

    def interrupt(self) -> None:
        """Erase the line for a note printed meanwhile; the next update draws it again."""
        if not self.enabled:
            return
        with self._lock:
            if self._shown and not self._closed:
                self._write("\r\x1b[K")
                self._shown = False

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
