"""examples/pytest-demo: psycopg2 blocks the hub until psycogreen is applied."""
from __future__ import annotations

import shutil

import pytest
from pc_testutil import ROOT, require_server

DEMO = ROOT / "examples" / "pytest-demo"


@pytest.fixture
def demo(pytester: pytest.Pytester) -> pytest.Pytester:
    pytest.importorskip("psycopg2")
    pytest.importorskip("psycogreen")
    require_server("PostgreSQL", 5432)
    for name in ("pytest.ini", "conftest.py", "test_reports.py"):
        shutil.copy(DEMO / name, pytester.path / name)
    return pytester


def test_without_psycogreen_the_watchdog_names_psycopg2_and_the_remedy(
        demo: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PATCHCHECK_DEMO_PSYCOGREEN", raising=False)
    result = demo.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=1, failed=3)
    result.stdout.fnmatch_lines([
        "*_ test_slow_report _*",
        "patchcheck: the gevent hub stalled during call*",
        "library: psycopg2-binary  at psycopg2/extras.py:*",
        "remedy: psycogreen.gevent.patch_psycopg()*",
    ])
    result.stdout.fnmatch_lines(["*patchcheck: hub stalls by library*",
                                 "psycopg2-binary: 3 stall(s) in 3 test(s)*"])


def test_with_psycogreen_the_suite_passes(demo: pytest.Pytester,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATCHCHECK_DEMO_PSYCOGREEN", "1")
    result = demo.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=4)
    result.stdout.fnmatch_lines(["patchcheck: no hub stall over 100 ms in 4 watched test(s)"])
