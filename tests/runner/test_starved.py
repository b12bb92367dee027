"""A measurement starved of CPU is not a verdict: the meter flags it (``Measurement.starved``),
the runner measures it again alone, and starved twice is inconclusive — on a real child whose
CPU a real-time spinner takes away in 250 ms bursts (the machine's load, not the library)."""
from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from patchcheck.model import Outcome
from patchcheck.plan import ScanRequest
from patchcheck.plugins import make_plugin_manager
from patchcheck.runner.probing import ProbeRunner
from patchcheck.spec import ProbeSpec

pytestmark = pytest.mark.skipif(not hasattr(os, "sched_setaffinity"), reason="Linux only")

#: A SCHED_FIFO task takes its CPU from every normal one until it sleeps: 250 ms of spinning,
#: 30 ms of sleep, for at most a minute (killed at the test's end).
SPINNER = """
import os, sys, time
os.sched_setaffinity(0, {int(sys.argv[1])})
try:
    os.sched_setscheduler(0, os.SCHED_FIFO, os.sched_param(1))
except PermissionError:
    print("no-rt", flush=True)
    sys.exit(0)
print("spinning", flush=True)
end = time.monotonic() + 60
while time.monotonic() < end:
    start = time.monotonic()
    while time.monotonic() - start < 0.25:
        pass
    time.sleep(0.03)
"""


@pytest.fixture
def probe(tmp_path: Path) -> ProbeSpec:
    path = tmp_path / "rt_sleeps.py"
    path.write_text(textwrap.dedent("""
        def sleeps(ctx):
            import gevent
            return lambda: gevent.sleep(ctx.wait)
    """))
    # K=1: the gap decides, so a long enough stall of any cause would read as "blocks"
    return ProbeSpec(name="rt.sleeps", distributions=("rt",), path=str(path),
                     function="sleeps", wait=0.2, concurrency=1)


@pytest.fixture
def one_cpu() -> Iterator[int]:
    """This process and what it starts (the fork server, its children) on one CPU."""
    cpus = os.sched_getaffinity(0)
    if len(cpus) < 2:
        pytest.skip("needs 2 CPUs: the spinner must not starve the test itself")
    cpu = max(cpus)
    os.sched_setaffinity(0, {cpu})
    try:
        yield cpu
    finally:
        os.sched_setaffinity(0, cpus)


def _measure(probe: ProbeSpec):
    request = ScanRequest(python=sys.executable, timeout=20.0, jobs=2, use_cache=False)
    with ProbeRunner(request, make_plugin_manager()) as runner:
        (outcome,) = runner.run_probe(probe, ())
    return outcome.plain


def test_a_starved_run_is_measured_again_alone_and_starved_twice_is_inconclusive(
        probe: ProbeSpec, one_cpu: int) -> None:
    spinner = subprocess.Popen([sys.executable, "-c", SPINNER, str(one_cpu)],
                               stdout=subprocess.PIPE, text=True)
    try:
        assert spinner.stdout is not None
        if spinner.stdout.readline().strip() == "no-rt":
            pytest.skip("real-time scheduling is not allowed here")
        m = _measure(probe)
    finally:
        spinner.kill()
        spinner.wait()
    # Without the flag this run reads "blocks": one gap of ~250 ms against a 200 ms call.
    assert m.max_gap_ms >= 100, m
    assert m.run_queue_ms is not None and m.run_queue_ms >= 100, m
    assert m.starved and m.measured_alone, m
    assert m.outcome is Outcome.INCONCLUSIVE, m
    assert m.error is not None and "waited for" in m.error and "twice" in m.error


def test_the_same_run_with_its_cpu_cooperates_unflagged(probe: ProbeSpec, one_cpu: int) -> None:
    m = _measure(probe)
    assert m.outcome is Outcome.COOPERATES, m
    assert not m.starved and not m.measured_alone, m
    assert m.run_queue_ms is not None and m.run_queue_ms < 100, m
