"""Triage of the unmeasured (issue #10.3) on in-memory data: order-only findings lead to
``order-sensitive``, the library's own native network I/O to ``suspect``, the rest to
``warns``; ``patches-first`` turns order-only findings into info; ``--fail-on``, baselines,
waivers and the audit's judge step rank the new verdicts through the one rule."""
from __future__ import annotations

import datetime as _dt
from pathlib import Path

import pytest

from patchcheck.audit import AuditRequest, judge
from patchcheck.config import Settings, load_settings
from patchcheck.model import (
    FAIL_ON_LEVELS,
    DistributionResult,
    Environment,
    Finding,
    ImportOrder,
    Measurement,
    Outcome,
    ProbeOutcome,
    ScanReport,
    Severity,
    Verdict,
)
from patchcheck.verdicts import evidence as ev
from patchcheck.verdicts.baseline import Baseline, BaselineEntry, compare, failures
from patchcheck.verdicts.codes import CODES
from patchcheck.verdicts.fold import SEVERITY_VERDICT, fold_verdict, make_finding, with_probes
from patchcheck.verdicts.patches_first import PatchesFirst, apply_patches_first, from_setting
from patchcheck.verdicts.policy import failing

ENV = Environment("/usr/bin/python3", "3.11.7", "CPython", "linux", "26.9.0", "3.2.4")
TODAY = _dt.date(2026, 12, 1)
ORDER_CODES = {"PC110", "PC120", "PC121", "PC206", "PC209"}
SUSPECT_CODES = {"PC140", "PC141"}


def stale() -> Finding:
    return make_finding("PC120", "stale-refs", evidence=ev.StaleReferences(
        (ev.StaleReference(kind="module", holder="lib", name="socket",
                           original="socket.socket"),)))


def native(io: ev.NativeIO, severity: Severity | None = None) -> Finding:
    return make_finding("PC140", "native", severity=severity,
                        evidence=ev.NativeCode(file="/x/_lib.so", io=io,
                                               symbols={"network": ("connect", "recv")}))


def cooperating(order: ImportOrder = ImportOrder.AFTER_PATCH) -> ProbeOutcome:
    m = Measurement(outcome=Outcome.COOPERATES, wait_ms=300, concurrency=3, elapsed_ms=310,
                    ratio=1.0, max_gap_ms=5, cpu_ms=1)
    return ProbeOutcome(probe="lib.call", origin="builtin", plain=m, order=order)


def result(name: str, *findings: Finding, probes: tuple[ProbeOutcome, ...] = (),
           modules: tuple[str, ...] = ()) -> DistributionResult:
    verdict, folded = fold_verdict(findings, probes=probes)
    return DistributionResult(name=name, verdict=verdict, version="1.0", findings=folded,
                              probes=probes, modules=modules or (name,))


def report(*results: DistributionResult) -> ScanReport:
    return ScanReport(environment=ENV, results=results)


# --- the rule ----------------------------------------------------------------------------------


def test_the_ranking_is_the_documented_one() -> None:
    order = [Verdict.COOPERATES, Verdict.UNTESTED, Verdict.ORDER_SENSITIVE, Verdict.WARNS,
             Verdict.SUSPECT, Verdict.BLOCKS, Verdict.BREAKS]
    assert [v.rank for v in order] == sorted(v.rank for v in order)
    assert len({v.rank for v in order}) == len(order)
    assert Verdict.SKIPPED.rank == Verdict.NOT_INSTALLED.rank == Verdict.UNTESTED.rank
    for level in ("order-sensitive", "warns", "suspect", "blocks", "breaks"):
        assert FAIL_ON_LEVELS[level] == Verdict(level).rank


def test_each_code_severity_says_its_verdict() -> None:
    by_code = {c.code: SEVERITY_VERDICT.get(c.severity) for c in CODES.values()}
    assert {c for c, v in by_code.items() if v is Verdict.ORDER_SENSITIVE} == ORDER_CODES
    assert {c for c, v in by_code.items() if v is Verdict.SUSPECT} == SUSPECT_CODES
    assert {c for c, v in by_code.items() if v is Verdict.WARNS} == {
        "PC004", "PC005", "PC104", "PC106", "PC130", "PC207"}
    # every severity but info leads to exactly one verdict, and the labels are the JSON's
    assert set(SEVERITY_VERDICT) == set(Severity) - {Severity.INFO}
    assert {s.label for s in Severity} == {"info", "order-only", "warning", "suspect", "blocks",
                                           "breaks"}
    assert all(Severity.parse(s.label) is s for s in Severity)


def test_stale_references_alone_are_order_sensitive_and_outrank_untested() -> None:
    assert result("a", stale()).verdict is Verdict.ORDER_SENSITIVE


