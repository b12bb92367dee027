"""Format-neutral views of a report: the words every reporter shares.

Each reporter decides *layout* (columns, Markdown, XML); what a finding's evidence says in
words is decided here once, so the terminal, the PR comment and the CI annotation agree.

Evidence keys this module recognises (a finding's ``evidence`` is free-form JSON; these keys
get dedicated wording, any other key is shown as ``key: value``):

=================  =====================================================================
``max_gap_ms``     largest heartbeat gap (the hub stall), with ``ratio``, ``cpu_ms``,
                   ``wait_ms``, ``concurrency``, ``elapsed_ms`` (used when no probe
                   outcome is linked to the finding)
``stack``          blocking stack (list of lines or one string); the last lines are shown
``exception``      ``"Type: message"``; ``exception_type`` alone also works
``traceback``      list of lines or one string; the last lines are shown
``stale``          stale references: strings ``"redis.connection.socket"`` or objects
                   ``{"module": ..., "name": ..., "original": ...}``
``symbols``        libc calls an extension module imports (``connect``, ``recv``…)
``libraries``      client libraries an extension module links (``libpq.so.5``…)
``extension``      the extension module file
``threads``        native threads started at import (names)
``warnings``       warning texts (``warning`` for one)
``service``        the missing service (skipped), with ``install_hint``
``stderr_tail``    the child's last stderr lines (crash, hang)
=================  =====================================================================

A finding whose ``check`` is ``probe:<name>`` is linked to the ``ProbeOutcome`` of that name,
whose measurement is shown instead of the ``max_gap_ms``… keys.
"""
from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from typing import Any, Iterable, Mapping, Sequence

from patchcheck.model import (
    DistributionResult,
    Environment,
    Finding,
    Measurement,
    ProbeOutcome,
    ScanReport,
    Severity,
    Verdict,
)

#: Verdicts worst first: the order of summary counts.
VERDICTS_WORST_FIRST: tuple[Verdict, ...] = (
    Verdict.BREAKS,
    Verdict.BLOCKS,
    Verdict.WARNS,
    Verdict.UNTESTED,
    Verdict.SKIPPED,
    Verdict.NOT_INSTALLED,
    Verdict.COOPERATES,
)

#: How many lines of a stack or traceback reporters show (the innermost ones).
STACK_LINES = 8

_HANDLED_KEYS = frozenset(
    {
        "max_gap_ms", "ratio", "cpu_ms", "wait_ms", "concurrency", "elapsed_ms", "stack",
        "exception", "exception_type", "traceback", "stale", "symbols", "libraries",
        "extension", "threads", "warnings", "warning", "service", "install_hint",
        "stderr_tail",
    }
)


# --- small text helpers --------------------------------------------------------------------


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
    """One line, at most ``limit`` characters, with an ellipsis when cut."""
    text = " ".join(str(text).split())
    if limit <= 0:
        return ""
    if len(text) <= limit:
        return text
    return text[: max(limit - 1, 0)] + "…"


def shorten_code(line: str, limit: int) -> str:
    """Cut a verbatim line (indentation kept) to ``limit`` characters."""
    line = line.rstrip().expandtabs(4)
    if len(line) <= limit:
        return line
    return line[: max(limit - 1, 0)] + "…"


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


def exception_type(text: str) -> str:
    """``"RecursionError: maximum…"`` → ``"RecursionError"``; a dotted path keeps its tail."""
    head = str(text).strip().splitlines()[0] if str(text).strip() else ""
    match = re.match(r"^([A-Za-z_][\w.]*)(?::|$)", head)
    if match:
        return match.group(1).rsplit(".", 1)[-1]
    return shorten(head, 40)


def stale_names(value: Any) -> list[str]:
    names: list[str] = []
    if isinstance(value, Mapping):
        value = [value]
    if not isinstance(value, (list, tuple)):
        return [str(value)] if value else []
    for item in value:
        if isinstance(item, Mapping):
            holder = item.get("module") or item.get("holder") or item.get("where") or ""
            name = item.get("name") or item.get("attr") or ""
            names.append(".".join(p for p in (str(holder), str(name)) if p) or compact(item, 60))
        else:
            names.append(str(item))
    return names


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


