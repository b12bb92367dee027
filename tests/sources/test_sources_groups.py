"""Dependency groups and extras (issue 15, item 4): what ships is scanned by default, the
rest on request; Poetry's tables and poetry.lock; uv.lock groups by what the project needs."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from patchcheck.errors import SourceError
from patchcheck.exitcode import ExitCode
from patchcheck.sources import (
    DependencySelection,
    load_sources,
    parse_poetry_lock,
    parse_pyproject,
    parse_uv_lock,
)
from patchcheck.sources.poetry import ConstraintError, poetry_constraint

DATA = Path(__file__).parent / "data"


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


# --- Poetry constraints ---------------------------------------------------------------------

@pytest.mark.parametrize(("poetry", "pep440"), [
    ("^1.2.3", ">=1.2.3,<2.0.0"),
    ("^0.2.3", ">=0.2.3,<0.3.0"),
    ("^0.0.3", ">=0.0.3,<0.0.4"),
    ("^0", ">=0,<1"),
    ("~1.2", ">=1.2,<1.3"),
    ("~1.2.3", ">=1.2.3,<1.3.0"),
    ("~1", ">=1,<2"),
    ("*", ""),
    ("1.2.3", "==1.2.3"),
    ("1.2.*", "==1.2.*"),
    (">= 1.2, < 2.0", ">=1.2,<2.0"),
    (">=1.2 <2", ">=1.2,<2"),
    ("~=1.4", "~=1.4"),
])
def test_poetry_constraints_in_pep440(poetry: str, pep440: str) -> None:
    assert poetry_constraint(poetry) == pep440


def test_a_poetry_union_has_no_pep440_form() -> None:
    with pytest.raises(ConstraintError):
        poetry_constraint(">=1,<1.5 || >=2")


# --- a Poetry-only pyproject (Locust's) -----------------------------------------------------

def test_locust_poetry_pyproject_main_only_by_default() -> None:
    source = parse_pyproject(DATA / "locust-pyproject.toml", display="pyproject.toml")
    assert source.names == (
        "gevent", "flask", "Werkzeug", "requests", "requests", "msgpack", "pyzmq",
        "geventhttpclient", "ConfigArgParse", "tomli", "typing_extensions", "psutil",
        "Flask-Login", "Flask-Cors", "pywin32")  # no "python": that is the interpreter
    reqs = {(r.name, r.marker): r for r in source.requirements}
    assert reqs[("requests", 'python_version <= "3.11"')].specifier == ">=2.26.0"
    assert reqs[("requests", 'python_version > "3.11"')].specifier == ">=2.32.2"
    assert reqs[("tomli", 'python_version < "3.11"')].origin == "pyproject.toml:21"
    assert reqs[("pywin32", 'sys_platform == "win32"')].specifier == ""
    assert source.notes == (
        "pyproject.toml: scanned groups: main; left out: dev, test, docs (add with --group "
        "NAME)",)


def test_locust_docs_group_on_request() -> None:
    source = parse_pyproject(DATA / "locust-pyproject.toml",
                             selection=DependencySelection(only_groups=("docs", "dev")))
    assert [(r.name, r.specifier) for r in source.requirements] == [
        ("mypy", "==1.10.0"), ("pre-commit", "<4.0.0,>=3.7.1"), ("ruff", "==0.3.7"),
        ("tox", "<5.0.0,>=4.16.0"), ("twine", "<6.0.0,>=5.1.1"),
        ("sphinx", "==7.3.7"), ("sphinx-rtd-theme", "==2.0.0"), ("Pygments", "==2.16.1"),
        ("alabaster", "==0.7.16")]


def test_poetry_tables_legacy_dev_extras_and_urls(tmp_path: Path) -> None:
    (tmp_path / "libs" / "shared").mkdir(parents=True)
    path = write(tmp_path, "pyproject.toml", """\
        [tool.poetry]
        name = "app"

        [tool.poetry.dependencies]
        python = "^3.9"
        redis = { version = "^5.0", extras = ["hiredis"] }
        PyMySQL = { version = "^1.1", optional = true }
        mylib = { git = "https://git.example/mylib.git", tag = "v1.2" }
        shared = { path = "libs/shared", develop = true }
        gone = { path = "libs/gone" }
        odd = ">=1,<1.5 || >=2"

        [tool.poetry.extras]
        mysql = ["PyMySQL"]

        [tool.poetry.dev-dependencies]
        pytest = "^8.0"
        """)
    source = parse_pyproject(path, display="pyproject.toml")
    assert [(r.name, r.specifier, r.extras, r.url) for r in source.requirements] == [
        ("redis", "<6.0,>=5.0", ("hiredis",), None),
        ("mylib", "", (), "git+https://git.example/mylib.git@v1.2"),
        ("shared", "", (), f"file://{tmp_path / 'libs' / 'shared'}"),
        ("odd", "", (), None),
    ]
    assert source.notes == (
        "pyproject.toml:10: gone is a local path dependency ('libs/gone') that does not exist; "
        "not scanned",
        "pyproject.toml:11: odd: the union '>=1,<1.5 || >=2' has no PEP 440 form; scanned "
        "without a version constraint",
        "pyproject.toml: scanned groups: main; left out: dev (add with --group NAME); "
        "extras left out: mysql (add with --extra NAME)",
    )
    more = parse_pyproject(path, selection=DependencySelection(groups=("dev",),
                                                               extras=("mysql",)))
    assert [r.name for r in more.requirements] == [
        "redis", "PyMySQL", "mylib", "shared", "odd", "pytest"]


def test_pep735_and_poetry_groups_together(tmp_path: Path) -> None:
    path = write(tmp_path, "pyproject.toml", """\
        [project]
        name = "app"
        dependencies = ["gevent"]

        [dependency-groups]
        dev = ["pytest"]

        [tool.poetry.group.docs.dependencies]
        sphinx = "^7"
        """)
    assert parse_pyproject(path).names == ("gevent",)
    assert parse_pyproject(path, selection=DependencySelection(all_groups=True)).names == (
        "gevent", "pytest", "sphinx")
    with pytest.raises(SourceError) as info:
        parse_pyproject(path, selection=DependencySelection(groups=("lint",)),
                        display="pyproject.toml")
    assert info.value.message == (
        "pyproject.toml: no dependency group named 'lint' (known groups: main, dev, docs)")


# --- lock files: a dev-only package -----------------------------------------------------------

UV_LOCK = """\
version = 1
requires-python = ">=3.9"

