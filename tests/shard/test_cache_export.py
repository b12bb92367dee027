"""``patchcheck cache export/import``: the result cache as one file, for a CI cache step."""
from __future__ import annotations

import json
from pathlib import Path

from pc_testutil import run_patchcheck

from patchcheck.cache import ResultCache
from patchcheck.model import DistributionResult, Finding, Severity, Verdict


def _result(name: str) -> DistributionResult:
    return DistributionResult(name=name, version="1.0", verdict=Verdict.UNTESTED,
                              findings=(Finding(code="PC001", severity=Severity.INFO,
                                                check="plan", summary="no probe"),))


def _run(tmp: Path, cache: Path, *args: str):
    return run_patchcheck("cache", *args, cwd=tmp, env={"PATCHCHECK_CACHE_DIR": str(cache)})


def test_export_then_import_into_an_empty_cache(tmp_path: Path) -> None:
    source = ResultCache(tmp_path / "a")
    keys = {ResultCache.key(distribution=n): n for n in ("six", "idna", "attrs")}
    for key, name in keys.items():
        assert source.put(key, _result(name))
    (source.path_for(next(iter(keys))).parent / ("f" * 64 + ".json")).write_text("{garbage")
    proc = _run(tmp_path, tmp_path / "a", "export", "cache.jsonl")
    assert proc.returncode == 0, proc.stderr
    assert "exported 3 cached results" in proc.stderr
    lines = (tmp_path / "cache.jsonl").read_text().splitlines()
    assert json.loads(lines[0])["schema"] == "patchcheck.cache-export/1"
    assert len(lines) == 4

    proc = _run(tmp_path, tmp_path / "b", "import", "cache.jsonl")
    assert proc.returncode == 0, proc.stderr
    assert "imported 3 cached results" in proc.stderr
    target = ResultCache(tmp_path / "b")
    assert len(target) == 3
    for key, name in keys.items():
        hit = target.get(key)
        assert hit is not None and hit.to_json() == _result(name).to_json()


def test_another_layout_is_skipped_with_a_warning(tmp_path: Path) -> None:
    (tmp_path / "old.jsonl").write_text(
        json.dumps({"schema": "patchcheck.cache-export/1", "layout": "v1",
                    "cache_schema": "patchcheck.cache/1"}) + "\n"
        + json.dumps({"key": "ab" * 32, "result": _result("six").to_json()}) + "\n")
    proc = _run(tmp_path, tmp_path / "c", "import", "old.jsonl")
    assert proc.returncode == 0
    assert "warning: old.jsonl: cache layout 'v1'" in proc.stderr
    assert len(ResultCache(tmp_path / "c")) == 0


def test_a_file_that_is_not_an_export_is_exit_2(tmp_path: Path) -> None:
    (tmp_path / "x.jsonl").write_text("hello\n")
    proc = _run(tmp_path, tmp_path / "d", "import", "x.jsonl")
    assert proc.returncode == 2
    assert proc.stderr.startswith("patchcheck: error: x.jsonl:line 1: not a patchcheck cache")
    proc = _run(tmp_path, tmp_path / "d", "import", "missing.jsonl")
    assert proc.returncode == 2 and "missing.jsonl: cannot read" in proc.stderr


def test_bad_entries_are_skipped_not_fatal(tmp_path: Path) -> None:
    (tmp_path / "some.jsonl").write_text(
        json.dumps({"schema": "patchcheck.cache-export/1", "layout": "v2",
                    "cache_schema": "patchcheck.cache/1"}) + "\n"
        + json.dumps({"key": "ab" * 32, "result": _result("six").to_json()}) + "\n"
        + json.dumps({"key": "../../etc", "result": _result("six").to_json()}) + "\n"
        + "{not json\n")
    proc = _run(tmp_path, tmp_path / "e", "import", "some.jsonl")
    assert proc.returncode == 0
    assert "imported 1 cached result " in proc.stderr and "2 unreadable" in proc.stderr
