"""--patchcheck-scan: one item per requirement, judged by the CLI's policy, evidence in reports.

Uses distributions the tool's own environment has (six: no probe → untested; sortedcontainers:
a stale threading reference → order-sensitive), so no probe and no server is needed and a scan takes
seconds.
"""
from __future__ import annotations

import importlib.util
import xml.etree.ElementTree as ET

import pytest

pytestmark = pytest.mark.skipif(
    not (importlib.util.find_spec("six") and importlib.util.find_spec("sortedcontainers")),
    reason="needs six and sortedcontainers installed")

REQUIREMENTS = """\
six
sortedcontainers
not-a-real-package-pc5
redis; python_version < "3.0"
"""


def test_items_pass_fail_and_skip_by_policy_with_evidence(pytester: pytest.Pytester) -> None:
    pytester.makefile(".txt", requirements=REQUIREMENTS)
    pytester.makeini("[pytest]\npatchcheck_fail_on = never\n")  # the CLI option wins
    pytester.makepyfile("""
        import sys

        def test_this_process_is_not_patched():
            monkey = sys.modules.get("gevent.monkey")
            assert monkey is None or not monkey.is_module_patched("socket")
        """)
    result = pytester.runpytest_subprocess(
        "-p", "no:cacheprovider", "--patchcheck-scan", "requirements.txt",
        "--patchcheck-fail-on", "order-sensitive", "--junitxml", "junit.xml", "-rs")
    # one item per requirement (redis: its marker is false, skipped), counted by pytest
    result.assert_outcomes(passed=2, failed=1, skipped=2)
    result.stdout.fnmatch_lines(["collected 5 items"])
    result.stdout.fnmatch_lines([
        "*_ patchcheck: sortedcontainers _*",
        "order-sensitive: *",
        "sortedcontainers *: order-sensitive (requirements.txt:2)",
        "PC120 *",
        "*(fails because --patchcheck-fail-on is order-sensitive)",
    ])
    result.stdout.fnmatch_lines([
        "SKIPPED * requirements.txt:3: not-a-real-package-pc5: not-installed*",
        "SKIPPED * requirements.txt:4: redis: does not apply to the target interpreter*",
    ])
    cases = {c.get("name"): c for c in ET.parse(pytester.path / "junit.xml").iter("testcase")}
    failure = cases["sortedcontainers"].find("failure")
    assert failure is not None and "PC120" in failure.get("message", "")
    assert cases["sortedcontainers"].get("classname") == "requirements.txt"
    assert cases["six"].find("failure") is None


def test_waivers_from_pyproject_and_xdist_share_one_scan(pytester: pytest.Pytester) -> None:
    pytester.makepyprojecttoml("""
        [tool.patchcheck]
        fail-on = "order-sensitive"

        [[tool.patchcheck.waivers]]
        distribution = "sortedcontainers"
        codes = ["PC120"]
        reason = "only used in the offline report job"

        [tool.pytest.ini_options]
        patchcheck_requirements = ["requirements.txt"]
        """)
    pytester.makefile(".txt", requirements="six\nsortedcontainers\n")
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-n", "2")
    result.assert_outcomes(passed=2)
    shared = list(pytester.path.glob("**/patchcheck-scan/*.json"))
    assert len(shared) <= 1  # one scan for both workers (when they share a basetemp)


