"""The verdict fold on in-memory data: outcome → verdict, the hang and order fields, waivers
through the same verdict function, and every code's evidence surviving JSON."""
from __future__ import annotations

import dataclasses
import json

import pytest

from patchcheck.model import (
    DistributionResult,
    Finding,
    ImportOrder,
    Measurement,
    Outcome,
    ProbeOutcome,
    Severity,
    Verdict,
)
from patchcheck.verdicts import evidence as ev
from patchcheck.verdicts.codes import CODES
from patchcheck.verdicts.fold import fold_verdict, probe_findings, verdict_for, with_probes
from patchcheck.verdicts.policy import effective_verdict


def measured(outcome: Outcome, *, hung: bool = False, error: str | None = None) -> Measurement:
    return Measurement(outcome=outcome, wait_ms=300, concurrency=3, elapsed_ms=900, ratio=2.9,
                       max_gap_ms=500, cpu_ms=10, error=error, hung=hung)


def probe(outcome: Outcome, order: ImportOrder = ImportOrder.AFTER_PATCH, *, name: str = "x.call",
          **kw: object) -> ProbeOutcome:
    return ProbeOutcome(probe=name, origin="builtin", plain=measured(outcome, **kw), order=order)


def result_with(*outcomes: ProbeOutcome) -> DistributionResult:
    return with_probes(DistributionResult(name="lib", verdict=Verdict.UNTESTED), outcomes)


@pytest.mark.parametrize(("outcome", "severity", "verdict", "code"), [
    (Outcome.COOPERATES, Severity.INFO, Verdict.COOPERATES, "PC204"),
    (Outcome.BLOCKS, Severity.BLOCKS, Verdict.BLOCKS, "PC200"),
    (Outcome.CPU_BOUND, Severity.BLOCKS, Verdict.BLOCKS, "PC201"),
    (Outcome.BREAKS, Severity.BREAKS, Verdict.BREAKS, "PC202"),
    (Outcome.SKIPPED, Severity.INFO, Verdict.SKIPPED, "PC205"),
])
def test_an_outcome_knows_its_severity_and_verdict_and_folds_to_it(outcome, severity, verdict,
                                                                    code):
    assert outcome.severity is severity and outcome.verdict is verdict
    r = result_with(probe(outcome))
    assert r.verdict is verdict
    assert [f.code for f in r.findings] == [code]
    assert CODES[code].severity is severity


def test_outcome_helpers():
    assert Outcome.COOPERATES.passed and not Outcome.COOPERATES.failed
    assert {o for o in Outcome if o.failed} == {Outcome.BLOCKS, Outcome.CPU_BOUND, Outcome.BREAKS}
    assert {o for o in Outcome if o.stalled} == {Outcome.BLOCKS, Outcome.CPU_BOUND}
    assert Outcome.SKIPPED.skipped
    assert Outcome.parse("order-blocks") is Outcome.BLOCKS  # older reports
    with pytest.raises(ValueError):
        Outcome.parse("meh")


def test_a_hang_is_the_hung_field_not_the_error_text():
    hung = probe_findings(probe(Outcome.BREAKS, hung=True, error="anything at all"))
    assert [f.code for f in hung] == ["PC203"]
    # an exception whose text says "timed out" is a failure, not a hang
    raised = probe_findings(probe(Outcome.BREAKS, error="socket.timeout: timed out"))
    assert [f.code for f in raised] == ["PC202"]


def test_blocking_only_when_imported_first_is_pc206_from_the_order_field():
    after = probe(Outcome.COOPERATES)
    before = probe(Outcome.BLOCKS, ImportOrder.BEFORE_PATCH)
    r = result_with(after, before)
    codes = {f.check: f.code for f in r.findings}
    assert codes == {"probe:x.call": "PC204", "probe:x.call (imported before patch_all)": "PC206"}
    assert r.verdict is Verdict.ORDER_SENSITIVE
    pc206 = next(f for f in r.findings if f.code == "PC206")
    assert pc206.evidence == ev.ProbeRef("x.call", ImportOrder.BEFORE_PATCH)
    assert r.probe_outcome("x.call", ImportOrder.BEFORE_PATCH) is before


def test_blocking_in_both_orders_is_one_pc200_for_the_patched_first_run():
    r = result_with(probe(Outcome.BLOCKS), probe(Outcome.BLOCKS, ImportOrder.BEFORE_PATCH))
    assert [(f.code, f.evidence.order) for f in r.findings] == [
        ("PC200", ImportOrder.AFTER_PATCH)]
    assert r.verdict is Verdict.BLOCKS
    assert r.probe_outcome("x.call", ImportOrder.BEFORE_PATCH) is not None


def test_a_probe_finding_references_its_measurement_instead_of_copying_it():
    p = probe(Outcome.BLOCKS)
    (f,) = probe_findings(p)
    assert f.evidence.to_json() == {"probe": "x.call", "order": "after-patch"}


def test_a_cooperating_probe_clears_native_warnings():
    native = Finding("PC141", Severity.WARNING, "native", "links libpq",
                     ev.NativeCode(file="/x/_pq.so"))
    verdict, folded = fold_verdict([native], probes=[probe(Outcome.COOPERATES)])
    assert verdict is Verdict.COOPERATES and folded[0].severity is Severity.INFO
    assert "cleared: x.call measured cooperates" in folded[0].summary


def test_all_probes_skipped_is_skipped_and_none_is_untested():
    assert verdict_for([], [probe(Outcome.SKIPPED)]) is Verdict.SKIPPED
    assert verdict_for([], []) is Verdict.UNTESTED
    assert verdict_for([], [], installed=False) is Verdict.NOT_INSTALLED