[[package]]
name = "app"
version = "0.1.0"
source = { editable = "." }
dependencies = [{ name = "redis" }]

[package.optional-dependencies]
mysql = [{ name = "pymysql" }]

[package.dev-dependencies]
dev = [{ name = "psycopg2-binary" }, { name = "pytest" }]

[[package]]
name = "async-timeout"
version = "5.0.1"
source = { registry = "https://pypi.org/simple" }

[[package]]
name = "iniconfig"
version = "2.0.0"
source = { registry = "https://pypi.org/simple" }

[[package]]
name = "psycopg2-binary"
version = "2.9.10"
source = { registry = "https://pypi.org/simple" }

[[package]]
name = "pymysql"
version = "1.1.1"
source = { registry = "https://pypi.org/simple" }

[[package]]
name = "pytest"
version = "8.3.4"
source = { registry = "https://pypi.org/simple" }
dependencies = [{ name = "iniconfig" }]

[[package]]
name = "redis"
version = "5.2.1"
source = { registry = "https://pypi.org/simple" }
dependencies = [{ name = "async-timeout", marker = "python_full_version < '3.11.3'" }]
"""


def test_uv_lock_dev_only_package_is_left_out(tmp_path: Path) -> None:
    path = write(tmp_path, "uv.lock", UV_LOCK)
    source = parse_uv_lock(path, display="uv.lock")
    assert source.names == ("async-timeout", "redis")
    assert source.notes == (
        "uv.lock: scanned groups: main; left out: dev (add with --group NAME); extras left "
        "out: mysql (add with --extra NAME)",)
    dev = parse_uv_lock(path, selection=DependencySelection(groups=("dev",), extras=("mysql",)))
    assert dev.names == ("async-timeout", "iniconfig", "psycopg2-binary", "pymysql", "pytest",
                         "redis")
    with pytest.raises(SourceError) as info:
        parse_uv_lock(path, selection=DependencySelection(groups=("docs",)), display="uv.lock")
    assert info.value.message == (
        "uv.lock: no dependency group named 'docs' (known groups: main, dev)")


# Poetry 2 (lock-version 2.1): each package says which groups need it.
POETRY_LOCK_21 = """\
[[package]]
name = "psycopg2-binary"
version = "2.9.10"
description = ""
optional = false
python-versions = ">=3.8"
groups = ["dev"]

[[package]]
name = "pymysql"
version = "1.1.1"
optional = true
python-versions = ">=3.7"
groups = ["main"]

[[package]]
name = "redis"
version = "5.2.1"
optional = false
python-versions = ">=3.8"
groups = ["main", "dev"]
markers = {main = "python_version >= \\"3.9\\"", dev = "python_version >= \\"3.8\\""}

[extras]
mysql = ["pymysql"]

[metadata]
lock-version = "2.1"
python-versions = "^3.9"
content-hash = "0"
"""

# Poetry 1.1 (lock-version 1.1): "category" instead of groups.
POETRY_LOCK_11 = """\
[[package]]
name = "psycopg2-binary"
version = "2.9.10"
category = "dev"
optional = false

[[package]]
name = "redis"
version = "5.2.1"
category = "main"
optional = false

[metadata]
lock-version = "1.1"
"""

# Poetry 1.5 to 1.8 (lock-version 2.0): no group information; the pyproject beside it says.
POETRY_LOCK_20 = """\
[[package]]
name = "async-timeout"
version = "5.0.1"
optional = false

[[package]]
name = "psycopg2-binary"
version = "2.9.10"
optional = false

