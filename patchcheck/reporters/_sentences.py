"""Sentences every reporter shares: report lines, measurements, remedies, the row's key
evidence. Reporters decide layout; what a measurement or a finding says in words is decided
here once, so the terminal, the PR comment and the CI annotation agree.
"""
from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from patchcheck.model import (
    DistributionResult,
    Environment,
    Finding,
    Measurement,
    Outcome,
    Phase,
    ProbeOutcome,
    ScanReport,
    Severity,
    Verdict,
)
from patchcheck.reporters._text import error_headline, exception_type, list_phrase, ms, ratio
from patchcheck.verdicts import evidence as ev
from patchcheck.verdicts.fold import SEVERITY_VERDICT

#: Verdicts worst first: the order of summary counts.
VERDICTS_WORST_FIRST: tuple[Verdict, ...] = (
    Verdict.BREAKS,
    Verdict.BLOCKS,
    Verdict.SUSPECT,
    Verdict.WARNS,
    Verdict.ORDER_SENSITIVE,
    Verdict.UNTESTED,
    Verdict.SKIPPED,
    Verdict.NOT_INSTALLED,
    Verdict.COOPERATES,
)


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


def control_line(report: ScanReport, *, verbose: bool = True) -> str | None:
    """What the controls measured: every control when one failed or ``verbose``, else one
    short line (the controls matter when they fail; issue #15)."""
    if not report.controls:
        return None
    if not verbose and all(c.as_expected for c in report.controls):
        ran = [c for c in report.controls if not c.plain.outcome.skipped]
        line = f"meter checked: {len(ran)} control{'s' if len(ran) != 1 else ''} ok"
        skipped = len(report.controls) - len(ran)
        return line + (f" ({skipped} skipped)" if skipped else "")
    parts = [
        f"{c.label} {c.plain.outcome} ({measurement_phrase(c.plain)})" for c in report.controls
    ]
    return "controls: " + "; ".join(parts)


# --- measurements and probes -----------------------------------------------------------------


def measurement_phrase(m: Measurement) -> str:
    """``stall 503 ms, ratio 2.9×`` — or the error for a measurement that broke."""
    if m.outcome is Outcome.BREAKS and m.hung:
        return "hung" + (f" in the {m.phase.value}" if m.phase is not None else "")
    if m.outcome is Outcome.BREAKS and m.error:
        return exception_type(m.error)
    if m.outcome is Outcome.SKIPPED:
        return m.error or "skipped"
    if m.outcome is Outcome.INCONCLUSIVE:
        return _probe_problem(m)
    if m.outcome is Outcome.NOT_TRIED:
        return not_tried_phrase(m)
    phrase = f"stall {ms(m.max_gap_ms)}, ratio {ratio(m.ratio)}"
    if m.outcome is Outcome.CPU_BOUND:
        phrase += f", cpu {ms(m.cpu_ms)}"
    return phrase


def _probe_problem(m: Measurement) -> str:
    """``probe problem in the call: the call did not wait on the peer: …``."""
    if m.starved:  # not the probe's problem: the machine's (runner/probing.starved_twice)
        queued = "" if m.run_queue_ms is None else f" {ms(m.run_queue_ms)}"
        return (f"not measured: the machine was too busy (the hub thread waited{queued} "
                f"for a CPU, twice)")
    where = f" in the {m.phase.value}" if m.phase is not None else ""
    return f"probe problem{where}: {error_headline(m.error or '') or 'no error text'}"


def measurement_sentence(m: Measurement) -> str:
    """The full measurement in one sentence, for details."""
    if m.outcome is Outcome.BREAKS:
        return f"{m.outcome}: {error_headline(m.error or '') or 'no error text'}"
    if m.outcome is Outcome.SKIPPED:
        return f"skipped: {m.error or 'no reason given'}"
    if m.outcome is Outcome.INCONCLUSIVE:
        return f"{m.outcome}: {_probe_problem(m)}"
    if m.outcome is Outcome.NOT_TRIED:
        return f"not tried: {not_tried_phrase(m)}"
    waits = f"{m.concurrency} × {ms(m.wait_ms)} waits" if m.concurrency else "waits"
    again = (", measured again with nothing else running (the first run waited for a CPU)"
             if m.measured_alone else "")
    return (
        f"{m.outcome}: {waits} took {ms(m.elapsed_ms)} (ratio {ratio(m.ratio)}), "
        f"hub stalled up to {ms(m.max_gap_ms)}, cpu {ms(m.cpu_ms)}{again}"
    )


