"""The built-in standard-library probes that cooperate under patch_all() really wait (they
block when nothing is patched): real children against real loopback fixture servers. The
probes of what patch_all() cannot make cooperate (os.read, sqlite3, multiprocessing,
ThreadPoolExecutor) are measured end to end in tests/test_stdlib_target.py."""
from __future__ import annotations

import pytest
from pc_probe_testutil import endpoints, explain, probe_child_spec, run_task

from patchcheck.probeloader import builtin_probe_dir, load_probe_dir

ALL_STDLIB = [p for p in load_probe_dir(builtin_probe_dir(), origin="builtin")
              if p.name.startswith("stdlib.")]
#: measured elsewhere: they block or break under patch_all()
NOT_COOPERATING = {"stdlib.os.read", "stdlib.sqlite3.locked", "stdlib.multiprocessing.queue",
                   "stdlib.multiprocessing.pool", "stdlib.concurrent.futures.threadpool"}
STDLIB = [p for p in ALL_STDLIB if p.name not in NOT_COOPERATING]
NOTHING_PATCHED = {name: False for name in ("socket", "dns", "time", "select", "thread", "os",
                                            "ssl", "subprocess", "signal", "queue")}


def test_the_stdlib_probes_are_all_there():
    names = {p.name for p in ALL_STDLIB}
    assert {"stdlib.socket", "stdlib.ssl", "stdlib.dns", "stdlib.dns.thread",
            "stdlib.time.sleep", "stdlib.select", "stdlib.selectors", "stdlib.subprocess",
            "stdlib.threading.lock", "stdlib.threading.event", "stdlib.threading.condition",
            "stdlib.queue", "stdlib.http.client", "stdlib.urllib.request"} | NOT_COOPERATING \
        <= names
    assert all(p.distributions == ("stdlib",) and p.origin == "builtin" for p in ALL_STDLIB)


@pytest.mark.parametrize("probe", STDLIB, ids=lambda p: p.name)
def test_stdlib_probe_cooperates_under_patch_all(probe, fixture_servers):
    m = run_task(probe_child_spec(probe, endpoints(fixture_servers)))
    assert m["outcome"] == "cooperates", explain(m)
    assert m["error"] is None, explain(m)
    assert m["elapsed_ms"] >= probe.wait * 1000 * 0.9, "the call must wait on the slow peer"


@pytest.mark.parametrize("probe", [p for p in STDLIB if p.name != "stdlib.dns"],
                         ids=lambda p: p.name)
def test_stdlib_probe_blocks_when_nothing_is_patched(probe, fixture_servers):
    m = run_task(probe_child_spec(probe, endpoints(fixture_servers),
                                  patch_args=NOTHING_PATCHED))
    # dns.thread's unpatched loop resolves in C without waiting: the hub stalls on CPU
    expected = ("blocks", "cpu-bound") if probe.name == "stdlib.dns.thread" else ("blocks",)
    assert m["outcome"] in expected, explain(m)


def test_dns_probe_never_uses_the_system_resolver(fixture_servers):
    probe = next(p for p in STDLIB if p.name == "stdlib.dns")
    m = run_task(probe_child_spec(probe, endpoints(fixture_servers),
                                  patch_args=NOTHING_PATCHED))
    assert m["outcome"] == "skipped"
    assert "not patched" in m["error"]
