from __future__ import annotations

import dataclasses
import json

import jsonschema
import pytest

from patchcheck.model import REPORT_SCHEMA, Finding, ScanReport, Severity
from patchcheck.reporters.json_report import SCHEMA_PATH, load_schema, render_json


@pytest.fixture(scope="module")
def validator():
    schema = load_schema()
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


def test_document_is_the_report_model(sample_report):
    text = render_json(sample_report)
    assert text.endswith("}\n")
    doc = json.loads(text)
    assert doc == json.loads(json.dumps(sample_report.to_json()))
    # and it reads back into the same report (the cache and baselines rely on it)
    assert ScanReport.from_json(doc) == sample_report


def test_document_content(sample_report):
    doc = json.loads(render_json(sample_report))
    assert doc["schema"] == REPORT_SCHEMA
    assert doc["summary"] == {
        "cooperates": 1,
        "blocks": 1,
        "breaks": 1,
        "warns": 2,
        "skipped": 1,
        "not-installed": 1,
        "untested": 1,
    }
    psycopg = next(r for r in doc["results"] if r["name"] == "psycopg2-binary")
    assert psycopg["verdict"] == "blocks"
    assert psycopg["probes"][0]["plain"]["max_gap_ms"] == 503.1
    assert psycopg["probes"][0]["remedies"][0]["remedy"] == "psycogreen.gevent.patch_psycopg()"
    assert psycopg["findings"][1]["waived"].startswith("psycogreen is applied")
    assert "×" in render_json(sample_report)  # UTF-8 text, not \u escapes


def test_sample_validates_against_the_schema(sample_report, validator):
    validator.validate(json.loads(render_json(sample_report)))


def test_edge_reports_validate(sample_report, validator):
    empty = ScanReport(environment=sample_report.environment, results=(), problems=("boom",))
    validator.validate(json.loads(render_json(empty)))
    nan = dataclasses.replace(
        sample_report.results[0],
        findings=(
            Finding(
                code="PC999",
                severity=Severity.INFO,
                check="x",
                summary="odd",
                evidence={"value": float("nan"), "inf": [float("inf")], "path": SCHEMA_PATH},
            ),
        ),
    )
    report = dataclasses.replace(sample_report, results=(nan,))
    text = render_json(report)  # never "NaN": strict JSON parsers reject it
    doc = json.loads(text, parse_constant=lambda c: pytest.fail(f"non-JSON constant {c}"))
    validator.validate(doc)
    assert doc["results"][0]["findings"][0]["evidence"] == {
        "value": None,
        "inf": [None],
        "path": str(SCHEMA_PATH),
    }


def test_schema_rejects_drift(sample_report, validator):
    doc = json.loads(render_json(sample_report))
    doc["results"][0]["surprise"] = 1
    with pytest.raises(jsonschema.ValidationError):
        validator.validate(doc)
    doc = json.loads(render_json(sample_report))
    doc["results"][0]["verdict"] = "fine"
    with pytest.raises(jsonschema.ValidationError):
        validator.validate(doc)


def _walk(node, path="#"):
    if isinstance(node, dict):
        for key, sub in node.get("properties", {}).items():
            yield f"{path}/properties/{key}", sub
            yield from _walk(sub, f"{path}/properties/{key}")
        for key, sub in node.get("$defs", {}).items():
            yield f"{path}/$defs/{key}", sub
            yield from _walk(sub, f"{path}/$defs/{key}")


def test_schema_documents_every_field():
    undocumented = [
        path for path, sub in _walk(load_schema()) if "description" not in sub and "$ref" not in sub
    ]
    assert undocumented == []


def test_schema_covers_every_field_the_model_writes(sample_report):
    """Every key to_json() writes is declared (additionalProperties: false catches new ones,
    this catches a declared-but-renamed one)."""
    schema = load_schema()
    doc = sample_report.to_json()
    assert set(schema["properties"]) == set(doc)
    # "bisect" is written only for a bisected distribution (tests/bisect checks its shape),
    # "implicit" only on the stdlib row of a scan that did not ask for it
    assert set(schema["$defs"]["distributionResult"]["properties"]) - {"bisect", "implicit"} \
        == set(doc["results"][0])
    assert set(schema["$defs"]["finding"]["properties"]) == set(doc["results"][1]["findings"][0])
    # "expected" is a control's known answer: written on controls only
    assert set(schema["$defs"]["probeOutcome"]["properties"]) - {"expected"} \
        == set(doc["results"][1]["probes"][0])
    assert set(schema["$defs"]["probeOutcome"]["properties"]) == set(doc["controls"][0])
    assert set(schema["$defs"]["measurement"]["properties"]) == set(
        doc["results"][1]["probes"][0]["plain"]
    )
    assert set(schema["$defs"]["environment"]["properties"]) == set(doc["environment"])