def not_tried_phrase(m: Measurement) -> str:
    """``psycogreen is not installed (pip install psycogreen)``."""
    what = m.not_installed or "the remedy's package"
    return f"{what} is not installed" + (f" ({m.install})" if m.install else "")


def remedy_result(remedy: Measurement) -> str:
    """``cooperates with psycogreen.gevent.patch_psycopg() (stall 6 ms, ratio 1.0×)`` — what
    one remedy measured, below a line that says the plain measurement once."""
    label = remedy.remedy or "remedy"
    if remedy.outcome is Outcome.NOT_TRIED:
        return f"{label}: not tried: {not_tried_phrase(remedy)}"
    return f"{remedy.outcome} with {label} ({measurement_phrase(remedy)})"


def remedy_sentence(plain: Measurement, remedy: Measurement) -> str:
    """``blocks (stall 503 ms) → cooperates with psycogreen… (stall 6 ms)``; a remedy whose
    package is missing: ``psycogreen…: not tried: psycogreen is not installed (pip install …)``."""
    label = remedy.remedy or "remedy"
    if remedy.outcome is Outcome.NOT_TRIED:
        return f"{label}: not tried: {not_tried_phrase(remedy)}"
    return (
        f"{plain.outcome} ({measurement_phrase(plain)}) → {remedy.outcome} with {label} "
        f"({measurement_phrase(remedy)})"
    )


def suite_sentence(e: ev.SuiteStalls) -> str:
    """``blocked the hub 3 times in your test suite, worst 447 ms: tests/x.py::test_y``."""
    times = "once" if e.stalls == 1 else f"{e.stalls} times"
    text = f"blocked the hub {times} in your test suite, worst {ms(e.worst_ms)}"
    return text + (f": {e.worst_test}" if e.worst_test else "")


def suite_phrase(e: ev.SuiteStalls) -> str:
    """``your tests: 3 stalls, worst 447 ms`` (the row's few words)."""
    return f"your tests: {e.stalls} stall{'s' if e.stalls != 1 else ''}, worst {ms(e.worst_ms)}"


def suite_evidence(result: DistributionResult) -> ev.SuiteStalls | None:
    """The team's test suite's stalls in this library (PC210), if ``--stalls`` had any."""
    return next((f.evidence for f in result.findings if isinstance(f.evidence, ev.SuiteStalls)),
                None)


def probe_for(result: DistributionResult, finding: Finding) -> ProbeOutcome | None:
    """The measurement a probe finding (PC200–PC207, PC209) refers to, if the result has it."""
    ref = finding.evidence
    if not isinstance(ref, ev.ProbeRef):
        return None
    return result.probe_outcome(ref.probe, ref.order)


def _worst_probe(result: DistributionResult, *codes: str) -> ProbeOutcome | None:
    """The measurement with the largest stall among those behind findings of ``codes``."""
    candidates = [p for p in (probe_for(result, f) for f in result.findings if f.code in codes)
                  if p is not None]
    if not candidates:
        return None
    return max(candidates, key=lambda p: (p.plain.max_gap_ms, p.plain.ratio))


def stale_names(refs: ev.StaleReferences) -> list[str]:
    """``holder.name`` for each stale reference, de-duplicated."""
    return list(dict.fromkeys(".".join(p for p in (r.holder, r.name) if p)
                              for r in refs.references))


def symbol_names(code: ev.NativeCode) -> list[str]:
    """libc symbol names of every category, de-duplicated."""
    return list(dict.fromkeys(n for names in code.symbols.values() for n in names))


#: The libc categories that make a file a candidate (``targets.native.PRIMARY_CATEGORIES``;
#: a test keeps the two equal): details show these, the JSON has the rest.
PRIMARY_SYMBOL_CATEGORIES: frozenset[str] = frozenset({"network", "dns", "tls"})
#: Context only (``targets.native.BLOCKING_SYMBOLS`` minus the primary ones).
SECONDARY_SYMBOL_CATEGORIES: frozenset[str] = frozenset({"poll", "sleep", "wait"})


def symbol_groups(code: ev.NativeCode) -> str:
    """``net: connect, recv; dns: getaddrinfo``."""
    return "; ".join(f"{category}: {list_phrase(list(names), 6)}"
                     for category, names in code.symbols.items() if names)


def library_names(code: ev.NativeCode) -> list[str]:
    return list(dict.fromkeys(lib.name or lib.soname for lib in code.libraries))


