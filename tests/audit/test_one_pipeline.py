"""The one audit pipeline (``patchcheck.audit``): the CLI and the pytest plugin decide alike.

The end-to-end cases run the real command line and a real pytest in subprocesses on
distributions the tool's own environment has (six: no probe → untested; sortedcontainers: a
stale threading reference, PC120 → order-sensitive), with the same ``[tool.patchcheck]``: the
same waiver is applied, the same distributions fail, the same expired-waiver note is shown. The
``judge`` cases run the decision step on in-memory reports.
"""
from __future__ import annotations

import datetime as dt
import importlib.util
import json
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from pc_testutil import json_report, run_patchcheck

from patchcheck.audit import AuditRequest, judge, load_audit_baseline, load_audit_settings
from patchcheck.config import Settings
from patchcheck.errors import ConfigError
from patchcheck.exitcode import ExitCode
from patchcheck.model import DistributionResult, Environment, Finding, ScanReport, Severity, Verdict
from patchcheck.verdicts.baseline import write_baseline
from patchcheck.verdicts.waivers import Waiver

HAVE_DISTS = bool(importlib.util.find_spec("six") and importlib.util.find_spec("sortedcontainers"))

WAIVER = """
[[tool.patchcheck.waivers]]
distribution = "sortedcontainers"
codes = ["PC120"]
reason = "only used in the offline report job"
"""

EXPIRED = """
[[tool.patchcheck.waivers]]
distribution = "six"
reason = "was reviewed once"
expires = 2020-01-01
"""


@pytest.mark.skipif(not HAVE_DISTS, reason="needs six and sortedcontainers installed")
@pytest.mark.parametrize("waived", [False, True], ids=["no-waiver", "waiver"])
def test_cli_and_pytest_plugin_apply_the_same_waivers_and_fail_the_same(
        pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, waived: bool) -> None:
    pytester.makepyprojecttoml('[tool.patchcheck]\nfail-on = "order-sensitive"\n'
                               + (WAIVER if waived else "") + EXPIRED)
    pytester.makefile(".txt", requirements="six\nsortedcontainers\n")
    cache = {"PATCHCHECK_CACHE_DIR": str(pytester.path / "cache")}

    cli = run_patchcheck("scan", "requirements.txt", "--format", "json",
                         cwd=pytester.path, env=cache)
    results = {r["name"]: r for r in json_report(cli)["results"]}
    for name, value in cache.items():
        monkeypatch.setenv(name, value)
    run = pytester.runpytest_subprocess("-p", "no:cacheprovider", "--patchcheck-scan",
                                        "requirements.txt", "--junitxml", "junit.xml")
    cases = {c.get("name"): c for c in ET.parse(pytester.path / "junit.xml").iter("testcase")}
    pytest_failed = {name for name, case in cases.items() if case.find("failure") is not None}

    # The same waiver is applied: the CLI's report marks PC120 waived, the item passes.
    pc120 = [f for f in results["sortedcontainers"]["findings"] if f["code"] == "PC120"]
    assert pc120, results["sortedcontainers"]
    assert all(f["waived"] == ("only used in the offline report job" if waived else None)
               for f in pc120)
    # The same exit decision: the run fails exactly on what the pytest items fail on.
    assert pytest_failed == (set() if waived else {"sortedcontainers"})
    assert cli.returncode == (ExitCode.OK if waived else ExitCode.FINDINGS), cli.stderr
    assert run.ret == (pytest.ExitCode.OK if waived else pytest.ExitCode.TESTS_FAILED)
    # The same note about the expired waiver, on the CLI's stderr and in pytest's summary.
    note = "waiver for six expired on 2020-01-01 (reason: was reviewed once)"
    assert note in cli.stderr
    run.stdout.fnmatch_lines([f"*{note}*"])


# --- judge: the decision step on in-memory data -------------------------------------------------

ENV = Environment("/usr/bin/python3", "3.11.7", "CPython", "linux", "26.9.0", "3.2.4")
TODAY = dt.date(2026, 6, 1)


def _report(*results: DistributionResult, problems: tuple[str, ...] = ()) -> ScanReport:
    return ScanReport(environment=ENV, results=results, problems=problems)


def _warns(name: str, code: str = "PC120") -> DistributionResult:
    finding = Finding(code=code, severity=Severity.WARNING, check="stale", summary=code)
    return DistributionResult(name=name, verdict=Verdict.WARNS, version="1.0",
                              findings=(finding,))


def _settings(**kw: object) -> Settings:
    return Settings(fail_on="warns", **kw)  # type: ignore[arg-type]


def test_judge_applies_waivers_before_the_policy() -> None:
    waiver = Waiver(distribution="b", reason="accepted", codes=("PC120",))
    result = judge(AuditRequest(settings=_settings(waivers=(waiver,))),
                   _report(_warns("a"), _warns("b")), today=TODAY)
    assert result.failing == ("a",)
    assert result.exit_code is ExitCode.FINDINGS
    assert [f.waived for f in result.report.results[1].findings] == ["accepted"]
    assert result.waiver_notes == ()


def test_problems_win_over_findings() -> None:
    result = judge(AuditRequest(settings=_settings()), _report(_warns("a"), problems=("x",)))
    assert result.exit_code is ExitCode.INTERNAL_ERROR
    assert result.notes == ("problem: x",)


def test_baseline_fails_only_what_is_new_and_update_accepts_everything(tmp_path: Path) -> None:
    path = tmp_path / "baseline.json"
    write_baseline(_report(_warns("a")), path)
    audit = AuditRequest(settings=_settings(baseline=path))
    result = judge(audit, _report(_warns("a"), _warns("b")), baseline=load_audit_baseline(audit))
    assert result.failing == ("b",)
    assert result.exit_code is ExitCode.FINDINGS
    assert "baseline: new distribution b" in result.baseline_notes

    update = AuditRequest(settings=_settings(baseline=path), update_baseline=True)
    assert load_audit_baseline(update) is None  # about to be written, not read
    written = judge(update, _report(_warns("a"), _warns("b")))
    assert (written.exit_code, written.failing) == (ExitCode.OK, ())
    assert written.baseline_notes == (f"baseline written to {path}",)
    assert set(json.loads(path.read_text())["distributions"]) == {"a", "b"}

    # The pytest plugin's request does not use the baseline: the verdicts alone decide.
    plugin = judge(AuditRequest(settings=_settings(baseline=path), use_baseline=False),
                   _report(_warns("a"), _warns("c")))
    assert plugin.failing == ("a", "c")


def test_a_missing_baseline_is_an_error_before_any_scan(tmp_path: Path) -> None:
    audit = AuditRequest(settings=_settings(baseline=tmp_path / "missing.json"))
    with pytest.raises(ConfigError, match="missing.json does not exist"):
        load_audit_baseline(audit)


def test_settings_overrides_ignore_options_not_given(tmp_path: Path) -> None:
    (tmp_path / "patchcheck.toml").write_text('fail-on = "breaks"\n')
    settings = load_audit_settings({"fail_on": None, "timeout": "5"}, cwd=tmp_path, env={})
    assert (settings.fail_on, settings.timeout) == ("breaks", 5.0)
    assert settings.origins["fail_on"] == "patchcheck.toml:1"
