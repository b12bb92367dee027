"""``scan --stalls FILE``: the watchdog's report of the team's own test suite, as evidence.

The pytest plugin's watchdog (``--patchcheck-watch-report FILE``, ``patchcheck.watch/1``, see
``patchcheck.watch.report``) names the library whose frame blocked the hub in each test. A scan
reads that file and adds, per distribution, what the suite measured (PC210, typed evidence
``SuiteStalls``): "blocked the hub 3 times in your test suite, worst 447 ms: tests/…::test_x".

Reading is strict: a file that is not a watchdog report is a usage error naming the file (and
line, for bad JSON), read before the scan starts.
"""
from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

from patchcheck.errors import UsageError
from patchcheck.model import ScanReport, normalize_name
from patchcheck.verdicts import evidence as ev
from patchcheck.verdicts.fold import with_suite_stalls
from patchcheck.watch.report import WATCH_SCHEMA, StallKind, StallRecord

#: how many tests, locations and calls the evidence keeps
MAX_TESTS = 20
MAX_PLACES = 10

_HINT = "pass the file pytest wrote with --patchcheck-watch-report FILE"


@dataclass(frozen=True)
class SuiteStallsReport:
    """A watchdog report, grouped: evidence per distribution, and the project's own stalls."""

    path: Path
    #: normalised distribution name → what the suite measured of it
    libraries: Mapping[str, ev.SuiteStalls] = field(default_factory=dict)
    #: the names as the watchdog wrote them (for notes about libraries the scan did not check)
    names: Mapping[str, str] = field(default_factory=dict)
    #: stalls in the project's own code (no library frame)
    own_code: ev.SuiteStalls | None = None


def suite_evidence(records: Sequence[StallRecord], report: str = "") -> ev.SuiteStalls:
    """One library's stalls (at least one) as PC210 evidence, worst first."""
    ordered = sorted(records, key=lambda r: -r.duration_ms)
    worst = ordered[0]
    tests = list(dict.fromkeys(r.test for r in ordered if r.test))
    return ev.SuiteStalls(
        stalls=len(ordered), worst_ms=round(worst.duration_ms, 1),
        total_ms=round(sum(r.duration_ms for r in ordered), 1), limit_ms=worst.limit_ms,
        worst_test=worst.test, worst_location=worst.location,
        tests=tuple(tests[:MAX_TESTS]),
        locations=tuple(list(dict.fromkeys(r.location for r in ordered))[:MAX_PLACES]),
        via=tuple(list(dict.fromkeys(r.via for r in ordered if r.via))[:MAX_PLACES]),
        cpu_bound=sum(1 for r in ordered if r.kind is StallKind.CPU_BOUND), report=report)


def load_stalls(path: str | Path) -> SuiteStallsReport:
    """Read a ``patchcheck.watch/1`` report. :raises UsageError: naming the file and what is
    wrong with it (exit 2)."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise UsageError(f"--stalls {path}: no such file", hint=_HINT) from None
    except (OSError, UnicodeDecodeError) as exc:
        reason = getattr(exc, "strerror", None) or exc
        raise UsageError(f"--stalls {path}: cannot read: {reason}") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise UsageError(f"{path}:{exc.lineno}:{exc.colno}: stalls file is not valid JSON: "
                         f"{exc.msg}", hint=_HINT) from None
    if not isinstance(data, dict) or data.get("schema") != WATCH_SCHEMA:
        found = data.get("schema") if isinstance(data, dict) else None
        raise UsageError(f"{path}: not a patchcheck watchdog report (schema {found!r}, "
                         f"expected {WATCH_SCHEMA!r})", hint=_HINT)
    raw = data.get("stalls")
    if not isinstance(raw, list):
        raise UsageError(f"{path}: 'stalls' must be a list", hint=_HINT)
    records: list[StallRecord] = []
    for n, item in enumerate(raw, 1):
        try:
            if not isinstance(item, dict):
                raise TypeError
            record = StallRecord.from_json(item)
            if record.library is not None and not isinstance(record.library, str):
                raise TypeError
        except (AttributeError, KeyError, TypeError, ValueError):
            raise UsageError(f"{path}: stall {n} is malformed: {json.dumps(item)[:120]}",
                             hint='each stall needs "duration_ms" and "limit_ms" (numbers)'
                             ) from None
        records.append(record)
    groups: dict[str | None, list[StallRecord]] = {}
    for record in records:
        key = normalize_name(record.library) if record.library else None
        groups.setdefault(key, []).append(record)
    where = str(path)
    libraries = {k: suite_evidence(rs, where) for k, rs in groups.items() if k is not None}
    names = {k: str(rs[0].library) for k, rs in groups.items() if k is not None}
    own = suite_evidence(groups[None], where) if None in groups else None
    return SuiteStallsReport(path=path, libraries=libraries, names=names, own_code=own)


def add_suite_stalls(report: ScanReport, stalls: SuiteStallsReport) -> ScanReport:
    """The report with each distribution's suite stalls folded in (PC210), and a note for each
    library the suite stalled in that this scan did not check, and for the project's own."""
    results = []
    seen = set()
    for result in report.results:
        evidence = stalls.libraries.get(result.key)
        if evidence is not None:
            seen.add(result.key)
            result = with_suite_stalls(result, evidence)
        results.append(result)
    notes = list(report.notes)
    for key, evidence in stalls.libraries.items():
        if key not in seen:
            notes.append(f"{stalls.path}: your test suite stalled in {stalls.names[key]} "
                         f"({_counted(evidence)}), which this scan did not check: add it to "
                         "the requirements to judge it")
    if stalls.own_code is not None:
        notes.append(f"{stalls.path}: your own code stalled the hub in the test suite "
                     f"({_counted(stalls.own_code)}); not a dependency's verdict")
    return replace(report, results=tuple(results), notes=tuple(notes))


def _counted(e: ev.SuiteStalls) -> str:
    where = f", at {e.worst_location}" if e.worst_location else ""
    return f"{e.stalls} stall{'s' if e.stalls != 1 else ''}, worst {e.worst_ms:.0f} ms{where}"