_EXT_SUFFIX = re.compile(r"(\.cpython-[^./]+|\.abi3|\.cp\d+[^./]*)?\.so(\.[0-9.]+)?$")


def native_module(code: ev.NativeCode) -> str:
    """The module a native file is: ``psycopg2/_psycopg.cpython-311-….so`` →
    ``psycopg2._psycopg``; a bundled library keeps its file name."""
    norm = code.file.replace("\\", "/")
    for marker in ("/site-packages/", "/dist-packages/"):
        if marker in norm:
            norm = norm.split(marker, 1)[1]
            break
    else:
        norm = norm.rsplit("/", 1)[-1]
    if not code.extension:
        return norm.rsplit("/", 1)[-1]
    return _EXT_SUFFIX.sub("", norm).replace("/", ".")


def native_lead(code: ev.NativeCode) -> str:
    """The module that does the I/O, then how: ``psycopg2._psycopg → libpq``,
    ``_mysql_connector (embeds libmysqlclient)``."""
    module = native_module(code)
    embedded = [lib.soname for lib in code.libraries if lib.embedded]
    if code.libraries and len(embedded) == len(code.libraries):
        stems = [_lib_stem(lib.name) for lib in code.libraries]
        return f"{module} (embeds {list_phrase(stems, 2)})"
    if code.libraries:
        return f"{module} → " + list_phrase([_lib_stem(lib.name) for lib in code.libraries], 2)
    if code.io is ev.NativeIO.BUNDLED_HELPER:
        return f"{module}: network calls only in bundled helpers"
    if code.io is ev.NativeIO.RUST_STD:
        return f"{module}: Rust std::net imports only"
    return f"{module}: " + list_phrase(symbol_names(code), 3)


def _lib_stem(name: str) -> str:
    """``PostgreSQL client (libpq)`` → ``libpq``."""
    if name.endswith(")") and "(" in name:
        return name[name.rindex("(") + 1:-1].split(",", 1)[0]
    return name


def bundles_phrase(code: ev.NativeCode) -> str:
    """``Kerberos (3 files), SASL (8 files), FIDO`` — copies of one file count once."""
    counts: dict[str, int] = {}
    for helper in code.bundles:
        counts[helper.family] = counts.get(helper.family, 0) + 1
    parts = [f"{family} ({n} files)" if n > 1 else family for family, n in counts.items()]
    return list_phrase(parts, 8)


def threads_phrase(e: ev.NativeThreads) -> str:
    """``starts 2 native threads`` or ``numpy started 1 native thread (imported by it)``."""
    n = e.native_threads
    if n:
        return f"starts {n} native thread{'s' if n != 1 else ''}"
    others = ", ".join(f"{name} {count}" for name, count in e.started_by.items())
    return f"native threads started by its dependencies ({others})" if others else ""


# --- the row's "key evidence" ----------------------------------------------------------------


def _worst_findings(result: DistributionResult) -> list[Finding]:
    active = [f for f in result.findings if not f.waived] or list(result.findings)
    return sorted(active, key=lambda f: -int(f.severity))


_SETUP_PREFIX = "setup: "


def _breaks_phrase(result: DistributionResult, f: Finding) -> str:
    e = f.evidence
    if isinstance(e, ev.ChildEnd) and e.signal:
        return f"crash ({e.signal})"
    if isinstance(e, (ev.ImportFailure, ev.RaisedException)) and e.exception:
        return exception_type(e.exception)
    probe = probe_for(result, f)
    if probe is not None and probe.plain.error:
        if probe.plain.hung:
            return "hang in the " + probe.plain.phase.value if probe.plain.phase else "hang"
        error = probe.plain.error
        # The meter writes a factory's exception as "setup: <Type>: <message>"
        # (harness/pc_meter.py); the type is what the row shows.
        if probe.plain.phase is Phase.FACTORY and error.startswith(_SETUP_PREFIX):
            error = error[len(_SETUP_PREFIX):]
        return exception_type(error)
    if isinstance(e, ev.ChildEnd) and e.stack:  # killed on timeout, with a faulthandler dump
        return f"hang (killed after {e.duration_s:.0f} s)"
    return f.summary


#: The unmeasured verdicts (issue #10.3) and the severity of the findings that explain them.
_TRIAGED: dict[Verdict, Severity] = {
    verdict: severity for severity, verdict in SEVERITY_VERDICT.items()
    if verdict in (Verdict.ORDER_SENSITIVE, Verdict.WARNS, Verdict.SUSPECT)}


