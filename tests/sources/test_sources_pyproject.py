"""pyproject.toml: project dependencies, extras and PEP 735 dependency groups."""
from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from patchcheck.errors import SourceError
from patchcheck.sources import DependencySelection, parse_pyproject

EVERYTHING = DependencySelection(all_groups=True, all_extras=True)

PYPROJECT = """\
[build-system]
requires = ["setuptools"]

[project]
name = "webapp"
version = "1.0"
dependencies = [
    "gevent>=24",
    "redis[hiredis]==5.0.1",
    'psycopg2-binary; python_version >= "3.9"',
]

[project.optional-dependencies]
mysql = ["PyMySQL>=1.1"]
grpc = [
  "grpcio",
  "redis",  # also a base dependency: the first one wins
]

[dependency-groups]
typing = ["mypy", "types-redis"]
test = [
    "pytest>=8",
    {include-group = "typing"},
]
dev = [{include-group = "test"}, "ruff"]
"""


def write(tmp_path: Path, text: str, name: str = "pyproject.toml") -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def parse(tmp_path: Path, text: str = PYPROJECT, selection: DependencySelection = EVERYTHING):
    return parse_pyproject(write(tmp_path, text), display="pyproject.toml", selection=selection)


def test_every_group_and_extra_with_line_numbers(tmp_path: Path) -> None:
    source = parse(tmp_path)
    assert [(r.name, r.specifier, r.origin) for r in source.requirements] == [
        ("gevent", ">=24", "pyproject.toml:8"),
        ("redis", "==5.0.1", "pyproject.toml:9"),
        ("psycopg2-binary", "", "pyproject.toml:10"),
        ("PyMySQL", ">=1.1", "pyproject.toml:14"),
        ("grpcio", "", "pyproject.toml:16"),
        ("mypy", "", "pyproject.toml:21"),
        ("types-redis", "", "pyproject.toml:21"),
        ("pytest", ">=8", "pyproject.toml:23"),
        ("ruff", "", "pyproject.toml:26"),
    ]
    reqs = {r.name: r for r in source.requirements}
    assert reqs["redis"].extras == ("hiredis",)
    assert reqs["psycopg2-binary"].marker == 'python_version >= "3.9"'
    assert reqs["psycopg2-binary"].line == 'psycopg2-binary; python_version >= "3.9"'
    # The duplicate redis in [grpc] is dropped with a note naming both lines; groups included
    # twice through include-group are quietly the same entries.
    assert source.notes == (
        "pyproject.toml:17: duplicate requirement 'redis' ignored (conflicts with "
        "'redis[hiredis]==5.0.1'); keeping the first, from pyproject.toml:9",
        "pyproject.toml: scanned groups: main, typing, test, dev; extras: mysql, grpc",
    )


def test_production_only_by_default(tmp_path: Path) -> None:
    source = parse_pyproject(write(tmp_path, PYPROJECT), display="pyproject.toml")
    assert source.names == ("gevent", "redis", "psycopg2-binary")
    assert [(s.groups, s.left_out, s.extras_left_out) for s in source.scanned] == [
        (("main",), ("typing", "test", "dev"), ("mysql", "grpc"))]
    assert source.notes == (
        "pyproject.toml: scanned groups: main; left out: typing, test, dev (add with --group "
        "NAME); extras left out: mysql, grpc (add with --extra NAME)",)


def test_selected_extras_and_groups(tmp_path: Path) -> None:
    source = parse(tmp_path, selection=DependencySelection(extras=("MySQL",), groups=("test",)))
    assert source.names == ("gevent", "redis", "psycopg2-binary", "PyMySQL", "pytest", "mypy",
                            "types-redis")


def test_only_group_leaves_main_out(tmp_path: Path) -> None:
    source = parse(tmp_path, selection=DependencySelection(only_groups=("typing",)))
    assert source.names == ("mypy", "types-redis")


def test_no_group_removes_one_of_all(tmp_path: Path) -> None:
    source = parse(tmp_path, selection=DependencySelection(all_groups=True, no_groups=("dev",)))
    assert source.names == ("gevent", "redis", "psycopg2-binary", "mypy", "types-redis",
                            "pytest")


def test_config_base_replaces_main(tmp_path: Path) -> None:
    source = parse(tmp_path, selection=DependencySelection(base=("main", "typing")))
    assert source.names == ("gevent", "redis", "psycopg2-binary", "mypy", "types-redis")


