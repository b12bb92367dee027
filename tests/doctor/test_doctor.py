"""patchcheck doctor against real children of real interpreters."""
from __future__ import annotations

import json
import subprocess
import sys

from patchcheck.doctor import render_doctor, run_doctor
from patchcheck.net import redact_url as _redact


def test_doctor_on_this_interpreter_is_ok():
    import gevent
    import greenlet

    report = run_doctor(sys.executable, timeout=60, check_services=False)
    assert report.ok, render_doctor(report)
    assert report.gevent_version == gevent.__version__
    assert report.greenlet_version == greenlet.__version__
    assert report.patching_works
    assert {c.name: c.outcome for c in report.controls} == {
        "sleep-original": "blocks", "sleep-patched": "cooperates",
        "socket-original": "blocks", "socket-patched": "cooperates",
        "select-original": "blocks", "select-patched": "cooperates"}
    text = render_doctor(report)
    assert "patch_all() works" in text and "ok: patchcheck can measure" in text
    doc = json.loads(render_doctor(report, fmt="json"))
    assert doc["ok"] is True and len(doc["controls"]) == 6
    assert doc["controls"][0]["measurement"]["concurrency"] == 3


def test_doctor_says_what_to_fix_without_gevent(tmp_path):
    venv = tmp_path / "bare"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    report = run_doctor(str(venv / "bin" / "python"), timeout=30, check_services=False)
    assert not report.ok
    assert report.gevent_version is None
    assert any("pip install gevent" in fix for fix in report.fixes)
    assert "what to fix:" in render_doctor(report)


def test_doctor_on_a_missing_interpreter(tmp_path):
    report = run_doctor(str(tmp_path / "nope"), timeout=10, check_services=False)
    assert not report.ok and report.fixes


def test_redact():
    assert _redact("mysql://u:secret@127.0.0.1:1/db") == "mysql://u:****@127.0.0.1:1/db"
    assert _redact("redis://127.0.0.1:1/0") == "redis://127.0.0.1:1/0"
