"""Import order measured, not assumed (issue #10), on in-memory data: which probes also run
imported before patch_all() (the plan's pure decision from the import check's findings), PC209
for a call that breaks only when the library is imported first, and which measurement may clear
which warning."""
from __future__ import annotations

import dataclasses

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
from patchcheck.plan import ORDER_RISK_CODES, probes_for_order_risk
from patchcheck.runner.probing import child_modules
from patchcheck.spec import ProbeSpec
from patchcheck.verdicts import evidence as ev
from patchcheck.verdicts.codes import CODES
from patchcheck.verdicts.fold import (
    CheckOutcome,
    fold_verdict,
    import_findings,
    probe_findings,
    with_probes,
)

AFTER, BEFORE = ImportOrder.AFTER_PATCH, ImportOrder.BEFORE_PATCH
RECURSION = "RecursionError: maximum recursion depth exceeded while calling a Python object"


def probe(outcome: Outcome, order: ImportOrder = AFTER, *, name: str = "x.get_tls",
          hung: bool = False, error: str | None = None) -> ProbeOutcome:
    m = Measurement(outcome=outcome, wait_ms=300, concurrency=3, elapsed_ms=400, ratio=1.1,
                    max_gap_ms=20, cpu_ms=10, error=error, hung=hung)
    return ProbeOutcome(probe=name, origin="builtin", plain=m, order=order)


def spec(name: str, order: str = "after") -> ProbeSpec:
    return ProbeSpec(name=name, distributions=("x",), path="/p/x.py", function=name,
                     import_order=order)


# The import-before check's findings, built by the real fold from a child's data shape.
def before_check(*, warning: bool = False, stale: bool = False) -> list[Finding]:
    modules = [{"module": "x", "ok": True, "warnings": []}]
    after = CheckOutcome(data={"modules": modules})
    data: dict = {"modules": modules, "patch": {"ok": True, "warnings": []}}
    if warning:
        data["patch"]["warnings"] = [{
            "category": "gevent.monkey.MonkeyPatchWarning",
            "message": "Monkey-patching ssl after ssl has already been imported may lead to "
                       "errors, including RecursionError on Python 3.6."}]
    if stale:
        data["stale_references"] = [{"kind": "global", "holder": "x.pool", "name": "socket",
                                     "original": "socket.socket"}]
    return import_findings(after, CheckOutcome(data=data))


def codes(findings: list[Finding]) -> set[str]:
    return {f.code for f in findings}


# --- the decision: which probes also run imported first ------------------------------------

@pytest.mark.parametrize(("warning", "stale"), [(True, False), (False, True), (True, True)])
def test_ssl_warning_or_stale_references_add_the_imported_first_run(warning, stale):
    found = before_check(warning=warning, stale=stale)
    assert codes(found) & ORDER_RISK_CODES
    probes = [spec("x.get"), spec("x.wait", "before"), spec("x.both", "both")]
    planned = probes_for_order_risk(probes, found)
    assert [p.import_order for p in planned] == ["both", "before", "both"]
    assert [p.name for p in planned] == ["x.get", "x.wait", "x.both"]


def test_a_clean_import_check_leaves_the_probes_as_declared():
    found = before_check()
    assert not found
    probes = (spec("x.get"), spec("x.both", "both"))
    assert probes_for_order_risk(probes, found) == probes


def test_the_decision_is_the_code_not_the_message():
    # A warning after patching that talks about ssl (PC111) is not the import-before check's.
    text = Finding("PC111", Severity.INFO, "import-after",
                   "importing x warns: MonkeyPatchWarning: ssl imported before patching",
                   ev.Warnings(()))
    assert probes_for_order_risk([spec("x.get")], [text])[0].import_order == "after"
    # the same finding with the code of gevent's warning is an order risk, whatever it says
    risk = dataclasses.replace(text, code="PC110", summary="")
    assert probes_for_order_risk([spec("x.get")], [risk])[0].import_order == "both"


def test_before_imports_join_the_imported_first_run_only():
    s = dataclasses.replace(spec("botocore.call_tls", "both"),
                            before_imports=("botocore.session", "botocore"))
    assert child_modules(s, ("botocore",), BEFORE) == ("botocore", "botocore.session")
    assert child_modules(s, ("botocore",), AFTER) == ("botocore",)


# --- PC209: breaks only when imported first -----------------------------------------------

def test_breaking_only_when_imported_first_is_pc209_order_only_with_a_probe_ref():
    r = with_probes(DistributionResult(name="x", verdict=Verdict.COOPERATES),
                    [probe(Outcome.COOPERATES), probe(Outcome.BREAKS, BEFORE, error=RECURSION)])
    (pc209,) = [f for f in r.findings if f.code == "PC209"]
    assert pc209.severity is Severity.ORDER_ONLY is CODES["PC209"].severity
    assert pc209.summary == ("x.get_tls: breaks if imported before patch_all(): " + RECURSION)
    assert pc209.check == "probe:x.get_tls (imported before patch_all)"
    assert pc209.evidence == ev.ProbeRef("x.get_tls", BEFORE)
    assert r.probe_outcome("x.get_tls", BEFORE) is not None
    assert r.verdict is Verdict.ORDER_SENSITIVE
    assert Finding.from_json(pc209.to_json()) == pc209


