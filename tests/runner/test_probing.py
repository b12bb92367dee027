"""The probe runner on real children: the tasks it builds run, and a child that crashes or hangs
becomes a measurement, never an exception (xdist's ``handle_crashitem``)."""
from __future__ import annotations

import sys
import textwrap
from collections.abc import Iterator

import pytest

from patchcheck.model import ImportOrder, Phase
from patchcheck.plan import ScanRequest
from patchcheck.plugins import make_plugin_manager
from patchcheck.runner.probing import ProbeRunner
from patchcheck.runner.protocol import CONTROLS
from patchcheck.spec import ProbeSpec

PROBE_FILE = """
    import ctypes, time

    def cooperates(ctx):
        return lambda: time.sleep(ctx.wait)

    def crashes(ctx):
        return lambda: ctypes.string_at(0)

    def hangs(ctx):
        def call():
            while True:
                pass
        return call
    def nothing():
        pass

    def hangs_holding_the_gil(ctx):
        import ctypes
        # PyDLL keeps the GIL through the C call: no thread of the child can run, so only the
        # tool's wall-clock timeout (the last resort) can end it.
        return lambda: ctypes.PyDLL(None).sleep(3600)
"""


@pytest.fixture(scope="module")
def probe_file(tmp_path_factory: pytest.TempPathFactory) -> str:
    path = tmp_path_factory.mktemp("probing") / "rt_probes.py"
    path.write_text(textwrap.dedent(PROBE_FILE))
    return str(path)


@pytest.fixture
def runner() -> Iterator[ProbeRunner]:
    request = ScanRequest(python=sys.executable, timeout=8.0, jobs=2, use_cache=False)
    with ProbeRunner(request, make_plugin_manager()) as probe_runner:
        yield probe_runner


def _probe(probe_file: str, function: str, **kw: object) -> ProbeSpec:
    return ProbeSpec(name=f"rt.{function}", distributions=("rt",), path=probe_file,
                     function=function, wait=0.2, **kw)  # type: ignore[arg-type]


def test_a_cooperating_probe(runner: ProbeRunner, probe_file: str) -> None:
    (outcome,) = runner.run_probe(_probe(probe_file, "cooperates"), ())
    assert outcome.plain.outcome == "cooperates", outcome.plain
    assert outcome.plain.concurrency == 3 and not outcome.remedies


def test_both_import_orders_are_measured(runner: ProbeRunner, probe_file: str) -> None:
    after, before = runner.run_probe(_probe(probe_file, "cooperates", import_order="both"),
                                     ("json",))
    assert after.plain.outcome == "cooperates" and before.plain.outcome == "cooperates"
    assert after.order is ImportOrder.AFTER_PATCH and before.order is ImportOrder.BEFORE_PATCH
    assert before.probe == "rt.cooperates"
    assert before.label == "rt.cooperates (imported before patch_all)"


def test_a_crashing_child_is_a_measurement(runner: ProbeRunner, probe_file: str) -> None:
    outcome = runner.run_probe(_probe(probe_file, "crashes"), ())[0]
    assert outcome.plain.outcome == "breaks"
    assert outcome.plain.error == "the process crashed: killed by signal SIGSEGV"
    assert any("rt_probes.py" in line for line in outcome.plain.stack)


def test_a_hanging_call_is_declared_by_the_childs_watchdog(runner: ProbeRunner,
                                                           probe_file: str) -> None:
    outcome = runner.run_probe(_probe(probe_file, "hangs"), ())[0]
    m = outcome.plain
    assert (m.outcome, m.hung, m.phase) == ("breaks", True, Phase.CALL)
    # K=3, S=0.2: max(2 s, 4×K×S) = 2.4 s, long before the tool's 8 s timeout
    assert m.error == "3 of 3 calls did not return within 2.4 s"
    assert m.elapsed_ms < 8000


def test_a_hang_that_holds_the_gil_ends_on_the_tools_timeout(runner: ProbeRunner,
                                                            probe_file: str) -> None:
    outcome = runner.run_probe(_probe(probe_file, "hangs_holding_the_gil"), ())[0]
    m = outcome.plain
    assert (m.outcome, m.hung, m.phase) == ("breaks", True, None)
    assert m.error and m.error.startswith("did not return: the probe timed out after")


def test_a_missing_service_skips_without_a_child(runner: ProbeRunner, probe_file: str) -> None:
    (outcome,) = runner.run_probe(_probe(probe_file, "cooperates", services=("nope",)), ())
    assert outcome.plain.outcome == "skipped"
    assert outcome.plain.error and "no service named 'nope'" in outcome.plain.error


def test_the_controls_measure_as_the_shared_table_says(runner: ProbeRunner) -> None:
    controls = runner.run_controls()
    assert [c.probe for c in controls] == [f"control:{name}" for name in CONTROLS]
    assert all(runner.control_ok(c) for c in controls), [
        (c.probe, c.plain.outcome, c.plain.error) for c in controls]


def test_the_remedies_of_an_overdue_plain_run_start_beside_it(probe_file: str) -> None:
    from patchcheck.runner.forkserver import make_runner
    from patchcheck.spec import THREADPOOL_REMEDY, RemedySpec

    spans: dict[str, list[float]] = {}
    real = make_runner(sys.executable)

    class Recording:
        """The real runner, noting when each child starts and ends (the order of events)."""

        def run(self, task, *, timeout):
            import time

            label = task.remedy.label if task.remedy is not None else "plain"
            spans[label] = [time.monotonic()]
            try:
                return real.run(task, timeout=timeout)
            finally:
                spans[label].append(time.monotonic())

        def close(self) -> None:
            real.close()

    # 3 fixed slots: the spinning children keep both CPUs busy, so no extra slot is given
    request = ScanRequest(python=sys.executable, timeout=8.0, jobs=3, use_cache=False)
    spec = _probe(probe_file, "hangs", remedies=(RemedySpec("nothing", "nothing"),))
    with ProbeRunner(request, make_plugin_manager(), child_runner=Recording()) as runner:
        (outcome,) = runner.run_probe(spec, ())
    real.close()
    assert outcome.plain.hung
    # what a hang calls for: the declared remedy and the threadpool, each measured once
    assert [m.remedy for m in outcome.remedies] == ["nothing", THREADPOOL_REMEDY.label]
    assert all(m.hung for m in outcome.remedies)
    # both began while the plain run (2.4 s to its hang) was still running
    plain_end = spans["plain"][1]
    assert spans["nothing"][0] < plain_end and spans[THREADPOOL_REMEDY.label][0] < plain_end
    assert runner.durations[spec.name] > 0


def test_a_probe_without_remedies_is_not_speculated_on(runner: ProbeRunner,
                                                       probe_file: str) -> None:
    (outcome,) = runner.run_probe(_probe(probe_file, "hangs"), ())
    # a hang still gets the threadpool, once the plain run is known
    assert [m.remedy for m in outcome.remedies] == ["gevent.get_hub().threadpool.apply(call)"]