def test_patching_first_is_learned_from_the_plugins_own_patch_all(
        pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, target_python: str) -> None:
    """--patchcheck-patch patched before the suite imported pc_stale (scanned in the test
    packages' venv, never imported by pytest's plugins): its stale references cannot bite this
    suite, so the item passes at fail-on order-sensitive, and the notes say why. A package
    imported before patching (here a -p plugin of that name holding socket.socket) keeps its
    order-only findings and fails."""
    monkeypatch.setenv("PATCHCHECK_PYTHON", target_python)
    pytester.makefile(".txt", requirements="pc_stale\n")
    args = ("-p", "no:cacheprovider", "--patchcheck-scan", "requirements.txt",
            "--patchcheck-fail-on", "order-sensitive")
    result = pytester.runpytest_subprocess(*args, "--patchcheck-patch")
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines([
        "*patchcheck scan notes*",
        "*order-only findings shown as info: this test run patched first (gevent patched by "
        "--patchcheck-patch (pytest_load_initial_conftests), before the libraries were "
        "imported)*",
    ])
    # Without the plugin's patching nothing is learned: the same item fails; below fail-on it
    # passes, and the unmeasured risk stays visible in the warnings summary.
    result = pytester.runpytest_subprocess(*args)
    result.assert_outcomes(failed=1)
    result = pytester.runpytest_subprocess(*args[:-1], "suspect")
    result.assert_outcomes(passed=1, warnings=1)
    result.stdout.fnmatch_lines(["*UnmeasuredRiskWarning: pc-stale*: order-sensitive: stale: *"
                                 "(passes: below --patchcheck-fail-on suspect)"])

    pytester.makepyfile(pc_stale="from socket import socket\n")
    result = pytester.runpytest_subprocess(*args, "--patchcheck-patch", "-p", "pc_stale")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines([
        "*order-only findings kept for pc-stale: imported before patch_all() in this run*"])


def test_collect_only_lists_one_item_per_requirement(
        pytester: pytest.Pytester) -> None:
    pytester.makefile(".txt", requirements="six\nsortedcontainers\nredis\n")
    pytester.makepyfile("def test_own():\n    pass\n")
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "--patchcheck-scan",
                                           "requirements.txt", "--co")
    assert result.ret == 0
    result.stdout.fnmatch_lines([
        "collected 4 items",
        "<RequirementsFile requirements.txt>",
        "  <RequirementItem six>",
        "  <RequirementItem sortedcontainers>",
        "  <RequirementItem redis>",
        "*<Function test_own>",
        "*4 tests collected*",
    ])
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "--patchcheck-scan",
                                           "requirements.txt", "--co", "-m", "patchcheck_scan")
    result.stdout.fnmatch_lines(["collected 4 items / 1 deselected / 3 selected"])


def test_one_probe_problem_is_one_failure_with_its_measurement_and_remedies(
        pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    from pc_testutil import require_server

    if not (importlib.util.find_spec("requests") and importlib.util.find_spec("psycopg2")):
        pytest.skip("needs requests and psycopg2-binary installed")
    require_server("PostgreSQL", 5432)
    monkeypatch.setenv("PATCHCHECK_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
    pytester.makefile(".txt", requirements="requests\npsycopg2-binary\n")
    result = pytester.runpytest_subprocess(
        "-p", "no:cacheprovider", "--patchcheck-scan", "requirements.txt", "-v",
        "--junitxml", "junit.xml")
    # before issue #15.9: "collected 0 items", 5 ran, psycopg2's blocks failed twice
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines([
        "*collected 2 items",
        "*requirements.txt::requests PASSED*",
        "*requirements.txt::psycopg2-binary FAILED*",
    ])
    result.stdout.fnmatch_lines([
        "*_ patchcheck: psycopg2-binary _*",
        "blocks: *",
        "PC200 [[]blocks[]] psycopg2.pg_sleep: hub stalled * ms while waiting*",
        "  blocking stack:",
        "*remedies measured:",
        "  blocks (stall * ms, ratio *) → cooperates with psycogreen.gevent.patch_psycopg()*",
    ])
    assert sum(1 for line in result.outlines if "_ patchcheck: psycopg2-binary _" in line) == 1
    cases = {c.get("name"): c for c in ET.parse(pytester.path / "junit.xml").iter("testcase")}
    assert set(cases) == {"requests", "psycopg2-binary"}
    assert cases["psycopg2-binary"].find("failure") is not None
    props = {(p.get("name"), p.get("value"))
             for p in cases["psycopg2-binary"].iter("property")}
    assert ("patchcheck_verdict", "blocks") in props
    assert ("patchcheck_probe", "psycopg2.pg_sleep: blocks") in props