def test_hanging_only_when_imported_first_is_pc209_too():
    (f,) = probe_findings(probe(Outcome.BREAKS, BEFORE, hung=True, error="did not return"),
                          patch_first=probe(Outcome.COOPERATES))
    assert f.code == "PC209" and "hangs if imported before patch_all()" in f.summary


# skipped or blocking patched first: nothing passed to compare with, the call is broken
@pytest.mark.parametrize("after", [Outcome.SKIPPED, Outcome.BLOCKS])
def test_breaking_imported_first_without_a_passing_patch_first_run_is_pc202(after):
    (f,) = probe_findings(probe(Outcome.BREAKS, BEFORE, error=RECURSION),
                          patch_first=probe(after))
    assert f.code == "PC202"
    (alone,) = probe_findings(probe(Outcome.BREAKS, BEFORE, error=RECURSION))
    assert alone.code == "PC202"  # a probe declared "before" only


@pytest.mark.parametrize("both", [Outcome.BLOCKS, Outcome.BREAKS])
def test_failing_the_same_way_in_both_orders_is_one_finding(both):
    """pyzmq blocks either way: the patched-first finding speaks for both orders."""
    r = with_probes(DistributionResult(name="x", verdict=Verdict.UNTESTED),
                    [probe(both), probe(both, BEFORE, error=RECURSION)])
    failing = [f for f in r.findings if f.severity > Severity.INFO]
    assert len(failing) == 1 and failing[0].evidence == ev.ProbeRef("x.get_tls", AFTER)
    assert r.probe_outcome("x.get_tls", BEFORE) is not None


# --- which measurement clears which warning -------------------------------------------------

def test_a_patched_first_cooperation_does_not_clear_import_order_warnings():
    found = before_check(warning=True, stale=True)
    verdict, folded = fold_verdict(found, probes=[probe(Outcome.COOPERATES)])
    assert {f.code: f.severity for f in folded} == {"PC110": Severity.ORDER_ONLY,
                                                    "PC120": Severity.ORDER_ONLY}
    assert not any("cleared" in f.summary for f in folded)
    assert verdict is Verdict.ORDER_SENSITIVE


def test_an_imported_first_cooperation_clears_them_and_says_which():
    found = before_check(warning=True, stale=True)
    verdict, folded = fold_verdict(found, probes=[probe(Outcome.COOPERATES),
                                                  probe(Outcome.COOPERATES, BEFORE)])
    assert {f.severity for f in folded} == {Severity.INFO}
    for f in folded:
        assert f.summary.endswith(
            " (cleared: x.get_tls (imported before patch_all) measured cooperates)")
    assert verdict is Verdict.COOPERATES


def test_an_imported_first_failure_keeps_them_even_when_another_probe_cooperated():
    found = before_check(warning=True)
    probes = [probe(Outcome.COOPERATES, name="x.get"), probe(Outcome.COOPERATES, BEFORE,
                                                             name="x.get"),
              probe(Outcome.COOPERATES), probe(Outcome.BREAKS, BEFORE, error=RECURSION)]
    r = with_probes(DistributionResult(name="x", verdict=Verdict.WARNS, findings=tuple(found)),
                    probes)
    by_code = {f.code: f for f in r.findings if f.code in ("PC110", "PC209")}
    assert by_code["PC110"].severity is Severity.ORDER_ONLY
    assert "cleared" not in by_code["PC110"].summary
    assert by_code["PC209"].severity is Severity.ORDER_ONLY
    assert r.verdict is Verdict.ORDER_SENSITIVE


def test_order_sensitive_import_is_cleared_only_imported_first():
    pc121 = Finding("PC121", Severity.WARNING, "import-before", "import x fails imported first",
                    ev.OrderSensitive(module="x"))
    _, after_only = fold_verdict([pc121], probes=[probe(Outcome.COOPERATES)])
    assert after_only[0].severity is Severity.WARNING
    _, before = fold_verdict([pc121], probes=[probe(Outcome.COOPERATES, BEFORE)])
    assert before[0].severity is Severity.INFO


@pytest.mark.parametrize("order", [AFTER, BEFORE])
def test_native_warnings_are_cleared_by_a_cooperation_in_either_order(order):
    native = Finding("PC141", Severity.WARNING, "native", "links libpq",
                     ev.NativeCode(file="/x/_pq.so"))
    measured = probe(Outcome.COOPERATES, order)
    verdict, (folded,) = fold_verdict([native], probes=[measured])
    assert folded.severity is Severity.INFO
    assert folded.summary.endswith(f"(cleared: {measured.label} measured cooperates)")
    assert verdict is Verdict.COOPERATES

