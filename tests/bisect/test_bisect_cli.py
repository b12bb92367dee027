"""Patch bisection through the real command line, on real children of a target venv.

pc_epoll needs select.epoll, which patch_all()'s select patch removes in its aggressive mode;
pc_mp_pool runs multiprocessing.Pool(2).map() at import, which hangs under patch_all().
"""
from __future__ import annotations

import json
from pathlib import Path

import pytest
from pc_testutil import build_venv, json_report, run_patchcheck, shared_tmp

PACKAGES = Path(__file__).resolve().parent.parent / "packages"


@pytest.fixture(scope="module")
def bisect_python(tmp_path_factory: pytest.TempPathFactory) -> str:
    return build_venv(shared_tmp(tmp_path_factory), "bisect-venv",
                      [PACKAGES / "pc_epoll", PACKAGES / "pc_mp_pool"])


def _by_name(report: dict) -> dict:
    return {r["name"]: r for r in report["results"]}


def test_default_bisects_a_cheap_break_and_leaves_a_hang_alone(bisect_python: str,
                                                               tmp_path: Path) -> None:
    proc = run_patchcheck("scan", "pc_epoll", "pc_mp_pool", "--python", bisect_python,
                          "--no-probes", "--no-cache", "--timeout", "3", "--format", "table",
                          "--report", f"json={tmp_path / 'r.json'}", cwd=tmp_path,
                          env={"CI": "true"})
    assert proc.returncode == 1, proc.stderr
    report = json.loads((tmp_path / "r.json").read_text())
    assert report["problems"] == []
    epoll, pool = _by_name(report)["pc-epoll"], _by_name(report)["pc-mp-pool"]
    assert pool["verdict"] == "breaks" and "bisect" not in pool  # a hang: only with --bisect
    b = epoll["bisect"]
    # Read from the target's gevent: every boolean patch_all() argument that is on.
    assert {"socket", "select", "thread", "aggressive", "queue"} <= set(b["candidates"])
    assert "sys" not in b["candidates"]  # off by default, so not a candidate
    assert b["culprits"] == ["select"] and b["remedy"] == {"select": False}
    assert b["verified"] == "imports" and b["before"] == "breaks"
    assert b["alternatives"] == ["aggressive"]  # the narrower change, measured too
    assert not b["budget_exhausted"] and 1 < b["runs"] <= b["max_runs"]
    cost = {c["probe"]: c["outcome"] for c in b["cost"]}
    assert cost == {"stdlib.select": "blocks", "stdlib.selectors": "blocks"}
    assert ("bisect: breaks under patch_all() → imports with patch_all(select=False)"
            in " ".join(proc.stdout.split()))


def test_no_bisect_turns_it_off(bisect_python: str, tmp_path: Path) -> None:
    proc = run_patchcheck("scan", "pc_epoll", "--python", bisect_python, "--no-probes",
                          "--no-cache", "--no-bisect", "--format", "json", cwd=tmp_path)
    r = _by_name(json_report(proc))["pc-epoll"]
    assert r["verdict"] == "breaks" and "bisect" not in r


def test_bisect_names_thread_and_queue_for_multiprocessing_pool(bisect_python: str,
                                                                tmp_path: Path) -> None:
    # Measured on Python 3.11 + gevent 26.9: thread=False alone still hangs (the pool's
    # SimpleQueue is gevent's: LoopExit in its handler thread), queue=False alone too.
    proc = run_patchcheck("scan", "pc_mp_pool", "--python", bisect_python, "--no-probes",
                          "--no-cache", "--timeout", "3", "--bisect", "--format", "json",
                          cwd=tmp_path)
    report = json_report(proc)
    assert report["problems"] == []
    b = _by_name(report)["pc-mp-pool"]["bisect"]
    assert b["culprits"] == ["thread", "queue"]
    assert b["verified"] == "imports"
    assert b["unmeasured"] == ["queue"]  # no built-in probe measures queue.SimpleQueue
    cost = {c["probe"]: c["outcome"] for c in b["cost"]}
    assert set(cost) == {"stdlib.threading.lock", "stdlib.threading.event",
                         "stdlib.threading.condition", "stdlib.queue"}
    # Unpatched, each waits in a real lock: the hub stalls (on a loaded machine the meter may
    # see CPU during the stall, never cooperation).
    assert set(cost.values()) <= {"blocks", "cpu-bound"}, b["cost"]
    assert b["summary"].startswith(
        "breaks under patch_all() → imports with patch_all(thread=False, queue=False)")


def test_a_probe_that_blocks_in_c_is_not_blamed_on_a_patch(target_python: str,
                                                           tmp_path: Path) -> None:
    # pc_native_io calls libc connect()/recv() itself, where no patch reaches: the probe is the
    # re-run check, and with every patch off it still blocks, so no argument is named.
    probes = Path(__file__).resolve().parent.parent / "e2e_probes"
    proc = run_patchcheck("scan", "pc_native_io", "--python", target_python, "--probe-path",
                          str(probes), "--no-cache", "--bisect", "--format", "json", cwd=tmp_path)
    report = json_report(proc)
    assert report["problems"] == []
    r = _by_name(report)["pc-native-io"]
    assert r["verdict"] == "blocks"
    b = r["bisect"]
    assert b["check"] == "probe:pc_native_io.fetch" and b["before"] == "blocks"
    assert b["culprits"] == [] and b["verified"] is None and b["runs"] == 1
    assert "no patch_all() argument is to blame" in b["summary"]
