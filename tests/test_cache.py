"""The result cache: keys, hits, and every broken state being a miss rather than an error."""
from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
import sys
import textwrap
import threading
from pathlib import Path

import pytest

from patchcheck.cache import ResultCache, default_cache_dir, files_digest
from patchcheck.model import (
    DistributionResult,
    Finding,
    Measurement,
    ProbeOutcome,
    Severity,
    Verdict,
)

REPO = Path(__file__).resolve().parents[1]

RESULT = DistributionResult(
    name="pycurl",
    verdict=Verdict.BLOCKS,
    version="7.45.3",
    modules=("pycurl",),
    findings=(Finding("PC200", Severity.BLOCKS, "probe:pycurl.get", "hub stalled",
                      {"ratio": 4.1}, hint="use requests"),),
    probes=(ProbeOutcome("pycurl.get", "builtin",
                         Measurement("blocks", 200.0, 5, 1010.0, 5.05, 990.0)),),
)

PARTS = dict(
    distribution="pycurl", version="7.45.3", files="ab" * 32, python="/usr/bin/python3",
    python_version="3.11.7", gevent="26.9.0", greenlet="3.2.4", patch={"thread": False},
    probes={"pycurl.get": "1"},
)


@pytest.fixture
def cache(tmp_path: Path) -> ResultCache:
    return ResultCache(tmp_path / "cache")


# --- keys ----------------------------------------------------------------------------------


def test_key_is_stable_and_order_independent() -> None:
    k = ResultCache.key(**PARTS)
    assert len(k) == 64 and all(c in "0123456789abcdef" for c in k)
    shuffled = dict(reversed(list(PARTS.items())))
    shuffled["patch"] = {"thread": False}
    assert ResultCache.key(**shuffled) == k
    # tuples, Paths and sets are canonicalised
    assert ResultCache.key(a=(1, 2), p=Path("/x"), s={"b", "a"}) == ResultCache.key(
        a=[1, 2], p="/x", s=["a", "b"]
    )


@pytest.mark.parametrize(
    "part, value",
    [("version", "7.45.4"), ("files", "cd" * 32), ("python", "/opt/py/bin/python"),
     ("python_version", "3.12.1"), ("gevent", "25.4.1"), ("greenlet", "3.1.0"),
     ("patch", {"thread": True}), ("probes", {"pycurl.get": "2"}), ("patchcheck", "9.9")],
)
def test_every_part_changes_the_key(part: str, value: object) -> None:
    assert ResultCache.key(**{**PARTS, part: value}) != ResultCache.key(**PARTS)


def test_key_rejects_non_json() -> None:
    with pytest.raises(TypeError, match="cache key part of type object is not JSON data"):
        ResultCache.key(x=object())


def test_files_digest_is_order_independent() -> None:
    assert files_digest(["a,sha256=1", "b,sha256=2"]) == files_digest(["b,sha256=2", "a,sha256=1"])
    assert files_digest(["a,sha256=1"]) != files_digest(["a,sha256=2"])


# --- get / put -------------------------------------------------------------------------------


def test_round_trip(cache: ResultCache) -> None:
    key = cache.key(**PARTS)
    assert cache.get(key) is None
    assert cache.put(key, RESULT) is True
    assert cache.get(key) == RESULT
    assert len(cache) == 1
    path = cache.path_for(key)
    assert path.parent.name == key[:2]
    assert sorted(p.name for p in path.parent.iterdir()) == [f"{key}.json"]  # no temp files


def test_overwrite(cache: ResultCache) -> None:
    key = cache.key(**PARTS)
    cache.put(key, RESULT)
    cache.put(key, RESULT.with_verdict(Verdict.WARNS))
    assert cache.get(key).verdict == Verdict.WARNS


@pytest.mark.parametrize(
    "content",
    [b"", b"garbage \x00\xff", b'{"schema": "patchcheck.cache/1", "key": ', b"[]", b"null",
     b'{"schema": "other", "key": "K", "result": {}}',
     b'{"schema": "patchcheck.cache/1", "key": "K", "result": {"name": "x"}}',
     b'{"schema": "patchcheck.cache/1", "key": "K", "result": {"name": "x", "verdict": "meh"}}',
     b"[" * 100000],
)
def test_corrupt_entry_is_a_miss_and_is_removed(cache: ResultCache, content: bytes) -> None:
    key = cache.key(**PARTS)
    path = cache.path_for(key)
    path.parent.mkdir(parents=True)
    path.write_bytes(content.replace(b'"K"', json.dumps(key).encode()))
    assert cache.get(key) is None
    assert not path.exists()
    assert cache.put(key, RESULT) and cache.get(key) == RESULT


