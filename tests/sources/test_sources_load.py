"""load_sources: what ``patchcheck scan ARG...`` accepts; marker evaluation for a target."""
from __future__ import annotations

from pathlib import Path

import pytest

from patchcheck.errors import SourceError, UsageError
from patchcheck.exitcode import ExitCode
from patchcheck.model import Requirement
from patchcheck.sources import (
    DependencySelection,
    ParsedSource,
    applicable,
    evaluate_marker,
    load_sources,
    source_kind,
)


@pytest.fixture
def project(tmp_path: Path) -> Path:
    (tmp_path / "requirements.txt").write_text("redis\n-r requirements/dev.txt\n")
    (tmp_path / "requirements").mkdir()
    (tmp_path / "requirements" / "dev.txt").write_text("pytest\n")
    (tmp_path / "pyproject.toml").write_text(
        '[project]\nname = "app"\ndependencies = ["gevent>=24", "redis>=5"]\n'
        '[project.optional-dependencies]\nmysql = ["PyMySQL"]\n'
        '[dependency-groups]\nlint = ["ruff"]\n')
    (tmp_path / "uv.lock").write_text(
        'version = 1\n\n[[package]]\nname = "app"\nversion = "0.1"\n'
        'source = { editable = "." }\ndependencies = [{ name = "gevent" }]\n\n'
        '[[package]]\nname = "gevent"\nversion = "24.11.1"\n')
    (tmp_path / "pylock.prod.toml").write_text(
        "lock-version = '1.0'\n\n[[packages]]\nname = 'greenlet'\nversion = '3.1.1'\n")
    return tmp_path


def origins(source: ParsedSource) -> list[tuple[str, str]]:
    return [(r.name, r.origin) for r in source.requirements]


def test_names_only(tmp_path: Path) -> None:
    source = load_sources(["redis", "psycopg2-binary>=2.9"], base_dir=tmp_path)
    assert [(r.name, r.specifier, r.origin) for r in source.requirements] == [
        ("redis", "", "<command line>"), ("psycopg2-binary", ">=2.9", "<command line>")]


def test_files_are_dispatched_by_name_and_merged_in_order(project: Path) -> None:
    source = load_sources(
        ["requirements.txt", "pyproject.toml", "uv.lock", "pylock.prod.toml", "six"],
        base_dir=project)
    assert origins(source) == [
        ("redis", "requirements.txt:1"),
        ("pytest", "requirements/dev.txt:1"),
        ("gevent", "pyproject.toml:3"),
        ("greenlet", "pylock.prod.toml:3"),
        ("six", "<command line>"),
    ]
    assert source.notes == (
        "pyproject.toml: scanned groups: main; left out: lint (add with --group NAME); "
        "extras left out: mysql (add with --extra NAME)",
        "pyproject.toml:3: duplicate requirement 'redis>=5' ignored (conflicts with 'redis'); "
        "keeping the first, from requirements.txt:1",
        "uv.lock:9: duplicate requirement 'gevent==24.11.1' ignored (conflicts with "
        "'gevent>=24'); keeping the first, from pyproject.toml:3",
    )


def test_pyproject_selection_is_passed_through(project: Path) -> None:
    source = load_sources(["pyproject.toml"], base_dir=project,
                          selection=DependencySelection(groups=("lint",), extras=("mysql",)))
    assert source.names == ("gevent", "redis", "PyMySQL", "ruff")


def test_absolute_paths_and_other_working_directories(project: Path, tmp_path: Path) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    source = load_sources([str(project / "requirements.txt")], base_dir=elsewhere)
    assert origins(source) == [
        ("redis", f"{project}/requirements.txt:1"),
        ("pytest", f"{project}/requirements/dev.txt:1"),
    ]
    source = load_sources(["../requirements.txt"], base_dir=elsewhere)
    assert origins(source)[1] == ("pytest", "../requirements/dev.txt:1")


def test_any_other_file_is_a_requirements_file(project: Path) -> None:
    (project / "deps").write_text("gevent\n")
    assert load_sources(["deps"], base_dir=project).names == ("gevent",)


def test_another_toml_is_recognised_by_content(project: Path) -> None:
    (project / "locked.toml").write_text(
        "lock-version = '1.0'\n\n[[packages]]\nname = 'zope.event'\nversion = '5.0'\n")
    (project / "other.toml").write_text("[tool.black]\nline-length = 100\n")
    assert load_sources(["locked.toml"], base_dir=project).names == ("zope.event",)
    with pytest.raises(SourceError) as info:
        load_sources(["other.toml"], base_dir=project)
    assert info.value.message == "other.toml: neither a pyproject.toml nor a pylock.toml"


@pytest.mark.parametrize("arg", ["requirements-dev.txt", "reqs/base", "deps.lock",
                                 "pyproject.toml", "requirements.in"])
