from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import jsonschema
import pytest

from patchcheck.reporters.sarif import SARIF_SCHEMA_URI, render_sarif

SCHEMA_FILE = Path(__file__).parent / "data" / "sarif-schema-2.1.0.json"


@pytest.fixture(scope="module")
def validator():
    # The published OASIS schema (errata01), stored in the repo: tests never reach the web.
    schema = json.loads(SCHEMA_FILE.read_text(encoding="utf-8"))
    assert schema["id"] == SARIF_SCHEMA_URI
    return jsonschema.Draft4Validator(schema)


def test_validates_against_the_published_schema(sample_report, validator):
    validator.validate(json.loads(render_sarif(sample_report)))


def test_problems_and_odd_origins_validate(sample_report, validator, tmp_path):
    odd = dataclasses.replace(
        sample_report.results[1], origin=str(tmp_path / "reqs" / "prod.txt") + ":12"
    )
    report = dataclasses.replace(sample_report, results=(odd,), problems=("harness crashed",))
    log = json.loads(render_sarif(report))
    validator.validate(log)
    invocation = log["runs"][0]["invocations"][0]
    assert invocation["executionSuccessful"] is False
    assert invocation["toolExecutionNotifications"][0]["message"]["text"] == "harness crashed"
    # outside root: an absolute file: URI; under root: relative to %SRCROOT%
    uri = log["runs"][0]["results"][0]["locations"][0]["physicalLocation"]["artifactLocation"]
    assert uri == {"uri": (tmp_path / "reqs" / "prod.txt").as_uri()}
    log = json.loads(render_sarif(report, root=str(tmp_path)))
    validator.validate(log)
    uri = log["runs"][0]["results"][0]["locations"][0]["physicalLocation"]["artifactLocation"]
    assert uri == {"uri": "reqs/prod.txt", "uriBaseId": "%SRCROOT%"}


def test_rules_and_results(sample_report):
    run = json.loads(render_sarif(sample_report))["runs"][0]
    rules = run["tool"]["driver"]["rules"]
    ids = [r["id"] for r in rules]
    assert len(ids) == len(set(ids))  # one rule per code
    assert set(ids) == {f.code for r in sample_report.results for f in r.findings}
    by_id = {r["id"]: r for r in rules}
    assert by_id["PC200"]["name"] == "ProbeBlocks"
    assert by_id["PC200"]["shortDescription"]["text"].startswith("Blocks the gevent hub")
    assert by_id["PC200"]["help"]["text"]
    levels = {(r["ruleId"], r["properties"]["distribution"]): r["level"] for r in run["results"]}
    assert levels[("PC200", "psycopg2-binary")] == "error"
    assert levels[("PC202", "grpcio")] == "error"
    assert levels[("PC120", "redis")] == "warning"
    assert levels[("PC205", "pymemcache")] == "note"
    for result in run["results"]:
        assert rules[result["ruleIndex"]]["id"] == result["ruleId"]


def test_locations(sample_report):
    run = json.loads(render_sarif(sample_report))["runs"][0]
    results = {(r["ruleId"], r["properties"]["distribution"]): r for r in run["results"]}
    blocks = results[("PC200", "psycopg2-binary")]["locations"][0]
    assert blocks["physicalLocation"] == {
        "artifactLocation": {"uri": "requirements.txt", "uriBaseId": "%SRCROOT%"},
        "region": {"startLine": 2},
    }
    assert blocks["logicalLocations"][0]["fullyQualifiedName"] == "psycopg2-binary==2.9.9"
    report = dataclasses.replace(
        sample_report,
        results=(dataclasses.replace(sample_report.results[3], origin="<installed>"),),
    )
    only = json.loads(render_sarif(report))["runs"][0]["results"][0]["locations"][0]
    assert "physicalLocation" not in only
    assert only["logicalLocations"][0]["name"] == "redis"


def test_waived_findings_are_suppressed_not_dropped(sample_report):
    run = json.loads(render_sarif(sample_report))["runs"][0]
    waived = [r for r in run["results"] if "suppressions" in r]
    assert [(r["ruleId"], r["suppressions"][0]["kind"]) for r in waived] == [("PC141", "external")]
    assert waived[0]["suppressions"][0]["justification"].startswith("psycogreen is applied")


def test_fingerprints_are_stable_across_versions(sample_report):
    upgraded = dataclasses.replace(sample_report.results[1], version="2.9.10")
    report = dataclasses.replace(sample_report, results=(upgraded,))
    before = json.loads(render_sarif(sample_report))["runs"][0]["results"]
    after = json.loads(render_sarif(report))["runs"][0]["results"]
    fp = {
        r["ruleId"]: r["partialFingerprints"]
        for r in before
        if r["properties"]["distribution"] == "psycopg2-binary"
    }
    assert {r["ruleId"]: r["partialFingerprints"] for r in after} == fp
