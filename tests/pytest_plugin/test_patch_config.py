"""--patchcheck-patch patches the suite with the app's patch_all() arguments from config."""
from __future__ import annotations

import pytest


def test_patch_setting_reaches_patch_all(pytester: pytest.Pytester) -> None:
    pytester.makepyprojecttoml("""
        [tool.patchcheck]
        patch = { thread = false }
    """)
    pytester.makepyfile("""
        from gevent import monkey

        def test_patched_as_configured():
            assert monkey.is_module_patched("socket")
            assert not monkey.is_module_patched("threading")
    """)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "--patchcheck-patch")
    result.assert_outcomes(passed=1)


def test_bad_patch_setting_is_a_usage_error(pytester: pytest.Pytester) -> None:
    pytester.makepyprojecttoml("""
        [tool.patchcheck]
        patch = { thred = false }
    """)
    pytester.makepyfile("def test_x():\n    pass\n")
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "--patchcheck-patch")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*patchcheck: *thred*"])
