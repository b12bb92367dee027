"""The pre-deployment audit, end to end: ``examples/audit/run_audit.sh`` on a real virtualenv.

The venv is built from ``examples/audit/requirements.txt`` (41 distributions, pinned) with uv
(or venv + pip) from the configured package index; the installers' caches make a rebuild take
seconds. Without an index the test skips, except in CI (CI=true) where it fails. The audit
runs with ``--no-probes`` to stay fast: import checks and the native-code scan find real
warnings (stale references, MonkeyPatchWarning, psycopg2's libpq) to waive and baseline.

Flow: install pc-audit-client 1.0 (clean) → ``--update-baseline`` → the audit passes under
``fail-on = "order-sensitive"`` although 11 distributions warn or are order-sensitive (accepted
in the baseline); every report
file exists and parses (SARIF against the OASIS schema); the psycopg2 waiver shows as waived →
upgrade pc-audit-client to 2.0, which captures ``socket.socket`` at import (a new PC120) → the
same command fails.
"""
from __future__ import annotations

import datetime as _dt
import json
import os
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import jsonschema
import pytest
from pc_testutil import IN_CI, ROOT

EXAMPLE = ROOT / "examples" / "audit"
PACKAGES = Path(__file__).resolve().parent / "packages"
SARIF_SCHEMA = ROOT / "tests" / "reporters" / "data" / "sarif-schema-2.1.0.json"
FORMATS = {"json": "patchcheck.json", "junit": "patchcheck.junit.xml",
           "sarif": "patchcheck.sarif", "markdown": "patchcheck.md",
           "github": "patchcheck.github.txt"}


def _run(argv: list[str], **kw: object) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, capture_output=True, text=True, timeout=600, **kw)  # type: ignore[call-overload]


def _build_venv(venv: Path) -> str:
    python = venv / "bin" / "python"
    requirements = str(EXAMPLE / "requirements.txt")
    if shutil.which("uv"):
        steps = [["uv", "venv", "-q", "--python", sys.executable, str(venv)],
                 ["uv", "pip", "install", "-q", "--python", str(python), "-r", requirements]]
    else:
        steps = [[sys.executable, "-m", "venv", str(venv)],
                 [str(python), "-m", "pip", "install", "-q", "-r", requirements]]
    for argv in steps:
        proc = _run(argv)
        if proc.returncode:
            message = f"{' '.join(argv[:3])} failed: {(proc.stderr or proc.stdout)[-800:]}"
            if IN_CI:
                pytest.fail(message)
            pytest.skip("no package index reachable? " + message)
    return str(python)


def _install(python: str, package: str, tmp: Path) -> None:
    """Build a wheel of a test package with this interpreter's setuptools; install it there."""
    src = tmp / f"src-{package}"
    shutil.copytree(PACKAGES / package, src)
    wheels = tmp / f"wheels-{package}"
    proc = _run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation",
                 "--no-index", "-w", str(wheels), str(src)])
    assert proc.returncode == 0, proc.stdout + proc.stderr
    proc = _run([sys.executable, "-m", "pip", "--python", python, "install", "-q", "--no-deps",
                 "--no-index", "--force-reinstall", *map(str, wheels.glob("*.whl"))])
    assert proc.returncode == 0, proc.stdout + proc.stderr


def _audit(workdir: Path, python: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ)
    env.pop("PATCHCHECK_DISABLE_PLUGIN_AUTOLOAD", None)
    env.update({
        "AUDIT_VENV": str(Path(python).parent.parent),
        "PATCHCHECK": f"{sys.executable} -m patchcheck",
        "PATCHCHECK_CACHE_DIR": str(workdir / "cache"),
        "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")])),
    })
    return _run([str(workdir / "run_audit.sh"), "--no-probes", *args], cwd=workdir, env=env)


def _results(report: dict) -> dict[str, dict]:
    import re

    return {re.sub(r"[-_.]+", "-", r["name"]).lower(): r for r in report["results"]}


