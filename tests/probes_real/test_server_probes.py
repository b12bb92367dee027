"""The built-in probes of issue #10's clients, end to end against real servers on loopback.

``python -m patchcheck scan <dist> --format json`` in a subprocess, as in
``test_real_probes``: the machine's PostgreSQL, MariaDB and RabbitMQ, and the servers patchcheck
starts itself (memcached, slapd, sshd, ZooKeeper, each in a temporary directory with its own
configuration). Each case asserts the plain verdict with its evidence (hub stall, concurrency
ratio) and what each remedy measured. Missing libraries or servers skip on a laptop and fail in
CI (``CI=true``).
"""
from __future__ import annotations

import pytest
from pc_real_testutil import require_binary_or_port, require_installed, require_library
from pc_testutil import by_name, json_report, require_server, run_patchcheck
from test_real_probes import (
    MARIADB,
    POSTGRES,
    RABBITMQ,
    SERVER_URLS,
    THREADPOOL,
    Case,
    check_measured,
    explain,
)

USE_PURE = "mysql.connector.connect(use_pure=True)"

SLAPD = ("slapd", ("slapd", "/usr/sbin/slapd"))
SSHD = ("sshd", ("sshd", "/usr/sbin/sshd"))
ZOOKEEPER = ("ZooKeeper", ("/usr/share/java/zookeeper.jar",))

CASES = [
    (Case("pg8000", "pg8000", "cooperates", {"pg8000.native_run": "cooperates"},
          servers=[POSTGRES]), ()),
    # PC120 (stale references): measured imported before patch_all() too (issue #10).
    (Case("python-memcached", "memcache", "cooperates",
          {"python-memcached.get": "cooperates",
           ("python-memcached.get", "before-patch"): "cooperates"}, memcached=True), ()),
    (Case("pylibmc", "pylibmc", "blocks",
          {"pylibmc.get": "blocks", ("pylibmc.get", "before-patch"): "blocks"},
          remedies={"pylibmc.get": {THREADPOOL: "cooperates"}}, memcached=True,
          known="agrees"), ()),
    (Case("ldap3", "ldap3", "cooperates",
          {"ldap3.search": "cooperates", ("ldap3.search", "before-patch"): "cooperates"}),
     (SLAPD,)),
    (Case("python-ldap", "ldap", "blocks",
          {"python-ldap.search": "blocks", ("python-ldap.search", "before-patch"): "blocks"},
          remedies={"python-ldap.search": {THREADPOOL: "cooperates"}}, known="agrees"),
     (SLAPD,)),
    # The default connect() picks the C extension when it loads (pinned so that it does, in
    # tests/requirements-clients.txt); use_pure=True is the pure-Python protocol.
    (Case("mysql-connector-python", "mysql.connector", "blocks",
          {"mysql-connector-python.sleep": "blocks",
           "mysql-connector-python.sleep_cext": "blocks"},
          remedies={"mysql-connector-python.sleep": {USE_PURE: "cooperates",
                                                     THREADPOOL: "cooperates"},
                    "mysql-connector-python.sleep_cext": {USE_PURE: "cooperates",
                                                          THREADPOOL: "cooperates"}},
          servers=[MARIADB], known="agrees"), ()),
    (Case("paramiko", "paramiko", "cooperates",
          {"paramiko.exec_sleep": "cooperates",
           ("paramiko.exec_sleep", "before-patch"): "cooperates"}),
     (SSHD,)),
    (Case("kazoo", "kazoo", "cooperates",
          {"kazoo.get": "cooperates", "kazoo.get_gevent_handler": "cooperates"},
          known="agrees"), (ZOOKEEPER,)),
    (Case("pika", "pika", "cooperates", {"pika.roundtrip": "cooperates"},
          servers=[RABBITMQ]), ()),
]


@pytest.mark.parametrize(("case", "own_servers"), CASES, ids=lambda c: getattr(c, "dist", ""))
def test_server_probe(case: Case, own_servers, tmp_path) -> None:
    require_library(case.module, case.dist)
    env = {}
    for server in case.servers:
        require_server(*server)
        if server in SERVER_URLS:
            variable, url = SERVER_URLS[server]
            env[variable] = url
    if case.memcached:
        require_binary_or_port("memcached", "memcached", 11211)
    for name, paths in own_servers:
        require_installed(name, *paths)

    proc = run_patchcheck("scan", case.dist, "--format", "json", "--no-cache", *case.args,
                          cwd=tmp_path, env=env)
    report = json_report(proc)
    assert not report.get("problems"), report.get("problems")
    result = by_name(report)[case.dist.lower().replace("_", "-")]
    # Keyed by name, or (name, order) for a measurement taken importing before patch_all().
    probes = {p["probe"] if p["order"] == "after-patch" else (p["probe"], p["order"]): p
              for p in result["probes"]}
    assert set(probes) == set(case.probes), sorted(probes, key=str)

    for name, outcome in case.probes.items():
        plain = probes[name]["plain"]
        assert plain["outcome"] == outcome, explain(plain)
        check_measured(plain, outcome)
        measured = {m["remedy"]: m for m in probes[name]["remedies"]}
        for label, remedy_outcome in case.remedies.get(name, {}).items():
            assert label in measured, f"{name}: remedy {label!r} not measured: {sorted(measured)}"
            check_measured(measured[label], remedy_outcome)

    assert result["verdict"] == case.verdict, (result["verdict"], result["findings"])
    if case.known:
        statuses = [k["status"] for k in result.get("known", ())]
        assert case.known in statuses, statuses
