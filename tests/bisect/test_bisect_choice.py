"""The audit's cheap pre-check (``audit._may_bisect``) never hides a result the bisection's
own choice (``bisect.run.wants_bisect``) would take: it lets a scan skip loading the
bisection, so it must be a superset for every flag and verdict."""
from __future__ import annotations

import pytest

from patchcheck.audit import _may_bisect
from patchcheck.bisect.run import wants_bisect
from patchcheck.model import DistributionResult, ScanReport, Verdict


@pytest.mark.parametrize("flag", [True, None, False])
@pytest.mark.parametrize("implicit", [False, True])
def test_the_audit_pre_check_covers_every_result_the_bisection_picks(
        flag: bool | None, implicit: bool) -> None:
    results = tuple(DistributionResult(name=f"d-{v.value}", verdict=v, implicit=implicit)
                    for v in Verdict)
    picked = wants_bisect(ScanReport(environment=None, results=results), flag)  # type: ignore[arg-type]
    assert all(_may_bisect(r) for r in picked), [r.verdict for r in picked]
    if flag is True and not implicit:
        # and it is not vacuous: what the audit lets through is what --bisect takes
        assert {r.verdict for r in picked} == {r.verdict for r in results if _may_bisect(r)}