def test_the_example_waiver_is_well_formed() -> None:
    from patchcheck.config import load_settings

    settings = load_settings({}, cwd=EXAMPLE, config_path=EXAMPLE / "pyproject.toml")
    (waiver,) = settings.waivers
    assert waiver.key == "psycopg2-binary" and waiver.reason and waiver.expires is not None
    assert settings.fail_on == "order-sensitive" and settings.timeout == 90
    assert Path(settings.baseline) == EXAMPLE / ".patchcheck" / "baseline.json"


def test_audit_with_waiver_baseline_and_every_report_format(tmp_path: Path) -> None:
    python = _build_venv(tmp_path / "venv")
    workdir = tmp_path / "audit"
    shutil.copytree(EXAMPLE, workdir, ignore=shutil.ignore_patterns(".venv", "reports",
                                                                   ".patchcheck"))
    # The example's waiver has a fixed expiry date; keep it live whenever the test runs.
    config = workdir / "pyproject.toml"
    text = config.read_text()
    assert "expires = 2027-06-30" in text
    next_year = (_dt.date.today() + _dt.timedelta(days=365)).isoformat()
    config.write_text(text.replace("expires = 2027-06-30", f"expires = {next_year}"))
    _install(python, "pc_audit_client_v1", tmp_path)

    # 1. Adopt: record today's state.
    first = _audit(workdir, python, "--update-baseline")
    assert first.returncode == 0, first.stderr[-3000:]
    baseline = json.loads((workdir / ".patchcheck" / "baseline.json").read_text())
    assert baseline["schema"] == "patchcheck.baseline/1"
    assert len(baseline["distributions"]) >= 30

    # 2. The gate: warnings everywhere, all accepted → passes under fail-on = "order-sensitive".
    second = _audit(workdir, python)
    assert second.returncode == 0, second.stderr[-3000:]
    reports = workdir / "reports"
    report = json.loads((reports / FORMATS["json"]).read_text())
    results = _results(report)
    assert len(results) >= 30
    unclean = ("order-sensitive", "warns", "suspect")
    warned = [r["name"] for r in report["results"] if r["verdict"] in unclean]
    assert warned, "the example needs real findings for the baseline to accept"
    assert results["pc-audit-client"]["verdict"] not in unclean

    # The waiver: psycopg2's libpq finding is kept, marked with the reason, and not counted.
    psycopg2 = results["psycopg2-binary"]
    (pc141,) = [f for f in psycopg2["findings"] if f["code"] == "PC141"]
    assert pc141["waived"].startswith("shop_api/__init__.py calls psycogreen")
    assert psycopg2["verdict"] not in unclean
    assert psycopg2["origin"].startswith("pyproject.toml:")

    # Every report format, from the same run.
    sarif = json.loads((reports / FORMATS["sarif"]).read_text())
    schema = json.loads(SARIF_SCHEMA.read_text())
    jsonschema.Draft4Validator(schema).validate(sarif)
    suppressed = [r for r in sarif["runs"][0]["results"] if r.get("suppressions")]
    assert any(r["ruleId"] == "PC141" for r in suppressed)

    junit = ET.parse(reports / FORMATS["junit"]).getroot()
    cases = junit.findall(".//testcase")
    assert len(cases) >= 30
    assert any(c.find("failure") is not None for c in cases)  # at/above fail-on, as it should

    markdown = (reports / FORMATS["markdown"]).read_text()
    assert markdown.strip() and "psycopg2-binary" in markdown and "|" in markdown

    github = (reports / FORMATS["github"]).read_text().splitlines()
    assert github and all(line.startswith("::") for line in github if line.strip())

    # 3. A new finding fails: pc-audit-client 2.0 captures socket.socket at import.
    _install(python, "pc_audit_client_v2", tmp_path)
    third = _audit(workdir, python)
    assert third.returncode == 1, third.stderr[-3000:]
    client = _results(json.loads((reports / FORMATS["json"]).read_text()))["pc-audit-client"]
    # A stale reference matters only when imported before patch_all(): order-sensitive.
    assert client["version"] == "2.0" and client["verdict"] == "order-sensitive"
    assert "PC120" in {f["code"] for f in client["findings"]}