# --- report-level lines ----------------------------------------------------------------------


def verdict_counts(report: ScanReport) -> list[tuple[Verdict, int]]:
    counts = {v: 0 for v in VERDICTS_WORST_FIRST}
    for result in report.results:
        counts[result.verdict] += 1
    return [(v, counts[v]) for v in VERDICTS_WORST_FIRST if counts[v]]


def summary_line(report: ScanReport) -> str:
    total = len(report.results)
    noun = "distribution" if total == 1 else "distributions"
    parts = ", ".join(f"{n} {v.value}" for v, n in verdict_counts(report))
    line = f"{total} {noun}"
    if report.duration_s:
        line += f" in {report.duration_s:.1f} s"
    return line + (f": {parts}" if parts else "")


def environment_line(env: Environment) -> str:
    impl = env.implementation or "Python"
    python = f"{impl} {env.python_version}" if impl != "Python" else f"Python {env.python_version}"
    parts = [python, f"gevent {env.gevent_version or 'not installed'}",
             f"greenlet {env.greenlet_version or 'not installed'}"]
    line = "measured on " + ", ".join(parts)
    if env.platform:
        line += f" ({env.platform})"
    if env.patch_args:
        args = ", ".join(f"{k}={v!r}" for k, v in sorted(env.patch_args.items()))
        line += f"; patch_all({args})"
    return line


def control_line(report: ScanReport) -> str | None:
    if not report.controls:
        return None
    parts = [f"{c.probe} {c.plain.outcome} ({measurement_phrase(c.plain)})" for c in report.controls]
    return "controls: " + "; ".join(parts)


# --- measurements and probes -----------------------------------------------------------------


def measurement_phrase(m: Measurement) -> str:
    """``stall 503 ms, ratio 2.9×`` — or the error for a measurement that broke."""
    if m.outcome == "breaks" and m.error:
        return exception_type(m.error)
    if m.outcome == "skipped":
        return m.error or "skipped"
    phrase = f"stall {ms(m.max_gap_ms)}, ratio {ratio(m.ratio)}"
    if m.outcome == "cpu-bound":
        phrase += f", cpu {ms(m.cpu_ms)}"
    return phrase


def measurement_sentence(m: Measurement) -> str:
    """The full measurement in one sentence, for details."""
    if m.outcome == "breaks":
        return f"{m.outcome}: {m.error or 'no error text'}"
    if m.outcome == "skipped":
        return f"skipped: {m.error or 'no reason given'}"
    waits = f"{m.concurrency} × {ms(m.wait_ms)} waits" if m.concurrency else "waits"
    return (
        f"{m.outcome}: {waits} took {ms(m.elapsed_ms)} (ratio {ratio(m.ratio)}), "
        f"hub stalled up to {ms(m.max_gap_ms)}, cpu {ms(m.cpu_ms)}"
    )


def remedy_sentence(plain: Measurement, remedy: Measurement) -> str:
    """``blocks (stall 503 ms) → cooperates with psycogreen… (stall 6 ms)``."""
    label = remedy.remedy or "remedy"
    return (
        f"{plain.outcome} ({measurement_phrase(plain)}) → {remedy.outcome} with {label} "
        f"({measurement_phrase(remedy)})"
    )


def probe_for(result: DistributionResult, finding: Finding) -> ProbeOutcome | None:
    if not finding.check.startswith("probe:"):
        return None
    name = finding.check[len("probe:"):]
    for probe in result.probes:
        if probe.probe == name:
            return probe
    return None


def _worst_probe(result: DistributionResult, outcome: str) -> ProbeOutcome | None:
    candidates = [p for p in result.probes if p.plain.outcome == outcome]
    if not candidates:
        return None
    return max(candidates, key=lambda p: (p.plain.max_gap_ms, p.plain.ratio))