def test_a_missing_path_is_not_a_package_name(tmp_path: Path, arg: str) -> None:
    with pytest.raises(SourceError) as info:
        load_sources(["redis", arg], base_dir=tmp_path)
    assert info.value.message == f"{arg}: file not found (looked in {tmp_path})"
    assert info.value.exit_code == ExitCode.USAGE_ERROR
    assert isinstance(info.value, UsageError)


def test_a_url_requirement_is_not_a_path(tmp_path: Path) -> None:
    source = load_sources(["gevent @ https://files.example/gevent-24.2.1.tar.gz",
                           'redis; python_version >= "3.8"'], base_dir=tmp_path)
    assert source.names == ("gevent", "redis")


def test_a_directory_names_the_files_inside(project: Path) -> None:
    with pytest.raises(SourceError) as info:
        load_sources(["."], base_dir=project)
    assert info.value.message == ".: is a directory; name a file inside it"
    assert info.value.hint == "found: ./pyproject.toml, ./uv.lock, ./requirements.txt"


def test_a_directory_without_a_slash_is_a_package_name(project: Path) -> None:
    (project / "redis").mkdir()  # a checkout next to the project must not shadow the name
    assert load_sources(["redis"], base_dir=project).names == ("redis",)


def test_unsupported_formats_say_how_to_convert(project: Path) -> None:
    (project / "Pipfile.lock").write_text("{}\n")
    with pytest.raises(SourceError) as info:
        load_sources(["Pipfile.lock"], base_dir=project)
    assert info.value.message == "Pipfile.lock: Pipfile.lock is not a supported input"
    assert "pipenv requirements" in (info.value.hint or "")


def test_source_kind(project: Path) -> None:
    assert source_kind(str(project / "pyproject.toml")) == "pyproject"
    assert source_kind(str(project / "pylock.prod.toml")) == "pylock"
    assert source_kind(str(project / "uv.lock")) == "uv-lock"
    assert source_kind(str(project / "requirements.txt")) == "requirements"


# --- markers for the target ----------------------------------------------------------------

PY38_LINUX = {
    "implementation_name": "cpython",
    "implementation_version": "3.8.18",
    "os_name": "posix",
    "platform_machine": "x86_64",
    "platform_python_implementation": "CPython",
    "platform_release": "6.1.0",
    "platform_system": "Linux",
    "platform_version": "#1 SMP",
    "python_full_version": "3.8.18",
    "python_version": "3.8",
    "sys_platform": "linux",
}
PY312_WINDOWS = dict(PY38_LINUX, python_full_version="3.12.1", python_version="3.12",
                     sys_platform="win32", os_name="nt", platform_system="Windows")


def test_evaluate_marker_uses_the_given_environment() -> None:
    req = Requirement(name="uvloop", marker='sys_platform != "win32" and python_version >= "3.8"')
    assert evaluate_marker(req, PY38_LINUX)
    assert not evaluate_marker(req, PY312_WINDOWS)
    assert evaluate_marker(Requirement(name="redis"), PY312_WINDOWS)


def test_evaluate_marker_extra_defaults_to_empty() -> None:
    assert not evaluate_marker(Requirement(name="x", marker='extra == "mysql"'), PY38_LINUX)
    assert evaluate_marker(Requirement(name="x", marker='extra == "mysql"'),
                           dict(PY38_LINUX, extra="mysql"))


def test_evaluate_marker_invalid_marker_names_the_origin() -> None:
    with pytest.raises(SourceError) as info:
        evaluate_marker(Requirement(name="x", marker="python_version >> 3", origin="r.txt:3"),
                        PY38_LINUX)
    assert info.value.message.startswith("r.txt:3: invalid environment marker ")


def test_applicable_filters_and_keeps_one_per_name(tmp_path: Path) -> None:
    (tmp_path / "requirements.txt").write_text(
        'numpy<2; python_version < "3.9"\n'
        'numpy>=2; python_version >= "3.9"\n'
        'pywin32; sys_platform == "win32"\n'
        'gevent\n')
    source = load_sources(["requirements.txt"], base_dir=tmp_path)
    linux = applicable(source, PY38_LINUX)
    assert [(r.name, r.specifier) for r in linux.requirements] == [("numpy", "<2"),
                                                                   ("gevent", "")]
    # One typed list, not a note each (issue #15: 54 lines for one scan).
    assert linux.notes == ()
    assert [(r.name, r.origin, r.marker) for r in linux.marker_skipped] == [
        ("numpy", "requirements.txt:2", 'python_version >= "3.9"'),
        ("pywin32", "requirements.txt:3", 'sys_platform == "win32"'),
    ]
    windows = applicable(source, PY312_WINDOWS)
    assert [(r.name, r.specifier) for r in windows.requirements] == [
        ("numpy", ">=2"), ("pywin32", ""), ("gevent", "")]
