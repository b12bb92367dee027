"""uv.lock and PEP 751 pylock.toml."""
from __future__ import annotations

from pathlib import Path

import pytest

from patchcheck.errors import SourceError
from patchcheck.sources import DependencySelection, evaluate_marker, parse_pylock, parse_uv_lock

# Shaped like the output of uv 0.5+: the project itself, a registry package, a package
# locked twice for two Python ranges (a fork), a git source, and a workspace member.
UV_LOCK = """\
version = 1
revision = 3
requires-python = ">=3.9"
resolution-markers = [
    "python_full_version >= '3.12'",
    "python_full_version < '3.12'",
]

[[package]]
name = "gevent"
version = "24.11.1"
source = { registry = "https://pypi.org/simple" }
dependencies = [
    { name = "greenlet", marker = "platform_python_implementation == 'CPython'" },
    { name = "zope-event" },
]
sdist = { url = "https://files.example/gevent-24.11.1.tar.gz", hash = "sha256:00", size = 59 }

[[package]]
name = "numpy"
version = "2.0.2"
source = { registry = "https://pypi.org/simple" }
resolution-markers = [
    "python_full_version < '3.12'",
]

[[package]]
name = "numpy"
version = "2.2.1"
source = { registry = "https://pypi.org/simple" }
resolution-markers = [
    "python_full_version >= '3.12'",
]

[[package]]
name = "private-lib"
version = "0.3.0"
source = { git = "https://git.example/private-lib.git?rev=v0.3#0123abcd" }

[[package]]
name = "webapp"
version = "1.0.0"
source = { editable = "." }
dependencies = [
    { name = "gevent" },
    { name = "numpy" },
    { name = "private-lib" },
    { name = "worker" },
]

[package.optional-dependencies]
fast = [{ name = "ujson" }]

[[package]]
name = "worker"
version = "0.1.0"
source = { editable = "packages/worker" }
"""


def test_uv_lock_pins_every_package_but_the_project(tmp_path: Path) -> None:
    path = tmp_path / "uv.lock"
    path.write_text(UV_LOCK)
    source = parse_uv_lock(path, display="uv.lock")
    assert [(r.name, r.specifier, r.marker, r.origin) for r in source.requirements] == [
        ("gevent", "==24.11.1", None, "uv.lock:9"),
        ("numpy", "==2.0.2", 'python_full_version < "3.12"', "uv.lock:19"),
        ("numpy", "==2.2.1", 'python_full_version >= "3.12"', "uv.lock:27"),
        ("private-lib", "==0.3.0", None, "uv.lock:35"),
        ("worker", "==0.1.0", None, "uv.lock:54"),
    ]
    numpy = source.requirements[1]
    assert numpy.line == 'numpy==2.0.2; python_full_version < "3.12"'
    assert evaluate_marker(numpy, {"python_full_version": "3.11.7"})
    assert not evaluate_marker(numpy, {"python_full_version": "3.12.1"})
    assert source.notes == (
        "uv.lock: scanned groups: main; extras left out: fast (add with --extra NAME)",)


def test_uv_lock_virtual_root_is_skipped(tmp_path: Path) -> None:
    path = tmp_path / "uv.lock"
    path.write_text('version = 1\n\n[[package]]\nname = "root"\nsource = { virtual = "." }\n'
                    'dependencies = [{ name = "redis" }]\n\n'
                    '[[package]]\nname = "redis"\nversion = "5.2.1"\n'
                    'source = { registry = "https://pypi.org/simple" }\n')
    assert parse_uv_lock(path).names == ("redis",)


def test_uv_lock_conflict_markers_are_not_kept(tmp_path: Path) -> None:
    # uv encodes conflicting extras as "extra == 'extra-5-proj-a'": no interpreter decides it.
    path = tmp_path / "uv.lock"
    path.write_text('version = 1\n\n[[package]]\nname = "dateutil"\nversion = "2.8.0"\n'
                    'resolution-markers = ["extra == \'extra-5-debug-a\'"]\n')
    assert [(r.name, r.marker) for r in parse_uv_lock(path).requirements] == [
        ("dateutil", None)]


def test_uv_lock_unknown_version_is_an_error(tmp_path: Path) -> None:
    path = tmp_path / "uv.lock"
    path.write_text("version = 2\n")
    with pytest.raises(SourceError) as info:
        parse_uv_lock(path, display="uv.lock")
    assert info.value.message == "uv.lock: unsupported uv.lock version 2 (expected 1)"


def test_uv_lock_package_without_a_name_is_an_error(tmp_path: Path) -> None:
    path = tmp_path / "uv.lock"
    path.write_text('version = 1\n\n[[package]]\nversion = "1.0"\n')
    with pytest.raises(SourceError) as info:
        parse_uv_lock(path, display="uv.lock")
    assert info.value.message == "uv.lock:3: locked package without a name"


