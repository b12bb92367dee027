"""Remedies the project already applies (issue #15.6): the verdict follows the measurement
with the remedy, not the plain one.

For each scanned distribution with a knowledge entry whose remedy (``applied_when``) occurs in
the project's source (``sources.project_source``), a PC208 finding says where, and what the
probe measured with that remedy (``probe_remedy``, one of the probe's remedy measurements). When
that measurement cooperates, the plain measurement's findings of that probe (PC200–PC203) and
the native-code suspicions (PC140/PC141, which a cooperating measurement clears in the fold) are
waived with the reason "remedy applied at FILE:LINE (measured: cooperates)" — kept in the
report, no longer counted, as a waiver does. A remedy that measured anything else waives
nothing: the report says so.

Pure: no I/O.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from patchcheck.model import (
    DistributionResult,
    Finding,
    ImportOrder,
    Outcome,
    ProbeOutcome,
    ScanReport,
    Verdict,
)
from patchcheck.sources.project_source import Occurrence
from patchcheck.spec import KnowledgeEntry
from patchcheck.verdicts import evidence as ev

_PROBE_FAILURES = ("PC200", "PC201", "PC202", "PC203")
_NATIVE_SUSPICIONS = ("PC140", "PC141")


def patterns_of(entries: Sequence[KnowledgeEntry]) -> set[str]:
    """Every ``applied_when`` pattern of ``entries`` (what the source walk looks for)."""
    return {p for e in entries for p in e.applied_when}


def apply_source_remedies(report: ScanReport, entries: Sequence[KnowledgeEntry],
                          found: Sequence[Occurrence]) -> ScanReport:
    """``report`` with PC208 findings (and the waivers they imply) where the source applies
    a known remedy; results without one are returned untouched."""
    if not found:
        return report
    results = [_applied(result, entries, found) for result in report.results]
    return replace(report, results=tuple(results))


def _applied(result: DistributionResult, entries: Sequence[KnowledgeEntry],
             found: Sequence[Occurrence]) -> DistributionResult:
    from patchcheck.knowledge import entry_matches
    from patchcheck.verdicts.fold import make_finding
    from patchcheck.verdicts.policy import effective_verdict

    if result.verdict is Verdict.NOT_INSTALLED:
        return result
    added: list[Finding] = []
    waive: dict[str, str] = {}  # probe name → reason, for the probes the remedy fixed
    cooperated = False
    for entry in entries:
        if not entry.applied_when or not entry_matches(entry, result.name, result.version):
            continue
        hit = next((o for o in found if o.pattern in entry.applied_when), None)
        if hit is None:
            continue
        remedy = entry.probe_remedy or entry.remedy or hit.pattern
        measured = _measured(result.probes, entry.probe_remedy)
        if not measured:
            added.append(make_finding(
                "PC208", "source", f"remedy applied at {hit.where} (not measured here)",
                evidence=ev.RemedyApplied(remedy=remedy, pattern=hit.pattern, file=hit.file,
                                          line=hit.line)))
            continue
        for probe, outcome in measured:
            text = f"remedy applied at {hit.where} (measured: {outcome.value})"
            added.append(make_finding(
                "PC208", "source", f"{text}: {remedy}",
                evidence=ev.RemedyApplied(remedy=remedy, pattern=hit.pattern, file=hit.file,
                                          line=hit.line, probe=probe.probe,
                                          outcome=outcome.value)))
            if outcome.passed and probe.plain.outcome.failed:
                waive[probe.probe] = text
                cooperated = True
    if not added:
        return result
    findings = []
    reason = next(iter(waive.values()), None)
    for f in result.findings:
        if f.waived is None and isinstance(f.evidence, ev.ProbeRef) \
                and f.code in _PROBE_FAILURES and f.evidence.order is ImportOrder.AFTER_PATCH \
                and f.evidence.probe in waive:
            f = replace(f, waived=waive[f.evidence.probe])
        elif f.waived is None and reason is not None and f.code in _NATIVE_SUSPICIONS:
            f = replace(f, waived=reason)
        findings.append(f)
    updated = replace(result, findings=tuple(findings) + tuple(added))
    verdict = effective_verdict(updated)
    if cooperated and verdict is Verdict.UNTESTED:
        # Nothing above info is left and the remedy the app uses measured cooperation.
        verdict = Verdict.COOPERATES
    return updated.with_verdict(verdict)


def _measured(probes: Sequence[ProbeOutcome], remedy: str | None
              ) -> list[tuple[ProbeOutcome, Outcome]]:
    """(probe, the remedy measurement's outcome) for each patch-first probe that measured
    ``remedy`` (matched by the remedy's name, the key the probe declared)."""
    if remedy is None:
        return []
    out: list[tuple[ProbeOutcome, Outcome]] = []
    for probe in probes:
        if probe.order is not ImportOrder.AFTER_PATCH:
            continue
        for m in probe.remedies:
            if m.remedy == remedy:
                out.append((probe, m.outcome))
    return out
