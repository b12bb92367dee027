"""The triaged verdicts (order-sensitive, suspect) in every built-in format: the JSON schema
accepts them, SARIF and GitHub give them their levels, Markdown and the table name them, JUnit
fails them by rank."""
from __future__ import annotations

import json
import xml.etree.ElementTree as ET

import jsonschema

from patchcheck.model import (
    FAIL_ON_LEVELS,
    DistributionResult,
    Environment,
    ScanReport,
    Verdict,
)
from patchcheck.reporters.github import render_github
from patchcheck.reporters.json_report import load_schema, render_json
from patchcheck.reporters.junit import render_junit
from patchcheck.reporters.markdown import render_markdown
from patchcheck.reporters.sarif import render_sarif
from patchcheck.reporters.table import render_table
from patchcheck.verdicts import evidence as ev
from patchcheck.verdicts.fold import fold_verdict, make_finding

ENV = Environment("/usr/bin/python3", "3.11.7", "CPython", "linux", "26.9.0", "3.2.4")


def _report() -> ScanReport:
    stale = make_finding("PC120", "stale-refs", evidence=ev.StaleReferences((
        ev.StaleReference(kind="module", holder="oldlib", name="socket",
                          original="socket.socket"),)))
    native = make_finding("PC140", "native", evidence=ev.NativeCode(
        file="/site/cdriver/_io.so", io=ev.NativeIO.OWN_CALLS,
        symbols={"network": ("connect", "recv")}))
    results = []
    for name, finding in (("oldlib", stale), ("cdriver", native)):
        verdict, folded = fold_verdict([finding])
        results.append(DistributionResult(name=name, version="1.0", verdict=verdict,
                                          origin="requirements.txt:1", findings=folded))
    return ScanReport(environment=ENV, results=tuple(results))


def test_verdicts_and_severities_are_in_the_json_schema() -> None:
    doc = json.loads(render_json(_report()))
    jsonschema.Draft202012Validator(load_schema()).validate(doc)
    assert doc["summary"] == {"order-sensitive": 1, "suspect": 1}
    assert [f["severity"] for r in doc["results"] for f in r["findings"]] == ["order-only",
                                                                            "suspect"]


def test_sarif_levels_and_github_commands() -> None:
    results = json.loads(render_sarif(_report()))["runs"][0]["results"]
    assert {(r["ruleId"], r["level"], r["properties"]["severity"]) for r in results} == {
        ("PC120", "note", "order-only"), ("PC140", "warning", "suspect")}
    commands = [line.split(" ", 1)[0] for line in render_github(_report()).splitlines()]
    assert commands == ["::notice", "::warning"]


def test_table_markdown_and_junit_name_and_rank_them() -> None:
    table = render_table(_report(), width=100).splitlines()
    rows = {line.split()[0]: line.split()[2] for line in table[2:4]}
    assert rows == {"oldlib": "order-sensitive", "cdriver": "suspect"}
    assert "1 suspect, 1 order-sensitive" in render_table(_report(), width=100)
    markdown = render_markdown(_report())
    assert "🔀 order-sensitive" in markdown and "🟠 suspect" in markdown
    for level, failing in (("suspect", {"cdriver"}), ("order-sensitive", {"oldlib", "cdriver"}),
                           ("blocks", set())):
        root = ET.fromstring(render_junit(_report(), fail_on=FAIL_ON_LEVELS[level]))
        failed = {c.get("name", "").split("==")[0] for c in root.iter("testcase")
                  if c.find("failure") is not None}
        assert failed == failing, level
    assert Verdict.SUSPECT.rank > Verdict.WARNS.rank > Verdict.ORDER_SENSITIVE.rank


def test_order_sensitive_key_evidence_leads_with_the_measurement() -> None:
    from patchcheck.model import Measurement, Outcome, ProbeOutcome
    from patchcheck.reporters._views import key_evidence
    from patchcheck.verdicts.fold import with_probes

    (oldlib, _) = _report().results
    m = Measurement(outcome=Outcome.COOPERATES, wait_ms=300, concurrency=3, elapsed_ms=310,
                    ratio=1.0, max_gap_ms=7, cpu_ms=1)
    measured = with_probes(oldlib, (ProbeOutcome(probe="oldlib.get", origin="builtin",
                                                 plain=m),))
    assert measured.verdict is Verdict.ORDER_SENSITIVE  # cooperating after does not clear it
    assert key_evidence(measured) == "patched first: stall 7 ms, ratio 1.0×; stale: oldlib.socket"
