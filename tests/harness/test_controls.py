"""Every control, in a real child against a real slow TCP server, measures as expected."""
from __future__ import annotations

import pytest
from pc_probe_testutil import WAIT, explain, run_task

from patchcheck.runner.protocol import ALL_CONTROLS, CONTROLS, ControlTask


def _control(name, slow_tcp):
    services = {}
    if ALL_CONTROLS[name].services:
        services["slow_tcp"] = slow_tcp.endpoint.to_json()
    return run_task(ControlTask(control=name, wait=WAIT, services=services))


@pytest.mark.parametrize("name", sorted(CONTROLS))
def test_control_measures_its_expected_outcome(name, slow_tcp):
    m = _control(name, slow_tcp)
    assert m["outcome"] == CONTROLS[name], explain(m)
    if m["outcome"] == "blocks":
        assert m["stack"], "a blocking control must come with the blocking stack"
        assert m["cpu_ms"] < m["elapsed_ms"] / 2


def test_spin_control_is_cpu_bound(slow_tcp):
    m = _control("spin", slow_tcp)
    assert m["outcome"] == ALL_CONTROLS["spin"].expect == "cpu-bound", explain(m)
