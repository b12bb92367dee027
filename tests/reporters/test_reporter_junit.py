from __future__ import annotations

import dataclasses
import xml.etree.ElementTree as ET

import pytest

from patchcheck.model import FAIL_ON_LEVELS, Finding, Severity
from patchcheck.reporters.junit import CLASSNAME, render_junit


def _parse(text: str) -> ET.Element:
    assert text.startswith('<?xml version="1.0" encoding="UTF-8"?>\n')
    return ET.fromstring(text.encode("utf-8"))


def _outcomes(root: ET.Element) -> dict[str, str]:
    out = {}
    for case in root.iter("testcase"):
        kind = "passed"
        for child in case:
            if child.tag in ("failure", "skipped", "error"):
                kind = child.tag
        out[case.get("name")] = kind
    return out


@pytest.mark.parametrize(
    ("level", "failures", "skipped"),
    [
        ("never", 0, 2),
        ("breaks", 1, 2),
        ("blocks", 2, 2),
        ("warns", 4, 2),
        # at "untested" skipped and not-installed rank 1 too: they fail, nothing is skipped
        ("untested", 7, 0),
    ],
)
def test_failures_follow_fail_on(sample_report, level, failures, skipped):
    root = _parse(render_junit(sample_report, fail_on=FAIL_ON_LEVELS[level]))
    suite = root.find("testsuite")
    assert suite.get("name") == "patchcheck"
    assert (
        suite.get("tests"),
        suite.get("failures"),
        suite.get("skipped"),
        suite.get("errors"),
    ) == ("8", str(failures), str(skipped), "0")
    assert root.get("failures") == str(failures)
    outcomes = _outcomes(root)
    assert list(outcomes.values()).count("failure") == failures
    assert list(outcomes.values()).count("skipped") == skipped


def test_cases_name_distributions_and_point_at_the_requirement(sample_report):
    root = _parse(render_junit(sample_report, fail_on=FAIL_ON_LEVELS["blocks"]))
    cases = {c.get("name"): c for c in root.iter("testcase")}
    assert list(cases) == [
        "requests==2.32.3",
        "psycopg2-binary==2.9.9",
        "grpcio==1.62.1",
        "redis==5.0.1",
        "pyzmq==25.1.2",
        "pymemcache==4.0.0",
        "uvloop",
        "attrs==23.2.0",
    ]
    assert {c.get("classname") for c in cases.values()} == {CLASSNAME}
    assert cases["grpcio==1.62.1"].get("file") == "requirements.txt"
    assert cases["grpcio==1.62.1"].get("line") == "3"
    assert cases["attrs==23.2.0"].get("file") is None  # origin "<installed>"
    outcomes = _outcomes(root)
    assert outcomes["psycopg2-binary==2.9.9"] == "failure"
    assert outcomes["uvloop"] == "skipped"
    assert outcomes["redis==5.0.1"] == "passed"  # warns is below --fail-on blocks


def test_failure_body_carries_the_evidence(sample_report):
    root = _parse(render_junit(sample_report, fail_on=FAIL_ON_LEVELS["blocks"]))
    cases = {c.get("name"): c for c in root.iter("testcase")}
    failure = cases["psycopg2-binary==2.9.9"].find("failure")
    assert failure.get("type") == "blocks"
    assert failure.get("message") == "blocks: stall 503 ms, ratio 2.9×"
    assert "cooperates with psycogreen.gevent.patch_psycopg() (stall 6 ms" in failure.text
    assert "extensions.py" in failure.text  # the blocking stack
    assert "gevent 26.9.0" in failure.text
    assert cases["grpcio==1.62.1"].find("failure").get("message") == "breaks: LoopExit"
    # a passing non-clean case keeps its details visible
    assert (
        "stale references: redis.connection.socket" in cases["redis==5.0.1"].find("system-out").text
    )


def test_problems_become_an_error(sample_report):
    report = dataclasses.replace(sample_report, problems=("control.blocking measured 1.0×",))
    root = _parse(render_junit(report, fail_on=FAIL_ON_LEVELS["never"]))
    suite = root.find("testsuite")
    assert (suite.get("tests"), suite.get("errors")) == ("9", "1")
    error = next(root.iter("error"))
    assert "control.blocking measured 1.0×" in error.text


def test_control_characters_from_library_output_stay_valid_xml(sample_report):
    noisy = dataclasses.replace(
        sample_report.results[2],
        findings=(
            Finding(
                code="PC101",
                severity=Severity.BREAKS,
                check="import-after",
                summary="crashed \x1b[31m(SIGSEGV)\x00",
                evidence={"signal": "SIGSEGV", "stderr": "Fatal Python error\x00\x07"},
            ),
        ),
    )
    report = dataclasses.replace(sample_report, results=(noisy,))
    root = _parse(render_junit(report))
    assert "Fatal Python error" in next(root.iter("failure")).text
