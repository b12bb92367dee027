"""ServiceRegistry: start once per (name, delay), proxies, plugins' failures, close()."""
from __future__ import annotations

import os
import socket
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
from pc_svc_helpers import require

from patchcheck.services import ServiceRegistry, builtin_services
from patchcheck.services.fixtures import SlowTCPServer
from patchcheck.services.real import ENV_URLS, find_binary
from patchcheck.spec import Endpoint, ServiceSpec, ServiceUnavailable

BUILTIN = ["slow_tcp", "slow_http", "slow_tls", "slow_dns", "silent",
           "fake_mongo", "fake_s3", "fake_elasticsearch", "slow_websocket",
           "redis", "memcached", "postgresql", "mariadb", "rabbitmq", "mosquitto",
           "ldap", "ssh", "zookeeper"]
ENV = {k: v for k, v in os.environ.items() if k not in ENV_URLS.values()}
pytestmark = pytest.mark.usefixtures("no_leaked_threads")


def _refused(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=2).close()
        return False
    except ConnectionRefusedError:
        return True


def _echo_time(endpoint: Endpoint, data: bytes = b"hi") -> float:
    with socket.create_connection((endpoint.host, endpoint.port), timeout=10) as sock:
        start = time.monotonic()
        sock.sendall(data)
        reply = b""
        while len(reply) < len(data):
            reply += sock.recv(100)
        assert reply == data
        return time.monotonic() - start


def test_builtin_services_names_and_plugin_hook():
    specs = builtin_services(ENV)
    assert [s.name for s in specs] == BUILTIN
    assert all(s.description and s.origin == "builtin" for s in specs)
    assert {s.name for s in specs if not s.uses_delay} == set(BUILTIN[9:])

    from patchcheck.plugins import make_plugin_manager

    pm = make_plugin_manager()
    hooked = [s.name for group in pm.hook.patchcheck_add_services() for s in group]
    assert set(BUILTIN) <= set(hooked)


