"""Config files: discovery, parsing, validation messages (asserted exactly)."""
from __future__ import annotations

import os
import textwrap
from pathlib import Path

import pytest

from patchcheck.config import Settings, find_config_file, load_settings
from patchcheck.errors import ConfigError


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
    return path


def load(cwd: Path, config: Path | None = None, **cli) -> Settings:
    return load_settings(cli, {}, cwd, config)


def error(cwd: Path, config: Path | None = None, **cli) -> ConfigError:
    with pytest.raises(ConfigError) as info:
        load(cwd, config, **cli)
    return info.value


# --- discovery ---------------------------------------------------------------------------


def test_no_file_gives_defaults(tmp_path: Path) -> None:
    settings = load(tmp_path)
    assert settings == Settings()
    assert settings.fail_on == "blocks"
    assert settings.timeout == 60.0
    assert settings.jobs == (os.cpu_count() or 1)
    assert settings.format == "table"
    assert settings.cache is True
    assert settings.config_file is None
    assert settings.origins["fail_on"] == "default"


def test_pyproject_table_found_walking_up(tmp_path: Path) -> None:
    write(tmp_path / "pyproject.toml", """
        [project]
        name = "app"

        [tool.patchcheck]
        fail-on = "warns"
        timeout = 5
    """)
    sub = tmp_path / "src" / "app"
    sub.mkdir(parents=True)
    settings = load(sub)
    assert settings.fail_on == "warns"
    assert settings.timeout == 5.0
    assert settings.config_file == tmp_path / "pyproject.toml"
    # above cwd, so shown absolute
    assert settings.origins["fail_on"] == f"{tmp_path / 'pyproject.toml'}:5"
    assert settings.origins["timeout"] == f"{tmp_path / 'pyproject.toml'}:6"
    assert settings.origins["jobs"] == "default"


def test_pyproject_without_table_is_passed_over(tmp_path: Path) -> None:
    write(tmp_path / "pyproject.toml", '[tool.patchcheck]\nfail-on = "breaks"\n')
    write(tmp_path / "pkg" / "pyproject.toml", '[project]\nname = "pkg"\n')
    assert load(tmp_path / "pkg").fail_on == "breaks"


def test_unrelated_broken_pyproject_is_not_our_error(tmp_path: Path) -> None:
    write(tmp_path / "pyproject.toml", '[tool.patchcheck]\nfail-on = "breaks"\n')
    write(tmp_path / "pkg" / "pyproject.toml", "[project\nname = \n")
    assert load(tmp_path / "pkg").fail_on == "breaks"


def test_patchcheck_toml_wins_over_pyproject_in_same_directory(tmp_path: Path) -> None:
    write(tmp_path / "pyproject.toml", '[tool.patchcheck]\nfail-on = "breaks"\n')
    write(tmp_path / "patchcheck.toml", 'fail-on = "untested"\n')
    assert find_config_file(tmp_path) == (tmp_path / "patchcheck.toml", ())
    assert load(tmp_path).fail_on == "untested"


def test_nearest_directory_wins(tmp_path: Path) -> None:
    write(tmp_path / "patchcheck.toml", 'fail-on = "untested"\n')
    write(tmp_path / "app" / "pyproject.toml", '[tool.patchcheck]\nfail-on = "warns"\n')
    assert load(tmp_path / "app").fail_on == "warns"


def test_explicit_config_standalone_and_pyproject(tmp_path: Path) -> None:
    write(tmp_path / "pyproject.toml", '[tool.patchcheck]\nfail-on = "breaks"\n')
    ci = write(tmp_path / "ci" / "gate.toml", 'fail-on = "never"\n')
    assert load(tmp_path, ci).fail_on == "never"
    # relative --config is relative to cwd
    assert load(tmp_path, Path("ci/gate.toml")).fail_on == "never"
    other = write(tmp_path / "other" / "pyproject.toml", '[tool.patchcheck]\njobs = 3\n')
    assert load(tmp_path, other).jobs == 3
    # a non-pyproject file written in pyproject style also works
    styled = write(tmp_path / "styled.toml", '[tool.patchcheck]\njobs = 4\n')
    assert load(tmp_path, styled).jobs == 4


def test_explicit_config_missing(tmp_path: Path) -> None:
    exc = error(tmp_path, Path("nope.toml"))
    assert exc.message == "nope.toml: config file not found"
    assert exc.hint == "check the path given to --config"


def test_explicit_pyproject_without_table(tmp_path: Path) -> None:
    path = write(tmp_path / "pyproject.toml", '[project]\nname = "x"\n')
    exc = error(tmp_path, path)
    assert exc.message == "pyproject.toml: no [tool.patchcheck] table"


# --- every setting ---------------------------------------------------------------------------


