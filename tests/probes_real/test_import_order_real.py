"""Import order is measured, not assumed (issue #10), end to end with the real library.

``python -m patchcheck scan requests --format json`` in a subprocess, against the loopback TLS
fixture. requests' import-before check finds gevent's MonkeyPatchWarning (PC110: ssl was
imported first) and stale references (PC120), so its probes also run with requests imported
before ``patch_all()``; over HTTPS that run raises RecursionError (gevent#1016) while the
patched-first run cooperates: PC209. The patched-first cooperation must not clear PC110/PC120.
"""
from __future__ import annotations

import json

import jsonschema
import pytest
from pc_real_testutil import require_library
from pc_testutil import ROOT, by_name, json_report, run_patchcheck


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> dict:
    require_library("requests", "requests")
    proc = run_patchcheck("scan", "requests", "--skip", "stdlib", "--format", "json",
                          "--no-cache", cwd=tmp_path_factory.mktemp("order"))
    data = json_report(proc)
    data["_exit"] = proc.returncode
    data["_stderr"] = proc.stderr
    return data


def test_the_report_is_valid_and_patchcheck_had_no_problem(report: dict) -> None:
    schema = json.loads((ROOT / "patchcheck" / "reporters" / "report.schema.json").read_text())
    jsonschema.Draft202012Validator(schema).validate(
        {k: v for k, v in report.items() if not k.startswith("_")})
    assert not report["problems"], report["problems"]
    # warns is below the default --fail-on (blocks): PC209 alone does not fail the run (a
    # loaded machine can still measure a blocking call; then exit 1 is right, and shown)
    result = by_name(report)["requests"]
    expected = 1 if result["verdict"] in ("blocks", "breaks") else 0
    assert report["_exit"] == expected, (result["verdict"], [
        (f["code"], f["summary"]) for f in result["findings"]], report["_stderr"])


def test_https_imported_before_patch_all_raises_recursion_error(report: dict) -> None:
    result = by_name(report)["requests"]
    runs = {(p["probe"], p["order"]): p["plain"] for p in result["probes"]}
    assert runs[("requests.get_tls", "after-patch")]["outcome"] == "cooperates"
    before = runs[("requests.get_tls", "before-patch")]
    assert before["outcome"] == "breaks" and not before["hung"], before
    assert "RecursionError" in before["error"], before["error"]
    # the import check's findings added the imported-first run to the plain-HTTP probe too
    assert ("requests.get", "before-patch") in runs


def test_the_measurement_is_pc209_and_the_verdict_is_order_sensitive(report: dict) -> None:
    result = by_name(report)["requests"]
    (pc209,) = [f for f in result["findings"] if f["code"] == "PC209"]
    assert pc209["severity"] == "order-only"
    assert pc209["evidence"] == {"probe": "requests.get_tls", "order": "before-patch"}
    assert pc209["check"] == "probe:requests.get_tls (imported before patch_all)"
    assert "breaks if imported before patch_all(): RecursionError" in pc209["summary"]
    assert not [f for f in result["findings"] if f["code"] == "PC202"]  # not "breaks"
    assert result["verdict"] == "order-sensitive"


def test_a_patched_first_cooperation_does_not_clear_the_import_order_warnings(
        report: dict) -> None:
    result = by_name(report)["requests"]
    order = {f["code"]: f for f in result["findings"] if f["code"] in ("PC110", "PC120")}
    assert set(order) == {"PC110", "PC120"}
    for finding in order.values():
        assert finding["severity"] == "order-only", finding
        assert "cleared" not in finding["summary"], finding