# --- the row's "key evidence" ----------------------------------------------------------------


def _worst_findings(result: DistributionResult) -> list[Finding]:
    active = [f for f in result.findings if not f.waived] or list(result.findings)
    return sorted(active, key=lambda f: -int(f.severity))


def _warn_parts(findings: Iterable[Finding]) -> list[str]:
    parts: list[str] = []
    for f in findings:
        ev = f.evidence
        if ev.get("stale"):
            parts.append("stale: " + list_phrase(stale_names(ev["stale"]), 2))
        elif ev.get("symbols"):
            parts.append("native: " + list_phrase([str(s) for s in ev["symbols"]], 3))
        elif ev.get("libraries"):
            parts.append("links: " + list_phrase([str(s) for s in ev["libraries"]], 2))
        elif ev.get("threads"):
            parts.append("threads: " + list_phrase([str(s) for s in ev["threads"]], 2))
        else:
            parts.append(f.summary)
    return list(dict.fromkeys(parts))  # de-duplicated, order kept


def key_evidence(result: DistributionResult) -> str:
    """The few words for the table row: why this verdict."""
    verdict = result.verdict
    findings = _worst_findings(result)
    if verdict is Verdict.BLOCKS:
        probe = _worst_probe(result, "blocks") or _worst_probe(result, "cpu-bound")
        if probe is not None:
            return measurement_phrase(probe.plain)
        for f in findings:
            if "max_gap_ms" in f.evidence:
                phrase = f"stall {ms(f.evidence['max_gap_ms'])}"
                if "ratio" in f.evidence:
                    phrase += f", ratio {ratio(f.evidence['ratio'])}"
                return phrase
        return findings[0].summary if findings else "hub stalled"
    if verdict is Verdict.BREAKS:
        for f in findings:
            if f.severity is not Severity.BREAKS:
                continue
            if f.evidence.get("exception_type"):
                return str(f.evidence["exception_type"])
            if f.evidence.get("exception"):
                return exception_type(str(f.evidence["exception"]))
            probe = probe_for(result, f)
            if probe is not None and probe.plain.error:
                return exception_type(probe.plain.error)
            return f.summary
        return "breaks"
    if verdict is Verdict.WARNS:
        warn = [f for f in findings if f.severity is Severity.WARNING] or findings
        return "; ".join(_warn_parts(warn)) or "warnings"
    if verdict is Verdict.COOPERATES:
        probe = _worst_probe(result, "cooperates")
        if probe is not None:
            return measurement_phrase(probe.plain)
        return "imports cleanly"
    if verdict is Verdict.SKIPPED:
        for f in findings:
            if f.evidence.get("service"):
                return f"needs {f.evidence['service']}"
        return findings[0].summary if findings else "skipped"
    if verdict is Verdict.NOT_INSTALLED:
        return result.requirement or "not in the target environment"
    # untested
    known = [k.get("finding") for k in result.known if k.get("finding")]
    if known:
        return f"no probe; known: {known[0]}"
    return "no probe for it"


# --- details ------------------------------------------------------------------------------


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

    @property
    def empty(self) -> bool:
        return not (self.findings or self.probes or self.remedies or self.known)


