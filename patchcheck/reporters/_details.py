"""Detail views: what the details section of one distribution says, format-neutral.

A finding's facts are read from its typed evidence (``patchcheck.verdicts.evidence``); a probe
finding's measurement is the ``ProbeOutcome`` its ``ProbeRef`` points at.
"""
from __future__ import annotations

from dataclasses import dataclass

from patchcheck.model import (
    STDLIB,
    DistributionResult,
    Finding,
    Outcome,
    Severity,
    Verdict,
    stdlib_module,
)
from patchcheck.reporters._sentences import (
    _NOT_MEASURED,
    SECONDARY_SYMBOL_CATEGORIES,
    bundles_phrase,
    known_sentence,
    library_names,
    measurement_sentence,
    probe_for,
    remedy_sentence,
    stale_names,
    symbol_groups,
)
from patchcheck.reporters._text import (
    as_lines,
    compact,
    display_name,
    error_headline,
    last_lines,
    list_phrase,
    short_path,
    shorten,
)
from patchcheck.verdicts import evidence as ev
from patchcheck.verdicts.fold import SEVERITY_VERDICT


@dataclass(frozen=True)
class Block:
    """Verbatim lines (a stack, a traceback) with a title; ``omitted`` lines were cut above."""

    title: str
    lines: tuple[str, ...]
    omitted: int = 0


@dataclass(frozen=True)
class FindingView:
    code: str
    severity: str
    summary: str
    facts: tuple[str, ...]  # short evidence sentences
    blocks: tuple[Block, ...]  # verbatim evidence
    hint: str | None
    waived: str | None


@dataclass(frozen=True)
class DetailView:
    result: DistributionResult
    findings: tuple[FindingView, ...]
    probes: tuple[str, ...]  # measurements of probes not linked to a finding
    remedies: tuple[str, ...]  # "blocks (…) → cooperates with X (…)"
    known: tuple[str, ...]  # knowledge entries, one sentence each
    #: the standard library's row: its verdict per module, worst first ("os blocks")
    modules: tuple[str, ...] = ()
    known_title: str = "known, not measured here"
    # The lines to add for a remedy that measured ``cooperates`` and came with its code
    # (greenify: the library's path pattern), printed verbatim (never wrapped).
    remedy_code: tuple[tuple[str, tuple[str, ...]], ...] = ()  # (label, lines)

    @property
    def empty(self) -> bool:
        return not (self.findings or self.probes or self.remedies or self.known)


def _exception_fact(e: ev.ImportFailure | ev.RaisedException) -> str | None:
    """``exception: LoopExit: This operation would block forever``."""
    if not e.exception:
        return None
    text = e.exception
    if e.message and e.message not in text:
        text = f"{text}: {e.message}"
    return f"exception: {shorten(text, 300)}"


def _generic(facts: list[str], **values: object) -> None:
    """Evidence without dedicated wording: ``key: value``, in key order, unset ones left out."""
    for key in sorted(values):
        value = values[key]
        if value is None or value == "" or value == [] or value == ():
            continue
        facts.append(f"{key}: {compact(value)}")


def _child_end_facts(e: ev.ChildEnd, facts: list[str], blocks: list[Block]) -> None:
    if e.signal:
        facts.append(f"killed by {e.signal}")
    if e.signal or e.stack or e.end:
        facts.append(f"ran for {e.duration_s} s")
    if e.stack:
        blocks.append(Block("stack", *_last(e.stack)))
    for title, text in (("stderr", e.stderr), ("stdout", e.stdout)):
        if text:
            blocks.append(Block(title, *_last(text)))


def _last(value: object) -> tuple[tuple[str, ...], int]:
    lines, omitted = last_lines(value)
    return tuple(lines), omitted


def _native_facts(e: ev.NativeCode, facts: list[str]) -> None:
    """A native finding in at most ~5 lines: the module, its chain, its I/O calls (the
    secondary poll/sleep/wait imports are in the JSON), the helper libraries once."""
    linked = [lib for lib in e.libraries if not lib.embedded]
    if linked:
        facts.append("links: " + list_phrase(library_names(e), 6))
    if e.chain:
        facts.append("chain: " + " → ".join(e.chain))
    elif e.via:
        via = [str(item.get("file", "")).replace("\\", "/").rsplit("/", 1)[-1]
               for item in e.via]
        facts.append("loads bundled: " + list_phrase(via, 4))
    primary = {c: names for c, names in e.symbols.items() if c not in SECONDARY_SYMBOL_CATEGORIES}
    if primary:
        facts.append("native calls: " + symbol_groups(ev.NativeCode(file=e.file,
                                                                    symbols=primary)))
    if e.copies:
        facts.append(f"same file as: {list_phrase([short_path(c) for c in e.copies], 3)}")
    if e.bundles:
        facts.append("also bundles (network calls of their own, not counted): "
                     + bundles_phrase(e))