# Shaped like the examples in PEP 751.
PYLOCK = """\
lock-version = '1.0'
environments = ["sys_platform == 'linux'", "sys_platform == 'darwin'"]
requires-python = '>=3.9'
extras = ['mysql']
dependency-groups = ['dev', 'test']
default-groups = ['test']
created-by = 'mousebender'

[[packages]]
name = 'gevent'
version = '24.11.1'
index = 'https://pypi.org/simple'
wheels = [
  {name = 'gevent-24.11.1-cp311-cp311-linux_x86_64.whl', size = 1, hashes = {sha256 = '00'}},
]

[[packages]]
name = 'uvloop'
version = '0.21.0'
marker = "sys_platform != 'win32'"

[[packages]]
name = 'pytest'
version = '8.3.4'
marker = "'test' in dependency_groups"

[[packages]]
name = 'ruff'
version = '0.8.0'
marker = "'dev' in dependency_groups and python_version >= '3.9'"

[[packages]]
name = 'pymysql'
version = '1.1.1'
marker = "'mysql' in extras"

[[packages]]
name = 'webapp'
directory = { path = '.', editable = true }

[[packages]]
name = 'localtool'
directory = { path = 'tools/localtool' }
"""


def write_pylock(tmp_path: Path, text: str = PYLOCK, name: str = "pylock.toml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def test_pylock_default_groups_and_markers(tmp_path: Path) -> None:
    source = parse_pylock(write_pylock(tmp_path), display="pylock.toml")
    assert [(r.name, r.specifier, r.marker, r.origin) for r in source.requirements] == [
        ("gevent", "==24.11.1", None, "pylock.toml:9"),
        ("uvloop", "==0.21.0", 'sys_platform != "win32"', "pylock.toml:17"),
        ("pytest", "==8.3.4", None, "pylock.toml:22"),
        ("localtool", "", None, "pylock.toml:41"),
    ]
    assert source.notes == (
        "pylock.toml: scanned groups: main, test; left out: dev (add with --group NAME); "
        "extras left out: mysql (add with --extra NAME)",
        "pylock.toml:41: localtool has no locked version (a local or VCS source); checked "
        "without a pin",)
    uvloop = source.requirements[1]
    assert evaluate_marker(uvloop, {"sys_platform": "linux"})
    assert not evaluate_marker(uvloop, {"sys_platform": "win32"})


def test_pylock_selected_groups_and_extras(tmp_path: Path) -> None:
    source = parse_pylock(write_pylock(tmp_path), selection=DependencySelection(
        groups=("dev",), extras=("mysql",)))
    reqs = {r.name: r for r in source.requirements}
    assert "pytest" not in reqs
    # The decided clause is dropped; the rest stays for the target.
    assert reqs["ruff"].marker == 'python_version >= "3.9"'
    assert evaluate_marker(reqs["ruff"], {"python_full_version": "3.9.1",
                                          "python_version": "3.9"})
    assert reqs["pymysql"].marker is None


def test_pylock_all_groups(tmp_path: Path) -> None:
    source = parse_pylock(write_pylock(tmp_path), selection=DependencySelection(
        all_groups=True, all_extras=True))
    assert source.names == ("gevent", "uvloop", "pytest", "ruff", "pymysql", "localtool")


def test_pylock_unknown_group_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(SourceError) as info:
        parse_pylock(write_pylock(tmp_path), selection=DependencySelection(groups=("docs",)),
                     display="pylock.toml")
    assert info.value.message == ("pylock.toml: no dependency group named 'docs' (known "
                                  "groups: main, dev, test)")


def test_pylock_major_version_2_is_refused(tmp_path: Path) -> None:
    path = write_pylock(tmp_path, "lock-version = '2.0'\n", name="pylock.dev.toml")
    with pytest.raises(SourceError) as info:
        parse_pylock(path, display="pylock.dev.toml")
    assert info.value.message == (
        "pylock.dev.toml: unsupported lock-version '2.0' (expected 1.x)")


def test_pylock_without_lock_version_is_refused(tmp_path: Path) -> None:
    with pytest.raises(SourceError) as info:
        parse_pylock(write_pylock(tmp_path, "[[packages]]\nname = 'x'\n"), display="pylock.toml")
    assert info.value.message == "pylock.toml: missing or invalid lock-version None"


def test_pylock_invalid_marker_names_the_package_line(tmp_path: Path) -> None:
    path = write_pylock(tmp_path, "lock-version = '1.0'\n\n[[packages]]\nname = 'x'\n"
                                  "version = '1'\nmarker = 'python_version >> 3'\n")
    with pytest.raises(SourceError) as info:
        parse_pylock(path, display="pylock.toml")
    assert info.value.message.startswith("pylock.toml:3: invalid marker 'python_version >> 3': ")
