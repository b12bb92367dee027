"""pyproject.toml: project dependencies, extras and PEP 735 dependency groups."""
from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from patchcheck.errors import SourceError
from patchcheck.sources import parse_pyproject

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


def parse(tmp_path: Path, text: str = PYPROJECT, **kwargs):
    return parse_pyproject(write(tmp_path, text), display="pyproject.toml", **kwargs)


def test_everything_by_default_with_line_numbers(tmp_path: Path) -> None:
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
    )


def test_selected_extras_and_groups(tmp_path: Path) -> None:
    source = parse(tmp_path, extras=["MySQL"], groups=["test"])
    assert source.names == ("gevent", "redis", "psycopg2-binary", "PyMySQL", "pytest", "mypy",
                            "types-redis")


def test_no_extras_and_no_groups(tmp_path: Path) -> None:
    source = parse(tmp_path, extras=None, groups=())
    assert source.names == ("gevent", "redis", "psycopg2-binary")


def test_unknown_extra_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(SourceError) as info:
        parse(tmp_path, extras=["postgres"])
    assert info.value.message == (
        "pyproject.toml: no extra named 'postgres' in [project.optional-dependencies]")
    assert info.value.hint == "available: mysql, grpc"


def test_unknown_group_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(SourceError) as info:
        parse(tmp_path, groups="docs")
    assert info.value.message == "pyproject.toml: no dependency group named 'docs' in " \
                                 "[dependency-groups]"


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
    assert source.notes == (
        "pyproject.toml:4: duplicate requirement \"redis; sys_platform == 'linux'\" ignored "
        "(listed again); keeping the first, from pyproject.toml:3",)
