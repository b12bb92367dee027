"""End to end: ``patchcheck scan`` in a subprocess against the test packages in a real venv.

Each test package gets the verdict its behaviour deserves, with the evidence that shows why.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
from pc_testutil import ROOT, by_name, json_report, run_patchcheck

from patchcheck.cache import ResultCache


@pytest.fixture(scope="module")
def scanned(target_python: str, tmp_path_factory: pytest.TempPathFactory) -> dict:
    tmp = tmp_path_factory.mktemp("scan")
    req = tmp / "requirements.txt"
    req.write_text(
        "# the test packages, one per behaviour\n"
        "pc_coop\npc_stale\npc_epoll\npc_hang\npc_segv\npc_native_thread\n"
        "pc_native_io\npc_native_compute\npc_broken\n"
        "not-a-real-distribution-xyz>=1.0\n"
        "pc_coop_windows_only ; sys_platform == 'win32'\n")
    proc = run_patchcheck("scan", str(req), "--python", target_python, "--format", "json",
                          "--timeout", "10", "--no-probes", "--no-cache", cwd=tmp)
    report = json_report(proc)
    report["_exit"] = proc.returncode
    report["_stderr"] = proc.stderr
    return report


def _codes(result: dict) -> set[str]:
    return {f["code"] for f in result["findings"]}


def test_environment_is_recorded(scanned: dict, target_python: str) -> None:
    env = scanned["environment"]
    assert env["gevent_version"] and env["greenlet_version"]
    assert env["python_version"].startswith(f"{sys.version_info[0]}.{sys.version_info[1]}")
    assert scanned["schema"] == "patchcheck.report/1"


def test_exit_code_is_findings(scanned: dict) -> None:
    assert scanned["_exit"] == 1, scanned["_stderr"]


def test_marker_false_requirement_is_not_scanned(scanned: dict) -> None:
    assert "pc-coop-windows-only" not in by_name(scanned)


def test_cooperating_package_imports_clean(scanned: dict) -> None:
    r = by_name(scanned)["pc-coop"]
    # Without a probe nothing measured it: it imports fine and is untested, with no warning.
    assert r["verdict"] == "untested"
    assert not [f for f in r["findings"] if f["severity"] != "info"]


def test_stale_references_are_named(scanned: dict) -> None:
    r = by_name(scanned)["pc-stale"]
    # stale references matter only if the app imports it before patch_all()
    assert r["verdict"] == "order-sensitive"
    (finding,) = [f for f in r["findings"] if f["code"] == "PC120"]
    assert finding["severity"] == "order-only"
    refs = {(x["holder"], x["name"], x["original"]) for x in finding["evidence"]["references"]}
    assert ("pc_stale", "socket", "socket.socket") in refs
    assert ("pc_stale", "sleep", "time.sleep") in refs
    # the default argument captured at import is found too
    assert any(x["kind"] == "default-argument" and x["original"] == "time.sleep"
               for x in finding["evidence"]["references"])


def test_needs_epoll_breaks(scanned: dict) -> None:
    r = by_name(scanned)["pc-epoll"]
    assert r["verdict"] == "breaks"
    (finding,) = [f for f in r["findings"] if f["code"] == "PC100"]
    assert "epoll" in finding["evidence"]["message"]
    assert "AttributeError" in finding["evidence"]["exception"]


def test_hang_at_import_breaks_with_stack(scanned: dict) -> None:
    r = by_name(scanned)["pc-hang"]
    assert r["verdict"] == "breaks"
    (finding,) = [f for f in r["findings"] if f["code"] == "PC102"]
    assert "pc_hang" in finding["evidence"]["stack"]  # the faulthandler dump names the file


def test_segfault_at_import_breaks(scanned: dict) -> None:
    r = by_name(scanned)["pc-segv"]
    assert r["verdict"] == "breaks"
    (finding,) = [f for f in r["findings"] if f["code"] == "PC101"]
    assert finding["evidence"]["signal"] == "SIGSEGV"


def test_native_thread_at_import_warns(scanned: dict) -> None:
    r = by_name(scanned)["pc-native-thread"]
    assert r["verdict"] == "warns"
    (finding,) = [f for f in r["findings"] if f["code"] == "PC130"]
    assert finding["evidence"]["native_threads"] >= 1


def test_c_extension_doing_its_own_socket_io_is_suspect(scanned: dict) -> None:
    r = by_name(scanned)["pc-native-io"]
    # its own extension calls connect/recv and no probe measured it: probably blocks the hub
    assert r["verdict"] == "suspect"
    (finding,) = [f for f in r["findings"] if f["code"] == "PC140"]
    assert finding["severity"] == "suspect" and finding["evidence"]["io"] == "own-calls"
    text = json.dumps(finding["evidence"])
    assert "connect" in text and "recv" in text


def test_compute_only_extension_is_not_flagged(scanned: dict) -> None:
    r = by_name(scanned)["pc-native-compute"]
    assert r["verdict"] == "untested"
    assert "PC140" not in _codes(r) and "PC141" not in _codes(r)


def test_import_failing_without_gevent_warns_not_breaks(scanned: dict) -> None:
    r = by_name(scanned)["pc-broken"]
    # Not gevent's doing, so not "breaks"; but the library could not be checked: a warning.
    assert r["verdict"] == "warns"
    (finding,) = [f for f in r["findings"] if f["code"] == "PC104"]
    assert "pc_dependency_that_is_not_installed" in finding["evidence"]["message"]


def test_missing_distribution_is_not_installed(scanned: dict) -> None:
    r = by_name(scanned)["not-a-real-distribution-xyz"]
    assert r["verdict"] == "not-installed"
    assert r["origin"].endswith("requirements.txt:11")  # line 1 is a comment


def test_malformed_line_is_a_one_line_error(tmp_path: Path) -> None:
    req = tmp_path / "requirements.txt"
    req.write_text("redis\nrequests>=>2\n")
    proc = run_patchcheck("scan", str(req), cwd=tmp_path)
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    first = proc.stderr.splitlines()[0]
    assert first.startswith("patchcheck: error: ") and "requirements.txt:2" in first


def test_missing_python_is_a_usage_error(tmp_path: Path) -> None:
    proc = run_patchcheck("scan", "redis", "--python", str(tmp_path / "nope" / "python"),
                          cwd=tmp_path)
    assert proc.returncode == 2
    assert "no such interpreter" in proc.stderr and "Traceback" not in proc.stderr


def test_interpreter_without_gevent_is_named(tmp_path: Path) -> None:
    import subprocess

    venv = tmp_path / "bare"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    python = venv / "bin" / "python"
    proc = run_patchcheck("scan", "redis", "--python", str(python), cwd=tmp_path)
    assert proc.returncode == 3
    assert "gevent is not installed in the target interpreter" in proc.stderr
    assert str(python) in proc.stderr or "bare" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_requirement_strings_and_module_entry_point(target_python: str, tmp_path: Path) -> None:
    proc = run_patchcheck("scan", "pc_coop", "pc_native_compute", "--python", target_python,
                          "--format", "json", "--no-probes", "--no-cache", cwd=tmp_path)
    report = json_report(proc)
    assert {r["verdict"] for r in report["results"]} == {"untested"}
    assert proc.returncode == 0, proc.stderr


def test_patch_args_are_passed_to_patch_all(target_python: str, tmp_path: Path) -> None:
    # With select=False gevent leaves select.epoll alone, so the epoll package imports fine.
    proc = run_patchcheck("scan", "pc_epoll", "--python", target_python, "--format", "json",
                          "--patch", "select=false", "--no-probes", "--no-cache", cwd=tmp_path)
    report = json_report(proc)
    r = by_name(report)["pc-epoll"]
    assert "PC100" not in _codes(r)
    assert report["environment"]["patch_args"] == {"select": False}


def test_table_output_shows_verdicts(target_python: str, tmp_path: Path) -> None:
    proc = run_patchcheck("scan", "pc_epoll", "pc_coop", "--python", target_python,
                          "--no-probes", "--no-cache", cwd=tmp_path,
                          env={"CI": "true"})
    assert proc.returncode == 1
    assert "breaks" in proc.stdout and "untested" in proc.stdout
    assert "\r" not in proc.stderr  # no progress display when not on a terminal / in CI


def test_fail_on_breaks_ignores_warnings(target_python: str, tmp_path: Path) -> None:
    proc = run_patchcheck("scan", "pc_stale", "--python", target_python, "--fail-on", "breaks",
                          "--no-probes", "--no-cache", "--format", "json", cwd=tmp_path)
    assert by_name(json_report(proc))["pc-stale"]["verdict"] == "order-sensitive"
    assert proc.returncode == 0
    # order-sensitive ranks below warns: only --fail-on order-sensitive (or lower) fails on it
    proc = run_patchcheck("scan", "pc_stale", "--python", target_python, "--fail-on", "warns",
                          "--no-probes", "--no-cache", "--format", "json", cwd=tmp_path)
    assert proc.returncode == 0
    proc = run_patchcheck("scan", "pc_stale", "--python", target_python, "--fail-on",
                          "order-sensitive", "--no-probes", "--no-cache", "--format", "json",
                          cwd=tmp_path)
    assert proc.returncode == 1


def test_suspect_fails_at_fail_on_suspect_not_at_blocks(target_python: str,
                                                         tmp_path: Path) -> None:
    args = ("scan", "pc_native_io", "--python", target_python, "--no-probes", "--no-cache",
            "--format", "json")
    proc = run_patchcheck(*args, cwd=tmp_path)
    assert by_name(json_report(proc))["pc-native-io"]["verdict"] == "suspect"
    assert proc.returncode == 0, proc.stderr  # the default --fail-on blocks
    proc = run_patchcheck(*args, "--fail-on", "suspect", cwd=tmp_path)
    assert proc.returncode == 1, proc.stderr


def test_a_real_c_client_without_a_probe_is_suspect(target_python: str, tmp_path: Path) -> None:
    """psycopg2-binary's _psycopg links its bundled libpq: with its probe not run, the table
    says "probably blocks the hub" (suspect), not the same warns as a stale reference."""
    import importlib.util

    if importlib.util.find_spec("psycopg2") is None:
        pytest.skip("psycopg2-binary is not installed")
    proc = run_patchcheck("scan", "psycopg2-binary", "sortedcontainers", "--python",
                          target_python, "--no-probes", "--no-cache", cwd=tmp_path,
                          env={"CI": "true", "COLUMNS": "120"})
    table = proc.stdout.split("\nDetails\n", 1)[0]  # the rows, not the details' headings
    rows = {line.split()[0]: line.split()[2] for line in table.splitlines()
            if line.split()[:1] in (["psycopg2-binary"], ["sortedcontainers"])}
    assert rows == {"psycopg2-binary": "suspect", "sortedcontainers": "order-sensitive"}, \
        proc.stdout


def test_patches_first_shows_order_only_findings_as_info(target_python: str,
                                                         tmp_path: Path) -> None:
    """A project that patches first: pc_stale's stale references are info, its verdict is what
    was measured (nothing: untested), and the report says why once — from the flag, from the
    environment, or from [tool.patchcheck]; the command line wins."""
    args = ("scan", "pc_stale", "--python", target_python, "--no-probes", "--no-cache",
            "--format", "json", "--fail-on", "order-sensitive")
    proc = run_patchcheck(*args, "--patches-first", cwd=tmp_path)
    report = json_report(proc)
    r = by_name(report)["pc-stale"]
    assert r["verdict"] == "untested" and proc.returncode == 0, proc.stderr
    assert {f["severity"] for f in r["findings"] if f["code"] == "PC120"} == {"info"}
    assert report["notes"].count("order-only findings shown as info: the project patches "
                                 "first (--patches-first)") == 1
    assert proc.stderr.count("order-only findings shown as info") == 1

    (tmp_path / "pyproject.toml").write_text("[project]\nname = 'app'\n\n"
                                             "[tool.patchcheck]\npatches-first = true\n")
    proc = run_patchcheck(*args, cwd=tmp_path)
    report = json_report(proc)
    assert by_name(report)["pc-stale"]["verdict"] == "untested"
    assert ("order-only findings shown as info: the project patches first (pyproject.toml:5 "
            "[tool.patchcheck] patches-first)") in report["notes"]
    # CLI > env > file: the environment turns it off, the flag on again
    proc = run_patchcheck(*args, cwd=tmp_path, env={"PATCHCHECK_PATCHES_FIRST": "0"})
    assert by_name(json_report(proc))["pc-stale"]["verdict"] == "order-sensitive"
    assert proc.returncode == 1
    proc = run_patchcheck(*args, "--patches-first", cwd=tmp_path,
                          env={"PATCHCHECK_PATCHES_FIRST": "0"})
    assert by_name(json_report(proc))["pc-stale"]["verdict"] == "untested"


def test_rescan_of_unchanged_environment_is_served_from_cache(target_python: str,
                                                              tmp_path: Path) -> None:
    env = {"PATCHCHECK_CACHE_DIR": str(tmp_path / "cache")}
    # --no-bisect: bisection re-measures on every scan (not cached), so its timings differ
    args = ("scan", "pc_stale", "pc_epoll", "pc_native_io", "--python", target_python,
            "--format", "json", "--no-probes", "--no-bisect")
    first = json_report(run_patchcheck(*args, cwd=tmp_path, env=env))
    assert len(ResultCache(tmp_path / "cache")) == 3  # one result per distribution
    second = json_report(run_patchcheck(*args, cwd=tmp_path, env=env))
    assert second["results"] == first["results"]
    # served from the cache: no child ran, so far quicker than the first scan
    assert second["duration_s"] < first["duration_s"]
    # a changed setting that the result depends on is a miss
    third = json_report(run_patchcheck(*args, "--patch", "select=false", cwd=tmp_path, env=env))
    assert "PC100" not in _codes(by_name(third)["pc-epoll"])
    assert len(ResultCache(tmp_path / "cache")) == 6


@pytest.fixture(scope="module")
def probed(target_python: str, tmp_path_factory: pytest.TempPathFactory) -> dict:
    tmp = tmp_path_factory.mktemp("probed")
    proc = run_patchcheck("scan", "pc_coop", "pc_native_io", "pc_stale", "--python",
                          target_python, "--format", "json", "--no-cache",
                          "--probe-path", str(ROOT / "tests" / "e2e_probes"), cwd=tmp)
    report = json_report(proc)
    report["_exit"] = proc.returncode
    return report


def test_probe_measures_the_pure_python_client_cooperating(probed: dict) -> None:
    r = by_name(probed)["pc-coop"]
    assert r["verdict"] == "cooperates"
    (outcome,) = r["probes"]
    assert outcome["plain"]["ratio"] < 2 and outcome["plain"]["max_gap_ms"] < 150
    assert outcome["origin"].endswith("e2e_probes")  # the --probe-path folder it came from


def test_probe_measures_the_c_extension_blocking_and_the_threadpool_fixing_it(
        probed: dict) -> None:
    r = by_name(probed)["pc-native-io"]
    assert r["verdict"] == "blocks"
    (outcome,) = r["probes"]
    plain = outcome["plain"]
    assert plain["outcome"] == "blocks" and plain["ratio"] >= 2 and plain["max_gap_ms"] >= 150
    # the native-code warning stays (a measured block outranks it; nothing cleared it)
    assert {f["code"] for f in r["findings"]} >= {"PC200", "PC140"}
    # the generic remedy: the C call releases the GIL, so gevent's threadpool makes it cooperate
    (remedy,) = outcome["remedies"]
    assert "threadpool" in remedy["remedy"] and remedy["outcome"] == "cooperates"
    assert probed["_exit"] == 1


def test_controls_ran_and_measured_as_expected(probed: dict) -> None:
    controls = {c["probe"]: c["plain"]["outcome"] for c in probed["controls"]}
    assert controls["control:sleep-original"] == "blocks"
    assert controls["control:sleep-patched"] == "cooperates"
    assert controls["control:socket-original"] == "blocks"
    assert controls["control:socket-patched"] == "cooperates"
    assert not probed["problems"]


def test_gevent_listed_in_requirements_is_not_judged(target_python: str, tmp_path: Path) -> None:
    # every gevent app lists gevent itself: its own originals and C loop are not findings
    proc = run_patchcheck("scan", "gevent", "greenlet", "pc_coop", "--python", target_python,
                          "--format", "json", "--no-cache", "--probe-path",
                          str(ROOT / "tests" / "e2e_probes"), cwd=tmp_path)
    report = json_report(proc)
    gevent, greenlet = by_name(report)["gevent"], by_name(report)["greenlet"]
    assert [f["code"] for f in gevent["findings"]] == ["PC003"]
    # not judged (the same verdict whether or not this scan ran the controls), but the controls
    # measured gevent's patched sleep/socket/select cooperating
    assert gevent["verdict"] == "untested"
    assert gevent["findings"][0]["evidence"]["controls"]["control:sleep-patched"] == "cooperates"
    assert greenlet["verdict"] == "untested" and [f["code"] for f in greenlet["findings"]] == [
        "PC003"]
    assert proc.returncode == 0, proc.stderr


def test_deps_scans_what_the_requirements_pull_in(target_python: str, tmp_path: Path) -> None:
    proc = run_patchcheck("scan", "requests", "--deps", "--python", target_python, "--format",
                          "json", "--no-probes", "--no-cache", cwd=tmp_path)
    results = by_name(json_report(proc))
    assert results["urllib3"]["origin"] == "dependency of requests"
    assert {"requests", "urllib3", "idna", "certifi"} <= set(results)


def test_missing_service_makes_the_probe_skipped_with_the_reason(target_python: str,
                                                                 tmp_path: Path) -> None:
    import importlib.util

    if importlib.util.find_spec("redis") is None:
        pytest.skip("redis-py is not installed")
    # a configured server that does not answer is unavailable, never silently replaced
    proc = run_patchcheck("scan", "redis", "--python", target_python, "--format", "json",
                          "--no-cache", cwd=tmp_path,
                          env={"PATCHCHECK_REDIS_URL": "redis://127.0.0.1:1/0"})
    result = by_name(json_report(proc))["redis"]
    # nothing measured it; its import-order findings are never cleared by a measurement
    assert result["verdict"] in ("skipped", "order-sensitive")
    assert "PC205" in {f["code"] for f in result["findings"]}
    (outcome,) = result["probes"]
    assert outcome["plain"]["outcome"] == "skipped"
    assert "redis" in outcome["plain"]["error"] and "127.0.0.1:1" in outcome["plain"]["error"]
    assert proc.returncode == 0  # below the default --fail-on blocks