def _evidence_facts(ev: Mapping[str, Any], *, probe_linked: bool) -> tuple[list[str], list[Block]]:
    facts: list[str] = []
    blocks: list[Block] = []
    if not probe_linked and "max_gap_ms" in ev:
        parts = [f"hub stalled up to {ms(ev['max_gap_ms'])}"]
        if "ratio" in ev:
            parts.append(f"ratio {ratio(ev['ratio'])}")
        if "concurrency" in ev and "wait_ms" in ev:
            parts.append(f"{ev['concurrency']} × {ms(ev['wait_ms'])} waits")
        if "elapsed_ms" in ev:
            parts.append(f"took {ms(ev['elapsed_ms'])}")
        if "cpu_ms" in ev:
            parts.append(f"cpu {ms(ev['cpu_ms'])}")
        facts.append("measured: " + ", ".join(parts))
    if ev.get("exception"):
        facts.append(f"exception: {shorten(str(ev['exception']), 300)}")
    elif ev.get("exception_type"):
        facts.append(f"exception: {ev['exception_type']}")
    if ev.get("stale"):
        facts.append("stale references: " + list_phrase(stale_names(ev["stale"]), 6))
    if ev.get("symbols"):
        facts.append("native calls: " + list_phrase([str(s) for s in ev["symbols"]], 8))
    if ev.get("libraries"):
        facts.append("links: " + list_phrase([str(s) for s in ev["libraries"]], 6))
    if ev.get("extension"):
        facts.append(f"extension: {ev['extension']}")
    if ev.get("threads"):
        facts.append("native threads: " + list_phrase([str(s) for s in ev["threads"]], 6))
    for text in as_lines(ev.get("warnings")) + as_lines(ev.get("warning")):
        facts.append(f"warning: {shorten(text, 300)}")
    if ev.get("service"):
        facts.append(f"needs service: {ev['service']}")
    if ev.get("install_hint"):
        facts.append(f"get it: {ev['install_hint']}")
    for key in sorted(k for k in ev if k not in _HANDLED_KEYS):
        facts.append(f"{key}: {compact(ev[key])}")
    if not probe_linked and ev.get("stack"):
        lines, omitted = last_lines(ev["stack"])
        blocks.append(Block("blocking stack", tuple(lines), omitted))
    if ev.get("traceback"):
        lines, omitted = last_lines(ev["traceback"])
        blocks.append(Block("traceback", tuple(lines), omitted))
    if ev.get("stderr_tail"):
        lines, omitted = last_lines(ev["stderr_tail"])
        blocks.append(Block("stderr", tuple(lines), omitted))
    return facts, blocks


def finding_view(result: DistributionResult, finding: Finding) -> FindingView:
    probe = probe_for(result, finding)
    facts, blocks = _evidence_facts(finding.evidence, probe_linked=probe is not None)
    if probe is not None:
        if probe.plain.error and str(finding.evidence.get("exception", "")) == probe.plain.error:
            facts = [f for f in facts if not f.startswith("exception: ")]  # said just below
        facts.insert(0, f"probe {probe.probe} {measurement_sentence(probe.plain)}")
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


def known_sentence(entry: Mapping[str, Any]) -> str:
    finding = entry.get("finding") or "noted"
    versions = entry.get("versions")
    text = f"{finding}"
    if versions:
        text += f" ({versions})"
    if entry.get("summary"):
        text += f": {entry['summary']}"
    if entry.get("remedy"):
        text += f"; remedy: {entry['remedy']}"
    links = entry.get("evidence") or ()
    if isinstance(links, str):
        links = [links]
    if links:
        text += " — " + ", ".join(str(link) for link in links)
    return text


def detail_view(result: DistributionResult) -> DetailView:
    linked = {f.check[len("probe:"):] for f in result.findings if f.check.startswith("probe:")}
    probes = tuple(
        f"probe {p.probe} {measurement_sentence(p.plain)}"
        for p in result.probes
        if p.probe not in linked
    )
    remedies = tuple(
        (f"{p.probe}: " if len(result.probes) > 1 else "") + remedy_sentence(p.plain, m)
        for p in result.probes
        for m in p.remedies
    )
    findings = tuple(
        finding_view(result, f)
        for f in sorted(result.findings, key=lambda f: (-int(f.severity), f.code))
    )
    return DetailView(
        result=result,
        findings=findings,
        probes=probes,
        remedies=remedies,
        known=tuple(known_sentence(k) for k in result.known),
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
    if view.known:
        out.append("known, not measured here:")
        out.extend(f"  - {k}" for k in view.known)
    return "\n".join(out)
