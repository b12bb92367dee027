"""Turn what the checks observed into findings, and findings into one verdict. Pure logic.

Inputs are plain data (``CheckOutcome``: what a child reported, or how it ended), so this is
tested on in-memory values; the engine builds them from ``runner.ChildResult``.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from patchcheck.model import (
    DistributionResult,
    Finding,
    ImportOrder,
    Outcome,
    ProbeOutcome,
    Requirement,
    Severity,
    Verdict,
)
from patchcheck.textcols import clip_words
from patchcheck.verdicts import evidence as ev
from patchcheck.verdicts.codes import CODES

#: The verdict a finding of each severity leads to (INFO leads to none). A code's severity
#: (``verdicts/codes.py``) is its triage, so a new order-only code (PC209) needs no rule here.
SEVERITY_VERDICT: Mapping[Severity, Verdict] = {
    Severity.BREAKS: Verdict.BREAKS,
    Severity.BLOCKS: Verdict.BLOCKS,
    Severity.SUSPECT: Verdict.SUSPECT,
    Severity.WARNING: Verdict.WARNS,
    Severity.ORDER_ONLY: Verdict.ORDER_SENSITIVE,
}

# Suspicions a measured "cooperates" clears (to info: they stay in the report). The native-code
# warnings by any cooperating measurement: the call the probe exercised went through that code
# (issue #3). The import-order warnings only by a measurement taken in the order they are about,
# the library imported *before* patch_all(): a run that patched first says nothing about the
# other order (issue #10: requests cooperates patched first, and raises RecursionError imported
# first).
_CLEARED_BY_ANY_ORDER = frozenset({"PC140", "PC141"})
_CLEARED_BY_BEFORE_PATCH = frozenset({"PC110", "PC120", "PC121"})


@dataclass(frozen=True)
class CheckOutcome:
    """How one child check ended: its data, or why there is none."""

    data: Mapping[str, Any] | None
    timed_out: bool = False
    signal: str | None = None  # e.g. "SIGSEGV"
    problem: str | None = None  # no usable result (and why)
    harness_error: str | None = None  # the harness itself failed (patchcheck's problem)
    stack_dump: str = ""
    stderr_tail: str = ""
    stdout_tail: str = ""
    duration_s: float = 0.0
    extra: Mapping[str, Any] = field(default_factory=dict)
    #: processes the check left running (patchcheck killed them), by name
    leftover_processes: tuple[str, ...] = ()


def make_finding(code: str, check: str, summary: str | None = None, *,
                 evidence: ev.Evidence | None = None, hint: str | None = None,
                 severity: Severity | None = None) -> Finding:
    c = CODES[code]
    expected = ev.EVIDENCE_TYPES[code]
    if evidence is None:
        evidence = expected.from_json({})
    if not isinstance(evidence, expected):  # a programming error: each code has one shape
        raise TypeError(f"{code} evidence must be {expected.__name__}, not "
                        f"{type(evidence).__name__}")
    return Finding(
        code=code,
        severity=c.severity if severity is None else severity,
        check=check,
        summary=summary or c.title,
        evidence=evidence,
        hint=hint if hint is not None else (c.hint or None),
    )


def _tail(text: str, lines: int = 15) -> str:
    return "\n".join(text.strip().splitlines()[-lines:])


def _child_end(out: CheckOutcome) -> ev.ChildEnd:
    return ev.ChildEnd(
        duration_s=round(out.duration_s, 2),
        stack="\n".join(out.stack_dump.strip().splitlines()[:60]),
        stderr=_tail(out.stderr_tail) if out.stderr_tail.strip() else "",
        stdout=_tail(out.stdout_tail, 5) if out.stdout_tail.strip() else "",
        signal=None if out.timed_out else out.signal,
        end=None if out.timed_out or out.signal else out.problem)


def _ended_badly(check: str, out: CheckOutcome, what: str) -> list[Finding]:
    """Findings for a child that produced no data: hang, crash, exit."""
    evidence = _child_end(out)
    if out.timed_out:
        return [make_finding("PC102", check, f"{what} did not finish within "
                             f"{out.duration_s:.0f} s (killed)", evidence=evidence)]
    if out.signal:
        return [make_finding("PC101", check, f"{what} crashed the process ({out.signal})",
                             evidence=evidence)]
    return [make_finding("PC103", check, f"{what}: {out.problem}", evidence=evidence)]


def _warnings_summary(warnings: Sequence[Mapping[str, Any]]) -> tuple[ev.WarningRecord, ...]:
    """The distinct warnings (by category and message), at most five."""
    seen = set()
    out = []
    for w in warnings:
        key = (w.get("category"), w.get("message"))
        if key not in seen:
            seen.add(key)
            out.append(ev.WarningRecord.from_json(w))
    return tuple(out[:5])


def import_findings(after: CheckOutcome, before: CheckOutcome | None) -> list[Finding]:
    """Findings of the import checks: patch-then-import, and import-then-patch."""
    findings: list[Finding] = []
    after_failed: set[str] = set()
    if after.data is None:
        findings += _ended_badly("import-after", after, "import after patch_all()")
    else:
        for mod in after.data.get("modules", ()):
            if not mod.get("ok"):
                after_failed.add(mod["module"])
        for mod in after.data.get("modules", ()):
            if mod.get("ok"):
                ws = [w for w in mod.get("warnings", ())
                      if not w.get("category", "").endswith("MonkeyPatchWarning")]
                if ws:
                    findings.append(make_finding(
                        "PC111", "import-after",
                        f"importing {mod['module']} warns: {ws[0]['category'].rsplit('.', 1)[-1]}: "
                        f"{clip_words(ws[0]['message'], 120)}",
                        evidence=ev.Warnings(_warnings_summary(ws), module=mod["module"])))
        threads = after.data.get("native_threads_started")
        # Threads started while another distribution was first imported (numpy's OpenBLAS
        # pool under openpyxl) are that distribution's: said as info, never a warning here.
        others = {str(k): int(v) for k, v in
                  (after.data.get("native_threads_by_others") or {}).items() if v}
        if threads or others:
            imported = ", ".join(m["module"] for m in after.data.get("modules", ()))
            evidence = ev.NativeThreads(
                native_threads=int(threads or 0),
                python_threads=tuple(after.data.get("python_threads_started", ())),
                started_by=others)
            if threads:
                plural = "s" if threads != 1 else ""
                summary = f"importing {imported} started {threads} native thread{plural}"
                findings.append(make_finding("PC130", "threads", summary, evidence=evidence))
            else:
                n = sum(others.values())
                summary = (f"importing {imported} started {n} native thread"
                           f"{'s' if n != 1 else ''}, all while importing "
                           f"{', '.join(others)} (not {imported}'s own)")
                findings.append(make_finding("PC130", "threads", summary, evidence=evidence,
                                             severity=Severity.INFO))

    before_failed: set[str] = set()
    if before is not None:
        if before.data is None:
            if after.data is not None:
                f = _ended_badly("import-before", before, "import before patch_all()")
                findings += [replace(x, severity=CODES["PC121"].severity, code="PC121",
                                     summary=x.summary + " (but imports fine after patching)",
                                     evidence=ev.OrderSensitive(ended=_child_end(before)))
                             for x in f]
        else:
            for mod in before.data.get("modules", ()):
                if not mod.get("ok"):
                    before_failed.add(mod["module"])
            patch = before.data.get("patch") or {}
            if not patch.get("ok", True) and patch.get("exception"):
                exc = patch["exception"]
                findings.append(make_finding(
                    "PC105", "import-before",
                    f"patch_all() raised {exc['type'].rsplit('.', 1)[-1]} "
                    "after importing the library",
                    evidence=ev.RaisedException(exception=exc["type"], message=exc["message"],
                                                traceback=_tail(exc["traceback"]))))
            mpw = [w for w in patch.get("warnings", ())
                   if w.get("category", "").endswith("MonkeyPatchWarning")]
            if mpw:
                findings.append(make_finding(
                    "PC110", "import-before",
                    "gevent warns when patching after this import: "
                    + clip_words(mpw[0]["message"], 160),
                    evidence=ev.Warnings(_warnings_summary(mpw))))
            stale = list(before.data.get("stale_references", ()))
            if stale:
                holders = sorted({f"{s['holder']}.{s['name']} → {s['original']}" for s in stale})
                findings.append(make_finding(
                    "PC120", "stale-refs",
                    f"{len(holders)} reference{'s' if len(holders) != 1 else ''} to unpatched "
                    f"originals when imported before patch_all(): {holders[0]}"
                    + (f" (+{len(holders) - 1} more)" if len(holders) > 1 else ""),
                    evidence=ev.StaleReferences(
                        tuple(ev.StaleReference.from_json(x) for x in stale[:50]))))

    # A module that fails in both orders does not import at all: not gevent's doing.
    both = after_failed & before_failed if before is not None and before.data is not None else set()
    if after.data is not None:
        for mod in after.data.get("modules", ()):
            if mod.get("ok"):
                continue
            exc = mod.get("exception") or {}
            failure = ev.ImportFailure(module=mod["module"], exception=exc.get("type"),
                                       message=exc.get("message"),
                                       traceback=_tail(exc.get("traceback", "")))
            short = exc.get("type", "?").rsplit(".", 1)[-1]
            if mod["module"] in both:
                findings.append(make_finding(
                    "PC104", "import-after",
                    f"import {mod['module']} fails even without gevent: {short}: "
                    f"{clip_words(exc.get('message') or '', 120)}", evidence=failure))
            else:
                findings.append(make_finding(
                    "PC100", "import-after",
                    f"import {mod['module']} fails after patch_all(): {short}: "
                    f"{clip_words(exc.get('message') or '', 120)}", evidence=failure))
    if before is not None and before.data is not None:
        for name in sorted(before_failed - after_failed):
            findings.append(make_finding(
                "PC121", "import-before",
                f"import {name} fails when imported before patch_all() but works after it",
                evidence=ev.OrderSensitive(module=name)))
    return findings


def leftover_findings(check: str, out: CheckOutcome) -> list[Finding]:
    """PC106 when a check left processes running (the runner killed them)."""
    left = out.leftover_processes
    if not left:
        return []
    plural = "es" if len(left) != 1 else ""
    return [make_finding("PC106", check, f"left {len(left)} process{plural} running",
                         evidence=ev.LeftoverProcesses(processes=tuple(left[:20])))]


def probe_findings(outcome: ProbeOutcome, *,
                   patch_first: ProbeOutcome | None = None) -> list[Finding]:
    """One finding for a probe's plain measurement; its evidence references the measurement.

    ``patch_first`` is the same probe measured in the right order, for a BEFORE_PATCH
    outcome: blocking only when imported first is PC206 (order-sensitive), not PC200; breaking
    (or hanging) only when imported first is PC209, not PC202/PC203.
    """
    m = outcome.plain
    check = f"probe:{outcome.label}"
    ref = ev.ProbeRef(probe=outcome.probe, order=outcome.order)
    name = outcome.label
    order_only = (outcome.order is ImportOrder.BEFORE_PATCH and patch_first is not None
                  and patch_first.plain.outcome.passed)
    # Failing the same way in both orders is not about the order: the patched-first finding
    # speaks for both (pyzmq blocks either way; a second PC200 would also escape the waiver of
    # a remedy the project applies, which is judged on the patched-first run).
    if (outcome.order is ImportOrder.BEFORE_PATCH and patch_first is not None
            and m.outcome is patch_first.plain.outcome
            and m.outcome in (Outcome.BLOCKS, Outcome.CPU_BOUND, Outcome.BREAKS)):
        return []
    if m.outcome is Outcome.BLOCKS and order_only:
        return [make_finding("PC206", check,
                             f"{name}: hub stalled {m.max_gap_ms:.0f} ms when the library "
                             f"is imported before patch_all()", evidence=ref)]
    if m.outcome is Outcome.BREAKS and order_only:
        err = (m.error or "").strip().splitlines()
        what = "hangs" if m.hung else "breaks"
        return [make_finding("PC209", check,
                             clip_words(f"{outcome.probe}: {what} if imported before "
                                        f"patch_all(): {err[-1] if err else 'failed'}", 200),
                             evidence=ref)]
    if m.outcome is Outcome.BLOCKS:
        return [make_finding("PC200", check,
                             f"{name}: hub stalled {m.max_gap_ms:.0f} ms while waiting "
                             f"(ratio {m.ratio:.1f}× for {m.concurrency} concurrent calls)",
                             evidence=ref)]
    if m.outcome is Outcome.CPU_BOUND:
        return [make_finding("PC201", check,
                             f"{name}: hub stalled {m.max_gap_ms:.0f} ms, CPU-bound",
                             evidence=ref)]
    if m.outcome is Outcome.BREAKS:
        err = (m.error or "").strip().splitlines()
        return [make_finding("PC203" if m.hung else "PC202", check,
                             clip_words(f"{name}: {err[-1] if err else 'failed'}", 200),
                             evidence=ref)]
    if m.outcome is Outcome.INCONCLUSIVE:
        where = f" ({m.phase.value})" if m.phase is not None else ""
        err = (m.error or "").strip().splitlines()
        return [make_finding("PC207", check,
                             clip_words(f"{name}: inconclusive{where}: "
                                        f"{err[-1] if err else ''}", 200),
                             evidence=ref)]
    if m.outcome.skipped:
        return [make_finding("PC205", check, f"{name}: skipped: {m.error or ''}",
                             evidence=ref)]
    return [make_finding("PC204", check,
                         f"{name}: cooperates (largest hub gap {m.max_gap_ms:.0f} ms, "
                         f"ratio {m.ratio:.1f}×)", evidence=ref)]


def verdict_for(findings: Sequence[Finding], probes: Sequence[ProbeOutcome] = (), *,
                installed: bool = True) -> Verdict:
    """THE verdict rule, used by folding and by the waiver step (``policy.effective_verdict``).

    The worst non-waived finding decides; with none above info, what the probes measured:
    cooperates if one measured cooperation, skipped if all were skipped, else untested.
    """
    if not installed:
        return Verdict.NOT_INSTALLED
    worst = max((f.severity for f in findings if not f.waived), default=Severity.INFO)
    if worst in SEVERITY_VERDICT:
        return SEVERITY_VERDICT[worst]
    outcomes = [p.plain.outcome for p in probes]
    if any(o.passed for o in outcomes):
        return Verdict.COOPERATES
    if outcomes and all(o.skipped for o in outcomes):
        return Verdict.SKIPPED
    return Verdict.UNTESTED


def fold_verdict(findings: Sequence[Finding], *, installed: bool = True,
                 probes: Sequence[ProbeOutcome] = ()) -> tuple[Verdict, tuple[Finding, ...]]:
    """The verdict (``verdict_for``) and the findings as reported.

    A probe that measured ``cooperates`` downgrades the native-code warnings to info: the
    measurement outranks the suspicion for the calls it exercised (issue #3). The import-order
    warnings (PC110, PC120, PC121) are downgraded only by probes measured with the library
    imported before patch_all() — and not when one of those failed: then the warning came true
    (PC206/PC209 say how). The summary names the measurements that cleared it.
    """
    if not installed:
        return Verdict.NOT_INSTALLED, tuple(findings)
    clearing = clearing_measurements(probes)
    out: list[Finding] = []
    for f in findings:
        by = clearing.get(f.code, ())
        if by and f.severity > Severity.INFO:
            cleared = f" (cleared: {', '.join(by)} measured cooperates)"
            f = replace(f, severity=Severity.INFO, summary=f.summary + cleared)
        out.append(f)
    return verdict_for(out, probes), tuple(out)


def clearing_measurements(probes: Sequence[ProbeOutcome]) -> dict[str, tuple[str, ...]]:
    """Code → the labels of the measurements that clear its warning (see ``fold_verdict``);
    a code absent is not cleared. Decided from each outcome's typed ``order`` and ``Outcome``."""
    any_order = tuple(p.label for p in probes if p.plain.outcome.passed)
    before = [p for p in probes if p.order is ImportOrder.BEFORE_PATCH]
    before_ok = tuple(p.label for p in before if p.plain.outcome.passed)
    if any(p.plain.outcome.failed for p in before):
        before_ok = ()
    out = dict.fromkeys(_CLEARED_BY_ANY_ORDER, any_order)
    out.update(dict.fromkeys(_CLEARED_BY_BEFORE_PATCH, before_ok))
    return {code: labels for code, labels in out.items() if labels}


def not_installed_result(req: Requirement, python: str,
                         install_failure: str | None = None) -> DistributionResult:
    """The result for a requirement the target does not have (PC002 when --install failed)."""
    if install_failure:
        finding = make_finding(
            "PC002", "targets",
            f"{req.name} could not be installed: "
            f"{clip_words(install_failure.strip().splitlines()[-1], 160)}",
            evidence=ev.InstallFailed(installer=install_failure[-4000:]))
    else:
        finding = make_finding(
            "PC000", "targets", f"{req.name} is not installed in {python}",
            hint=f"{python} -m pip install '{req.line or req.name}', or scan with --install")
    return DistributionResult(name=req.name, verdict=Verdict.NOT_INSTALLED,
                              requirement=req.line or req.name, origin=req.origin,
                              findings=(finding,))


def version_findings(req: Requirement, name: str, version: str | None) -> list[Finding]:
    """PC001 when the installed version does not satisfy the requirement's specifier."""
    from packaging.specifiers import InvalidSpecifier, SpecifierSet
    from packaging.version import InvalidVersion, Version

    if not version or not req.specifier:
        return []
    try:
        if Version(version) in SpecifierSet(req.specifier):
            return []
    except (InvalidSpecifier, InvalidVersion):
        return []
    return [make_finding(
        "PC001", "targets",
        f"installed {name} {version} does not satisfy '{req.specifier}' ({req.origin}): "
        "the installed version was scanned",
        evidence=ev.VersionMismatch(installed=version, required=req.specifier))]


def with_probes(result: DistributionResult,
                outcomes: Sequence[ProbeOutcome]) -> DistributionResult:
    """``result`` with its probes' measurements folded in."""
    findings = list(result.findings)
    patch_first = {o.probe: o for o in outcomes if o.order is ImportOrder.AFTER_PATCH}
    for outcome in outcomes:
        findings += probe_findings(outcome, patch_first=patch_first.get(outcome.probe))
    verdict, folded = fold_verdict(findings, installed=True, probes=outcomes)
    return replace(result, verdict=verdict, findings=folded, probes=tuple(outcomes))


def instrument_result(req: Requirement, name: str, version: str | None,
                      controls: Sequence[ProbeOutcome], controls_ok: bool,
                      judged: Sequence[Finding] = ()) -> DistributionResult:
    """gevent, greenlet, zope.*: recorded, not judged as a dependency (``untested``, so a
    re-scan served from the cache, which runs no controls, reads the same) — unless the
    instrument itself is judged wrong (``judged``: PC004/PC005 of ``verdicts.instrument``),
    then ``warns``. When this scan ran the controls, gevent's finding carries what they
    measured of its patched sleep, socket and select."""
    measured = [c for c in controls if not c.plain.outcome.skipped]
    evidence = ev.Instrument()
    if name.lower() == "gevent" and measured:
        evidence = ev.Instrument(controls={c.probe: c.plain.outcome.value for c in measured},
                                 controls_ok=controls_ok)
    finding = make_finding("PC003", "plan", evidence=evidence)
    worst = max((f.severity for f in judged), default=Severity.INFO)
    verdict = Verdict.WARNS if worst >= Severity.WARNING else Verdict.UNTESTED
    return DistributionResult(name=name, version=version, verdict=verdict,
                              requirement=req.line or req.name, origin=req.origin,
                              findings=(finding, *judged))


def stdlib_result(item: Any) -> DistributionResult:
    """The standard library's row before its probes (a ``plan.PlannedDistribution`` with
    ``stdlib``): untested until they are folded in; its version is the target Python's."""
    req = item.requirement
    return DistributionResult(name=item.dist.name, version=item.dist.version,
                              verdict=Verdict.UNTESTED,
                              requirement=None if item.implicit else (req.line or req.name),
                              origin=req.origin, implicit=item.implicit)


def suite_stalls_finding(evidence: ev.SuiteStalls) -> Finding:
    """PC210: what the team's own test suite measured of the library (``scan --stalls``)."""
    times = "once" if evidence.stalls == 1 else f"{evidence.stalls} times"
    summary = f"blocked the hub {times} in your test suite, worst {evidence.worst_ms:.0f} ms"
    if evidence.worst_test:
        summary += f": {evidence.worst_test}"
    return make_finding("PC210", "test-suite", summary, evidence=evidence)


def with_suite_stalls(result: DistributionResult,
                      evidence: ev.SuiteStalls) -> DistributionResult:
    """``result`` with the suite's stalls in it as a finding: measured, so a library no probe
    exercised is ``blocks`` (not ``untested``), and one a probe measured cooperating blocks
    too (the suite called it in a way the probe did not). Folded by the one verdict rule."""
    findings = (*result.findings, suite_stalls_finding(evidence))
    installed = result.verdict is not Verdict.NOT_INSTALLED
    return replace(result, findings=findings,
                   verdict=verdict_for(findings, result.probes, installed=installed))
