"""Precedence (command line > PATCHCHECK_* > file > defaults), env vars and --patch parsing."""
from __future__ import annotations

from pathlib import Path

import pytest

from patchcheck.config import PATCH_ALL_ARGS, load_settings, parse_patch_args
from patchcheck.errors import ConfigError

FILE = """\
[tool.patchcheck]
fail-on = "warns"
timeout = 10
jobs = 4
patch = {thread = false}
format = "json"
python = "python3.12"
cache = true
"""


@pytest.fixture
def project(tmp_path: Path) -> Path:
    (tmp_path / "pyproject.toml").write_text(FILE, encoding="utf-8")
    return tmp_path


def test_file_over_defaults(project: Path) -> None:
    s = load_settings({}, {}, project)
    assert (s.fail_on, s.timeout, s.jobs, s.patch, s.format, s.python, s.cache) == (
        "warns", 10.0, 4, {"thread": False}, "json", "python3.12", True
    )


def test_env_over_file(project: Path) -> None:
    env = {
        "PATCHCHECK_FAIL_ON": "breaks",
        "PATCHCHECK_TIMEOUT": "2.5",
        "PATCHCHECK_JOBS": "1",
        "PATCHCHECK_PATCH": "os=false,ssl=false",
        "PATCHCHECK_PYTHON": "/opt/venv/bin/python",
        "PATCHCHECK_FORMAT": "sarif",
        "PATCHCHECK_NO_CACHE": "1",
    }
    s = load_settings({}, env, project)
    assert (s.fail_on, s.timeout, s.jobs, s.patch, s.format, s.python, s.cache) == (
        "breaks", 2.5, 1, {"os": False, "ssl": False}, "sarif", "/opt/venv/bin/python", False
    )
    assert s.origins["timeout"] == "PATCHCHECK_TIMEOUT"
    assert s.origins["cache"] == "PATCHCHECK_NO_CACHE"
    assert s.origins["fail_on"] == "PATCHCHECK_FAIL_ON"


def test_cli_over_env(project: Path) -> None:
    env = {"PATCHCHECK_FAIL_ON": "breaks", "PATCHCHECK_JOBS": "1", "PATCHCHECK_PATCH": "os=false"}
    cli = {"fail_on": "never", "jobs": 8, "patch": "thread=false", "timeout": None}
    s = load_settings(cli, env, project)
    assert (s.fail_on, s.jobs, s.patch, s.timeout) == ("never", 8, {"thread": False}, 10.0)
    assert s.origins["fail_on"] == "--fail-on"
    assert s.origins["timeout"].endswith("pyproject.toml:3")


def test_cli_strings_are_parsed_like_env(project: Path) -> None:
    s = load_settings({"timeout": "7", "jobs": "3", "cache": "false"}, {}, project)
    assert (s.timeout, s.jobs, s.cache) == (7.0, 3, False)


def test_cli_repeated_patch_merges_and_no_cache(project: Path) -> None:
    s = load_settings({"patch": ["thread=false", "os=false", "thread=true"], "no_cache": True},
                      {}, project)
    assert s.patch == {"thread": True, "os": False}
    assert s.cache is False
    assert s.origins["cache"] == "--no-cache"
    assert load_settings({"no_cache": False}, {}, project).cache is True


def test_cli_paths_are_relative_to_cwd(project: Path) -> None:
    (project / "local-probes").mkdir()
    s = load_settings(
        {"baseline": "b.json", "output": "r.json", "python": "venv/bin/python",
         "probe_paths": ["local-probes"], "skip": ["A_b"]},
        {}, project,
    )
    assert s.baseline == project / "b.json"
    assert s.output == project / "r.json"
    assert s.python == str(project / "venv" / "bin" / "python")
    assert s.probe_paths == (project / "local-probes",)
    assert s.skip == ("a-b",)


def test_cli_unknown_setting_is_a_programming_error(project: Path) -> None:
    with pytest.raises(TypeError, match="unknown command-line setting 'colour'"):
        load_settings({"colour": "red"}, {}, project)


def test_empty_env_vars_count_as_unset(project: Path) -> None:
    s = load_settings({}, {"PATCHCHECK_FAIL_ON": "", "PATCHCHECK_JOBS": "  "}, project)
    assert (s.fail_on, s.jobs) == ("warns", 4)


def test_no_cache_false_turns_cache_back_on(tmp_path: Path) -> None:
    (tmp_path / "patchcheck.toml").write_text("cache = false\n")
    assert load_settings({}, {"PATCHCHECK_NO_CACHE": "0"}, tmp_path).cache is True
    assert load_settings({}, {}, tmp_path).cache is False