def _warn_phrase(result: DistributionResult, f: Finding) -> str:
    e = f.evidence
    probe = probe_for(result, f)
    if probe is not None and probe.plain.outcome is Outcome.BLOCKS:
        return f"blocks if imported before patch_all ({measurement_phrase(probe.plain)})"
    if probe is not None and probe.plain.outcome is Outcome.BREAKS:  # PC209
        return f"breaks if imported before patch_all ({_breaks_phrase(result, f)})"
    if isinstance(e, ev.StaleReferences) and e.references:
        return "stale: " + list_phrase(stale_names(e), 2)
    if isinstance(e, ev.NativeCode) and (e.libraries or e.symbols):
        return "native: " + native_lead(e)
    if isinstance(e, ev.NativeThreads) and (e.native_threads or e.started_by):
        return threads_phrase(e)
    if isinstance(e, ev.Warnings) and e.warnings:
        return exception_type(e.warnings[0].text)
    return f.summary


def key_evidence(result: DistributionResult) -> str:
    """The few words for the table row: why this verdict (what the team's own tests measured
    beside what the probe measured)."""
    suite = suite_evidence(result)
    words = _key_evidence(result, suite is not None)
    if suite is None:
        return words
    if not result.probes:  # the suite's measurement is the only one: say it in full
        return suite_sentence(suite)
    return f"{words}; {suite_phrase(suite)}"


def _key_evidence(result: DistributionResult, has_suite: bool) -> str:
    verdict = result.verdict
    findings = _worst_findings(result)
    instrument = [f.evidence for f in result.findings if isinstance(f.evidence, ev.Instrument)]
    if instrument:
        judged = [f.evidence for f in result.findings
                  if isinstance(f.evidence, (ev.InstrumentIncompatible, ev.InstrumentKnownBug))]
        if judged:
            parts = []
            for e in judged:
                if isinstance(e, ev.InstrumentIncompatible):
                    parts.append(f"needs {e.requires}, has {e.have or 'none'}")
                else:
                    parts.append(f"{e.id} (fixed in {e.fixed_in})")
            return "the measuring instrument: " + "; ".join(dict.fromkeys(parts))
        if instrument[0].controls_ok:
            return "the measuring instrument (not judged); the controls measured it working"
        return "the measuring instrument (not judged)"
    if verdict is Verdict.BLOCKS:
        probe = _worst_probe(result, "PC200", "PC201")
        if probe is not None:
            return measurement_phrase(probe.plain)
        if has_suite:  # blocks because of the suite: the probe (if any) said something else
            measured = [p for p in result.probes if not p.plain.outcome.skipped]
            if measured:
                m = measured[0].plain
                return f"probe {m.outcome} ({measurement_phrase(m)})"
        return findings[0].summary if findings else "hub stalled"
    if verdict is Verdict.BREAKS:
        phrases = [_breaks_phrase(result, f) for f in findings if f.severity is Severity.BREAKS]
        return "; ".join(dict.fromkeys(phrases)) or "breaks"
    if verdict in _TRIAGED:
        warn = [f for f in findings if f.severity is _TRIAGED[verdict]] or findings
        # A measurement leads (PC206/PC209: what importing first did), the suspicions follow.
        warn.sort(key=lambda f: probe_for(result, f) is None)
        phrases = [_warn_phrase(result, f) for f in warn]
        if verdict is Verdict.ORDER_SENSITIVE:
            # Measurements lead (they fit the column): what blocked or broke imported first,
            # then what the right order measured, then the unmeasured order-only findings.
            before = [text for f, text in zip(warn, phrases)
                      if probe_for(result, f) is not None]
            phrases = before + [text for text in phrases if text not in before]
            right = _worst_probe(result, "PC204")
            if right is not None:
                phrases.insert(len(before),
                               f"patched first: {measurement_phrase(right.plain)}")
        return "; ".join(dict.fromkeys(phrases)) or "warnings"
    if verdict is Verdict.COOPERATES:
        probe = _worst_probe(result, "PC204")
        if probe is not None:
            return measurement_phrase(probe.plain)
        return "imports cleanly"
    if verdict is Verdict.SKIPPED:
        for f in findings:
            probe = probe_for(result, f)
            if probe is not None and probe.plain.outcome.skipped and probe.plain.error:
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


# --- knowledge -------------------------------------------------------------------------------


_NOT_MEASURED = "known, not measured here"
#: ``knowledge.matching_entries``' status when the measurement says what the entry says
AGREES = "agrees"


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