def test_truncated_entry_is_a_miss(cache: ResultCache) -> None:
    key = cache.key(**PARTS)
    cache.put(key, RESULT)
    path = cache.path_for(key)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    assert cache.get(key) is None


def test_entry_under_another_key_is_a_miss(cache: ResultCache) -> None:
    a, b = cache.key(**PARTS), cache.key(**{**PARTS, "version": "2"})
    cache.put(a, RESULT)
    cache.path_for(b).parent.mkdir(parents=True, exist_ok=True)
    shutil.copy(cache.path_for(a), cache.path_for(b))
    assert cache.get(b) is None


def test_deleted_directory_mid_run(cache: ResultCache) -> None:
    key = cache.key(**PARTS)
    cache.put(key, RESULT)
    shutil.rmtree(cache.root)
    assert cache.get(key) is None
    assert len(cache) == 0
    assert cache.put(key, RESULT) is True  # recreated
    assert cache.get(key) == RESULT


def test_root_is_a_file(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("x")
    cache = ResultCache(tmp_path / "file" / "cache")
    key = cache.key(**PARTS)
    assert cache.put(key, RESULT) is False
    assert cache.get(key) is None
    assert len(cache) == 0


def test_entry_is_a_directory(cache: ResultCache) -> None:
    key = cache.key(**PARTS)
    cache.path_for(key).mkdir(parents=True)
    assert cache.get(key) is None
    assert cache.put(key, RESULT) is False


def test_clear(cache: ResultCache) -> None:
    assert cache.clear() == 0
    for v in ("1", "2", "3"):
        cache.put(cache.key(**{**PARTS, "version": v}), RESULT)
    assert cache.clear() == 3
    assert len(cache) == 0


def test_bad_key(cache: ResultCache) -> None:
    with pytest.raises(ValueError, match="not a cache key: '../x'"):
        cache.get("../x")


def test_concurrent_writers_never_leave_a_bad_entry(cache: ResultCache) -> None:
    key = cache.key(**PARTS)
    results = [RESULT.with_verdict(v) for v in (Verdict.BLOCKS, Verdict.WARNS, Verdict.BREAKS)]
    seen: list[object] = []

    def writer(r: DistributionResult) -> None:
        for _ in range(30):
            cache.put(key, r)
            seen.append(cache.get(key))

    threads = [threading.Thread(target=writer, args=(r,)) for r in results]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert all(s in results for s in seen)  # never None, never half an entry
    assert sorted(p.name for p in cache.path_for(key).parent.iterdir()) == [f"{key}.json"]


READ_ONLY_CHILD = textwrap.dedent("""
    import sys
    from pathlib import Path
    from patchcheck.cache import ResultCache
    from patchcheck.model import DistributionResult, Verdict
    cache = ResultCache(Path(sys.argv[1]))
    hit = cache.get(sys.argv[2])
    other = cache.key(distribution="other")
    stored = cache.put(other, DistributionResult(name="other", verdict=Verdict.WARNS))
    stored_existing = cache.put(sys.argv[2], DistributionResult(name="x", verdict=Verdict.WARNS))
    print(hit.name if hit else None, stored, stored_existing, cache.get(other))
""")


def test_read_only_cache_reads_and_never_raises(tmp_path: Path) -> None:
    import tempfile

    # tmp_path is private to root on this machine; the unprivileged child needs a way in.
    root_dir = Path(tempfile.mkdtemp(prefix="pc-ro-cache-"))
    try:
        cache = ResultCache(root_dir / "cache")
        key = cache.key(**PARTS)
        cache.put(key, RESULT)
        if os.geteuid() != 0:
            # Make it read-only for ourselves.
            for d in [cache.root, *cache.root.rglob("*")]:
                if d.is_dir():
                    d.chmod(stat.S_IRUSR | stat.S_IXUSR)
            try:
                assert cache.get(key) == RESULT
                other = cache.key(distribution="other")
                assert cache.put(other, RESULT) is False
                assert cache.put(key, RESULT) is False
                assert cache.get(other) is None
            finally:
                for d in [cache.root, *cache.root.rglob("*")]:
                    if d.is_dir():
                        d.chmod(stat.S_IRWXU)
            return
        # As root, permissions do not apply to us: run the reader as "nobody" in a child.
        root_dir.chmod(0o755)
        for d in cache.root.rglob("*"):
            d.chmod(0o755 if d.is_dir() else 0o644)
        cache.root.chmod(0o755)
        for python in (sys.executable, "/usr/bin/python3"):
            try:
                proc = subprocess.run(
                    [python, "-c", READ_ONLY_CHILD, str(cache.root), key],
                    user=65534, group=65534, env={"PYTHONPATH": str(REPO), "PATH": "/usr/bin"},
                    cwd="/", capture_output=True, text=True, timeout=60,
                )
            except PermissionError:
                continue
            if proc.returncode == 0 or "Traceback" in proc.stderr:
                break
        else:
            if os.environ.get("CI") == "true":
                pytest.fail("no Python the unprivileged user can run")
            pytest.skip("no Python the unprivileged user can run")
        assert proc.stderr == ""
        assert proc.stdout.split() == ["pycurl", "False", "False", "None"]
    finally:
        shutil.rmtree(root_dir, ignore_errors=True)


# --- default location -------------------------------------------------------------------------


def test_default_cache_dir() -> None:
    home = Path.home()
    assert default_cache_dir({}, "linux") == home / ".cache" / "patchcheck"
    assert default_cache_dir({"XDG_CACHE_HOME": "/xdg"}, "linux") == Path("/xdg/patchcheck")
    assert default_cache_dir({"XDG_CACHE_HOME": "rel"}, "linux") == home / ".cache" / "patchcheck"
    assert default_cache_dir({"XDG_CACHE_HOME": "/xdg"}, "darwin") == (
        home / "Library" / "Caches" / "patchcheck"
    )
    assert default_cache_dir({"LOCALAPPDATA": "/lad"}, "win32") == Path("/lad/patchcheck/Cache")
    assert default_cache_dir({}, "win32") == home / "AppData" / "Local" / "patchcheck" / "Cache"
    assert default_cache_dir({"PATCHCHECK_CACHE_DIR": "~/pc", "XDG_CACHE_HOME": "/x"},
                             "linux") == home / "pc"


def test_cache_dir_env_is_used_by_default(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("PATCHCHECK_CACHE_DIR", str(tmp_path / "c"))
    assert ResultCache().root == tmp_path / "c"


def _plugin_dist(site: Path, name: str, marker: Path) -> None:
    """An installed distribution ``name`` whose gevent plugin notes every process loading it."""
    info = site / f"{name}-1.0.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: 1.0\n")
    (info / "top_level.txt").write_text(f"{name}\n")
    (info / "entry_points.txt").write_text(
        f"[gevent.plugins.monkey.did_patch_all]\n{name} = {name}:did_patch_all\n")
    (site / f"{name}.py").write_text(
        "import os\n"
        f"with open({str(marker)!r}, 'a') as f:\n    f.write('%d\\n' % os.getpid())\n"
        "def did_patch_all(event):\n    pass\n")


def test_a_cached_rescan_starts_no_plugin_inventory_child(tmp_path: Path) -> None:
    # The inventory is cached under the info task's fingerprint of the plugins: a re-scan of
    # an unchanged environment loads no plugin anywhere; a new plugin takes the inventory again.
    from pc_testutil import json_report, run_patchcheck

    site, marker = tmp_path / "site", tmp_path / "loaded_by"
    _plugin_dist(site, "rt_plugin_a", marker)
    env = {"PYTHONPATH": str(site), "PATCHCHECK_CACHE_DIR": str(tmp_path / "cache")}
    args = ("scan", "rt_plugin_a", "--no-probes", "--format", "json", "--fail-on", "never")

    first = json_report(run_patchcheck(*args, cwd=tmp_path, env=env))
    loads = marker.read_text().split()
    assert len(loads) >= 3  # the inventory, then both import checks' patch_all()
    second = json_report(run_patchcheck(*args, cwd=tmp_path, env=env))
    assert marker.read_text().split() == loads
    assert second["results"] == first["results"] and second["notes"] == first["notes"]
    assert [r["findings"] for r in second["results"]][0]  # PC150: its plugin, from the cache

    _plugin_dist(site, "rt_plugin_b", tmp_path / "loaded_by_b")
    run_patchcheck(*args, cwd=tmp_path, env=env)
    assert len(marker.read_text().split()) > len(loads)  # a new inventory loaded both


def test_probe_durations_round_trip_and_ignore_garbage(cache: ResultCache) -> None:
    key = cache.key(kind="probe-durations", python="/usr/bin/python3")
    assert cache.get_durations(key) == {}
    assert cache.put_durations(key, {"grpcio.channel_ready": 7.71234, "redis.blpop": 0.5})
    assert cache.get_durations(key) == {"grpcio.channel_ready": 7.712, "redis.blpop": 0.5}
    assert cache.get_durations(cache.key(kind="probe-durations", python="/other")) == {}
    path = cache._aux_path("durations", key)
    path.write_text(json.dumps({"schema": json.loads(path.read_text())["schema"], "key": key,
                                "seconds": {"a": "slow", "b": 1}}))
    assert cache.get_durations(key) == {"b": 1.0}
