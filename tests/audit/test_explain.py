"""``patchcheck explain NAME``: knowledge, probes, remedy, evidence, and the last cached result."""
from __future__ import annotations

import json
import os
from pathlib import Path

from pc_testutil import run_patchcheck

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
    cache.put(new_key, _measured("internal-tool", "2.0", Verdict.BLOCKS, remedy=True))
    cache.put(other_key, _measured("something-else", "9", Verdict.COOPERATES))
    os.utime(cache.path_for(old_key), (1_700_000_000, 1_700_000_000))
    os.utime(cache.path_for(new_key), (1_700_000_100, 1_700_000_100))
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