def test_unknown_extra_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(SourceError) as info:
        parse(tmp_path, selection=DependencySelection(extras=("postgres",)))
    assert info.value.message == (
        "pyproject.toml: no extra named 'postgres' (known extras: mysql, grpc)")
    assert "--extra NAME" in (info.value.hint or "")


def test_unknown_group_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(SourceError) as info:
        parse(tmp_path, selection=DependencySelection(groups=("docs",)))
    assert info.value.message == ("pyproject.toml: no dependency group named 'docs' (known "
                                  "groups: main, typing, test, dev)")
    assert "--group NAME" in (info.value.hint or "")


def test_include_group_cycle(tmp_path: Path) -> None:
    with pytest.raises(SourceError) as info:
        parse(tmp_path, """
            [dependency-groups]
            a = ["redis", {include-group = "b"}]
            b = [{include-group = "C"}]
            c = [{include-group = "a"}]
            """)
    assert info.value.message == (
        "pyproject.toml: include-group cycle in [dependency-groups]: a -> b -> c -> a")


def test_include_of_an_unknown_group(tmp_path: Path) -> None:
    with pytest.raises(SourceError) as info:
        parse(tmp_path, """
            [dependency-groups]
            test = ["pytest"]
            dev = [{include-group = "lint"}]
            """)
    assert info.value.message == "pyproject.toml:4: group 'dev' includes unknown group 'lint'"
    assert info.value.hint == "available: test, dev"


def test_group_names_that_normalise_alike_are_an_error(tmp_path: Path) -> None:
    with pytest.raises(SourceError) as info:
        parse(tmp_path, """
            [dependency-groups]
            my_group = ["a"]
            My-Group = ["b"]
            """)
    assert "have the same normalised name" in info.value.message


def test_invalid_requirement_names_the_line(tmp_path: Path) -> None:
    with pytest.raises(SourceError) as info:
        parse(tmp_path, """
            [project]
            name = "x"
            dependencies = [
                "gevent",
                "requests>=>2",
            ]
            """)
    assert info.value.message.startswith(
        "pyproject.toml:6: invalid requirement 'requests>=>2': Expected ")
    assert "\n" not in info.value.message


def test_invalid_toml_names_the_line(tmp_path: Path) -> None:
    with pytest.raises(SourceError) as info:
        parse(tmp_path, '[project]\nname = "x"\ndependencies = ["a" "b"]\n')
    assert info.value.message == (
        "pyproject.toml:3:21: invalid TOML: Unclosed array")


def test_dependencies_must_be_a_list(tmp_path: Path) -> None:
    with pytest.raises(SourceError) as info:
        parse(tmp_path, '[project]\nname = "x"\ndependencies = "gevent"\n')
    assert info.value.message == (
        "pyproject.toml: project.dependencies must be a list of requirement strings, got str")


def test_dynamic_dependencies_are_noted(tmp_path: Path) -> None:
    source = parse(tmp_path, """
        [build-system]
        requires = ["setuptools"]

        [project]
        name = "x"
        dynamic = ["version", "dependencies"]
        """)
    assert source.requirements == ()
    assert source.notes == (
        "pyproject.toml:5: dependencies are dynamic (computed by the build backend) and were "
        "not read; list them in a requirements file to scan them",)


def test_escaped_quotes_and_inline_tables_are_located(tmp_path: Path) -> None:
    source = parse(tmp_path, """
        [project]
        name = "x"
        optional-dependencies = { fast = ["ujson"] }
        dependencies = [
            "gevent; python_version >= \\"3.9\\"",
        ]
        """)
    assert [(r.name, r.origin) for r in source.requirements] == [
        ("gevent", "pyproject.toml:6"), ("ujson", "pyproject.toml:4")]


def test_same_string_in_two_groups_gets_each_line(tmp_path: Path) -> None:
    source = parse(tmp_path, """
        [dependency-groups]
        a = ["redis; sys_platform == 'linux'"]
        b = ["redis; sys_platform == 'linux'"]
        """)
    assert source.notes[0] == (
        "pyproject.toml:4: duplicate requirement \"redis; sys_platform == 'linux'\" ignored "
        "(listed again); keeping the first, from pyproject.toml:3")
