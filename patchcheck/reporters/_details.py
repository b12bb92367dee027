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
    AGREES,
    SECONDARY_SYMBOL_CATEGORIES,
    bundles_phrase,
    known_sentence,
    library_names,
    measurement_phrase,
    measurement_sentence,
    probe_for,
    remedy_result,
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
    """Verbatim lines (a stack, a traceback) with a title; ``omitted`` lines were cut above.

    ``lead`` (``"blocked at"``) names the innermost frame when the default (not ``-v``) view
    shows only that frame (``frame_line``); an empty lead: the block is shown as is.
    """

    title: str
    lines: tuple[str, ...]
    omitted: int = 0
    lead: str = ""


@dataclass(frozen=True)
class FindingView:
    code: str
    severity: str
    summary: str
    facts: tuple[str, ...]  # short evidence sentences
    blocks: tuple[Block, ...]  # verbatim evidence
    hint: str | None
    waived: str | None
    #: the linked probe's whole measurement ("probe X blocks: 3 × 300 ms waits took …"); the
    #: summary already says the stall and ratio, so the terminal shows it with -v only
    measurement: str | None = None
    #: evidence shown with -v only: full warning texts, helper libraries a file bundles
    verbose_facts: tuple[str, ...] = ()
    verbose_what: str = "more evidence"  # what ``verbose_facts`` are, in a few words
    #: the whole finding is shown with -v only (``verbose_only``): say why in the "more" line
    verbose_only: bool = False

    @property
    def every_fact(self) -> tuple[str, ...]:
        """The measurement, the facts and the -v facts: what a full report lists."""
        return ((self.measurement,) if self.measurement else ()) + self.facts + self.verbose_facts


@dataclass(frozen=True)
class DetailView:
    result: DistributionResult
    findings: tuple[FindingView, ...]
    probes: tuple[str, ...]  # measurements of probes not linked to a finding
    remedies: tuple[str, ...]  # "blocks (…) → cooperates with X (…)"
    known: tuple[str, ...]  # knowledge entries, one sentence each
    #: the standard library's row: its verdict per module, worst first ("os blocks")
    modules: tuple[str, ...] = ()
    modules_default: tuple[str, ...] = ()  # the same, the cooperating ones only counted
    known_title: str = "known, not measured here"
    #: knowledge entries that add to the measurement (not "agrees"): the default view's
    known_default: tuple[str, ...] = ()
    #: the remedies by probe: ("for PROBE (without one: blocks, stall …)", one result per
    #: remedy); "for PROBE" only when several probes tried remedies
    remedy_groups: tuple[tuple[str, tuple[str, ...]], ...] = ()
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
        blocks.append(Block("stack", *_last(e.stack), lead="waiting at"))
    for title, text in (("stderr", e.stderr), ("stdout", e.stdout)):
        if text:
            blocks.append(Block(title, *_last(text)))


def _last(value: object) -> tuple[tuple[str, ...], int]:
    lines, omitted = last_lines(value)
    return tuple(lines), omitted


def _native_facts(e: ev.NativeCode, facts: list[str], verbose: list[str]) -> None:
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
        verbose.append(f"same file as: {list_phrase([short_path(c) for c in e.copies], 3)}")
    if e.bundles:
        verbose.append("also bundles (network calls of their own, not counted): "
                     + bundles_phrase(e))