def _evidence_facts(finding: Finding, probe_linked: bool) -> tuple[list[str], list[Block]]:
    e = finding.evidence
    facts: list[str] = []
    blocks: list[Block] = []
    if isinstance(e, (ev.ImportFailure, ev.RaisedException)):
        fact = _exception_fact(e)
        if fact:
            facts.append(fact)
        if isinstance(e, ev.ImportFailure):
            _generic(facts, module=e.module)
        if e.traceback:
            blocks.append(Block("traceback", *_last(e.traceback)))
    elif isinstance(e, ev.ChildEnd):
        _child_end_facts(e, facts, blocks)
        _generic(facts, end=e.end)
        # blocks: stack first, then the output tails (as before the split)
    elif isinstance(e, ev.OrderSensitive):
        if e.ended is not None:
            _child_end_facts(e.ended, facts, blocks)
        _generic(facts, end=None if e.ended is None else e.ended.end, module=e.module)
    elif isinstance(e, ev.StaleReferences):
        if e.references:
            facts.append("stale references: " + list_phrase(stale_names(e), 6))
    elif isinstance(e, ev.NativeCode):
        _native_facts(e, facts)
    elif isinstance(e, ev.NativeThreads):
        if e.native_threads:
            facts.append(f"native threads started: {e.native_threads}")
        if e.started_by:
            facts.append("started while importing other distributions: " + ", ".join(
                f"{name} {count}" for name, count in e.started_by.items()))
        if e.python_threads:
            facts.append("Python threads started: " + list_phrase(list(e.python_threads), 6))
    elif isinstance(e, ev.Warnings):
        facts += [f"warning: {shorten(w.text, 300)}" for w in e.warnings]
        _generic(facts, module=e.module)
    elif isinstance(e, ev.VersionMismatch):
        _generic(facts, installed=e.installed, required=e.required)
    elif isinstance(e, ev.InstallFailed):
        _generic(facts, installer=e.installer)
    elif isinstance(e, ev.Instrument):
        _generic(facts, controls=dict(e.controls) or None, controls_ok=e.controls_ok)
    elif isinstance(e, ev.GeventPluginEvidence):
        _generic(facts, error=e.error, event=e.event, group=e.group, name=e.name, value=e.value)
        if e.traceback:
            blocks.append(Block("traceback", *_last(e.traceback)))
    elif isinstance(e, ev.ProbeRef):
        if not probe_linked:  # the report has no measurement for it: say which it was
            _generic(facts, probe=e.label)
    elif isinstance(e, ev.SuiteStalls):
        facts += _suite_facts(e)
    elif isinstance(e, ev.UnknownEvidence):
        _generic(facts, **{str(k): v for k, v in e.data.items()})
    return facts, blocks


def _suite_facts(e: ev.SuiteStalls) -> list[str]:
    kind = (f", {e.cpu_bound} of them CPU-bound" if e.cpu_bound else "")
    facts = [f"{e.stalls} stall{'s' if e.stalls != 1 else ''} over {e.limit_ms:g} ms, worst "
             f"{e.worst_ms:.0f} ms, total {e.total_ms:.0f} ms{kind}"]
    if e.worst_location:
        facts.append(f"worst at {e.worst_location}")
    if e.via:
        facts.append("blocked in: " + list_phrase(list(e.via), 4))
    if e.tests:
        facts.append("tests: " + list_phrase(list(e.tests), 5))
    if e.report:
        facts.append(f"from {short_path(e.report)}")
    return facts


def finding_view(result: DistributionResult, finding: Finding) -> FindingView:
    probe = probe_for(result, finding)
    facts, blocks = _evidence_facts(finding, probe_linked=probe is not None)
    if probe is not None:
        sentence = measurement_sentence(probe.plain)
        said = (
            probe.plain.outcome in (Outcome.SKIPPED, Outcome.BREAKS, Outcome.INCONCLUSIVE)
            and error_headline(probe.plain.error or "") in finding.summary
        )
        if not said:  # a skipped/broken probe's reason is already the finding's summary
            facts.insert(0, f"probe {probe.label} {sentence}")
        error_lines = as_lines(probe.plain.error)
        if probe.plain.outcome is Outcome.BREAKS and len(error_lines) > 1:
            lines, omitted = last_lines(error_lines)
            blocks.insert(0, Block("traceback", tuple(lines), omitted))
        if probe.plain.stack:
            lines, omitted = last_lines(probe.plain.stack)
            blocks.insert(0, Block("blocking stack", tuple(lines), omitted))
    return FindingView(
        code=finding.code,
        severity=finding.severity.label,
        summary=finding.summary,
        facts=tuple(facts),
        blocks=tuple(blocks),
        hint=finding.hint,
        waived=finding.waived,
    )