def test_every_setting_from_a_file(tmp_path: Path) -> None:
    (tmp_path / "probes").mkdir()
    write(tmp_path / "pyproject.toml", """
        [tool.patchcheck]
        fail_on = "warns"
        timeout = 2.5
        jobs = 3
        patch = {thread = false, os = false}
        probe-paths = ["probes"]
        import-names = {"Pillow" = ["PIL"], "protobuf" = "google.protobuf"}
        baseline = ".patchcheck/baseline.json"
        format = "json"
        output = "out/report.json"
        python = ".venv/bin/python"
        cache = false
        skip = ["Some_Package", "other.pkg"]

        [tool.patchcheck.services]
        postgresql = "postgresql://postgres@127.0.0.1:5432/postgres"
        redis = "redis://localhost:6379/0"
        mysql = "mysql://root@[::1]:3306/"

        [[tool.patchcheck.waivers]]
        distribution = "pycurl"
        codes = ["PC140"]
        reason = "export job only"
        expires = 2027-01-31
    """)
    s = load(tmp_path / "probes")  # found by walking up; paths stay relative to the file
    assert s.fail_on == "warns"
    assert s.timeout == 2.5
    assert s.jobs == 3
    assert s.patch == {"thread": False, "os": False}
    assert s.probe_paths == (tmp_path / "probes",)
    assert s.import_names == {"pillow": ("PIL",), "protobuf": ("google.protobuf",)}
    assert s.baseline == tmp_path / ".patchcheck" / "baseline.json"
    assert s.format == "json"
    assert s.output == tmp_path / "out" / "report.json"
    assert s.python == str(tmp_path / ".venv" / "bin" / "python")
    assert s.cache is False
    assert s.skip == ("some-package", "other-pkg")
    assert s.services == {
        "postgresql": "postgresql://postgres@127.0.0.1:5432/postgres",
        "redis": "redis://localhost:6379/0",
        "mysql": "mysql://root@[::1]:3306/",
    }
    [waiver] = s.waivers
    assert (waiver.distribution, waiver.codes, waiver.reason, str(waiver.expires)) == (
        "pycurl", ("PC140",), "export job only", "2027-01-31"
    )
    assert waiver.origin == f"{tmp_path / 'pyproject.toml'}:20"


def test_patch_as_string_in_file(tmp_path: Path) -> None:
    write(tmp_path / "patchcheck.toml", 'patch = "thread=false, ssl=false"\n')
    assert load(tmp_path).patch == {"thread": False, "ssl": False}


def test_python_command_name_is_kept(tmp_path: Path) -> None:
    write(tmp_path / "patchcheck.toml", 'python = "python3.12"\n')
    assert load(tmp_path).python == "python3.12"


def test_unix_socket_service_url_is_allowed(tmp_path: Path) -> None:
    write(tmp_path / "patchcheck.toml", """
        [services]
        postgresql = "postgresql:///postgres?host=/var/run/postgresql"
    """)
    assert load(tmp_path).services["postgresql"].startswith("postgresql:///")


# --- error messages -----------------------------------------------------------------------------

PYPROJECT_HEAD = """
    [project]
    name = "app"
    version = "1"

    [tool.ruff]
    line-length = 100

    [tool.patchcheck]
"""


