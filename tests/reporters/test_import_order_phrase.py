"""The table's evidence words for a call that breaks only imported before patch_all() (PC209),
on in-memory data."""
from __future__ import annotations

from patchcheck.model import (
    DistributionResult,
    ImportOrder,
    Measurement,
    Outcome,
    ProbeOutcome,
    Verdict,
)
from patchcheck.reporters._sentences import key_evidence
from patchcheck.verdicts.fold import with_probes


def _run(outcome: Outcome, order: ImportOrder, **kw: object) -> ProbeOutcome:
    m = Measurement(outcome=outcome, wait_ms=300, concurrency=3, elapsed_ms=400, ratio=1.1,
                    max_gap_ms=20, **kw)  # type: ignore[arg-type]
    return ProbeOutcome(probe="x.get_tls", origin="builtin", plain=m, order=order)


def test_the_table_says_which_order_broke_and_how() -> None:
    r = with_probes(DistributionResult(name="x", verdict=Verdict.COOPERATES), [
        _run(Outcome.COOPERATES, ImportOrder.AFTER_PATCH),
        _run(Outcome.BREAKS, ImportOrder.BEFORE_PATCH,
             error="RecursionError: maximum recursion depth exceeded")])
    assert r.verdict is Verdict.ORDER_SENSITIVE
    assert key_evidence(r) == ("breaks if imported before patch_all (RecursionError); "
                               "patched first: stall 20 ms, ratio 1.1×")


def test_a_hang_imported_first_says_hang() -> None:
    r = with_probes(DistributionResult(name="x", verdict=Verdict.COOPERATES), [
        _run(Outcome.COOPERATES, ImportOrder.AFTER_PATCH),
        _run(Outcome.BREAKS, ImportOrder.BEFORE_PATCH, hung=True,
             error="3 of 3 calls did not return within 3.6 s")])
    assert key_evidence(r).startswith("breaks if imported before patch_all (hang")


def test_the_measurement_leads_the_suspicions_and_a_setup_failure_shows_its_type() -> None:
    from patchcheck.model import Finding, Phase, Severity
    from patchcheck.verdicts import evidence as ev

    warning = Finding("PC110", Severity.ORDER_ONLY, "import-before",
                      "gevent warns when patching after this import: Monkey-patching ssl",
                      ev.Warnings((ev.WarningRecord(
                          category="gevent.monkey.MonkeyPatchWarning",
                          message="Monkey-patching ssl after ssl has already been imported"),)))
    r = with_probes(DistributionResult(name="x", verdict=Verdict.WARNS, findings=(warning,)), [
        _run(Outcome.COOPERATES, ImportOrder.AFTER_PATCH),
        _run(Outcome.BREAKS, ImportOrder.BEFORE_PATCH, phase=Phase.FACTORY,
             error="setup: RecursionError: maximum recursion depth exceeded")])
    words = key_evidence(r)
    assert words.startswith("breaks if imported before patch_all (RecursionError); "), words
    assert "MonkeyPatchWarning" in words