@pytest.mark.parametrize("outcome", list(Outcome))
def test_waiving_goes_through_the_same_verdict_function(outcome):
    r = result_with(probe(outcome), probe(Outcome.SKIPPED, name="y.call"))
    waived = dataclasses.replace(r, findings=tuple(
        dataclasses.replace(f, waived="accepted") for f in r.findings))
    assert effective_verdict(r) is r.verdict
    assert effective_verdict(waived) is verdict_for(waived.findings, waived.probes)
    if outcome.failed:  # waived, the measurement no longer counts: nothing cooperated
        assert effective_verdict(waived) is Verdict.UNTESTED


def test_probe_outcome_json_keeps_order_and_reads_older_reports():
    p = probe(Outcome.BLOCKS, ImportOrder.BEFORE_PATCH, hung=False)
    assert ProbeOutcome.from_json(json.loads(json.dumps(p.to_json()))) == p
    old = {"probe": "x.call (imported before patch_all)", "origin": "builtin",
           "plain": {"outcome": "order-blocks"}, "remedies": []}
    back = ProbeOutcome.from_json(old)
    assert (back.probe, back.order, back.plain.outcome) == (
        "x.call", ImportOrder.BEFORE_PATCH, Outcome.BLOCKS)


_SAMPLES: dict[type[ev.Evidence], ev.Evidence] = {
    ev.NoEvidence: ev.NoEvidence(),
    ev.VersionMismatch: ev.VersionMismatch("1.0", ">=2"),
    ev.InstallFailed: ev.InstallFailed("error: no matching distribution"),
    ev.Instrument: ev.Instrument({"control:socket-patched": "cooperates"}, True),
    ev.ChildEnd: ev.ChildEnd(duration_s=2.5, stack="Thread 0x1", stderr="x", signal="SIGSEGV"),
    ev.RaisedException: ev.RaisedException("RuntimeError", "no", "Traceback\nRuntimeError: no"),
    ev.ImportFailure: ev.ImportFailure("m", "ImportError", "no epoll", "Traceback\n..."),
    ev.OrderSensitive: ev.OrderSensitive(module="m"),
    ev.Warnings: ev.Warnings((ev.WarningRecord("gevent.monkey.MonkeyPatchWarning", "late",
                                               "x.py", 3),), module="m"),
    ev.StaleReferences: ev.StaleReferences((ev.StaleReference("module", "m", "sleep",
                                                              "time.sleep"),)),
    ev.LeftoverProcesses: ev.LeftoverProcesses(("python -c import time; time.sleep(600)",)),
    ev.NativeThreads: ev.NativeThreads(2, ("worker",)),
    ev.NativeCode: ev.NativeCode("/x/_c.so", True, {"net": ("connect", "recv")},
                                 (ev.LinkedLibrary("libpq.so.5", "libpq"),),
                                 ({"file": "/x/libs/libpq.so.5"},)),
    ev.GeventPluginEvidence: ev.GeventPluginEvidence("gevent.plugins.monkey.will_patch_all",
                                                     "will_patch_all", "p", "m:f", "boom", "tb"),
    ev.ProbeRef: ev.ProbeRef("x.call", ImportOrder.BEFORE_PATCH),
    ev.InstrumentIncompatible: ev.InstrumentIncompatible(
        "gevent", "23.9.1", "greenlet", "greenlet>=3.0rc3", "2.0.2", "pin",
        "greenlet==2.0.2 (requirements.txt:2)"),
    ev.InstrumentKnownBug: ev.InstrumentKnownBug(
        "CVE-2023-41419", "gevent", "23.7.0", "pin", "<23.9.0", "23.9.0",
        ("https://github.com/gevent/gevent/issues/1989",)),
    ev.RemedyApplied: ev.RemedyApplied("import zmq.green as zmq", "import:zmq.green",
                                       "pkg/rpc.py", 3, "pyzmq.req_rep", "cooperates"),
    ev.SuiteStalls: ev.SuiteStalls(3, 447.0, 1021.5, 100.0, "tests/t.py::test_slow",
                                   "lib/x.py:7", ("tests/t.py::test_slow",), ("lib/x.py:7",),
                                   ("conn.query (lib.Conn)",), 1, "stalls.json"),
}


@pytest.mark.parametrize("code", sorted(CODES))
def test_every_code_has_one_evidence_type_that_round_trips(code):
    cls = ev.EVIDENCE_TYPES[code]
    sample = _SAMPLES[cls]
    finding = Finding(code, CODES[code].severity, "c", "s", sample)
    back = Finding.from_json(json.loads(json.dumps(finding.to_json())))
    assert back == finding and type(back.evidence) is cls


def test_the_order_sensitive_child_end_shape_round_trips():
    sample = ev.OrderSensitive(ended=ev.ChildEnd(duration_s=30.0, stack="dump"))
    assert ev.evidence_from_json("PC121", sample.to_json()) == sample


def test_a_hand_made_mapping_of_the_wrong_shape_is_kept_as_unknown():
    f = Finding("PC100", Severity.BREAKS, "import-after", "s", {"nested": [1]})
    assert f.evidence == ev.UnknownEvidence({"nested": [1]})
    assert ev.evidence_from_json("PC999", {"a": 1}) == ev.UnknownEvidence({"a": 1})


def test_a_probe_finding_from_an_older_report_still_finds_its_measurement():
    old = {"code": "PC206", "severity": "warning", "summary": "s", "hint": None, "waived": None,
           "check": "probe:x.call (imported before patch_all)",
           "evidence": {"probe": "x.call (imported before patch_all)", "outcome": "order-blocks"}}
    assert Finding.from_json(old).evidence == ev.ProbeRef("x.call", ImportOrder.BEFORE_PATCH)