def _evidence_facts(finding: Finding, probe_linked: bool
                    ) -> tuple[list[str], list[Block], list[str]]:
    """(facts, verbatim blocks, facts for -v only) of one finding's evidence."""
    e = finding.evidence
    facts: list[str] = []
    blocks: list[Block] = []
    verbose: list[str] = []
    if isinstance(e, (ev.ImportFailure, ev.RaisedException)):
        fact = _exception_fact(e)
        if fact:
            facts.append(fact)
        if isinstance(e, ev.ImportFailure):
            _generic(facts, module=e.module)
        if e.traceback:
            blocks.append(Block("traceback", *_last(e.traceback), lead="raised at"))
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
        _native_facts(e, facts, verbose)
    elif isinstance(e, ev.NativeThreads):
        if e.native_threads:
            facts.append(f"native threads started: {e.native_threads}")
        if e.started_by:
            facts.append("started while importing other distributions: " + ", ".join(
                f"{name} {count}" for name, count in e.started_by.items()))
        if e.python_threads:
            facts.append("Python threads started: " + list_phrase(list(e.python_threads), 6))
    elif isinstance(e, ev.Warnings):
        # The summary quotes the first warning (clipped at a word): the full texts with -v.
        verbose += [f"warning: {w.text}" for w in e.warnings]
        _generic(verbose, module=e.module)
    elif isinstance(e, ev.VersionMismatch):
        _generic(facts, installed=e.installed, required=e.required)
    elif isinstance(e, ev.InstallFailed):
        _generic(facts, installer=e.installer)
    elif isinstance(e, ev.Instrument):
        _generic(facts, controls=dict(e.controls) or None, controls_ok=e.controls_ok)
    elif isinstance(e, ev.GeventPluginEvidence):
        _generic(facts, error=e.error, event=e.event, group=e.group, name=e.name, value=e.value)
        if e.traceback:
            blocks.append(Block("traceback", *_last(e.traceback), lead="raised at"))
    elif isinstance(e, ev.ProbeRef):
        if not probe_linked:  # the report has no measurement for it: say which it was
            _generic(facts, probe=e.label)
    elif isinstance(e, ev.SuiteStalls):
        facts += _suite_facts(e)
    elif isinstance(e, ev.UnknownEvidence):
        _generic(facts, **{str(k): v for k, v in e.data.items()})
    return facts, blocks, verbose


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
    facts, blocks, verbose = _evidence_facts(finding, probe_linked=probe is not None)
    measurement = None
    if probe is not None:
        sentence = measurement_sentence(probe.plain)
        said = (
            probe.plain.outcome in (Outcome.SKIPPED, Outcome.BREAKS, Outcome.INCONCLUSIVE)
            and error_headline(probe.plain.error or "") in finding.summary
        )
        if not said:  # a skipped/broken probe's reason is already the finding's summary
            measurement = f"probe {probe.label} {sentence}"
        error_lines = as_lines(probe.plain.error)
        if probe.plain.outcome is Outcome.BREAKS and len(error_lines) > 1:
            lines, omitted = last_lines(error_lines)
            blocks.insert(0, Block("traceback", tuple(lines), omitted, lead="raised at"))
        if probe.plain.stack:
            lines, omitted = last_lines(probe.plain.stack)
            blocks.insert(0, Block("blocking stack", tuple(lines), omitted, lead="blocked at"))
    return FindingView(
        code=finding.code,
        severity=finding.severity.label,
        summary=finding.summary,
        facts=tuple(facts),
        blocks=tuple(blocks),
        hint=finding.hint,
        waived=finding.waived,
        measurement=measurement,
        verbose_facts=tuple(verbose),
        verbose_what=_VERBOSE_WHAT.get(type(finding.evidence), "more evidence"),
        verbose_only=verbose_only(result, finding),
    )


_VERBOSE_WHAT: dict[type, str] = {ev.Warnings: "the full warning text",
                                  ev.NativeCode: "the libraries it bundles"}

#: Evidence of a suspicion found at import time (what the file links, what the import left
#: behind): a probe's measurement of the same distribution settles it, so after a measured
#: finding at least as severe it is shown with -v only (issue #15: the libc symbol list
#: after a measured ``blocks``).
_SUSPICIONS = (ev.NativeCode, ev.NativeThreads, ev.StaleReferences)
#: Info codes that are news even beside a worse finding: a remedy the project already applies.
_INFO_ALWAYS_SHOWN = frozenset({"PC208"})


def verbose_only(result: DistributionResult, finding: Finding) -> bool:
    """Is ``finding`` shown with -v only? An info finding beside a worse one (a probe that
    cooperates next to one that blocks), an import-level or native suspicion that a
    probe's measurement (a finding as severe or worse) already settled, and gevent's
    instrument row when the controls measured it working."""
    others = [f for f in result.findings if f is not finding]
    if isinstance(finding.evidence, ev.Instrument) and finding.evidence.controls_ok:
        return True  # the row and the "meter checked" line say it: the controls passed
    if finding.severity is Severity.INFO:
        return (finding.code not in _INFO_ALWAYS_SHOWN
                and any(f.severity > Severity.INFO for f in others))
    if not isinstance(finding.evidence, _SUSPICIONS):
        return False
    return any(f.severity >= finding.severity and not f.waived and _measured(result, f)
               for f in others)


def _measured(result: DistributionResult, finding: Finding) -> bool:
    """A probe finding whose probe measured the hub (not skipped, not inconclusive)."""
    probe = probe_for(result, finding)
    return probe is not None and not (probe.plain.outcome.skipped
                                      or probe.plain.outcome.inconclusive)


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
    with_remedies = [p for p in result.probes if p.remedies]
    remedy_groups = tuple(
        ((f"for {p.label} " if len(with_remedies) > 1 else "")
         + f"(without one: {p.plain.outcome.value}, {measurement_phrase(p.plain)})",
         tuple(remedy_result(m) for m in p.remedies))
        for p in with_remedies)
    order = sorted(result.findings, key=lambda f: (-int(f.severity), f.code))
    modules: tuple[str, ...] = ()
    modules_default: tuple[str, ...] = ()
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
        # The default view names the modules with a problem and counts the others.
        clean = [m for m in worst if worst[m] is Severity.INFO
                 and verdicts.get(m, Outcome.COOPERATES) is Outcome.COOPERATES]
        modules_default = tuple(e for e, m in zip(modules, sorted(
            worst, key=lambda m: (-worst[m], m))) if m not in clean)
        if clean:
            modules_default += (f"{len(clean)} more cooperate",)
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
        known_default=tuple(known_sentence(k) for k in result.known
                            if k.get("status") != AGREES),
        remedy_groups=remedy_groups,
        modules=modules,
        modules_default=modules_default,
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
        out.extend(f"  {fact}" for fact in f.every_fact)
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
