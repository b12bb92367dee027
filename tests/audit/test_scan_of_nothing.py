"""A scan that judged nothing is an error (issue #15.5), decided once in ``audit.judge``: the
CLI exits 2 with one ``patchcheck: error:`` line and a hint, and the pytest plugin's scan items
fail with the same message — a misconfigured CI gate is red, not green."""
from __future__ import annotations

import pytest
from pc_testutil import run_patchcheck

from patchcheck.audit import AuditRequest, judge
from patchcheck.config import Settings
from patchcheck.errors import UsageError
from patchcheck.exitcode import ExitCode
from patchcheck.model import DistributionResult, Environment, ScanReport, Verdict

ENV = Environment(python="/venv/bin/python", python_version="3.11.7", implementation="CPython",
                  platform="linux-x86_64", gevent_version="24.2.1", greenlet_version="3.0.3")


def _missing(name: str) -> DistributionResult:
    return DistributionResult(name=name, verdict=Verdict.NOT_INSTALLED)


def test_judge_refuses_an_empty_report() -> None:
    with pytest.raises(UsageError, match="no distributions scanned") as info:
        judge(AuditRequest(settings=Settings()), ScanReport(environment=ENV, results=()))
    assert info.value.exit_code is ExitCode.USAGE_ERROR and info.value.hint


def test_judge_refuses_a_report_where_nothing_is_installed() -> None:
    report = ScanReport(environment=ENV, results=(_missing("a"), _missing("b")))
    with pytest.raises(UsageError, match="none of the 2 distributions is installed in "
                                         "/venv/bin/python"):
        judge(AuditRequest(settings=Settings()), report)


def test_one_installed_distribution_is_a_scan() -> None:
    ok = DistributionResult(name="c", verdict=Verdict.UNTESTED, version="1")
    result = judge(AuditRequest(settings=Settings()),
                   ScanReport(environment=ENV, results=(_missing("a"), ok)))
    assert result.exit_code is ExitCode.OK


def test_patchcheck_problems_outrank_an_empty_scan() -> None:
    report = ScanReport(environment=ENV, results=(), problems=("the harness failed",))
    assert judge(AuditRequest(settings=Settings()), report).exit_code is ExitCode.INTERNAL_ERROR


@pytest.mark.parametrize("content, words", [
    ("# nothing but a comment\n", "no distributions scanned"),
    ("not-a-real-package-pc15==1.0\n", "none of the 1 distribution is installed"),
], ids=["empty", "all-not-installed"])
def test_cli_exits_2_with_one_line_and_a_hint(tmp_path, content: str, words: str) -> None:
    (tmp_path / "requirements.txt").write_text(content)
    proc = run_patchcheck("scan", "requirements.txt", "--no-probes", cwd=tmp_path)
    assert proc.returncode == ExitCode.USAGE_ERROR, proc.stderr
    lines = proc.stderr.strip().splitlines()
    errors = [ln for ln in lines if ln.startswith("patchcheck: error: ")]
    assert len(errors) == 1 and words in errors[0], proc.stderr
    assert lines[-1].startswith("hint: "), proc.stderr
    assert "Traceback" not in proc.stderr
    assert proc.stdout == ""


def test_pytest_plugin_fails_the_scan_items_with_the_same_message(
        pytester: pytest.Pytester) -> None:
    pytester.makefile(".txt", requirements="not-a-real-package-pc15\nnot-another-one-pc15\n")
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider",
                                           "--patchcheck-scan", "requirements.txt")
    result.assert_outcomes(failed=2)
    result.stdout.fnmatch_lines([
        "*patchcheck could not scan: nothing scanned: none of the 2 distributions is "
        "installed in *",
        "hint: scan with --install*",
    ])


def test_a_scan_without_probes_loads_no_probe_bisection_or_server_code(tmp_path) -> None:
    # A plain or cached import scan (the most common run, and goal 4 of issue #13) pays only
    # for what it uses: the probe files, the bisection and the loopback servers load on demand.
    import os
    import subprocess
    import sys

    code = ("import contextlib, io, sys\n"
            "from patchcheck.cli import main\n"
            "with contextlib.redirect_stdout(io.StringIO()):\n"
            "    rc = main(['scan', 'pluggy', '--no-probes', '--format', 'json'])\n"
            "print(int(rc), sorted(m for m in sys.modules if m.startswith(("
            "'patchcheck.bisect', 'patchcheck.probeloader', 'patchcheck.services.f',"
            " 'patchcheck.suitestalls'))))\n")
    env = {**os.environ, "PATCHCHECK_CACHE_DIR": str(tmp_path / "cache")}
    for run in ("measured", "cached"):
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                             env=env, cwd=tmp_path, timeout=120)
        assert out.returncode == 0, out.stderr
        assert out.stdout.split(None, 1) == ["0", "[]\n"], (run, out.stdout, out.stderr)
