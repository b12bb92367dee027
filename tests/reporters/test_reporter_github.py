from __future__ import annotations

import dataclasses

from patchcheck.model import DistributionResult, Finding, Severity, Verdict
from patchcheck.reporters.github import escape_data, escape_property, render_github


def test_one_annotation_per_finding_at_or_above_warning(sample_report):
    lines = render_github(sample_report).splitlines()
    heads = [line.split("::", 2)[1] for line in lines]
    assert heads == [
        "error file=requirements.txt,line=2,title=PC200 psycopg2-binary 2.9.9 blocks",
        "error file=requirements.txt,line=3,title=PC202 grpcio 1.62.1 breaks",
        "warning file=requirements.txt,line=4,title=PC120 redis 5.0.1 warns",
        "warning file=requirements.txt,line=5,title=PC140 pyzmq 25.1.2 warns",
    ]  # PC141 is waived; info findings (PC204, PC205, PC000) are not annotated
    assert all("\n" not in line and "\r" not in line for line in lines)
    message = lines[0].split("::", 2)[2]
    assert message.startswith("psycopg2.pg_sleep: hub stalled 503 ms")
    assert "%0Ahint: Every greenlet stops" in message


def test_escaping_follows_the_actions_toolkit():
    assert escape_data("100% done\r\nnext") == "100%25 done%0D%0Anext"
    assert escape_property("a:b,c%\n") == "a%3Ab%2Cc%25%0A"


def test_properties_and_messages_are_escaped(sample_report):
    odd = DistributionResult(
        name="odd",
        version="1,2",
        verdict=Verdict.WARNS,
        origin=r"C:\work\req,s.txt:7",
        findings=(
            Finding(
                code="PC130",
                severity=Severity.WARNING,
                check="threads",
                summary="50% of\nthreads",
                evidence={},
            ),
        ),
    )
    report = dataclasses.replace(sample_report, results=(odd,), problems=("x: y",))
    lines = render_github(report).splitlines()
    assert lines[0] == (
        r"::warning file=C%3A\work\req%2Cs.txt,line=7,"
        "title=PC130 odd 1%2C2 warns::50%25 of%0Athreads"
    )
    assert lines[1] == "::error title=patchcheck problem (not a library verdict)::x: y"
    assert len(lines) == 2