#: a module's verdict word from its worst finding's severity (none: what its probes measured)
_MODULE_WORD = {severity: verdict.value for severity, verdict in SEVERITY_VERDICT.items()}


def _stdlib_group(finding: Finding) -> str:
    probe = finding.evidence.probe if isinstance(finding.evidence, ev.ProbeRef) else ""
    return stdlib_module(probe) if probe else finding.check


def detail_view(result: DistributionResult) -> DetailView:
    linked = {(p.probe, p.order) for p in (probe_for(result, f) for f in result.findings) if p}
    probes = tuple(
        f"probe {p.label} {measurement_sentence(p.plain)}"
        for p in result.probes
        if (p.probe, p.order) not in linked
    )
    remedies = tuple(
        (f"{p.label}: " if len(result.probes) > 1 else "") + remedy_sentence(p.plain, m)
        for p in result.probes
        for m in p.remedies
    )
    order = sorted(result.findings, key=lambda f: (-int(f.severity), f.code))
    modules: tuple[str, ...] = ()
    if result.key == STDLIB:  # its probes grouped by module, the worst module first
        worst: dict[str, Severity] = {}
        for f in order:
            group = _stdlib_group(f)
            worst[group] = max(worst.get(group, Severity.INFO), f.severity)
        order.sort(key=lambda f: (-worst[_stdlib_group(f)], _stdlib_group(f)))
        verdicts = {stdlib_module(p.probe): p.plain.outcome for p in result.probes}
        modules = tuple(
            f"{m} {_MODULE_WORD.get(worst[m]) or verdicts.get(m, Outcome.COOPERATES).value}"
            for m in sorted(worst, key=lambda m: (-worst[m], m)))
    findings = tuple(finding_view(result, f) for f in order)
    code = tuple(dict.fromkeys(
        (m.remedy or "remedy", m.remedy_lines) for p in result.probes for m in p.remedies
        if m.remedy_lines and m.outcome.passed))
    return DetailView(
        remedy_code=code,
        result=result,
        findings=findings,
        probes=probes,
        remedies=remedies,
        known=tuple(known_sentence(k) for k in result.known),
        modules=modules,
        known_title=(
            _NOT_MEASURED
            if all(k.get("status", _NOT_MEASURED) == _NOT_MEASURED for k in result.known)
            else "known upstream"
        ),
    )


def needs_details(result: DistributionResult) -> bool:
    """Non-clean verdicts get a details section (when there is anything to say)."""
    return result.verdict is not Verdict.COOPERATES and not detail_view(result).empty


def plain_details(result: DistributionResult, *, include_header: bool = True) -> str:
    """Plain-text details of one distribution (JUnit bodies, SARIF/annotation messages)."""
    view = detail_view(result)
    out: list[str] = []
    if include_header:
        head = f"{display_name(result)}: {result.verdict.value}"
        if result.origin:
            head += f" ({result.origin})"
        out.append(head)
    if view.modules:
        out.append("by module: " + ", ".join(view.modules))
    for f in view.findings:
        line = f"{f.code} [{f.severity}] {f.summary}"
        if f.waived:
            line += f" (waived: {f.waived})"
        out.append(line)
        out.extend(f"  {fact}" for fact in f.facts)
        for block in f.blocks:
            title = f"  {block.title}:"
            if block.omitted:
                title += f" (last {len(block.lines)} of {len(block.lines) + block.omitted} lines)"
            out.append(title)
            out.extend(f"    {line}" for line in block.lines)
        if f.hint:
            out.append(f"  hint: {f.hint}")
    if view.probes:
        out.append("probes:")
        out.extend(f"  {p}" for p in view.probes)
    if view.remedies:
        out.append("remedies measured:")
        out.extend(f"  {r}" for r in view.remedies)
    for label, lines in view.remedy_code:
        out.append(f"to apply {label}, add after patch_all():")
        out.extend(f"  {line}" for line in lines)
    if view.known:
        out.append(f"{view.known_title}:")
        out.extend(f"  - {k}" for k in view.known)
    return "\n".join(out)
