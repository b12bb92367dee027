"""Real servers: started by patchcheck from their binaries, or reached by URL / default port.

Tests that start a server need its binary (skipped when absent, failed when CI=true). CI must
install: redis-server, memcached, postgresql (server + client), mariadb-server + mariadb-client.
"""
from __future__ import annotations

import os
import socket
import subprocess

import pytest
from pc_svc_helpers import require

from patchcheck.errors import ConfigError
from patchcheck.services import real
from patchcheck.services.real import RealService, find_binary, reach_or_start
from patchcheck.spec import ServiceUnavailable

ENV = dict(os.environ)
for key in real.ENV_URLS.values():  # the developer's own URLs must not steer these tests
    ENV.pop(key, None)


def _binary(name: str) -> None:
    found = {
        "redis": find_binary(["redis-server"], ENV),
        "memcached": find_binary(["memcached"], ENV, ["/usr/bin/memcached"]),
        "postgresql": real._pg_tool("postgres", ENV),
        "mariadb": find_binary(["mariadbd", "mysqld"], ENV, ["/usr/sbin/mariadbd"]),
    }[name]
    require(found is not None, f"no {name} server binary installed")


def _port_open(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1):
            return True
    except OSError:
        return False


def _owner(pid: int) -> int:
    return os.stat(f"/proc/{pid}").st_uid


def _psql(endpoint, sql: str, database: str | None = None) -> str:
    extra = endpoint.extra
    done = subprocess.run(
        [real._pg_tool("psql", ENV) or "psql", "-X", "-tA", "-h", endpoint.host,
         "-p", str(endpoint.port), "-U", extra["user"], "-d", database or extra["database"],
         "-c", sql], capture_output=True, text=True, timeout=30,
        env={**ENV, "PGPASSWORD": extra["password"] or ""})
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def _mariadb(endpoint, sql: str, database: str | None = None) -> str:
    extra = endpoint.extra
    argv = [find_binary(["mariadb", "mysql"], ENV) or "mariadb", "--no-defaults", "--batch",
            "--skip-column-names", "--protocol=TCP", "-h", endpoint.host,
            "-P", str(endpoint.port), "-u", extra["user"]]
    if database or extra["database"]:
        argv += ["-D", database or extra["database"]]
    done = subprocess.run([*argv, "-e", sql], capture_output=True, text=True, timeout=30,
                          env={**ENV, "MYSQL_PWD": extra["password"] or ""})
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def _raw(port: int, request: bytes) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(request)
        return sock.recv(1000)


# --- our own servers ----------------------------------------------------------------------


def _started(name: str) -> RealService:
    _binary(name)
    service = reach_or_start(name, ENV)
    assert isinstance(service, RealService), service
    assert service.origin == "started"
    endpoint = service.endpoint
    assert endpoint.host == "127.0.0.1"
    assert endpoint.port != real.DEFAULT_PORTS[name]
    assert endpoint.extra["origin"] == "started"
    return service


def _assert_gone(service: RealService) -> None:
    process = service._cleanups[0].__self__  # the _Process (first cleanup)
    tmp, pid = process.tmp, process.proc.pid
    service.stop()
    service.stop()  # idempotent
    assert service.stop_errors == []
    assert not os.path.exists(tmp)
    assert process.proc.poll() is not None, f"pid {pid} still running"
    assert not _port_open(service.endpoint.port)


def test_started_redis_answers_ping():
    service = _started("redis")
    try:
        assert _raw(service.endpoint.port, b"PING\r\n") == b"+PONG\r\n"
        assert service.endpoint.url == f"redis://127.0.0.1:{service.endpoint.port}/0"
        assert service.endpoint.extra["key_prefix"].startswith("patchcheck:")
    finally:
        _assert_gone(service)


def test_started_memcached_answers_version():
    service = _started("memcached")
    try:
        assert _raw(service.endpoint.port, b"version\r\n").startswith(b"VERSION ")
        assert service.endpoint.url == f"memcache://127.0.0.1:{service.endpoint.port}/"
    finally:
        _assert_gone(service)


def test_started_postgresql_with_scratch_database():
    service = _started("postgresql")
    try:
        endpoint = service.endpoint
        database = endpoint.extra["database"]
        assert database.startswith("patchcheck_") and endpoint.extra["user"] == "postgres"
        assert endpoint.url.endswith(f"@127.0.0.1:{endpoint.port}/{database}")
        assert _psql(endpoint, "SELECT current_database() FROM pg_sleep(0.01)") == database
        if os.geteuid() == 0:  # PostgreSQL refuses root: we ran it as an unprivileged user
            assert _owner(service._cleanups[0].__self__.proc.pid) != 0
    finally:
        _assert_gone(service)


def test_started_mariadb_with_scratch_database():
    service = _started("mariadb")
    try:
        endpoint = service.endpoint
        database = endpoint.extra["database"]
        assert database.startswith("patchcheck_") and endpoint.extra["password"]
        assert _mariadb(endpoint, "SELECT DATABASE(), SLEEP(0.01)") == f"{database}\t0"
        # The probe account can use its scratch database and nothing else of ours.
        assert _mariadb(endpoint, "CREATE TABLE t (x INT); INSERT INTO t VALUES (1); "
                                  "SELECT COUNT(*) FROM t") == "1"
    finally:
        _assert_gone(service)


