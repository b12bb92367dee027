"""Remedies measured for real (issues #11 and #15): greenify on the client libraries the native
check found, a remedy whose package is missing (not tried, never breaks), remedies that wrap
the call or measure even when the plain call cooperates, and the threadpool on ``breaks``.

Real scans in subprocesses (``python -m patchcheck scan ... --format json``) against the
machine's MariaDB and PostgreSQL and the servers patchcheck starts itself (memcached, slapd,
the silent Kafka broker, the slow HTTP server). A library that must be *absent* is absent from
a scratch virtualenv of its own: ``sys.modules[name] = None`` in a ``.pth`` file makes the
module unimportable in that interpreter (``import`` raises ``ModuleNotFoundError``,
``importlib.util.find_spec`` returns None), exactly what a target without the package sees.
"""
from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from pc_real_testutil import require_binary_or_port, require_installed, require_library
from pc_testutil import (
    by_name,
    json_report,
    require_server,
    run_patchcheck,
    system_site_venv,
)
from test_real_probes import MARIADB, POSTGRES, SERVER_URLS, THREADPOOL, check_measured, explain

SLAPD = ("slapd", "/usr/sbin/slapd")


def _greenify(probe: dict) -> dict:
    found = [m for m in probe["remedies"] if (m["remedy"] or "").startswith("greenify.")]
    assert len(found) == 1, [m["remedy"] for m in probe["remedies"]]
    return found[0]


def _scan(dist: str, tmp_path: Path, *args: str, servers=(), python: str | None = None,
          fmt: str = "json") -> subprocess.CompletedProcess[str]:
    env = {}
    for server in servers:
        require_server(*server)
        if server in SERVER_URLS:
            variable, url = SERVER_URLS[server]
            env[variable] = url
    extra = ("--python", python) if python else ()
    return run_patchcheck("scan", dist, "--format", fmt, "--no-cache", *extra, *args,
                          cwd=tmp_path, env=env)


def _probe(report: dict, dist: str, name: str) -> dict:
    assert not report.get("problems"), report["problems"]
    result = by_name(report)[dist]
    # The patched-first run: remedies are measured in that order only (an imported-first run
    # of the same probe may follow it in the report).
    return {p["probe"]: p for p in result["probes"] if p.get("order") != "before-patch"}[name]


# dist, import name, probe, servers, what greenify measures, what the lines must name
GREENIFY_CASES = [
    ("pylibmc", "pylibmc", "pylibmc.get", (), "cooperates", '"pylibmc.libs", "libmemcached-*.so*"'),
    ("mysqlclient", "MySQLdb", "mysqlclient.sleep", (MARIADB,), "cooperates", "/libmariadb.so"),
    ("python-ldap", "ldap", "python-ldap.search", (), "cooperates", "/libldap"),
    ("pycurl", "pycurl", "pycurl.perform", (), "cooperates", '"pycurl.libs", "libcurl-*.so*"'),
    # librdkafka's own threads do the I/O; the calling thread waits on a condition variable,
    # which greenify does not reach: reported as measured, it still blocks.
    ("confluent-kafka", "confluent_kafka", "confluent-kafka.list_topics", (), "blocks",
     '"confluent_kafka.libs", "librdkafka-*.so*"'),
]


@pytest.mark.parametrize(("dist", "module", "probe", "servers", "outcome", "pattern"),
                         GREENIFY_CASES, ids=[c[0] for c in GREENIFY_CASES])
