"""``patchcheck explain NAME``: knowledge, probes, remedy, evidence, and the last cached result."""
from __future__ import annotations

import json
import os
from pathlib import Path

from pc_testutil import IN_CI, run_patchcheck

from patchcheck.cache import ResultCache
from patchcheck.explain import explain, newest_cached
from patchcheck.hookspecs import hookimpl
from patchcheck.model import (
    DistributionResult,
    Finding,
    Measurement,
    ProbeOutcome,
    Severity,
    Verdict,
)
from patchcheck.plugins import make_plugin_manager
from patchcheck.spec import KnowledgeEntry


def _cli(tmp_path: Path, *args: str):
    return run_patchcheck("explain", *args, cwd=tmp_path,
                          env={"PATCHCHECK_CACHE_DIR": str(tmp_path / "cache")})


def test_known_library_text(tmp_path: Path) -> None:
    proc = _cli(tmp_path, "psycopg2-binary")
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    assert out.startswith("psycopg2-binary — known: blocks")
    assert "remedy:\n  - psycogreen.gevent.patch_psycopg()" in out
    assert "evidence:\n  - https://" in out
    assert "psycopg2.pg_sleep: needs postgresql" in out
    assert "re-run with psycogreen.gevent.patch_psycopg()" in out
    assert "last measured: never on this machine" in out


def test_known_library_json_and_name_normalisation(tmp_path: Path) -> None:
    proc = _cli(tmp_path, "PSYCOPG2_Binary", "--format", "json")
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)
    assert doc["schema"] == "patchcheck.explain/1" and doc["found"] is True
    assert [k["finding"] for k in doc["knowledge"]] == ["blocks"]
    assert [p["name"] for p in doc["probes"]] == ["psycopg2.pg_sleep"]
    assert doc["probes"][0]["remedies"] == ["psycogreen.gevent.patch_psycopg()"]
    assert any("psycogreen" in r for r in doc["remedies"])
    assert all(link.startswith("https://") for link in doc["evidence"]) and doc["evidence"]
    assert doc["last_measured"] is None


def test_unknown_name_exits_2_with_a_hint(tmp_path: Path) -> None:
    proc = _cli(tmp_path, "psycopg3")
    assert proc.returncode == 2
    assert proc.stdout == ""
    assert "patchcheck: error: nothing is known about 'psycopg3'" in proc.stderr
    assert "hint: did you mean 'psycopg'" in proc.stderr

    proc = _cli(tmp_path, "no-such-library-xyz", "--format", "json")
    assert proc.returncode == 2
    doc = json.loads(proc.stdout)
    assert doc["found"] is False
    assert "patchcheck scan 'no-such-library-xyz'" in doc["hint"]


def _measured(name: str, version: str, verdict: Verdict, *, remedy: bool = False
              ) -> DistributionResult:
    plain = Measurement(outcome="blocks", wait_ms=300, concurrency=3, elapsed_ms=905,
                        ratio=3.02, max_gap_ms=301.4, cpu_ms=9)
    fixed = Measurement(outcome="cooperates", wait_ms=300, concurrency=3, elapsed_ms=310,
                        ratio=1.03, max_gap_ms=4.0, cpu_ms=8,
                        remedy="psycogreen.gevent.patch_psycopg()")
    return DistributionResult(
        name=name, version=version, verdict=verdict,
        findings=(Finding(code="PC200", severity=Severity.BLOCKS, check="probe:x.sleep",
                          summary="x.sleep blocks the gevent hub (stall 301 ms)"),),
        probes=(ProbeOutcome(probe="x.sleep", origin="builtin", plain=plain,
                             remedies=(fixed,) if remedy else ()),))


def test_last_measured_comes_from_the_newest_cache_entry(tmp_path: Path) -> None:
    cache = ResultCache(tmp_path / "cache")
    old_key, new_key, other_key = (ResultCache.key(distribution=n) for n in ("a", "b", "c"))
    cache.put(old_key, _measured("Internal_Tool", "1.0", Verdict.WARNS))
    cache.put(new_key, _measured("internal-tool", "2.0", Verdict.BLOCKS, remedy=True),
              measured_at="2023-11-14T22:15:00+00:00")
    cache.put(other_key, _measured("something-else", "9", Verdict.COOPERATES))
    # An entry written before entries recorded measured_at: its file's mtime stands in.
    legacy = json.loads(cache.path_for(old_key).read_text())
    del legacy["measured_at"]
    cache.path_for(old_key).write_text(json.dumps(legacy))
    os.utime(cache.path_for(old_key), (1_700_000_000, 1_700_000_000))
    os.utime(cache.path_for(other_key), (1_800_000_000, 1_800_000_000))
    corrupt = cache.path_for(new_key).with_name("f" * 64 + ".json")
    corrupt.write_text("{not json")
    os.utime(corrupt, (1_900_000_000, 1_900_000_000))

    found = newest_cached("internal-tool", tmp_path / "cache")
    assert found is not None and found.result.version == "2.0"

    # Nothing but the cache knows this name: still found, with the measurement.
    text, ok = explain("internal_tool", cache_root=tmp_path / "cache")
    assert ok
    assert "internal_tool — no knowledge entry" in text
    assert "probes: none" in text
    assert "last measured: internal-tool 2.0 — blocks (2023-11-14T22:15:00+00:00" in text
    assert "PC200 blocks: x.sleep blocks the gevent hub" in text
    assert "probe x.sleep: blocks (stall 301 ms, ratio 3.0×)" in text
    assert "with psycogreen.gevent.patch_psycopg(): cooperates (stall 4 ms, ratio 1.0×)" in text

    doc = json.loads(explain("internal-tool", fmt="json", cache_root=tmp_path / "cache")[0])
    assert doc["last_measured"]["verdict"] == "blocks"
    assert doc["last_measured"]["probes"][0]["remedies"][0]["outcome"] == "cooperates"