def test_own_socket_calls_are_suspect_but_rust_std_and_helpers_are_info() -> None:
    assert result("a", native(ev.NativeIO.OWN_CALLS)).verdict is Verdict.SUSPECT
    # the native scanner lowers these from typed evidence (NativeCode.io), never from text
    for io in (ev.NativeIO.RUST_STD, ev.NativeIO.BUNDLED_HELPER):
        assert result("a", native(io, Severity.INFO)).verdict is Verdict.UNTESTED


def test_suspect_outranks_warns_and_order_sensitive_and_blocks_outranks_suspect() -> None:
    thread = make_finding("PC130", "threads", evidence=ev.NativeThreads(native_threads=1))
    assert result("a", stale(), thread).verdict is Verdict.WARNS
    assert result("a", stale(), thread, native(ev.NativeIO.OWN_CALLS)).verdict is Verdict.SUSPECT
    blocked = make_finding("PC200", "probe:lib.call", evidence=ev.ProbeRef("lib.call"))
    assert result("a", native(ev.NativeIO.OWN_CALLS), blocked).verdict is Verdict.BLOCKS


def test_a_cooperating_probe_clears_the_suspicion_but_not_the_import_order() -> None:
    r = result("a", native(ev.NativeIO.OWN_CALLS), stale(), probes=(cooperating(),))
    severities = {f.code: f.severity for f in r.findings}
    assert severities == {"PC140": Severity.INFO, "PC120": Severity.ORDER_ONLY}
    assert r.verdict is Verdict.ORDER_SENSITIVE


def test_blocking_only_when_imported_first_is_order_sensitive() -> None:
    after = cooperating()
    m = Measurement(outcome=Outcome.BLOCKS, wait_ms=300, concurrency=3, elapsed_ms=900,
                    ratio=3.0, max_gap_ms=900, cpu_ms=1)
    before = ProbeOutcome(probe="lib.call", origin="builtin", plain=m,
                          order=ImportOrder.BEFORE_PATCH)
    r = with_probes(DistributionResult(name="a", verdict=Verdict.UNTESTED), (after, before))
    assert "PC206" in {f.code for f in r.findings}
    assert r.verdict is Verdict.ORDER_SENSITIVE


# --- --fail-on and baselines ---------------------------------------------------------------


@pytest.mark.parametrize(("fail_on", "failing_names"), [
    ("untested", {"order", "warn", "suspect"}),
    ("order-sensitive", {"order", "warn", "suspect"}),
    ("warns", {"warn", "suspect"}),
    ("suspect", {"suspect"}),
    ("blocks", set()),
])
def test_fail_on_levels_for_the_new_verdicts(fail_on: str, failing_names: set[str]) -> None:
    thread = make_finding("PC130", "threads", evidence=ev.NativeThreads(native_threads=1))
    r = report(result("order", stale()), result("warn", thread),
               result("suspect", native(ev.NativeIO.OWN_CALLS)))
    assert {x.name for x in failing(r, fail_on)} == failing_names


def test_baseline_order_sensitive_to_blocks_is_worse_and_fails_blocks() -> None:
    base = Baseline({"a": BaselineEntry("a", "1.0", Verdict.ORDER_SENSITIVE,
                                        frozenset({"PC120"}))})
    blocked = make_finding("PC200", "probe:lib.call", evidence=ev.ProbeRef("lib.call"))
    now = report(result("a", stale(), blocked))
    diff = compare(now, base)
    assert [(c.before, c.after) for c in diff.worse] == [(Verdict.ORDER_SENSITIVE,
                                                          Verdict.BLOCKS)]
    assert [r.name for r in failures(now, base, "blocks")] == ["a"]
    # a warns baseline entry that is now only order-sensitive got better and fails nothing
    base = Baseline({"a": BaselineEntry("a", "1.0", Verdict.WARNS, frozenset({"PC120"}))})
    later = report(result("a", stale()))
    assert [c.after for c in compare(later, base).better] == [Verdict.ORDER_SENSITIVE]
    assert failures(later, base, "order-sensitive") == []


def test_a_new_order_only_finding_fails_at_order_sensitive_under_a_baseline() -> None:
    base = Baseline({"a": BaselineEntry("a", "1.0", Verdict.ORDER_SENSITIVE,
                                        frozenset({"PC120"}))})
    warned = make_finding("PC110", "import-before",
                          evidence=ev.Warnings((ev.WarningRecord(category="MonkeyPatchWarning",
                                                                 message="ssl"),)))
    now = report(result("a", stale(), warned))
    assert [r.name for r in failures(now, base, "order-sensitive")] == ["a"]
    assert failures(now, base, "warns") == []


# --- patches-first -------------------------------------------------------------------------------


