"""patchcheck's own slapd, sshd and ZooKeeper: started on 127.0.0.1 from a temporary directory,
answering their real protocol, and gone (process and directory) after ``stop()``."""
from __future__ import annotations

import os
import socket

import pytest
from pc_real_testutil import require_installed

from patchcheck.services.ldap import start_slapd
from patchcheck.services.ssh import start_sshd
from patchcheck.services.zookeeper import start_zookeeper


def _refused(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=2):
            return False
    except OSError:
        return True


def _tmpdir(service) -> str:
    # The first cleanup is the server process's stop(); its directory holds the config.
    return service._cleanups[0].__self__.tmp


def _started(start):
    service = start(os.environ, 60.0)
    assert service.origin == "started"
    assert service.endpoint.host == "127.0.0.1"
    return service


def _gone(service, tmpdir: str) -> None:
    port = service.endpoint.port
    service.stop()
    assert service.stop_errors == []
    assert _refused(port)
    assert not os.path.exists(tmpdir)


def test_slapd_binds_and_searches() -> None:
    require_installed("slapd", "slapd", "/usr/sbin/slapd")
    ldap3 = pytest.importorskip("ldap3")
    service = _started(start_slapd)
    ep = service.endpoint
    tmpdir = _tmpdir(service)
    try:
        conn = ldap3.Connection(ldap3.Server(ep.host, port=ep.port), user=ep.extra["user"],
                                password=ep.extra["password"], auto_bind=True)
        assert conn.search(ep.extra["base_dn"], "(objectClass=*)", search_scope=ldap3.BASE)
        conn.unbind()
        bad = ldap3.Connection(ldap3.Server(ep.host, port=ep.port), user=ep.extra["user"],
                               password="wrong")
        assert not bad.bind()  # the random root password is really checked
    finally:
        _gone(service, tmpdir)


def test_sshd_runs_a_remote_command_with_the_throwaway_key() -> None:
    require_installed("sshd", "sshd", "/usr/sbin/sshd")
    paramiko = pytest.importorskip("paramiko")
    service = _started(start_sshd)
    ep = service.endpoint
    tmpdir = os.path.dirname(ep.extra["key_filename"])
    try:
        client = paramiko.SSHClient()
        client.load_host_keys(ep.extra["known_hosts"])
        client.set_missing_host_key_policy(paramiko.RejectPolicy())  # the host key must match
        client.connect(ep.host, port=ep.port, username=ep.extra["user"],
                       key_filename=ep.extra["key_filename"], look_for_keys=False,
                       allow_agent=False, timeout=10)
        _, stdout, _ = client.exec_command("echo patchcheck")
        assert stdout.read().strip() == b"patchcheck"
        client.close()
        # Our sshd reads only its own files: no key of the user's ~/.ssh is involved.
        assert tmpdir.startswith(os.path.realpath(os.environ.get("TMPDIR", "/tmp")))
    finally:
        _gone(service, tmpdir)


def test_zookeeper_answers_kazoo() -> None:
    require_installed("ZooKeeper", "/usr/share/java/zookeeper.jar")
    kazoo_client = pytest.importorskip("kazoo.client")
    service = _started(start_zookeeper)
    ep = service.endpoint
    tmpdir = _tmpdir(service)
    try:
        zk = kazoo_client.KazooClient(hosts=ep.extra["hosts"])
        zk.start(timeout=15)
        zk.create("/patchcheck", b"x")
        assert zk.get("/patchcheck")[0] == b"x"
        zk.stop()
        zk.close()
    finally:
        _gone(service, tmpdir)