def test_greenify_measured(dist, module, probe, servers, outcome, pattern, tmp_path) -> None:
    require_library(module, dist)
    require_library("greenify", "greenify")
    if dist == "pylibmc":
        require_binary_or_port("memcached", "memcached", 11211)
    if dist == "python-ldap":
        require_installed(*SLAPD)
    report = json_report(_scan(dist, tmp_path, servers=servers))
    measured = _probe(report, dist, probe)
    check_measured(measured["plain"], "blocks")
    greenified = _greenify(measured)
    check_measured(greenified, outcome)
    lines = greenified["remedy_lines"]
    assert lines[0].startswith("import") and "greenify.greenify()" in "\n".join(lines), lines
    assert any(pattern in line and "greenify.patch_lib(path)" in line for line in lines), lines
    # A path pattern, never this machine's path.
    assert not any(sys.prefix in line or "site-packages" in line for line in lines), lines
    assert greenified["error"] is None, explain(greenified)


def test_greenify_lines_in_the_table(tmp_path) -> None:
    require_library("pylibmc", "pylibmc")
    require_library("greenify", "greenify")
    require_binary_or_port("memcached", "memcached", 11211)
    proc = _scan("pylibmc", tmp_path, fmt="table")
    # the default report says what the remedy measured; -v adds the lines to paste
    assert "cooperates with greenify.patch_lib(libmemcached)" in proc.stdout, proc.stdout
    assert "how to apply greenify.patch_lib(libmemcached)" in proc.stdout, proc.stdout
    proc = _scan("pylibmc", tmp_path, "-v", fmt="table")
    assert "add after patch_all():" in proc.stdout, proc.stdout
    assert ('for path in glob.glob(os.path.join(os.path.dirname(pylibmc.__file__), "..", '
            '"pylibmc.libs", "libmemcached-*.so*")): greenify.patch_lib(path)') in proc.stdout


# --- a remedy whose package is not installed -------------------------------------------------

