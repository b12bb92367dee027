"""Bisection started during the scan (``BisectAhead``), on real children of a target venv:
the scan's own probe runner bisects a distribution as soon as its probes are measured, and the
report gets the same answer as a bisection after the scan."""
from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from patchcheck.bisect.run import DEFAULT_MAX_DISTRIBUTIONS, BisectAhead, bisect_results
from patchcheck.engine import scan
from patchcheck.model import Requirement, Verdict
from patchcheck.plan import ScanRequest

PROBES = Path(__file__).resolve().parent.parent / "e2e_probes"


def _request(python: str, tmp_path: Path) -> ScanRequest:
    # pc_native_io blocks in its own C code (the probe is the re-run check);
    # pc_coop cooperates: it is measured beside it and never bisected.
    return ScanRequest(python=python, requirements=(Requirement("pc_native_io"),
                                                    Requirement("pc_coop")),
                       probe_paths=(str(PROBES),), use_cache=False,
                       cache_dir=str(tmp_path / "cache"))


@pytest.fixture(scope="module")
def scanned(target_python: str, tmp_path_factory: pytest.TempPathFactory) -> tuple:
    request = _request(target_python, tmp_path_factory.mktemp("ahead"))
    ahead = BisectAhead(request, None, flag=True)
    return request, ahead, scan(request, follow_up=ahead)


def test_a_blocking_distribution_is_bisected_during_the_scan(scanned: tuple) -> None:
    request, ahead, report = scanned
    assert report.problems == ()
    by_name = {r.name: r for r in report.results}
    native = by_name["pc-native-io"]
    assert native.verdict is Verdict.BLOCKS and native.bisect is None
    early = ahead.take(native)
    assert early is not None and early.error is None and early.found is not None
    assert ahead.take(by_name["pc-coop"]) is None  # cooperates: nothing to bisect
    said: list[str] = []
    done = bisect_results(report, request, flag=True, ahead=ahead, progress=said.append)
    found = {r.name: r.bisect for r in done.results}["pc-native-io"]
    assert found == early.found  # taken, not run again
    assert said == ["bisecting pc-native-io (probe:pc_native_io.fetch) over "
                    f"{len(found.candidates)} patch_all() arguments"]
    # The same answer as a bisection after the scan, in a runner of its own.
    after = {r.name: r.bisect for r in bisect_results(report, request, flag=True).results}
    assert after["pc-native-io"] is not None
    assert (found.check, found.before, found.culprits, found.verified) == (
        after["pc-native-io"].check, after["pc-native-io"].before,
        after["pc-native-io"].culprits, after["pc-native-io"].verified)
    assert found.culprits == () and found.runs == 1


def test_a_bisection_of_another_result_is_not_taken(scanned: tuple) -> None:
    # The report's result differs from the one the bisection started from: run again.
    _, ahead, report = scanned
    native = {r.name: r for r in report.results}["pc-native-io"]
    other = replace(native, probes=native.probes[:0])
    assert ahead.take(native) is not None and ahead.take(other) is None


def test_the_default_rule_gives_up_once_too_many_break(scanned: tuple) -> None:
    # More breaking distributions than the default rule bisects: none is kept, the fourth
    # is not started, and the ones started are given up.
    request, _, report = scanned
    native = {r.name: r for r in report.results}["pc-native-io"]
    breaking = [replace(native, name=f"pc-break-{i}", verdict=Verdict.BREAKS, findings=())
                for i in range(DEFAULT_MAX_DISTRIBUTIONS + 1)]
    ahead = BisectAhead(request, None, flag=None)

    class Unusable:  # a bisection started here fails at once: no runner, no probes
        child_runner = None
        pm = None

    for result in breaking:
        ahead.offer(result, Unusable())
    ahead.drain()
    assert ahead._gave_up and len(ahead._started) == DEFAULT_MAX_DISTRIBUTIONS
    assert all(ahead.take(r) is None for r in breaking)
    ahead.offer(native, Unusable())  # after the scan: ignored
    assert ahead.take(native) is None
