"""What a test's hub stalls amount to: the warning, the strict failure, the report section.

Pure text from :class:`~patchcheck.watch.report.StallRecord` lists; the pytest plugin decides
*when* to warn or fail (its hooks), this module decides *what it says*.
"""
from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pragma: no cover
    from patchcheck.watch.report import StallRecord


def headline(record: StallRecord) -> str:
    """One line: how long, the limit, waiting or cpu-bound, whose code, where."""
    text = (f"hub stalled {record.duration_ms:.0f} ms (limit {record.limit_ms:g} ms, "
            f"{record.kind.value}) in {record.label} at {record.location}")
    if record.via:
        text += f", in {record.via}"
    return text


def warning_text(records: Sequence[StallRecord], phase: str) -> str:
    """The ``HubStallWarning`` of a test phase: the worst stall, its remedy, how many more."""
    worst = max(records, key=lambda r: r.duration_ms)
    text = headline(worst)
    if worst.remedy:
        text += f"; remedy: {worst.remedy}"
    if len(records) > 1:
        text += f" (+{len(records) - 1} more stall(s) in {phase})"
    return text


def failure_text(records: Sequence[StallRecord], phase: str) -> str:
    """The message of a test failed by ``--patchcheck-strict``: every stall, with its stack."""
    lines = [f"patchcheck: the gevent hub stalled during {phase} "
             f"({len(records)} stall(s) over {records[0].limit_ms:g} ms)"]
    for r in records:
        lines.append("")
        lines += r.describe()
    return "\n".join(lines)


def report_section(records: Sequence[StallRecord]) -> str:
    """The "patchcheck hub stalls" section added to a test's report."""
    lines: list[str] = []
    for r in records:
        lines += r.describe()
        lines.append("")
    return "\n".join(lines).rstrip()