def test_patches_first_turns_order_only_findings_into_info_and_says_why_once() -> None:
    order = from_setting("pyproject.toml:12", "pyproject.toml")
    r = report(result("a", stale(), probes=(cooperating(),)), result("b", stale()),
               result("c", native(ev.NativeIO.OWN_CALLS)))
    out, notes = apply_patches_first(r, order)
    by = {x.name: x for x in out.results}
    assert by["a"].verdict is Verdict.COOPERATES  # what was measured
    assert by["b"].verdict is Verdict.UNTESTED  # nothing was measured
    assert by["c"].verdict is Verdict.SUSPECT  # not an order-only finding: unchanged
    assert all(f.severity is Severity.INFO for x in ("a", "b") for f in by[x].findings)
    note = ("order-only findings shown as info: the project patches first (pyproject.toml:12 "
            "[tool.patchcheck] patches-first)")
    assert notes == [note] and out.notes.count(note) == 1
    again, _ = apply_patches_first(out, order)  # a merged, re-judged report: said once still
    assert again.notes.count(note) == 1


def test_patches_first_keeps_what_the_plugin_saw_imported_early() -> None:
    order = PatchesFirst(why="gevent patched by --patchcheck-patch", who="this test run "
                         "patched first", imported_early=frozenset({"early"}))
    r = report(result("early-lib", stale(), modules=("early",)), result("late", stale()))
    out, notes = apply_patches_first(r, order)
    by = {x.name: x.verdict for x in out.results}
    assert by == {"early-lib": Verdict.ORDER_SENSITIVE, "late": Verdict.UNTESTED}
    assert notes[1] == ("order-only findings kept for early-lib: imported before patch_all() "
                        "in this run")


def test_patches_first_then_waivers_then_fail_on_in_the_judge_step(tmp_path: Path) -> None:
    r = report(result("a", stale()), result("b", native(ev.NativeIO.OWN_CALLS)))
    plain = judge(AuditRequest(settings=Settings(fail_on="order-sensitive")), r, today=TODAY)
    assert set(plain.failing) == {"a", "b"} and plain.order_notes == ()

    (tmp_path / "pyproject.toml").write_text(
        '[tool.patchcheck]\nfail-on = "order-sensitive"\npatches-first = true\n')
    settings = load_settings({}, {}, tmp_path)
    first = judge(AuditRequest(settings=settings), r, today=TODAY)
    assert set(first.failing) == {"b"}
    assert first.order_notes == ("order-only findings shown as info: the project patches first "
                                 "(pyproject.toml:3 [tool.patchcheck] patches-first)",)
    assert first.order_notes[0] in first.notes


def test_an_explicit_setting_wins_over_what_the_shell_learned(tmp_path: Path) -> None:
    learned = PatchesFirst(why="gevent patched by --patchcheck-patch",
                           who="this test run patched first")
    r = report(result("a", stale()))
    settings = Settings(fail_on="order-sensitive")
    assert AuditRequest(settings=settings, patches_first=learned).order() is learned
    off = load_settings({}, {"PATCHCHECK_PATCHES_FIRST": "no",
                             "PATCHCHECK_FAIL_ON": "order-sensitive"}, tmp_path)
    audit = AuditRequest(settings=off, patches_first=learned)
    assert audit.order() is None
    assert judge(audit, r, today=TODAY).failing == ("a",)


# --- config precedence -------------------------------------------------------------------------


def test_patches_first_precedence_cli_over_env_over_file(tmp_path: Path) -> None:
    s = load_settings({}, {}, tmp_path)
    assert s.patches_first is False and s.origins["patches_first"] == "default"
    (tmp_path / "patchcheck.toml").write_text("patches-first = true\n")
    s = load_settings({}, {}, tmp_path)
    assert s.patches_first is True and s.origins["patches_first"] == "patchcheck.toml:1"
    assert from_setting(s.origins["patches_first"], "patchcheck.toml").why == (
        "patchcheck.toml:1 patches-first")
    s = load_settings({}, {"PATCHCHECK_PATCHES_FIRST": "0"}, tmp_path)
    assert s.patches_first is False and s.origins["patches_first"] == "PATCHCHECK_PATCHES_FIRST"
    s = load_settings({"patches_first": True}, {"PATCHCHECK_PATCHES_FIRST": "0"}, tmp_path)
    assert s.patches_first is True and s.origins["patches_first"] == "--patches-first"


def test_a_bad_patches_first_value_names_the_file_and_line(tmp_path: Path) -> None:
    from patchcheck.errors import ConfigError

    (tmp_path / "patchcheck.toml").write_text('patches-first = "sometimes"\n')
    with pytest.raises(ConfigError) as info:
        load_settings({}, {}, tmp_path)
    assert info.value.message == ("patchcheck.toml:1: patches-first = 'sometimes': expected "
                                  "true or false")
