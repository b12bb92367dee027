"""Format-neutral views of a report: the words every reporter shares.

Each reporter decides *layout* (columns, Markdown, XML); what a finding's evidence says in
words is decided here once, so the terminal, the PR comment and the CI annotation agree.

Evidence keys this module recognises (a finding's ``evidence`` is free-form JSON; these keys
get dedicated wording, any other key is shown as ``key: value``). They follow what
``patchcheck.verdicts.fold`` and ``patchcheck.targets.native`` write:

====================  ===============================================================
probe measurement     ``outcome``, ``max_gap_ms``, ``ratio``, ``cpu_ms``, ``wait_ms``,
                      ``concurrency``, ``elapsed_ms``, ``stack``, ``error``, ``remedy``,
                      ``remedies``, ``probe`` (a ``probe:<name>`` finding carries its
                      ``Measurement.to_json()``; ``result.probes`` wins when present)
``exception``         exception type (or ``"Type: message"``), with ``message``
``traceback``         list of lines or one string; the last lines are shown
``stack``             a stack (monitor report or faulthandler dump); last lines shown
``stderr``/``stdout``  the child's output tails (crash, hang)
``references``        stale references: ``{"holder", "name", "original"}`` objects or
                      ``"module.name"`` strings (``stale`` is accepted too)
``symbols``           libc calls of an extension: ``{category: [names]}`` or a list
``libraries``         client libraries it links: ``{"name", "soname"}`` objects or names
``file``/``via``      the shared object, and bundled libraries it loads
``native_threads``    how many native threads an import started (``python_threads``)
``warnings``          ``{"category", "message"}`` objects or strings
``signal``            the signal that killed the child; ``duration_s`` how long it ran
``service``           the missing service (skipped), with ``install_hint``
====================  ===============================================================

A finding whose ``check`` is ``probe:<name>`` is linked to the ``ProbeOutcome`` of that name;
its measurement is shown as one sentence and its remedies under "remedies measured".
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

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

#: Keys of a probe finding's evidence that repeat its Measurement (shown as one sentence).
_MEASUREMENT_KEYS = frozenset(
    {
        "outcome",
        "wait_ms",
        "concurrency",
        "elapsed_ms",
        "ratio",
        "max_gap_ms",
        "cpu_ms",
        "stack",
        "error",
        "remedy",
        "remedies",
        "probe",
    }
)
_HANDLED_KEYS = _MEASUREMENT_KEYS | frozenset(
    {
        "exception",
        "exception_type",
        "message",
        "traceback",
        "stale",
        "references",
        "symbols",
        "libraries",
        "file",
        "extension",
        "via",
        "native_threads",
        "python_threads",
        "threads",
        "warnings",
        "warning",
        "service",
        "install_hint",
        "stderr",
        "stdout",
        "stderr_tail",
        "duration_s",
        "signal",
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


def error_headline(text: str) -> str:
    """The line that names the exception: the last one of a traceback, else the first."""
    lines = [line.strip() for line in str(text).strip().splitlines() if line.strip()]
    if not lines:
        return ""
    if lines[0].startswith("Traceback") or len(lines) > 1 and not lines[-1].startswith("File "):
        return lines[-1]
    return lines[0]


def exception_type(text: str) -> str:
    """``"RecursionError: maximum…"`` → ``"RecursionError"``; a dotted path keeps its tail;
    a whole traceback gives the type of its last line."""
    head = error_headline(text)
    match = re.match(r"^([A-Za-z_][\w.]*)(?::|$)", head)
    if match:
        return match.group(1).rsplit(".", 1)[-1]
    return shorten(head, 40)


def short_path(path: str) -> str:
    """The part after site-packages (what a reader recognises), else the path as is."""
    norm = str(path).replace("\\", "/")
    for marker in ("/site-packages/", "/dist-packages/"):
        if marker in norm:
            return norm.split(marker, 1)[1]
    return str(path)


def stale_names(value: Any) -> list[str]:
    """``holder.name`` for each stale reference (objects or strings)."""
    names: list[str] = []
    if isinstance(value, Mapping):
        value = [value]
    if not isinstance(value, (list, tuple)):
        return [str(value)] if value else []
    for item in value:
        if isinstance(item, Mapping):
            holder = item.get("holder") or item.get("module") or item.get("where") or ""
            name = item.get("name") or item.get("attr") or ""
            names.append(".".join(p for p in (str(holder), str(name)) if p) or compact(item, 60))
        else:
            names.append(str(item))
    return list(dict.fromkeys(names))


def symbol_names(value: Any) -> list[str]:
    """libc symbol names from ``{category: [names]}`` or a flat list, de-duplicated."""
    if isinstance(value, Mapping):
        flat = [str(n) for names in value.values() for n in (names or ())]
    elif isinstance(value, (list, tuple)):
        flat = [str(n) for n in value]
    else:
        flat = [str(value)] if value else []
    return list(dict.fromkeys(flat))


def symbol_groups(value: Any) -> str:
    """``net: connect, recv; dns: getaddrinfo`` (or a flat list)."""
    if isinstance(value, Mapping):
        return "; ".join(
            f"{category}: {list_phrase([str(n) for n in names], 6)}"
            for category, names in value.items()
            if names
        )
    return list_phrase(symbol_names(value), 8)


def library_names(value: Any) -> list[str]:
    names: list[str] = []
    for item in value if isinstance(value, (list, tuple)) else [value]:
        if isinstance(item, Mapping):
            names.append(str(item.get("name") or item.get("soname") or compact(item, 40)))
        elif item:
            names.append(str(item))
    return list(dict.fromkeys(names))


def warning_texts(value: Any) -> list[str]:
    texts: list[str] = []
    for item in value if isinstance(value, (list, tuple)) else [value]:
        if isinstance(item, Mapping):
            category = str(item.get("category") or "Warning").rsplit(".", 1)[-1]
            texts.append(f"{category}: {item.get('message', '')}")
        elif item:
            texts.append(str(item))
    return texts


def exception_text(ev: Mapping[str, Any]) -> str | None:
    """``"LoopExit: This operation would block forever"`` from ``exception`` (+ ``message``)."""
    exc = ev.get("exception") or ev.get("exception_type")
    if not exc:
        return None
    text = str(exc)
    message = ev.get("message")
    if message and str(message) not in text:
        text = f"{text}: {message}"
    return text


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
    parts = [
        python,
        f"gevent {env.gevent_version or 'not installed'}",
        f"greenlet {env.greenlet_version or 'not installed'}",
    ]
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
    parts = [
        f"{c.probe} {c.plain.outcome} ({measurement_phrase(c.plain)})" for c in report.controls
    ]
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
        return f"{m.outcome}: {error_headline(m.error or '') or 'no error text'}"
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


def _probe_from_evidence(name: str, ev: Mapping[str, Any]) -> ProbeOutcome | None:
    """A probe finding carries its measurement as evidence; rebuild it when the result has
    no ProbeOutcome of that name (a report folded by a plugin, an older cache entry)."""
    if "outcome" not in ev:
        return None
    try:
        plain = Measurement.from_json(ev)
        remedies = tuple(
            Measurement.from_json(r) for r in ev.get("remedies") or () if isinstance(r, Mapping)
        )
    except (KeyError, TypeError, ValueError):
        return None
    return ProbeOutcome(probe=name, origin="", plain=plain, remedies=remedies)


def probe_for(result: DistributionResult, finding: Finding) -> ProbeOutcome | None:
    if not finding.check.startswith("probe:"):
        return None
    name = finding.check[len("probe:") :]
    for probe in result.probes:
        if probe.probe == name:
            return probe
    return _probe_from_evidence(name, finding.evidence)


def all_probes(result: DistributionResult) -> list[ProbeOutcome]:
    """The result's probes, plus those only present as probe findings' evidence."""
    probes = list(result.probes)
    names = {p.probe for p in probes}
    for f in result.findings:
        if f.check.startswith("probe:") and f.check[len("probe:") :] not in names:
            probe = probe_for(result, f)
            if probe is not None:
                probes.append(probe)
                names.add(probe.probe)
    return probes


def _worst_probe(result: DistributionResult, *outcomes: str) -> ProbeOutcome | None:
    candidates = [p for p in all_probes(result) if p.plain.outcome in outcomes]
    if not candidates:
        return None
    return max(candidates, key=lambda p: (p.plain.max_gap_ms, p.plain.ratio))


# --- the row's "key evidence" ----------------------------------------------------------------


def _worst_findings(result: DistributionResult) -> list[Finding]:
    active = [f for f in result.findings if not f.waived] or list(result.findings)
    return sorted(active, key=lambda f: -int(f.severity))


def _breaks_phrase(result: DistributionResult, f: Finding) -> str:
    ev = f.evidence
    if ev.get("signal"):
        return f"crash ({ev['signal']})"
    exc = ev.get("exception") or ev.get("exception_type")
    if exc:
        return exception_type(str(exc))
    probe = probe_for(result, f)
    if probe is not None and probe.plain.error:
        if "did not return" in probe.plain.error or "timed out" in probe.plain.error:
            return "hang"
        return exception_type(probe.plain.error)
    if "duration_s" in ev and "stack" in ev:  # killed on timeout, with a faulthandler dump
        return f"hang (killed after {float(ev['duration_s']):.0f} s)"
    return f.summary


def _warn_phrase(result: DistributionResult, f: Finding) -> str:
    ev = f.evidence
    probe = probe_for(result, f)
    if probe is not None and probe.plain.outcome in ("order-blocks", "blocks"):
        return f"blocks if imported before patch_all ({measurement_phrase(probe.plain)})"
    stale = ev.get("references") or ev.get("stale")
    if stale:
        return "stale: " + list_phrase(stale_names(stale), 2)
    if ev.get("libraries"):
        return "native: links " + list_phrase(library_names(ev["libraries"]), 2)
    if ev.get("symbols"):
        return "native: " + list_phrase(symbol_names(ev["symbols"]), 3)
    if ev.get("native_threads"):
        n = ev["native_threads"]
        return (
            f"starts {n} native thread{'s' if n != 1 else ''}"
            if isinstance(n, int)
            else ("native threads: " + list_phrase(as_lines(n), 2))
        )
    if ev.get("threads"):
        return "native threads: " + list_phrase(as_lines(ev["threads"]), 2)
    warnings = warning_texts(ev.get("warnings") or ev.get("warning"))
    if warnings:
        return exception_type(warnings[0])
    return f.summary


def key_evidence(result: DistributionResult) -> str:
    """The few words for the table row: why this verdict."""
    verdict = result.verdict
    findings = _worst_findings(result)
    instrument = [f for f in result.findings if f.code == "PC003"]
    if instrument:
        if instrument[0].evidence.get("controls_ok"):
            return "the measuring instrument (not judged); the controls measured it working"
        return "the measuring instrument (not judged)"
    if verdict is Verdict.BLOCKS:
        probe = _worst_probe(result, "blocks", "cpu-bound")
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
        phrases = [_breaks_phrase(result, f) for f in findings if f.severity is Severity.BREAKS]
        return "; ".join(dict.fromkeys(phrases)) or "breaks"
    if verdict is Verdict.WARNS:
        warn = [f for f in findings if f.severity is Severity.WARNING] or findings
        return "; ".join(dict.fromkeys(_warn_phrase(result, f) for f in warn)) or "warnings"
    if verdict is Verdict.COOPERATES:
        probe = _worst_probe(result, "cooperates")
        if probe is not None:
            return measurement_phrase(probe.plain)
        return "imports cleanly"
    if verdict is Verdict.SKIPPED:
        for f in findings:
            if f.evidence.get("service"):
                return f"needs {f.evidence['service']}"
            probe = probe_for(result, f)
            if probe is not None and probe.plain.outcome == "skipped" and probe.plain.error:
                return probe.plain.error
        return findings[0].summary if findings else "skipped"
    if verdict is Verdict.NOT_INSTALLED:
        return result.requirement or "not in the target environment"
    # untested
    waived = sorted({f.code for f in result.findings if f.waived})
    if waived:
        return "waived: " + ", ".join(waived)
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
    known_title: str = "known, not measured here"

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
    exc = exception_text(ev)
    if exc:
        facts.append(f"exception: {shorten(exc, 300)}")
    if ev.get("signal"):
        facts.append(f"killed by {ev['signal']}")
    if ev.get("duration_s") is not None and (ev.get("signal") or ev.get("stack") or ev.get("end")):
        facts.append(f"ran for {ev['duration_s']} s")
    stale = ev.get("references") or ev.get("stale")
    if stale:
        facts.append("stale references: " + list_phrase(stale_names(stale), 6))
    if ev.get("libraries"):
        facts.append("links: " + list_phrase(library_names(ev["libraries"]), 6))
    if ev.get("symbols"):
        facts.append("native calls: " + symbol_groups(ev["symbols"]))
    file = ev.get("file") or (ev.get("extension") if isinstance(ev.get("extension"), str) else None)
    if file:
        facts.append(f"file: {short_path(file)}")
    if ev.get("via"):
        via = [
            str(item.get("file", "")).replace("\\", "/").rsplit("/", 1)[-1]
            if isinstance(item, Mapping)
            else str(item)
            for item in ev["via"]
        ]
        facts.append("loads bundled: " + list_phrase(via, 4))
    if ev.get("native_threads"):
        n = ev["native_threads"]
        facts.append(
            f"native threads started: {n if isinstance(n, int) else list_phrase(as_lines(n), 6)}"
        )
    if ev.get("threads"):
        facts.append("native threads: " + list_phrase(as_lines(ev["threads"]), 6))
    if ev.get("python_threads"):
        facts.append("Python threads started: " + list_phrase(as_lines(ev["python_threads"]), 6))
    for text in warning_texts(ev.get("warnings")) + warning_texts(ev.get("warning")):
        facts.append(f"warning: {shorten(text, 300)}")
    if ev.get("service"):
        facts.append(f"needs service: {ev['service']}")
    if ev.get("install_hint"):
        facts.append(f"get it: {ev['install_hint']}")
    generic = [k for k in ev if k not in _HANDLED_KEYS]
    if not probe_linked:  # no measurement sentence: keep what it would have said
        generic += [k for k in ("outcome", "error", "remedy", "probe") if k in ev]
    for key in sorted(generic):
        if ev[key] is None or ev[key] == "" or ev[key] == []:
            continue
        facts.append(f"{key}: {compact(ev[key])}")
    if not probe_linked and ev.get("stack"):
        lines, omitted = last_lines(ev["stack"])
        title = "blocking stack" if "max_gap_ms" in ev else "stack"
        blocks.append(Block(title, tuple(lines), omitted))
    if ev.get("traceback"):
        lines, omitted = last_lines(ev["traceback"])
        blocks.append(Block("traceback", tuple(lines), omitted))
    for key in ("stderr", "stderr_tail", "stdout"):
        if ev.get(key):
            lines, omitted = last_lines(ev[key])
            blocks.append(Block(key.replace("_tail", ""), tuple(lines), omitted))
    return facts, blocks


def finding_view(result: DistributionResult, finding: Finding) -> FindingView:
    probe = probe_for(result, finding)
    facts, blocks = _evidence_facts(finding.evidence, probe_linked=probe is not None)
    if probe is not None:
        if probe.plain.error and str(finding.evidence.get("exception", "")) == probe.plain.error:
            facts = [f for f in facts if not f.startswith("exception: ")]  # said just below
        sentence = measurement_sentence(probe.plain)
        said = (
            probe.plain.outcome in ("skipped", "breaks")
            and error_headline(probe.plain.error or "") in finding.summary
        )
        if not said:  # a skipped/broken probe's reason is already the finding's summary
            facts.insert(0, f"probe {probe.probe} {sentence}")
        error_lines = as_lines(probe.plain.error)
        if probe.plain.outcome == "breaks" and len(error_lines) > 1:
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


_NOT_MEASURED = "known, not measured here"


def known_sentence(entry: Mapping[str, Any]) -> str:
    finding = entry.get("finding") or "noted"
    versions = entry.get("versions")
    text = f"{finding}"
    status = entry.get("status")
    if status and status != _NOT_MEASURED:
        text = f"[{status}] {text}"
    if versions:
        text += f" ({versions})"
    if entry.get("summary"):
        text += f": {str(entry['summary']).rstrip('.')}"
    if entry.get("remedy"):
        text += f"; remedy: {entry['remedy']}"
    links = entry.get("evidence") or ()
    if isinstance(links, str):
        links = [links]
    if links:
        text += " — " + ", ".join(str(link) for link in links)
    return text


def detail_view(result: DistributionResult) -> DetailView:
    linked = {f.check[len("probe:") :] for f in result.findings if f.check.startswith("probe:")}
    probes_all = all_probes(result)
    probes = tuple(
        f"probe {p.probe} {measurement_sentence(p.plain)}"
        for p in probes_all
        if p.probe not in linked
    )
    remedies = tuple(
        (f"{p.probe}: " if len(probes_all) > 1 else "") + remedy_sentence(p.plain, m)
        for p in probes_all
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
        out.append(f"{view.known_title}:")
        out.extend(f"  - {k}" for k in view.known)
    return "\n".join(out)