@pytest.mark.parametrize(
    "line, message",
    [
        ('fail-on = "blocky"',
         "pyproject.toml:9: [tool.patchcheck] fail-on = 'blocky': expected one of untested,"
         " order-sensitive, warns, suspect, blocks, breaks, never"),
        ('fail_on = 3',
         "pyproject.toml:9: [tool.patchcheck] fail_on = 3: expected one of untested,"
         " order-sensitive, warns, suspect, blocks, breaks, never"),
        ('timeout = "60"',
         "pyproject.toml:9: [tool.patchcheck] timeout = '60': expected a number of seconds"
         " greater than 0"),
        ('timeout = 0',
         "pyproject.toml:9: [tool.patchcheck] timeout = 0: expected a number of seconds"
         " greater than 0"),
        ('timeout = true',
         "pyproject.toml:9: [tool.patchcheck] timeout = true: expected a number of seconds"
         " greater than 0"),
        ('jobs = 0',
         "pyproject.toml:9: [tool.patchcheck] jobs = 0: expected a whole number of parallel"
         " jobs, 1 or more"),
        ('jobs = 1.5',
         "pyproject.toml:9: [tool.patchcheck] jobs = 1.5: expected a whole number of parallel"
         " jobs, 1 or more"),
        ('cache = "no"',
         "pyproject.toml:9: [tool.patchcheck] cache = 'no': expected true or false"),
        ('format = ""',
         "pyproject.toml:9: [tool.patchcheck] format = '': expected a non-empty string"),
        ('skip = ["requests", 3]',
         "pyproject.toml:9: [tool.patchcheck] skip = ['requests', 3]: expected a list of"
         " distribution names"),
        ('patch = {thread = "no"}',
         "pyproject.toml:9: [tool.patchcheck] patch = {'thread': 'no'}: thread must be true"
         " or false, not 'no'"),
        ('patch = {thraed = false}',
         "pyproject.toml:9: [tool.patchcheck] patch = {'thraed': False}: 'thraed' is not a"
         " patch_all() argument; expected one of socket, dns, time, select, thread, os, ssl,"
         " subprocess, sys, aggressive, Event, builtins, signal, queue, contextvars"),
        ('patch = "thread=nope"',
         "pyproject.toml:9: [tool.patchcheck] patch = 'thread=nope': thread must be true or"
         " false, not 'nope'"),
        ('probe-paths = ["missing"]',
         "pyproject.toml:9: [tool.patchcheck] probe-paths = ['missing']: {tmp}/missing does"
         " not exist"),
        ('services = {pg = "postgresql://db.example.com/app"}',
         "pyproject.toml:9: [tool.patchcheck] services = {'pg':"
         " 'postgresql://db.example.com/app'}: pg = 'postgresql://db.example.com/app': only"
         " loopback hosts (127.0.0.1, ::1, localhost) may be used"),
        ('services = {pg = "127.0.0.1:5432"}',
         "pyproject.toml:9: [tool.patchcheck] services = {'pg': '127.0.0.1:5432'}: pg ="
         " '127.0.0.1:5432' has no scheme"),
        ('import-names = {requests = ["not a module"]}',
         "pyproject.toml:9: [tool.patchcheck] import-names = {'requests': ['not a module']}:"
         " requests: 'not a module' is not a module name"),
        ('fail-onn = "warns"',
         "pyproject.toml:9: [tool.patchcheck] fail-onn = 'warns': unknown key; expected one"
         " of baseline, cache, fail-on, format, import-names, include-test-packages, jobs,"
         " output, patch, patches-first, probe-paths, python, services, skip, stalls, timeout,"
         " waivers"),
    ],
)
def test_bad_values_name_file_line_key_and_value(tmp_path: Path, line: str, message: str) -> None:
    write(tmp_path / "pyproject.toml", PYPROJECT_HEAD + "    " + line + "\n")
    exc = error(tmp_path)
    assert exc.message == message.replace("{tmp}", str(tmp_path))
    assert exc.exit_code == 2


def test_unknown_key_hint_suggests_the_close_one(tmp_path: Path) -> None:
    write(tmp_path / "pyproject.toml", '[tool.patchcheck]\nfail-onn = "warns"\n')
    assert error(tmp_path).hint == "did you mean 'fail-on'?"
    write(tmp_path / "pyproject.toml", '[tool.patchcheck]\npatch = {thraed = false}\n')
    assert error(tmp_path).hint == "did you mean 'thread'?"


def test_both_spellings_of_one_key(tmp_path: Path) -> None:
    write(tmp_path / "patchcheck.toml", 'fail-on = "warns"\nfail_on = "breaks"\n')
    exc = error(tmp_path)
    assert exc.message == (
        "patchcheck.toml:2: fail_on = 'breaks': 'fail_on' and 'fail-on' both set fail_on"
    )


def test_standalone_file_messages_have_no_table(tmp_path: Path) -> None:
    write(tmp_path / "patchcheck.toml", '# policy\n\njobs = -1\n')
    assert error(tmp_path).message == (
        "patchcheck.toml:3: jobs = -1: expected a whole number of parallel jobs, 1 or more"
    )


def test_line_found_in_dotted_subtable(tmp_path: Path) -> None:
    write(tmp_path / "pyproject.toml", """
        [tool.patchcheck]
        jobs = 2

        [tool.patchcheck.services]
        pg = "postgresql://10.0.0.5/app"
    """)
    assert error(tmp_path).message.startswith("pyproject.toml:4: [tool.patchcheck] services = ")


def test_invalid_toml_gives_line_and_column(tmp_path: Path) -> None:
    write(tmp_path / "patchcheck.toml", 'jobs = 2\nfail-on = blocks\n')
    exc = error(tmp_path)
    assert exc.message == "patchcheck.toml:2:11: invalid TOML: Invalid value"
    assert exc.hint == "fix the TOML syntax (https://toml.io)"


def test_invalid_toml_in_pyproject_that_mentions_the_table(tmp_path: Path) -> None:
    write(tmp_path / "pyproject.toml", '[tool.patchcheck]\njobs = = 2\n')
    assert error(tmp_path).message == "pyproject.toml:2:8: invalid TOML: Invalid value"


def test_not_utf8(tmp_path: Path) -> None:
    (tmp_path / "patchcheck.toml").write_bytes(b'format = "\xff"\n')
    assert error(tmp_path).message == (
        "patchcheck.toml: not UTF-8 text (invalid start byte at byte 10)"
    )


def test_file_outside_cwd_is_shown_absolute(tmp_path: Path) -> None:
    path = write(tmp_path / "conf" / "patchcheck.toml", "jobs = 0\n")
    cwd = tmp_path / "elsewhere"
    cwd.mkdir()
    assert error(cwd, path).message.startswith(f"{path}:1: jobs = 0: ")
