"""Which top-level modules are import targets: a distribution's test suite is not (issue #15).

libsass installs ``sasstests`` beside ``sass``; importing it needs pytest, so a scan reported
PC104 for a module nobody imports. ``tests/packages/pc_ships`` ships ``pc_ships`` and
``pc_shipstests`` (which imports a module that is installed nowhere), installed for real.
"""
from __future__ import annotations

from pathlib import Path

import pytest
from pc_testutil import ROOT, build_venv, by_name, json_report, run_patchcheck, shared_tmp

from patchcheck.targets.modules import ModuleRole, import_targets, module_role


@pytest.mark.parametrize(("name", "role"), [
    ("sass", ModuleRole.LIBRARY),
    ("sasstests", ModuleRole.TESTS),
    ("tests", ModuleRole.TESTS),
    ("test", ModuleRole.TESTS),
    ("Tests", ModuleRole.TESTS),
    ("conftest", ModuleRole.TESTS),
    ("foo_test", ModuleRole.TESTS),
    ("test_foo", ModuleRole.TESTS),
    ("unittests.helpers", ModuleRole.TESTS),
    # real libraries whose names look like tests
    ("pytest", ModuleRole.LIBRARY),
    ("testing", ModuleRole.LIBRARY),  # testing.postgresql, testing.common.database
    ("testing.postgresql", ModuleRole.LIBRARY),
    ("contest", ModuleRole.LIBRARY),
    ("testfixtures", ModuleRole.LIBRARY),
    ("_sass", ModuleRole.PRIVATE),
    ("_distutils_hack", ModuleRole.PRIVATE),
    ("docs", ModuleRole.AUXILIARY),
    ("examples", ModuleRole.AUXILIARY),
])
def test_module_roles(name: str, role: ModuleRole) -> None:
    assert module_role(name) is role


def test_import_targets_keep_the_library_and_never_leave_nothing() -> None:
    libsass = ["_sass", "sass", "sassc", "sasstests", "sassutils"]
    assert import_targets(libsass) == ("sass", "sassc", "sassutils")
    assert import_targets(libsass, include_tests=True) == ("sass", "sassc", "sasstests",
                                                           "sassutils")
    # Only a test package or only private modules: check them rather than nothing.
    assert import_targets(["tests"]) == ("tests",)
    assert import_targets(["_speedups"]) == ("_speedups",)
    assert import_targets(["testing"]) == ("testing",)


@pytest.fixture(scope="module")
def ships_python(tmp_path_factory: pytest.TempPathFactory) -> str:
    return build_venv(shared_tmp(tmp_path_factory), "ships-tests-venv",
                      [ROOT / "tests" / "packages" / "pc_ships"])


def _scan(python: str, tmp_path: Path, *extra: str) -> dict:
    proc = run_patchcheck("scan", "pc_ships", "--python", python, "--no-probes", "--no-cache",
                          "--format", "json", *extra, cwd=tmp_path)
    report = json_report(proc)
    assert proc.returncode in (0, 1), proc.stderr
    return by_name(report)["pc-ships"]


def test_a_shipped_test_suite_is_not_imported(ships_python: str, tmp_path: Path) -> None:
    result = _scan(ships_python, tmp_path)
    assert result["modules"] == ["pc_ships"]
    assert not [f for f in result["findings"] if f["code"] == "PC104"], result["findings"]


def test_include_test_packages_imports_it(ships_python: str, tmp_path: Path) -> None:
    """The flag and the config key: the test package is checked, and fails as it really does."""
    for extra, config in ((("--include-test-packages",), None),
                          ((), "[tool.patchcheck]\ninclude-test-packages = true\n")):
        if config:
            (tmp_path / "pyproject.toml").write_text(config)
        result = _scan(ships_python, tmp_path, *extra)
        assert result["modules"] == ["pc_ships", "pc_shipstests"]
        (finding,) = [f for f in result["findings"] if f["code"] == "PC104"]
        assert "pc_ships_test_dependency_not_installed" in finding["evidence"]["message"]