def _venv_without(tmp_path: Path, *modules: str) -> str:
    """A target interpreter (the system site-packages: gevent, the clients) in which
    ``modules`` cannot be imported."""
    venv = tmp_path / ("venv-without-" + "-".join(modules))
    python = system_site_venv(venv, with_pip=False)
    site = subprocess.run([python, "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
                          check=True, capture_output=True, text=True).stdout.strip()
    hide = "".join(f"sys.modules[{m!r}] = None; " for m in modules)
    Path(site, "zz_patchcheck_test_hide.pth").write_text(f"import sys; {hide}\n")
    check = subprocess.run([python, "-c", f"import {modules[0]}"], capture_output=True, text=True)
    assert check.returncode != 0, f"{modules[0]} is still importable in the scratch venv"
    return python


def test_psycopg2_without_psycogreen_is_not_tried(tmp_path) -> None:
    require_library("psycopg2", "psycopg2-binary")
    python = _venv_without(tmp_path, "psycogreen")
    report = json_report(_scan("psycopg2-binary", tmp_path, servers=[POSTGRES], python=python))
    probe = _probe(report, "psycopg2-binary", "psycopg2.pg_sleep")
    check_measured(probe["plain"], "blocks")
    remedies = {m["remedy"]: m for m in probe["remedies"]}
    psycogreen = remedies["psycogreen.gevent.patch_psycopg()"]
    assert psycogreen["outcome"] == "not-tried", explain(psycogreen)
    assert psycogreen["not_installed"] == "psycogreen"
    assert psycogreen["install"] == "pip install psycogreen"
    check_measured(remedies[THREADPOOL], "cooperates")  # the other remedies still measured
    assert by_name(report)["psycopg2-binary"]["verdict"] == "blocks"

    table = _scan("psycopg2-binary", tmp_path, servers=[POSTGRES], python=python, fmt="table")
    text = table.stdout
    assert ("psycogreen.gevent.patch_psycopg(): not tried: psycogreen is not installed "
            "(pip install psycogreen)") in " ".join(text.split()), text
    assert "breaks with psycogreen" not in text, text


def test_greenify_not_installed_says_how_to_enable(tmp_path) -> None:
    require_library("pylibmc", "pylibmc")
    require_binary_or_port("memcached", "memcached", 11211)
    python = _venv_without(tmp_path, "greenify")
    report = json_report(_scan("pylibmc", tmp_path, python=python))
    greenified = _greenify(_probe(report, "pylibmc", "pylibmc.get"))
    assert greenified["outcome"] == "not-tried", explain(greenified)
    assert (greenified["not_installed"], greenified["install"]) == ("greenify",
                                                                    "pip install greenify")


# --- remedies that wrap the call, measured always; the threadpool on breaks -----------------

PROBE_FILE = '''
from patchcheck_probe import Remedy, probe


def _blocking_sleep(ctx, call):
    """Replace the call with the unpatched time.sleep: must measure blocks."""
    from gevent.monkey import get_original

    sleep = get_original("time", "sleep")
    return lambda: sleep(ctx.wait)


def _hub_refuses(ctx):
    """Sleeps ctx.wait, but raises on the hub's thread: only the threadpool runs it."""
    import time

    from gevent.monkey import get_original

    get_ident = get_original("threading", "get_ident")
    hub_thread = get_ident()  # factories run in greenlets of the hub's thread

    def call():
        if get_ident() == hub_thread:
            raise RuntimeError("refuses to run on the hub's thread")
        time.sleep(ctx.wait)

    return call


@probe(distributions=["certifi"], wait=0.3, measure_remedies="always",
       remedies={"original time.sleep (wrap)": Remedy(wrap=_blocking_sleep),
                 "options": Remedy(options={"marker": 1})})
def certifi_wrapped(ctx):
    import time

    if ctx.remedy == "options":
        assert ctx.options == {"marker": 1}, ctx.options
    return lambda: time.sleep(ctx.wait)


@probe(distributions=["certifi"], wait=0.3)
def certifi_hub_refuses(ctx):
    return _hub_refuses(ctx)
'''


def test_wrap_remedy_always_measured_and_threadpool_on_breaks(tmp_path) -> None:
    probes = tmp_path / "probes"
    probes.mkdir()
    (probes / "wrapped.py").write_text(textwrap.dedent(PROBE_FILE))
    report = json_report(_scan("certifi", tmp_path, "--probe-path", str(probes)))
    assert not report.get("problems"), report["problems"]
    result = by_name(report)["certifi"]
    outcomes = {p["probe"]: p for p in result["probes"] if p.get("order") != "before-patch"}

    wrapped = outcomes["certifi.wrapped"]
    check_measured(wrapped["plain"], "cooperates")
    remedies = {m["remedy"]: m for m in wrapped["remedies"]}
    # measure_remedies="always": measured although the plain call cooperates; the wrapper
    # replaced the call (the original sleep blocks), the options reached the factory.
    check_measured(remedies["original time.sleep (wrap)"], "blocks")
    check_measured(remedies["options"], "cooperates")

    refuses = outcomes["certifi.hub_refuses"]
    assert refuses["plain"]["outcome"] == "breaks", explain(refuses["plain"])
    threadpool = {m["remedy"]: m for m in refuses["remedies"]}[THREADPOOL]
    check_measured(threadpool, "cooperates")


def test_all_remedies_option(tmp_path) -> None:
    """--all-remedies measures a cooperating probe's remedies (here: the threadpool)."""
    probes = tmp_path / "probes"
    probes.mkdir()
    (probes / "coop.py").write_text(textwrap.dedent('''
        from patchcheck_probe import probe

        @probe(distributions=["certifi"], wait=0.3)
        def certifi_sleep(ctx):
            import time
            return lambda: time.sleep(ctx.wait)
    '''))
    plain = json_report(_scan("certifi", tmp_path, "--probe-path", str(probes)))
    assert _probe(plain, "certifi", "certifi.sleep")["remedies"] == []
    every = json_report(_scan("certifi", tmp_path, "--probe-path", str(probes),
                              "--all-remedies"))
    measured = _probe(every, "certifi", "certifi.sleep")
    check_measured(measured["plain"], "cooperates")
    check_measured({m["remedy"]: m for m in measured["remedies"]}[THREADPOOL], "cooperates")