def test_missing_cache_folder_is_not_an_error(tmp_path: Path) -> None:
    assert newest_cached("redis", tmp_path / "does-not-exist") is None
    text, ok = explain("redis", cache_root=tmp_path / "does-not-exist")
    assert ok and "redis.blpop" in text


class _TeamKnowledge:
    @hookimpl
    def patchcheck_add_knowledge(self) -> list[KnowledgeEntry]:
        return [KnowledgeEntry(distribution="acme-client", versions="<2", finding="breaks",
                               summary="acme-client 1.x starts a native reactor thread.",
                               remedy="upgrade to acme-client 2", origin="acme-plugin",
                               evidence=("https://example.invalid/acme/issues/1",))]


def test_knowledge_from_a_plugin(tmp_path: Path) -> None:
    pm = make_plugin_manager()
    pm.register(_TeamKnowledge(), name="acme")
    text, ok = explain("acme-client", plugin_manager=pm, cache_root=tmp_path)
    assert ok
    assert text.startswith("acme-client — known: breaks")
    assert "breaks (acme-client <2): acme-client 1.x starts a native reactor thread. " \
           "[acme-plugin]" in text
    assert "  - upgrade to acme-client 2" in text
    assert "  - https://example.invalid/acme/issues/1" in text


# -- issue #10 item 7, issue #15 item 11 --------------------------------------------------------

TEAM_PROBE = '''
from patchcheck_probe import probe


@probe(distributions=["acme-widget"], wait=0.2, description="acme-widget: one call")
def acme_widget_call(ctx):
    import acme_widget

    return acme_widget.call
'''


def test_explain_knows_the_teams_probes_from_probe_path_and_the_config(tmp_path: Path) -> None:
    probes = tmp_path / "probes"
    probes.mkdir()
    (probes / "acme_probe.py").write_text(TEAM_PROBE)
    unknown = _cli(tmp_path, "acme-widget")
    assert unknown.returncode == 2, unknown.stdout  # without the folder nothing knows it

    given = _cli(tmp_path, "acme-widget", "--probe-path", str(probes))
    assert given.returncode == 0, given.stderr
    assert "probes (1):\n  acme-widget.call: needs no service" in given.stdout
    assert "acme-widget: one call" in given.stdout
    # The suggested scan repeats the folder (or the scan would not run the team's probe).
    assert f"--install --probe-path {probes}" in given.stdout

    # The scan's own setting, read the scan's way: [tool.patchcheck] probe-paths.
    (tmp_path / "pyproject.toml").write_text('[tool.patchcheck]\nprobe-paths = ["probes"]\n')
    configured = _cli(tmp_path, "acme-widget", "--format", "json")
    assert configured.returncode == 0, configured.stderr
    doc = json.loads(configured.stdout)
    assert [p["name"] for p in doc["probes"]] == ["acme-widget.call"]
    assert doc["installed"] is False and doc["scan_command"].endswith("--install")


def test_the_newest_measurement_wins_by_when_it_was_measured(tmp_path: Path) -> None:
    """Across environments (keys), by the entry's measured_at — not by file age — and with the
    Python and gevent it was measured on."""
    from patchcheck.model import Environment

    cache = ResultCache(tmp_path / "cache")
    py311 = Environment("/opt/py311/bin/python", "3.11.9", "CPython", "linux-x86_64",
                        "24.11.1", "3.1.1")
    py313 = Environment("/opt/py313/bin/python", "3.13.1", "CPython", "linux-x86_64",
                        "25.5.1", "3.2.3")
    old, new = ResultCache.key(distribution="acme", python="3.11"), ResultCache.key(
        distribution="acme", python="3.13")
    cache.put(new, _measured("acme", "2.0", Verdict.BLOCKS), environment=py313,
              measured_at="2026-05-01T10:00:00+00:00")
    cache.put(old, _measured("acme", "1.0", Verdict.WARNS), environment=py311,
              measured_at="2026-01-01T10:00:00+00:00")
    # The older measurement's file is the newer file (a cache import rewrote it, say).
    os.utime(cache.path_for(new), (1_700_000_000, 1_700_000_000))
    found = newest_cached("acme", tmp_path / "cache")
    assert found is not None and found.result.version == "2.0"
    assert found.environment == py313
    text, ok = explain("acme", cache_root=tmp_path / "cache")
    assert ok
    assert ("last measured: acme 2.0 — blocks (2026-05-01T10:00:00+00:00 on CPython 3.13.1, "
            "gevent 25.5.1, greenlet 3.2.3, from the result cache)") in text

    # The export/import round trip keeps when and where.
    exported = tmp_path / "cache.jsonl"
    cache.export(exported)
    ResultCache(tmp_path / "other").import_file(exported)
    again = newest_cached("acme", tmp_path / "other")
    assert again is not None and again.environment == py313
    assert again.measured_at == found.measured_at


