"""``scan --install``: real virtualenvs, real pip (or uv) from the configured package index.

The virtualenvs are built under a temporary ``PATCHCHECK_CACHE_DIR``; the installers' own
caches (~/.cache/pip, ~/.cache/uv) are left as they are so repeated runs download nothing.
Without a reachable index the tests that build skip, except in CI (CI=true) where they fail.
"""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from pc_testutil import IN_CI, ROOT, by_name, json_report, run_patchcheck

from patchcheck.errors import EnvironmentProblem, UsageError
from patchcheck.install import (
    INSTALLER_ENV,
    MARKER_NAME,
    InstallResult,
    choose_installer,
    ensure_environment,
    environment_key,
    error_tail,
    parse_pip_config,
    requirement_lines,
)
from patchcheck.model import Requirement

BAD = "this-package-does-not-exist-patchcheck"


def _req(name: str, specifier: str = "", **kw: object) -> Requirement:
    return Requirement(name=name, specifier=specifier, **kw)  # type: ignore[arg-type]


def _marker(result: InstallResult) -> Path:
    return Path(result.venv).parent / MARKER_NAME


def _run_in(python: str, code: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([python, "-c", code], capture_output=True, text=True, timeout=60)


def _build(cache: Path, reqs: list[Requirement], notes: list[str] | None = None,
           **kw: object) -> InstallResult:
    """ensure_environment, skipping (outside CI) when no package index can be reached."""
    sink = notes if notes is not None else []
    try:
        return ensure_environment(sys.executable, reqs, progress=sink.append,
                                  cache_dir=cache, **kw)  # type: ignore[arg-type]
    except EnvironmentProblem as exc:
        if "could not install gevent" in exc.message and not IN_CI:
            pytest.skip(f"no package index reachable: {exc.message.splitlines()[-1]}")
        raise


# -- pure parts -----------------------------------------------------------------------------

def test_equivalent_spellings_share_a_line() -> None:
    a = requirement_lines([
        _req("Six", ">=1.0, <2"), _req("Requests", "", extras=("Socks", "security")),
        _req("pkg", marker="python_version<'4'"),
        _req("local", url="file:///tmp/local", marker="os_name == 'posix'"),
    ])
    b = requirement_lines([
        _req("local", url="file:///tmp/local", marker="os_name=='posix'"),
        _req("requests", extras=("security", "socks")), _req("six", "<2,>=1.0"),
        _req("PKG", marker='python_version < "4"'), _req("six", "<2,>=1.0"),
    ])
    assert a == b
    assert len(a) == 4
    # A marker after a URL needs the space, or pip reads it as part of the URL.
    assert "local @ file:///tmp/local ; os_name == \"posix\"" in a


def test_key_depends_on_interpreter_version_and_requirements() -> None:
    lines = ["six"]
    key = environment_key("/usr/bin/python3.11", "3.11.7", lines)
    assert key == environment_key("/usr/bin/python3.11", "3.11.7", list(lines))
    assert key != environment_key("/usr/bin/python3.12", "3.11.7", lines)
    assert key != environment_key("/usr/bin/python3.11", "3.11.8", lines)
    assert key != environment_key("/usr/bin/python3.11", "3.11.7", ["six>=1.0"])
    assert environment_key("p", "v", ["a", "b"]) == environment_key("p", "v", ["b", "a"])


def test_pip_config_list_is_parsed() -> None:
    text = ("global.extra-index-url='file:///opt/pypi/simple file:///x/simple'\n"
            ":env:.find-links='/opt/wheels'\n"
            "install.no-binary=\"psycopg2\"\n"
            "not a setting\n")
    assert parse_pip_config(text) == {
        "global.extra-index-url": "file:///opt/pypi/simple file:///x/simple",
        ":env:.find-links": "/opt/wheels",
        "install.no-binary": "psycopg2",
    }


def test_installer_choice(tmp_path: Path) -> None:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    uv = bin_dir / "uv"
    uv.write_text("#!/bin/sh\nexit 0\n")
    uv.chmod(0o755)
    with_uv = {"PATH": str(bin_dir)}
    without_uv = {"PATH": str(tmp_path / "empty")}
    # uv reads neither pip.conf nor PIP_*: with package sources configured for pip, pip it is.
    assert choose_installer(env=with_uv, pip_settings={}) == "uv"
    assert choose_installer(env=with_uv, pip_settings={"global.timeout": "60"}) == "uv"
    assert choose_installer(
        env=with_uv, pip_settings={"global.extra-index-url": "file:///opt/pypi/simple"}) == "pip"
    assert choose_installer(env=with_uv, pip_settings={":env:.index-url": "https://x"}) == "pip"
    # ... unless uv has package sources of its own.
    assert choose_installer(env={**with_uv, "UV_INDEX_URL": "https://x/simple"},
                            pip_settings={"global.index-url": "https://x/simple"}) == "uv"
    assert choose_installer(env=without_uv, pip_settings={}) == "pip"
    assert choose_installer("pip", env=with_uv, pip_settings={}) == "pip"
    assert choose_installer(env={**with_uv, INSTALLER_ENV: "pip"}, pip_settings={}) == "pip"
    assert choose_installer("uv", env=with_uv,
                            pip_settings={"global.index-url": "https://x"}) == "uv"
    with pytest.raises(EnvironmentProblem, match="uv is not on PATH"):
        choose_installer("uv", env=without_uv, pip_settings={})
    with pytest.raises(UsageError, match="conda"):
        choose_installer(env={**with_uv, INSTALLER_ENV: "conda"}, pip_settings={})


def test_error_tail_keeps_the_errors_not_the_warnings() -> None:
    output = ("WARNING: Location 'file:///opt/pypi/simple/x/' is ignored\n"
              "ERROR: Could not find a version that satisfies the requirement x==1.0\n"
              "ERROR: No matching distribution found for x==1.0\n")
    tail = error_tail(output)
    assert "WARNING" not in tail
    assert tail.splitlines() == [
        "ERROR: Could not find a version that satisfies the requirement x==1.0",
        "ERROR: No matching distribution found for x==1.0"]
    assert len(error_tail("x" * 10_000)) <= 2001
    assert error_tail("") == "(no output)"


# -- real virtualenvs -----------------------------------------------------------------------

@pytest.fixture(scope="module")
def cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("install-cache")


@pytest.fixture(scope="module")
def six_env(cache: Path) -> InstallResult:
    return _build(cache, [_req("six")])


def test_builds_an_isolated_venv_with_gevent_and_the_requirements(
        six_env: InstallResult, cache: Path) -> None:
    assert six_env.built
    assert Path(six_env.python).is_relative_to(cache / "venvs")
    assert _marker(six_env).is_file()
    proc = _run_in(six_env.python, textwrap.dedent("""
        import sys, gevent, six
        try:
            import pytest  # installed where patchcheck runs, so must not be visible here
        except ImportError:
            pass
        else:
            raise SystemExit("the tool's site-packages leak into the venv")
        print(sys.prefix)
    """))
    assert proc.returncode == 0, proc.stderr
    assert Path(proc.stdout.strip()) == Path(six_env.venv)
    assert Path(proc.stdout.strip()) != Path(sys.prefix)


def test_reused_while_the_requirements_are_unchanged(six_env: InstallResult, cache: Path) -> None:
    before = _marker(six_env).stat().st_mtime_ns
    notes: list[str] = []
    # Same requirement, other spelling: same virtualenv.
    again = _build(cache, [_req("SIX")], notes)
    assert not again.built
    assert again.python == six_env.python
    assert _marker(six_env).stat().st_mtime_ns == before
    assert any("reusing" in n for n in notes)


_CONCURRENT = """
import json, sys
from patchcheck.install import ensure_environment
from patchcheck.model import Requirement
r = ensure_environment(sys.executable, [Requirement(name="six", specifier=">=1.0")],
                       cache_dir=sys.argv[1])
print(json.dumps({"built": r.built, "python": r.python}))
"""


def test_changed_requirements_build_once_even_when_two_runs_race(
        six_env: InstallResult, cache: Path) -> None:
    procs = [subprocess.Popen([sys.executable, "-c", _CONCURRENT, str(cache)], cwd=ROOT,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for _ in range(2)]
    outs = [p.communicate(timeout=300) for p in procs]
    for p, (_out, err) in zip(procs, outs):
        if p.returncode and "could not install gevent" in err and not IN_CI:
            pytest.skip("no package index reachable")
        assert p.returncode == 0, err
    results = [json.loads(out) for out, _ in outs]
    assert sorted(r["built"] for r in results) == [False, True]  # the lock: one build
    assert results[0]["python"] == results[1]["python"] != six_env.python
    assert _marker(six_env).is_file()  # the other virtualenv is untouched


_KILLED = """
import sys
from patchcheck.install import ensure_environment
from patchcheck.model import Requirement
ensure_environment(sys.executable, [Requirement(name="six", specifier="!=0.1")],
                   cache_dir=sys.argv[1])
"""


def test_a_build_killed_half_way_is_rebuilt_not_used(tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    proc = subprocess.Popen([sys.executable, "-c", _KILLED, str(cache)], cwd=ROOT,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            start_new_session=True)
    try:
        deadline = time.monotonic() + 120
        # The venv exists and pip is installing into it: stop the whole process group now.
        while not list(cache.glob("venvs/*/venv/pyvenv.cfg")):
            assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
            assert time.monotonic() < deadline, "the build never started"
            time.sleep(0.02)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
        if proc.stderr:
            proc.stderr.close()
    assert proc.returncode == -signal.SIGKILL
    (key_dir,) = cache.glob("venvs/*")
    assert not (key_dir / MARKER_NAME).exists()

    notes: list[str] = []
    result = _build(cache, [_req("six", "!=0.1")], notes)
    assert result.built
    assert any("removing the incomplete virtualenv" in n for n in notes)
    assert (key_dir / MARKER_NAME).is_file()
    assert _run_in(result.python, "import gevent, six").returncode == 0


def test_install_failures_are_reported_per_requirement(cache: Path) -> None:
    notes: list[str] = []
    result = _build(cache, [_req("six"), _req(BAD, "==1.0")], notes)
    assert result.built
    assert set(result.failures) == {BAD}
    assert "No matching distribution" in result.failures[BAD] or \
        "not found" in result.failures[BAD]  # pip's words, or uv's
    assert any(n.startswith(f"could not install {BAD}") for n in notes)
    # The rest installed, and the scan can go on with them.
    assert _run_in(result.python, "import gevent, six").returncode == 0

    notes.clear()
    again = _build(cache, [_req(BAD, "==1.0"), _req("six")], notes)
    assert not again.built
    assert again.failures == result.failures  # still reported when the venv is reused
    assert any(BAD in n and "to try again" in n for n in notes)


def _uv_dir() -> Path | None:
    import shutil

    found = shutil.which("uv")
    if found:
        return Path(found).parent
    beside = Path(sys.executable).parent / "uv"  # the test extra installs it next to python
    return beside.parent if beside.exists() else None


def test_uv_installer(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    uv_dir = _uv_dir()
    if uv_dir is None:
        if IN_CI:
            pytest.fail("uv is not installed (it is in the test extra)")
        pytest.skip("uv is not installed")
    monkeypatch.setenv("PATH", f"{uv_dir}{os.pathsep}{os.environ.get('PATH', '')}")
    result = _build(tmp_path, [_req("six"), _req(BAD, "==1.0")], installer="uv")
    assert result.installer == "uv" and result.built
    assert set(result.failures) == {BAD}
    proc = _run_in(result.python, "import gevent, six, sys; print(sys.prefix)")
    assert proc.returncode == 0, proc.stderr
    assert Path(proc.stdout.strip()) == Path(result.venv)
    # refresh=True builds afresh even though a complete one exists.
    again = _build(tmp_path, [_req("six"), _req(BAD, "==1.0")], installer="uv", refresh=True)
    assert again.built and again.python == result.python
    assert _run_in(again.python, "import gevent, six").returncode == 0


# -- the command line -------------------------------------------------------------------------

def test_scan_install_end_to_end(six_env: InstallResult, cache: Path) -> None:
    proc = run_patchcheck("scan", "six", "--install", "--no-probes", "--format", "json",
                          cwd=cache, env={"PATCHCHECK_CACHE_DIR": str(cache)})
    report = json_report(proc)
    python = report["environment"]["python"]
    assert Path(python).is_relative_to(cache / "venvs"), python
    assert python == six_env.python  # the cached venv, reused
    six = by_name(report)["six"]
    assert six["verdict"] not in ("not-installed", "breaks"), six
    assert "virtualenv" in proc.stderr


def test_scan_install_goes_on_after_a_failure(cache: Path) -> None:
    proc = run_patchcheck("scan", "six", f"{BAD}==1.0", "--install", "--no-probes",
                          "--format", "json", cwd=cache, env={"PATCHCHECK_CACHE_DIR": str(cache)})
    report = json_report(proc)
    assert f"could not install {BAD}" in proc.stderr
    results = by_name(report)
    assert results["six"]["verdict"] not in ("not-installed", "breaks")
    assert results[BAD]["verdict"] == "not-installed"
    # the installer's own message is the evidence, not a bare "not installed"
    (finding,) = results[BAD]["findings"]
    assert finding["code"] == "PC002" and "No matching distribution" in finding["evidence"][
        "installer"]


# -- remedy packages (issue #15) ----------------------------------------------------------------

def test_remedy_packages_are_added_so_remedies_are_measured(six_env: InstallResult) -> None:
    # greenify for any C client; psycogreen only beside psycopg2 (not listed here).
    assert six_env.remedy_packages == ("greenify",), six_env.remedy_packages
    proc = _run_in(six_env.python, "import greenify")
    assert proc.returncode == 0, proc.stderr
    assert six_env.remedy_note is not None and "added greenify to" in six_env.remedy_note


def test_the_report_says_which_remedy_packages_were_added(six_env: InstallResult,
                                                          cache: Path) -> None:
    proc = run_patchcheck("scan", "six", "--install", "--no-probes", "--format", "json",
                          cwd=cache, env={"PATCHCHECK_CACHE_DIR": str(cache)})
    notes = json_report(proc)["notes"]
    assert any(n.startswith("--install added greenify to its virtualenv") for n in notes), notes


# -- what the user sees of pip (issue #15) -------------------------------------------------------

def _noisy_pip_env(tmp_path: Path) -> dict[str, str]:
    """pip settings that make pip warn once per package: a find-links folder that does not
    exist (as a pip.conf naming a missing local index does: "Location '…' is ignored")."""
    missing = tmp_path / "no-such-wheel-folder"
    links = " ".join(filter(None, [os.environ.get("PIP_FIND_LINKS", ""), str(missing)]))
    return {"PIP_FIND_LINKS": links}


def test_pip_prints_only_its_errors_unless_asked(tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    """pip's own levels decide (-qq): its warnings are not in what a failure shows; at the
    default level (``-v``) they are, so the first half cannot pass by pip being silent."""
    from patchcheck.install import _describe_base, _install, _make_venv_pip

    for key, value in _noisy_pip_env(tmp_path).items():
        monkeypatch.setenv(key, value)
    base = _describe_base(sys.executable)
    venv = tmp_path / "venv"
    quiet = _install(_make_venv_pip(base, venv, quiet=True), [f"{BAD}==1.0"], tmp_path)
    echoed: list[str] = []
    loud = _install(_make_venv_pip(base, tmp_path / "venv2", quiet=False), [f"{BAD}==1.0"],
                    tmp_path, echoed.append)
    assert not quiet[0] and not loud[0]
    assert "No matching distribution" in quiet[1] or "from versions: none" in quiet[1]
    assert "is ignored" not in quiet[1], quiet[1]
    assert all(line.startswith("ERROR:") for line in quiet[1].splitlines() if line.strip())
    assert "is ignored" in loud[1]
    assert echoed[0].startswith("$ ") and any("is ignored" in line for line in echoed)


def test_scan_install_verbose_shows_the_installers_output(tmp_path: Path) -> None:
    env = {"PATCHCHECK_CACHE_DIR": str(tmp_path / "cache"), **_noisy_pip_env(tmp_path)}
    proc = run_patchcheck("scan", "six", f"{BAD}==1.0", "--install", "--no-probes", "-v",
                          "--format", "json", cwd=tmp_path, env=env)
    if "could not install gevent" in proc.stderr and not IN_CI:
        pytest.skip("no package index reachable")
    report = json_report(proc)
    assert by_name(report)[BAD]["verdict"] == "not-installed"
    echoed = [line for line in proc.stderr.splitlines() if line.startswith("patchcheck:   | ")]
    assert any("pip" in line and "install" in line and "$ " in line for line in echoed)
    assert any("is ignored" in line for line in echoed)  # -v: everything pip said
    # the report's evidence is pip's error, not its warnings
    (finding,) = by_name(report)[BAD]["findings"]
    assert "is ignored" not in finding["evidence"]["installer"]
