"""Which of a distribution's top-level modules are import targets. Pure (names in, names out).

The ``info`` child reports every top-level name a distribution installs (``top_level.txt``,
else ``RECORD``); this module gives each a :class:`ModuleRole` and keeps the library's own.
A distribution often ships more than its library: its test suite (libsass installs
``sasstests``, which imports pytest), ``docs``, ``examples``, a ``conftest.py``. Importing those
checks nothing a user imports, and fails (PC104) wherever their test dependencies are absent.

Test packages are import targets only when asked (``include-test-packages`` /
``--include-test-packages``), and ``import-names`` in the config names the modules outright.
``testing`` is *not* a test package: it is the namespace of real libraries
(``testing.postgresql``, ``testing.common.database``) that applications import.
"""
from __future__ import annotations

from collections.abc import Iterable
from enum import Enum


class ModuleRole(str, Enum):
    """What a top-level name a distribution installs is for."""

    LIBRARY = "library"  # what users import: an import target
    TESTS = "tests"  # the distribution's own test suite: a target only when asked
    AUXILIARY = "auxiliary"  # docs, examples, benchmarks, build helpers: never a target
    PRIVATE = "private"  # ``_name``: imported by the library itself, not by users


#: Exact names of test suites and test configuration.
_TEST_NAMES = frozenset({"test", "tests", "conftest"})
#: Exact names that are never the library (docs, examples, tooling shipped by mistake).
_AUXILIARY_NAMES = frozenset({"docs", "doc", "examples", "example", "benchmarks", "bench",
                              "scripts", "tools", "build"})


def module_role(name: str) -> ModuleRole:
    """The role of top-level module ``name`` (a dotted name is judged by its first part).

    Tests: ``test``, ``tests``, ``conftest``, ``*tests`` (``sasstests``, ``unittests``),
    ``*_test`` and ``test_*`` (``foo_test``, ``test_foo``). Not ``*test`` without an
    underscore (``pytest``, ``contest``), and not ``testing`` (see the module docstring).
    """
    first = name.split(".", 1)[0]
    low = first.lower()
    if first.startswith("_"):
        return ModuleRole.PRIVATE
    if low in _AUXILIARY_NAMES:
        return ModuleRole.AUXILIARY
    if (low in _TEST_NAMES or low.endswith("tests") or low.endswith("_test")
            or low.startswith("test_")):
        return ModuleRole.TESTS
    return ModuleRole.LIBRARY


def import_targets(names: Iterable[str], *, include_tests: bool = False) -> tuple[str, ...]:
    """The names to import-check, in order: the library's own (and its test packages with
    ``include_tests``). When that leaves nothing (a distribution that is only ``_speedups``
    or only a ``tests`` package), every name: a distribution is never checked as empty."""
    all_names = tuple(dict.fromkeys(n for n in names if n))
    wanted = {ModuleRole.LIBRARY} | ({ModuleRole.TESTS} if include_tests else set())
    kept = tuple(n for n in all_names if module_role(n) in wanted)
    return kept or all_names
