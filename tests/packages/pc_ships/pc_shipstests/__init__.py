"""The library's own test suite, installed beside it (libsass's ``sasstests`` needs pytest).

Its test dependency is not installed anywhere, so importing this package always fails: the
scan must not import it unless asked (``--include-test-packages``).
"""
import pc_ships_test_dependency_not_installed  # noqa: F401  (stands in for pytest)
