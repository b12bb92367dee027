"""Installed but unused, the plugin changes nothing; ``-p no:patchcheck`` removes it."""
from __future__ import annotations

import pytest


def _patchcheck_lines(output: str) -> list[str]:
    return [line for line in output.splitlines() if line.startswith("patchcheck")]


def test_unused_plugin_adds_no_output_patching_or_threads(pytester: pytest.Pytester) -> None:
    pytester.makepyfile("""
        import sys, threading

        def test_untouched():
            assert "gevent" not in sys.modules
            assert "patchcheck.watch" not in sys.modules
            assert "patchcheck.engine" not in sys.modules
            assert threading.active_count() == 1
            assert "patchcheck.pytest_plugin" in sys.modules  # loaded, just idle
        """)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=1)
    assert _patchcheck_lines(result.stdout.str()) == []


def test_p_no_patchcheck_removes_plugin_and_options(pytester: pytest.Pytester) -> None:
    pytester.makepyfile("""
        import sys

        def test_gone():
            assert "patchcheck.pytest_plugin" not in sys.modules
        """)
    result = pytester.runpytest_subprocess("-p", "no:patchcheck", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=1)
    result = pytester.runpytest_subprocess("-p", "no:patchcheck", "--patchcheck-watch")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*unrecognized arguments: --patchcheck-watch*"])


def test_watch_in_an_unpatched_run_says_why_and_measures_nothing(
        pytester: pytest.Pytester) -> None:
    pytester.makepyfile("""
        import sys, time

        def test_slow():
            time.sleep(0.3)
            assert "gevent.monkey" not in sys.modules
        """)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "--patchcheck-watch")
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["patchcheck: not watching: *--patchcheck-patch"])
    assert "hub stalls by library" not in result.stdout.str()


@pytest.mark.parametrize("args, message", [
    (("--patchcheck-watch", "--patchcheck-max-block-ms", "0"), "*must be greater than 0*"),
    (("-o", "patchcheck_fail_on=sometimes", "--patchcheck-scan", "six"),
     "*patchcheck_fail_on = 'sometimes'*"),
])
def test_bad_settings_are_usage_errors(pytester: pytest.Pytester, args: tuple[str, ...],
                                       message: str) -> None:
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", *args)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([message])
