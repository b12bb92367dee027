"""Every control, in a real child against a real slow TCP server, measures as expected."""
from __future__ import annotations

import pytest
from pc_probe_testutil import WAIT, explain, run_task

from patchcheck.harness import pc_probe


def _control(name, slow_tcp):
    services = {}
    if pc_probe.CONTROL_SERVICES[name]:
        services["slow_tcp"] = slow_tcp.endpoint.to_json()
    return run_task({"task": "control", "control": name, "wait": WAIT, "services": services})


@pytest.mark.parametrize("name", sorted(pc_probe.CONTROLS))
def test_control_measures_its_expected_outcome(name, slow_tcp):
    m = _control(name, slow_tcp)
    assert m["outcome"] == pc_probe.CONTROLS[name], explain(m)
    if m["outcome"] == "blocks":
        assert m["stack"], "a blocking control must come with the blocking stack"
        assert m["cpu_ms"] < m["elapsed_ms"] / 2


def test_spin_control_is_cpu_bound(slow_tcp):
    m = _control("spin", slow_tcp)
    assert m["outcome"] == "cpu-bound", explain(m)


def test_unknown_control_is_a_harness_error():
    import sys

    from patchcheck.runner.process import run_child

    res = run_child(sys.executable, {"task": "control", "control": "nope"}, timeout=30)
    assert res.harness_error and "unknown control" in res.harness_error


def test_runner_and_harness_agree_on_controls():
    from patchcheck.runner import probing

    assert dict(probing.CONTROLS) == pc_probe.CONTROLS
