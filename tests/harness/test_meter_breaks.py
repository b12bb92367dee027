"""How the meter reports calls that fail, hang, skip or do not wait (real children)."""
from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest
from pc_probe_testutil import explain, probe_child_spec, run_task

from patchcheck.probeloader import load_probe_file

PROBES = {p.name: p for p in load_probe_file(Path(__file__).parent / "probe_files"
                                             / "misbehaving.py")}


def _run(name, **kw):
    return run_task(probe_child_spec(PROBES[name], {}, **kw))


def test_an_exception_is_breaks_with_its_traceback():
    m = _run("bad.raises")
    assert m["outcome"] == "breaks" and m["hung"] is False, explain(m)
    assert m["error"] == "ValueError: the library failed"
    assert any("misbehaving.py" in line for line in m["stack"])


def test_loopexit_is_breaks():
    m = _run("bad.loopexit")
    assert m["outcome"] == "breaks"
    assert m["error"].startswith("gevent.exceptions.LoopExit")


def test_a_failing_factory_is_a_probe_problem_not_the_librarys_breaks():
    m = _run("bad.setup")
    assert (m["outcome"], m["phase"], m["hung"]) == ("inconclusive", "factory", False)
    assert m["error"] == "the probe's factory failed: ConnectionRefusedError: " \
        "[Errno 111] Connection refused"


def test_gevents_own_error_in_the_factory_is_the_librarys_breaks():
    m = _run("bad.factory_loopexit")
    assert (m["outcome"], m["phase"]) == ("breaks", "factory")
    assert m["error"].startswith("setup: gevent.exceptions.LoopExit")


def test_not_callable_is_a_probe_problem():
    m = _run("bad.notcallable")
    assert (m["outcome"], m["phase"]) == ("inconclusive", "factory")
    assert m["error"] == "the probe's factory failed: patchcheck.harness.pc_meter._NotCallable:" \
        " the factory returned 42, not a zero-argument callable" or \
        m["error"].endswith("the factory returned 42, not a zero-argument callable")


def test_a_probe_file_that_fails_to_load_is_a_probe_problem(tmp_path):
    path = tmp_path / "later.py"
    path.write_text("from patchcheck_probe import probe\n"
                    "@probe(distributions=['x'], wait=0.1)\n"
                    "def x_get(ctx):\n    return lambda: None\n")
    (spec,) = load_probe_file(path)
    path.write_text("raise ImportError('the probe file broke')\n")  # broken after loading
    m = run_task(probe_child_spec(spec, {}))
    assert (m["outcome"], m["phase"]) == ("inconclusive", "load")
    assert m["error"].endswith("failed to load: ImportError: the probe file broke")


def test_skip_is_skipped():
    m = _run("bad.skip")
    assert m["outcome"] == "skipped" and m["error"] == "the backend is not available here"


def _hang_signature(m):
    return m["outcome"], m["hung"], m["phase"], m["error"]


def test_a_cooperative_hang_is_declared_by_the_watchdog_with_stacks():
    # K=2, S=0.1 and the hub kept running: the call bound max(2 s, 4×K×S) = 2 s, as for a hub
    # stuck in C (the next test)
    m = _run("bad.hang")
    assert _hang_signature(m) == ("breaks", True, "call",
                                  "2 of 2 calls did not return within 2.0 s"), explain(m)
    assert 2000.0 <= m["elapsed_ms"] < 3500.0, explain(m)
    assert any("misbehaving.py" in line for line in m["stack"]), m["stack"]


def test_a_hang_in_c_is_found_within_the_bound_the_same_way_three_times():
    from patchcheck.runner.process import run_child

    seen = []
    for _ in range(3):
        res = run_child(sys.executable, probe_child_spec(PROBES["bad.hang_in_c"], {}),
                        timeout=40.0)
        assert res.data is not None, res.describe_end()
        assert not res.timed_out and res.signal is None
        # 2 s bound + interpreter start-up and patching; far below the tool's 40 s timeout.
        assert res.duration_s < 10.0, res.duration_s
        seen.append(_hang_signature(res.data))
        assert any("misbehaving.py" in line for line in res.data["stack"]), res.data["stack"]
    assert seen == [("breaks", True, "call", "2 of 2 calls did not return within 2.0 s")] * 3


def test_a_hanging_factory_is_hung_in_phase_factory():
    m = _run("bad.hang_factory")  # factory bound: max(8 s, 4×K×S) = 8 s
    assert _hang_signature(m) == ("breaks", True, "factory",
                                  "3 of 3 factories did not return within 8.0 s"), explain(m)
    assert any("misbehaving.py" in line for line in m["stack"]), m["stack"]


def test_a_call_that_does_not_wait_is_inconclusive():
    m = _run("bad.nowait")  # T ≈ 0 against S = 300 ms
    assert (m["outcome"], m["phase"]) == ("inconclusive", "call"), explain(m)
    assert m["error"].startswith("the call did not wait on the peer: one call took")


def test_ctx_cleanup_runs_and_ctx_tmpdir_is_removed(tmp_path):
    report = tmp_path / "cleanups.txt"
    m = run_task(probe_child_spec(PROBES["bad.cleanup"], {}),
                 env={**os.environ, "PC_TEST_CLEANUP_REPORT": str(report)})
    assert m["outcome"] == "cooperates", explain(m)
    lines = report.read_text().split("\n")[:-1]
    assert sorted(line.split()[1] for line in lines) == ["0", "1", "2"]
    tmpdirs = {line.split()[2] for line in lines}
    assert len(tmpdirs) == 1
    assert not Path(tmpdirs.pop()).exists()


def test_a_failing_remedy_is_breaks(tmp_path):
    path = tmp_path / "rem.py"
    path.write_text("from patchcheck_probe import probe\n"
                    "def _fix():\n    raise ImportError('no green module')\n"
                    "@probe(distributions=['x'], wait=0.1, remedies={'x.green': _fix})\n"
                    "def x_get(ctx):\n    return lambda: None\n")
    (probe,) = load_probe_file(path)
    m = run_task(probe_child_spec(probe, {}, remedy=probe.remedies[0]))
    assert m["outcome"] == "breaks" and m["error"] == "remedy x.green failed: " \
        "ImportError: no green module"
    assert m["remedy"] == "x.green"


@pytest.mark.parametrize("order", ["after", "before"])
def test_both_import_orders_run(order):
    m = _run("bad.nowait", order=order)
    assert m["outcome"] == "inconclusive"
