"""A remedy that was not tried reads as such, in every sentence and in the JSON (issue #15);
a remedy with its code shows the lines to add."""
from __future__ import annotations

from patchcheck.model import DistributionResult, Measurement, Outcome, ProbeOutcome, Verdict
from patchcheck.reporters._details import detail_view, plain_details
from patchcheck.reporters._sentences import measurement_sentence, remedy_sentence

PLAIN = Measurement(outcome=Outcome.BLOCKS, wait_ms=300, concurrency=3, elapsed_ms=909,
                    ratio=3.0, max_gap_ms=909)
NOT_TRIED = Measurement(outcome=Outcome.NOT_TRIED, remedy="psycogreen.gevent.patch_psycopg()",
                        error="psycogreen is not installed", not_installed="psycogreen",
                        install="pip install psycogreen")
LINES = ("import greenify", "greenify.greenify()",
         'for path in glob.glob("x-*.so*"): greenify.patch_lib(path)')
GREEN = Measurement(outcome=Outcome.COOPERATES, remedy="greenify.patch_lib(libx)", wait_ms=300,
                    concurrency=3, ratio=1.0, max_gap_ms=5, remedy_lines=LINES)


def test_not_tried_sentence() -> None:
    assert remedy_sentence(PLAIN, NOT_TRIED) == (
        "psycogreen.gevent.patch_psycopg(): not tried: psycogreen is not installed "
        "(pip install psycogreen)")
    assert measurement_sentence(NOT_TRIED) == (
        "not tried: psycogreen is not installed (pip install psycogreen)")


def test_not_tried_is_no_failure() -> None:
    assert not NOT_TRIED.outcome.failed and NOT_TRIED.outcome.skipped
    assert NOT_TRIED.outcome.verdict is Verdict.SKIPPED


def test_json_round_trip() -> None:
    for m in (NOT_TRIED, GREEN, PLAIN):
        data = m.to_json()
        assert Measurement.from_json(data) == m
    assert PLAIN.to_json()["not_installed"] is None and PLAIN.to_json()["remedy_lines"] == []
    assert NOT_TRIED.to_json()["outcome"] == "not-tried"


def test_details_show_not_tried_and_the_lines_to_add() -> None:
    result = DistributionResult(
        name="psycopg2-binary", verdict=Verdict.BLOCKS,
        probes=(ProbeOutcome(probe="psycopg2.pg_sleep", origin="builtin", plain=PLAIN,
                             remedies=(NOT_TRIED, GREEN)),))
    view = detail_view(result)
    assert view.remedy_code == (("greenify.patch_lib(libx)", LINES),)
    text = plain_details(result)
    assert "breaks with" not in text
    assert "not tried: psycogreen is not installed (pip install psycogreen)" in text
    assert "to apply greenify.patch_lib(libx), add after patch_all():" in text
    assert all(f"  {line}" in text for line in LINES)


def test_a_run_starved_twice_is_the_machines_problem_not_the_probes() -> None:
    from patchcheck.reporters._sentences import measurement_phrase, measurement_sentence

    starved = Measurement(outcome=Outcome.INCONCLUSIVE, error="the hub thread waited …",
                          starved=True, measured_alone=True, run_queue_ms=249.6)
    assert measurement_phrase(starved) == (
        "not measured: the machine was too busy (the hub thread waited 250 ms for a CPU, "
        "twice)")
    again = Measurement(outcome=Outcome.BLOCKS, concurrency=3, wait_ms=300, elapsed_ms=910,
                        ratio=3.0, max_gap_ms=301, cpu_ms=4, measured_alone=True)
    assert measurement_sentence(again).endswith(
        "measured again with nothing else running (the first run waited for a CPU)")
