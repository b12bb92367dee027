"""--fail-on policy and exit codes, on in-memory reports."""
from __future__ import annotations

import pytest

from patchcheck.errors import ConfigError
from patchcheck.exitcode import ExitCode
from patchcheck.model import FAIL_ON_LEVELS, DistributionResult, Environment, ScanReport, Verdict
from patchcheck.verdicts.policy import exit_code_for, failing

ENV = Environment("/usr/bin/python3", "3.11.7", "CPython", "linux", "26.9.0", "3.2.4")


def report(*verdicts: Verdict, problems: tuple[str, ...] = ()) -> ScanReport:
    results = tuple(
        DistributionResult(name=f"d{i}-{v.value}", verdict=v) for i, v in enumerate(verdicts)
    )
    return ScanReport(environment=ENV, results=results, problems=problems)


# Which verdicts fail at each level (the table in the README).
EXPECTED = {
    "untested": {"untested", "skipped", "not-installed", "order-sensitive", "warns", "suspect",
                 "blocks", "breaks"},
    "order-sensitive": {"order-sensitive", "warns", "suspect", "blocks", "breaks"},
    "warns": {"warns", "suspect", "blocks", "breaks"},
    "suspect": {"suspect", "blocks", "breaks"},
    "blocks": {"blocks", "breaks"},
    "breaks": {"breaks"},
    "never": set(),
}


@pytest.mark.parametrize("fail_on", list(FAIL_ON_LEVELS))
def test_failing_by_level(fail_on: str) -> None:
    r = report(*Verdict)
    assert {x.verdict.value for x in failing(r, fail_on)} == EXPECTED[fail_on]
    assert exit_code_for(r, fail_on) == (ExitCode.FINDINGS if EXPECTED[fail_on] else ExitCode.OK)


@pytest.mark.parametrize("verdict", list(Verdict))
@pytest.mark.parametrize("fail_on", list(FAIL_ON_LEVELS))
def test_single_verdict(verdict: Verdict, fail_on: str) -> None:
    expected = ExitCode.FINDINGS if verdict.value in EXPECTED[fail_on] else ExitCode.OK
    assert exit_code_for(report(verdict), fail_on) == expected


def test_failing_keeps_report_order() -> None:
    r = report(Verdict.BREAKS, Verdict.COOPERATES, Verdict.BLOCKS)
    assert [x.name for x in failing(r, "blocks")] == ["d0-breaks", "d2-blocks"]


def test_empty_report_is_ok() -> None:
    assert exit_code_for(report(), "untested") == ExitCode.OK


def test_problems_win_over_findings() -> None:
    r = report(Verdict.BREAKS, problems=("control probe measured blocking",))
    assert exit_code_for(r, "blocks") == ExitCode.INTERNAL_ERROR
    assert exit_code_for(r, "never") == ExitCode.INTERNAL_ERROR


def test_bad_level() -> None:
    with pytest.raises(ConfigError) as info:
        exit_code_for(report(), "blocky")
    assert info.value.message == (
        "fail-on = 'blocky': expected one of untested, order-sensitive, warns, suspect, blocks, "
        "breaks, never"
    )
