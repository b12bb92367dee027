"""How the meter reports calls that fail, hang, skip or do not wait (real children)."""
from __future__ import annotations

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


def test_a_failing_setup_is_breaks_and_says_so():
    m = _run("bad.setup")
    assert m["outcome"] == "breaks"
    assert m["error"].startswith("setup: ConnectionRefusedError")


def test_not_callable_is_breaks():
    m = _run("bad.notcallable")
    assert m["outcome"] == "breaks" and "not a zero-argument callable" in m["error"]


def test_skip_is_skipped():
    m = _run("bad.skip")
    assert m["outcome"] == "skipped" and m["error"] == "the backend is not available here"


def test_a_cooperative_hang_is_breaks_with_stacks():
    m = _run("bad.hang")  # join timeout K×S×4+5 = 5.8 s
    assert m["outcome"] == "breaks" and m["hung"] is True, explain(m)
    assert "2 of 2 calls did not return within 5.8 s" == m["error"]
    assert any("misbehaving.py" in line for line in m["stack"]), m["stack"]


def test_a_call_that_does_not_wait_is_flagged_inconclusive():
    m = _run("bad.nowait")
    assert m["outcome"] == "cooperates"
    assert m["error"].startswith("inconclusive")


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
    assert m["outcome"] == "cooperates"