[[package]]
name = "redis"
version = "5.2.1"
optional = false

[package.dependencies]
async-timeout = {version = ">=4.0.3", markers = "python_full_version < \\"3.11.3\\""}

[metadata]
lock-version = "2.0"
"""

POETRY_PYPROJECT = """\
[tool.poetry.dependencies]
python = "^3.9"
redis = "^5.0"

[tool.poetry.group.dev.dependencies]
psycopg2-binary = "^2.9"
"""


def test_poetry_lock_21_groups_markers_and_extras(tmp_path: Path) -> None:
    path = write(tmp_path, "poetry.lock", POETRY_LOCK_21)
    source = parse_poetry_lock(path, display="poetry.lock")
    assert [(r.name, r.specifier, r.marker) for r in source.requirements] == [
        ("redis", "==5.2.1", 'python_version >= "3.9"')]
    assert source.notes == (
        "poetry.lock: scanned groups: main; left out: dev (add with --group NAME); extras "
        "left out: mysql (add with --extra NAME)",)
    full = parse_poetry_lock(path, selection=DependencySelection(groups=("dev",),
                                                                 extras=("mysql",)))
    assert full.names == ("psycopg2-binary", "pymysql", "redis")
    only_dev = parse_poetry_lock(path, selection=DependencySelection(only_groups=("dev",)))
    assert [(r.name, r.marker) for r in only_dev.requirements] == [
        ("psycopg2-binary", None), ("redis", 'python_version >= "3.8"')]


def test_poetry_lock_11_category(tmp_path: Path) -> None:
    path = write(tmp_path, "poetry.lock", POETRY_LOCK_11)
    assert parse_poetry_lock(path).names == ("redis",)
    assert parse_poetry_lock(path, selection=DependencySelection(groups=("dev",))).names == (
        "psycopg2-binary", "redis")


def test_poetry_lock_20_walks_from_the_pyproject_beside_it(tmp_path: Path) -> None:
    path = write(tmp_path, "poetry.lock", POETRY_LOCK_20)
    alone = parse_poetry_lock(path, display="poetry.lock")
    assert alone.names == ("async-timeout", "psycopg2-binary", "redis")
    assert alone.notes[0].startswith("poetry.lock: the lock does not say which group")
    write(tmp_path, "pyproject.toml", POETRY_PYPROJECT)
    assert parse_poetry_lock(path).names == ("async-timeout", "redis")
    assert parse_poetry_lock(path, selection=DependencySelection(groups=("dev",))).names == (
        "async-timeout", "psycopg2-binary", "redis")


def test_load_sources_reads_poetry_lock(tmp_path: Path) -> None:
    write(tmp_path, "poetry.lock", POETRY_LOCK_11)
    assert load_sources(["poetry.lock"], base_dir=tmp_path).names == ("redis",)


# --- the command line -------------------------------------------------------------------------

def run_scan(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "patchcheck", "scan", *args, "--no-probes", "--no-cache",
         "--format", "json"],
        cwd=cwd, capture_output=True, text=True, timeout=300,
        env={**os.environ, "NO_COLOR": "1"})


@pytest.fixture
def project(tmp_path: Path) -> Path:
    # Installed in the test environment, so each scan is quick and real: packaging ships,
    # iniconfig (pytest's) is a dev tool, six stands for the docs.
    write(tmp_path, "pyproject.toml", """\
        [project]
        name = "app"
        dependencies = ["packaging"]

        [dependency-groups]
        dev = ["iniconfig"]
        docs = ["six"]
        """)
    return tmp_path


def scanned(result: subprocess.CompletedProcess[str]) -> list[str]:
    return sorted(r["name"] for r in json.loads(result.stdout)["results"])


def test_cli_scans_what_ships_and_says_what_it_left_out(project: Path) -> None:
    result = run_scan(project, "pyproject.toml")
    assert scanned(result) == ["packaging"], result.stderr
    assert ("patchcheck: pyproject.toml: scanned groups: main; left out: dev, docs (add with "
            "--group NAME)") in result.stderr.splitlines()


def test_cli_group_adds_a_group(project: Path) -> None:
    result = run_scan(project, "pyproject.toml", "--group", "docs")
    assert scanned(result) == ["packaging", "six"], result.stderr
    assert ("patchcheck: pyproject.toml: scanned groups: main, docs; left out: dev (add with "
            "--group NAME)") in result.stderr.splitlines()
    result = run_scan(project, "pyproject.toml", "--all-groups", "--no-dev")
    assert scanned(result) == ["packaging", "six"], result.stderr


def test_cli_unknown_group_is_a_usage_error(project: Path) -> None:
    result = run_scan(project, "pyproject.toml", "--group", "lint")
    assert result.returncode == ExitCode.USAGE_ERROR
    assert result.stderr.splitlines() == [
        "patchcheck: error: pyproject.toml: no dependency group named 'lint' (known groups: "
        "main, dev, docs)",
        "hint: name a known group with --group NAME (or in [tool.patchcheck] groups)",
    ]
    assert result.stdout == ""