@pytest.mark.parametrize(
    "env, message",
    [
        ({"PATCHCHECK_FAIL_ON": "blocky"},
         "PATCHCHECK_FAIL_ON='blocky': expected one of "
         "untested, order-sensitive, warns, suspect, blocks, breaks, never"),
        ({"PATCHCHECK_TIMEOUT": "soon"},
         "PATCHCHECK_TIMEOUT='soon': expected a number of seconds greater than 0"),
        ({"PATCHCHECK_TIMEOUT": "nan"},
         "PATCHCHECK_TIMEOUT='nan': expected a number of seconds greater than 0"),
        ({"PATCHCHECK_JOBS": "2.0"},
         "PATCHCHECK_JOBS='2.0': expected a whole number of parallel jobs, 1 or more"),
        ({"PATCHCHECK_NO_CACHE": "maybe"},
         "PATCHCHECK_NO_CACHE='maybe': expected one of true, 1, yes, on, false, 0, no, off"),
        ({"PATCHCHECK_PATCH": "thread"},
         "PATCHCHECK_PATCH='thread': expected name=true|false pairs separated by commas,"
         " not 'thread'"),
    ],
)
def test_env_errors(tmp_path: Path, env: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError) as info:
        load_settings({}, env, tmp_path)
    assert info.value.message == message


@pytest.mark.parametrize(
    "cli, message",
    [
        ({"fail_on": "blocky"},
         "--fail-on 'blocky': expected one of "
         "untested, order-sensitive, warns, suspect, blocks, breaks, never"),
        ({"timeout": -1}, "--timeout -1: expected a number of seconds greater than 0"),
        ({"patch": "sockets=false"},
         "--patch 'sockets=false': 'sockets' is not a patch_all() argument; expected one of"
         " socket, dns, time, select, thread, os, ssl, subprocess, sys, aggressive, Event,"
         " builtins, signal, queue, contextvars"),
        ({"probe_paths": ["nowhere"]}, "--probe-paths ['nowhere']: {tmp}/nowhere does not exist"),
    ],
)
def test_cli_errors(tmp_path: Path, cli: dict, message: str) -> None:
    with pytest.raises(ConfigError) as info:
        load_settings(cli, {}, tmp_path)
    assert info.value.message == message.replace("{tmp}", str(tmp_path))


def test_env_error_even_when_cli_overrides_it(tmp_path: Path) -> None:
    # A broken variable is reported, not silently shadowed: it would break the next run.
    with pytest.raises(ConfigError):
        load_settings({"jobs": 2}, {"PATCHCHECK_JOBS": "many"}, tmp_path)


# --- parse_patch_args --------------------------------------------------------------------


def test_patch_args_syntax() -> None:
    assert parse_patch_args("", "--patch") == {}
    assert parse_patch_args("thread=false,os=false", "--patch") == {"thread": False, "os": False}
    assert parse_patch_args(" thread = False , sys=TRUE, ", "--patch") == {
        "thread": False, "sys": True
    }
    assert parse_patch_args("Event=0,aggressive=no,queue=on", "X") == {
        "Event": False, "aggressive": False, "queue": True
    }


def test_patch_arg_names_match_gevent() -> None:
    import inspect

    gevent_monkey = pytest.importorskip("gevent.monkey")
    params = inspect.signature(gevent_monkey.patch_all).parameters
    names = [n for n, p in params.items() if p.kind is p.POSITIONAL_OR_KEYWORD]
    assert set(PATCH_ALL_ARGS) == set(names)


@pytest.mark.parametrize(
    "text, message, hint",
    [
        ("thread=flase", "--patch 'thread=flase': thread must be true or false, not 'flase'",
         None),
        ("thred=false", "--patch 'thred=false': 'thred' is not a patch_all() argument; expected"
         " one of socket, dns, time, select, thread, os, ssl, subprocess, sys, aggressive,"
         " Event, builtins, signal, queue, contextvars", "did you mean 'thread'?"),
        ("event=false", "--patch 'event=false': 'event' is not a patch_all() argument; expected"
         " one of socket, dns, time, select, thread, os, ssl, subprocess, sys, aggressive,"
         " Event, builtins, signal, queue, contextvars", "did you mean 'Event'?"),
        ("os=false,os=true", "--patch 'os=false,os=true': 'os' is given twice", None),
        ("=false", "--patch '=false': expected name=true|false pairs separated by commas,"
         " not '=false'", "for example: thread=false,os=false"),
    ],
)
def test_patch_args_errors(text: str, message: str, hint: str | None) -> None:
    with pytest.raises(ConfigError) as info:
        parse_patch_args(text, "--patch")
    assert info.value.message == message
    assert info.value.hint == hint