# --- explicit URLs and default ports ------------------------------------------------------


def _databases_pg() -> set[str]:
    from types import SimpleNamespace

    admin = SimpleNamespace(host="127.0.0.1", port=5432,
                            extra={"user": "postgres", "password": None, "database": "postgres"})
    return set(_psql(admin, "SELECT datname FROM pg_database").split())


def _not_scratch(names: set[str]) -> set[str]:
    # Other tests (xdist workers) create and drop their own patchcheck_* scratch databases on
    # the same server meanwhile: compare everything else.
    return {n for n in names if not n.startswith("patchcheck_")}


def test_postgres_url_gets_a_scratch_database_dropped_on_stop():
    require(_port_open(5432), "PostgreSQL is not running on 127.0.0.1:5432")
    before = _databases_pg()
    env = {**ENV, "PATCHCHECK_POSTGRES_URL": "postgresql://postgres@localhost:5432/postgres"}
    service = reach_or_start("postgresql", env)
    assert isinstance(service, RealService), service
    assert service.origin == "url" and service.endpoint.port == 5432
    database = service.endpoint.extra["database"]
    during = _databases_pg()
    assert database in during and _not_scratch(during) == _not_scratch(before)
    assert _psql(service.endpoint, "SELECT current_database()") == database
    service.stop()
    assert service.stop_errors == []
    after = _databases_pg()
    assert database not in after  # dropped
    assert _not_scratch(after) == _not_scratch(before)  # and nothing else touched


def test_mysql_url_gets_a_scratch_database_dropped_on_stop():
    require(_port_open(3306), "MariaDB is not running on 127.0.0.1:3306")
    env = {**ENV, "PATCHCHECK_MYSQL_URL": "mysql://root@127.0.0.1:3306/"}
    service = reach_or_start("mariadb", env)
    assert isinstance(service, RealService), service
    endpoint = service.endpoint
    database = endpoint.extra["database"]
    before = set(_mariadb(endpoint, "SHOW DATABASES").split())
    assert database in before
    service.stop()
    after = set(_mariadb(endpoint, "SHOW DATABASES", database="mysql").split())
    assert database not in after
    assert _not_scratch(after) == _not_scratch(before)


def test_url_that_does_not_answer_is_unavailable_not_replaced():
    with socket.socket() as placeholder:
        placeholder.bind(("127.0.0.1", 0))
        dead = placeholder.getsockname()[1]
    got = reach_or_start("redis", {**ENV, "PATCHCHECK_REDIS_URL": f"redis://127.0.0.1:{dead}/0"})
    assert isinstance(got, ServiceUnavailable)
    assert "PATCHCHECK_REDIS_URL" in got.reason and str(dead) in got.reason
    assert "unset PATCHCHECK_REDIS_URL" in got.install_hint
    # A config URL is used when the environment names none, and is named in the message.
    got = reach_or_start("memcached", ENV, url=f"127.0.0.1:{dead}")
    assert isinstance(got, ServiceUnavailable) and "services.memcached" in got.reason


def test_non_loopback_url_is_a_config_error():
    with pytest.raises(ConfigError) as info:
        reach_or_start("postgresql", {**ENV, "PATCHCHECK_POSTGRES_URL":
                                      "postgresql://u:secret@db.example.com:5432/x"})
    assert "not a loopback address" in info.value.message
    assert "secret" not in info.value.message  # passwords are redacted
    assert info.value.hint


def test_default_port_when_not_starting():
    require(_port_open(6379), "Redis is not running on 127.0.0.1:6379")
    service = reach_or_start("redis", ENV, allow_start=False)
    assert isinstance(service, RealService)
    assert service.origin == "default-port" and service.endpoint.port == 6379
    service.stop()


@pytest.mark.parametrize("name,port", [("rabbitmq", 5672), ("mosquitto", 1883)])
def test_brokers_at_default_ports(name, port):
    require(_port_open(port), f"{name} is not running on 127.0.0.1:{port}")
    service = reach_or_start(name, ENV)
    assert isinstance(service, RealService) and service.origin == "default-port"
    assert service.endpoint.port == port
    if name == "rabbitmq":
        assert service.endpoint.url == "amqp://guest:guest@127.0.0.1:5672/%2F"
        assert service.endpoint.extra["vhost"] == "/"


def test_unavailable_with_install_hint(monkeypatch):
    with socket.socket() as placeholder:
        placeholder.bind(("127.0.0.1", 0))
        dead = placeholder.getsockname()[1]
    monkeypatch.setitem(real.DEFAULT_PORTS, "memcached", dead)  # a port where nothing runs
    got = reach_or_start("memcached", ENV, allow_start=False)
    assert isinstance(got, ServiceUnavailable)
    assert got.name == "memcached" and f"127.0.0.1:{dead}" in got.reason
    assert got.install_hint.startswith("apt-get install memcached")
    monkeypatch.setitem(real.DEFAULT_PORTS, "mosquitto", dead)
    got = reach_or_start("mosquitto", ENV)
    assert isinstance(got, ServiceUnavailable) and "mosquitto" in got.install_hint


def test_unknown_service_name():
    with pytest.raises(ValueError, match="unknown real service"):
        reach_or_start("oracle", ENV)