def test_listing_and_closing_services_loads_no_server_module():
    # A scan without probes (or a cached one) lists the services and closes the registry:
    # the servers' modules (ssl, the fakes) load only when a fixture starts.
    import subprocess
    import sys

    code = ("import sys\n"
            "from patchcheck.services import ServiceRegistry, builtin_services\n"
            "ServiceRegistry(builtin_services()).close()\n"
            "print(sorted(m for m in sys.modules if m.startswith('patchcheck.services.f')))\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout
    assert out.strip() == "[]"
    with ServiceRegistry(builtin_services()) as registry:
        endpoint = registry.get("slow_tcp", 0.0)
    assert isinstance(endpoint, Endpoint) and endpoint.port > 0


def test_started_once_per_name_and_delay_then_closed():
    with ServiceRegistry(builtin_services(ENV)) as registry:
        a = registry.endpoint("slow_tcp", 0.2)
        assert isinstance(a, Endpoint)
        assert registry.endpoint("slow_tcp", 0.2) == a
        assert registry.get("slow_tcp", 0.2) == a
        b = registry.endpoint("slow_tcp", 0.05)
        assert b.port != a.port and b.extra["delay"] == 0.05
        assert _echo_time(a) >= 0.2 - 0.02
    assert _refused(a.port) and _refused(b.port)
    with pytest.raises(RuntimeError):
        registry.endpoint("slow_tcp", 0.2)
    registry.close()  # idempotent


def test_concurrent_requests_start_one_server():
    starts = []

    def start(delay: float):
        starts.append(delay)
        time.sleep(0.1)  # a slow start: other threads must wait for it, not start their own
        return SlowTCPServer(delay).start()

    with ServiceRegistry([ServiceSpec("counted", start, origin="test")]) as registry:
        with ThreadPoolExecutor(8) as pool:
            ports = {e.port for e in pool.map(lambda _: registry.endpoint("counted", 0.1),
                                              range(8))}
    assert starts == [0.1] and len(ports) == 1


def test_services_that_ignore_delay_start_once():
    starts = []

    def start(delay: float):
        starts.append(delay)
        return SlowTCPServer(0).start()

    spec = ServiceSpec("realish", start, origin="test", uses_delay=False)
    with ServiceRegistry([spec]) as registry:
        assert registry.endpoint("realish", 0.3) == registry.endpoint("realish", 0.1)
    assert starts == [0.0]


def test_proxy_in_front_of_a_service():
    with ServiceRegistry(builtin_services(ENV)) as registry:
        proxied = registry.endpoint("proxy:slow_tcp", 0.25)
        inner = registry.endpoint("slow_tcp", 0.0)
        assert isinstance(proxied, Endpoint)
        assert proxied.name == "proxy:slow_tcp" and proxied.port != inner.port
        assert proxied.extra["proxied"] == "slow_tcp"
        assert proxied.extra["target_port"] == inner.port
        assert proxied.url == f"tcp://127.0.0.1:{proxied.port}"
        assert _echo_time(proxied) >= 0.25 - 0.02
        assert registry.endpoint("proxy:slow_tcp", 0.25) == proxied
        tls = registry.endpoint("proxy:slow_tls", 0.1)
        assert tls.extra["cafile"] and tls.url == f"https://127.0.0.1:{tls.port}/"
    assert _refused(proxied.port) and _refused(inner.port)


def test_proxy_in_front_of_real_redis_keeps_url_credentials():
    require(find_binary(["redis-server"], ENV) is not None, "no redis-server binary installed")
    with ServiceRegistry(builtin_services(ENV)) as registry:
        proxied = registry.endpoint("proxy:redis", 0.2)
        assert isinstance(proxied, Endpoint), proxied
        assert proxied.url == f"redis://127.0.0.1:{proxied.port}/0"
        with socket.create_connection((proxied.host, proxied.port), timeout=10) as sock:
            start = time.monotonic()
            sock.sendall(b"PING\r\n")
            assert sock.recv(100) == b"+PONG\r\n"
            assert time.monotonic() - start >= 0.2 - 0.02


def test_unknown_and_failing_services_become_unavailable():
    def boom(delay: float):
        raise OSError("no such binary")

    specs = [
        ServiceSpec("boom", boom, origin="acme-plugin"),
        ServiceSpec("absent", lambda d: ServiceUnavailable("absent", "not here", "install it")),
        ServiceSpec("weird", lambda d: 42, origin="acme-plugin"),
    ]
    with ServiceRegistry(specs) as registry:
        got = registry.endpoint("nope")
        assert isinstance(got, ServiceUnavailable) and "nope" in got.reason
        got = registry.endpoint("boom")
        assert isinstance(got, ServiceUnavailable)
        assert "acme-plugin" in got.reason and "no such binary" in got.reason
        assert registry.endpoint("absent") == ServiceUnavailable("absent", "not here",
                                                                  "install it")
        got = registry.endpoint("proxy:absent", 0.1)
        assert isinstance(got, ServiceUnavailable)
        assert got.name == "proxy:absent" and "not here" in got.reason
        assert got.install_hint == "install it"
        assert isinstance(registry.endpoint("weird"), ServiceUnavailable)


def test_first_spec_wins_and_proxy_names_are_reserved():
    first = ServiceSpec("svc", lambda d: SlowTCPServer(d, name="first").start(), origin="a")
    second = ServiceSpec("svc", lambda d: SlowTCPServer(d, name="second").start(), origin="b")
    with ServiceRegistry([first, second]) as registry:
        assert registry.endpoint("svc").name == "first"
        assert registry.shadowed == [("svc", "b")]
    with pytest.raises(ValueError, match="proxy:"):
        ServiceRegistry([ServiceSpec("proxy:x", lambda d: None)])


def test_configured_urls():
    with SlowTCPServer(0) as existing:
        urls = {"legacy": f"tcp://127.0.0.1:{existing.port}", "gone": "tcp://127.0.0.1:1"}
        with ServiceRegistry(builtin_services(ENV), urls=urls, env=ENV) as registry:
            got = registry.endpoint("legacy")
            assert isinstance(got, Endpoint) and got.port == existing.port
            assert got.extra["origin"] == "url"
            assert isinstance(registry.endpoint("gone"), ServiceUnavailable)
            assert "legacy" in registry.names
        assert existing.running  # a configured server is never stopped by patchcheck


def test_configured_url_for_a_real_service():
    require(find_binary(["redis-server"], ENV) is not None, "no redis-server binary installed")
    with socket.socket() as placeholder:
        placeholder.bind(("127.0.0.1", 0))
        dead = placeholder.getsockname()[1]
    urls = {"redis": f"redis://127.0.0.1:{dead}/0"}
    with ServiceRegistry(builtin_services(ENV), urls=urls, env=ENV) as registry:
        got = registry.endpoint("redis")
        # The configured server is down: unavailable, not silently replaced by our own.
        assert isinstance(got, ServiceUnavailable) and "services.redis" in got.reason


def test_close_from_another_thread_while_starting_does_not_leak():
    started = threading.Event()
    servers = []

    def start(delay: float):
        started.set()
        time.sleep(0.2)
        server = SlowTCPServer(delay).start()
        servers.append(server)
        return server

    registry = ServiceRegistry([ServiceSpec("slow_start", start)])
    with ThreadPoolExecutor(1) as pool:
        future = pool.submit(registry.endpoint, "slow_start", 0.0)
        started.wait(5)
        registry.close()
        future.result()
    assert servers and not servers[0].running