def test_a_real_scan_records_when_and_where_for_explain(tmp_path: Path) -> None:
    env = {"PATCHCHECK_CACHE_DIR": str(tmp_path / "cache")}
    scan = run_patchcheck("scan", "six", "--no-probes", "--format", "json", cwd=tmp_path,
                          env=env)
    assert scan.returncode == 0, scan.stderr
    measured = json.loads(scan.stdout)["environment"]
    proc = _cli(tmp_path, "six", "--format", "json")
    assert proc.returncode == 0, proc.stderr
    last = json.loads(proc.stdout)["last_measured"]
    assert last["name"] == "six" and last["environment"]["python"] == measured["python"]
    assert last["environment"]["gevent_version"] == measured["gevent_version"]
    text = _cli(tmp_path, "six").stdout
    assert (f"on {measured['implementation']} {measured['python_version']}, gevent "
            f"{measured['gevent_version']}") in text


def _installed_here(name: str) -> bool:
    from importlib import metadata

    try:
        metadata.distribution(name)
    except metadata.PackageNotFoundError:
        return False
    return True


def test_psycopg2_is_found_measured_as_psycopg2_binary(tmp_path: Path) -> None:
    import pytest

    if not _installed_here("psycopg2-binary") or _installed_here("psycopg2"):
        pytest.skip("needs psycopg2-binary installed (and not psycopg2)")
    before = _cli(tmp_path, "psycopg2")
    assert "last measured: never on this machine" in before.stdout
    # The scan suggested is of the distribution that is installed: the same code.
    assert "scan it: patchcheck scan 'psycopg2-binary'" in before.stdout
    scan = run_patchcheck("scan", "psycopg2-binary", "--no-probes", cwd=tmp_path,
                          env={"PATCHCHECK_CACHE_DIR": str(tmp_path / "cache")})
    assert scan.returncode in (0, 1), scan.stderr
    after = _cli(tmp_path, "psycopg2")
    assert after.returncode == 0, after.stderr
    assert "last measured: psycopg2-binary " in after.stdout
    assert "  psycopg2: measured as psycopg2-binary (the same extension)" in after.stdout
    doc = json.loads(_cli(tmp_path, "psycopg2", "--format", "json").stdout)
    assert doc["last_measured"]["measured_as"] == {"name": "psycopg2-binary",
                                                   "why": "the same extension"}
    # Its own name: no "measured as".
    own = json.loads(_cli(tmp_path, "psycopg2-binary", "--format", "json").stdout)
    assert own["last_measured"]["measured_as"] is None


def test_the_suggested_scan_of_a_library_not_installed_works(tmp_path: Path) -> None:
    """``explain gunicorn`` (not installed here): the scan it suggests has --install, and
    running exactly that command measures it, after which explain shows the measurement."""
    import shlex

    import pytest

    if _installed_here("gunicorn"):
        pytest.skip("gunicorn is installed here: the suggestion needs no --install")
    env = {"PATCHCHECK_CACHE_DIR": str(tmp_path / "cache")}
    proc = _cli(tmp_path, "gunicorn", "--format", "json")
    assert proc.returncode == 2  # nothing knows it yet
    doc = json.loads(proc.stdout)
    assert doc["installed"] is False
    assert doc["scan_command"] == "patchcheck scan 'gunicorn' --install"
    assert doc["scan_command"] in doc["hint"]
    argv = shlex.split(doc["scan_command"])
    assert argv[:2] == ["patchcheck", "scan"]
    scan = run_patchcheck(*argv[1:], cwd=tmp_path, env=env, timeout=900)
    if "could not install gevent" in scan.stderr and not IN_CI:
        pytest.skip("no package index reachable")
    assert scan.returncode == 0, scan.stderr
    after = _cli(tmp_path, "gunicorn")
    assert after.returncode == 0, after.stderr
    assert "last measured: gunicorn " in after.stdout


def test_the_standard_library_needs_no_install(tmp_path: Path) -> None:
    doc = json.loads(_cli(tmp_path, "stdlib", "--format", "json").stdout)
    assert doc["scan_command"] == "patchcheck scan 'stdlib'" and doc["installed"] is True
