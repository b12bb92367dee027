"""``patchcheck merge``: the reports of sharded (or matrix) runs combined into one.

Reports of the same environment (``patchcheck.matrix.environment_key``: the interpreter's
path does not count) become one ``patchcheck.report/1`` report; reports of several
environments become a ``patchcheck.matrix/1`` document with one merged report each, so a CI
matrix of ordinary scans builds the version matrix.

A distribution reported by two files of the same environment must agree: the same verdict,
the same finding codes and the same probe outcomes (timings may differ; the first file's
result is kept). Anything else is a conflict, a usage error (exit 2) naming both files.
"""
from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from patchcheck.errors import UsageError
from patchcheck.matrix import MATRIX_SCHEMA, MatrixReport, environment_key, environment_label
from patchcheck.model import REPORT_SCHEMA, DistributionResult, ProbeOutcome, ScanReport


@dataclass(frozen=True)
class SourcedReport:
    """A report and the file it was read from (for conflict messages)."""

    path: str
    report: ScanReport


def read_reports(path: str) -> list[SourcedReport]:
    """The scan reports in one file: a ``patchcheck.report/1`` document, or each report of a
    ``patchcheck.matrix/1`` document.

    :raises UsageError: the file is missing, not JSON, or not a patchcheck report.
    """
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise UsageError(f"{path}: cannot read: {exc.strerror or exc}") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise UsageError(f"{path}:{exc.lineno}: not JSON: {exc.msg}",
                         hint="merge the files written by 'patchcheck scan --format json'") \
            from None
    schema = data.get("schema") if isinstance(data, dict) else None
    try:
        if schema == REPORT_SCHEMA:
            return [SourcedReport(path, ScanReport.from_json(data))]
        if schema == MATRIX_SCHEMA:
            return [SourcedReport(path, r) for r in MatrixReport.from_json(data).reports]
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise UsageError(f"{path}: not a valid {schema} document: "
                         f"{type(exc).__name__}: {exc}") from None
    raise UsageError(f"{path}: not a patchcheck report (schema {schema!r})",
                     hint=f"expected {REPORT_SCHEMA!r} or {MATRIX_SCHEMA!r}, as written by "
                          "'patchcheck scan --format json'")


def result_signature(result: DistributionResult) -> tuple[Any, ...]:
    """What two measurements of one distribution must share to be the same result."""
    return (
        result.version,
        result.verdict,
        tuple(sorted(f.code for f in result.findings)),
        tuple(sorted((p.probe, p.order.value, p.plain.outcome.value,
                      tuple(m.outcome.value for m in p.remedies)) for p in result.probes)),
    )


def _describe(result: DistributionResult) -> str:
    codes = ",".join(sorted({f.code for f in result.findings})) or "no findings"
    return f"{result.verdict.value} {result.version or ''} ({codes})".replace("  ", " ")


def merge_same_environment(reports: Sequence[SourcedReport]) -> ScanReport:
    """One report from reports of one environment; results in the order first seen.

    :raises UsageError: a distribution with different results in two files.
    """
    first = reports[0].report
    results: dict[str, tuple[str, DistributionResult]] = {}
    controls: tuple[ProbeOutcome, ...] = ()
    problems: list[str] = []
    notes: list[str] = []
    for sourced in reports:
        report = sourced.report
        for result in report.results:
            seen = results.get(result.key)
            if seen is None:
                results[result.key] = (sourced.path, result)
            elif result_signature(seen[1]) != result_signature(result):
                raise UsageError(
                    f"conflicting results for {result.name} on "
                    f"{environment_label(report.environment)}: {seen[0]} says "
                    f"{_describe(seen[1])}, {sourced.path} says {_describe(result)}",
                    hint="merge the shards of one run; re-run the scan for a fresh result")
        # Each shard ran its own controls; the report keeps the first shard's that has any.
        controls = controls or report.controls
        problems += [p for p in report.problems if p not in problems]
        notes += [n for n in report.notes if n not in notes]
    return replace(first, results=_in_requirement_order([r for _, r in results.values()]),
                   controls=controls,
                   # the shards ran side by side: the merged run took as long as the slowest
                   duration_s=max(s.report.duration_s for s in reports),
                   problems=tuple(problems), notes=tuple(notes))


def _in_requirement_order(results: list[DistributionResult]) -> tuple[DistributionResult, ...]:
    """The unsharded scan's order: by requirements file and line (``origin`` is ``path:N``);
    results of no file line (``--all``, ``--deps``) after them, in the order first seen."""
    def position(indexed: tuple[int, DistributionResult]) -> tuple[int, str, int, int]:
        index, result = indexed
        match = re.fullmatch(r"(.*):(\d+)", result.origin or "")
        if match:
            return (0, match.group(1), int(match.group(2)), index)
        return (1, "", 0, index)

    return tuple(r for _, r in sorted(enumerate(results), key=position))


def merge_reports(reports: Sequence[SourcedReport]) -> ScanReport | MatrixReport:
    """One report when every input measured the same environment, else a matrix (environments
    in the order first seen)."""
    if not reports:
        raise UsageError("nothing to merge: name the JSON reports of the shards",
                         hint="patchcheck merge shard-1.json shard-2.json shard-3.json")
    groups: dict[tuple[Any, ...], list[SourcedReport]] = {}
    for sourced in reports:
        groups.setdefault(environment_key(sourced.report.environment), []).append(sourced)
    merged = [merge_same_environment(group) for group in groups.values()]
    return merged[0] if len(merged) == 1 else MatrixReport(reports=tuple(merged))
