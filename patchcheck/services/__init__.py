"""Loopback services for probes: fixture servers, real servers, and the registry of a scan.

A probe names the services it needs (``ProbeSpec.services``); the engine asks a
:class:`ServiceRegistry` for each name and the probe's wait, and passes the resulting
:class:`~patchcheck.spec.Endpoint` (JSON) to the child, or skips the probe with the
:class:`~patchcheck.spec.ServiceUnavailable`.

Built-in names (:func:`builtin_services`):

=============  ==============================================================================
``slow_tcp``   :class:`~.fixtures.SlowTCPServer`: echoes each chunk after the delay
``slow_http``  :class:`~.fixtures.SlowHTTPServer`: HTTP/1.1 keep-alive, JSON after the delay
``slow_tls``   :class:`~.fixtures.SlowTLSServer`: the same over TLS; ``extra["cafile"]``
``slow_dns``   :class:`~.fixtures.SlowDNSServer`: UDP DNS, every A name → 127.0.0.1
``silent``     :class:`~.fixtures.SilentServer`: accepts and never answers
``fake_mongo`` :class:`~.fake_mongo.FakeMongoServer`: a mongod whose commands answer late
``fake_s3``    :class:`~.fake_http_apis.FakeS3Server`: S3 XML answers after the delay
``fake_elasticsearch``
               :class:`~.fake_http_apis.FakeElasticsearchServer`: an ES node, late
``slow_websocket``
               :class:`~.fake_websocket.FakeWebSocketServer`: echoes each message late
``redis``, ``memcached``, ``postgresql``, ``mariadb``, ``rabbitmq``, ``mosquitto``
               real servers (:func:`~.real.reach_or_start`): a ``PATCHCHECK_*_URL``, our own
               server, or the default local port. They ignore the delay: probes make them
               wait server-side (``pg_sleep``, ``SLEEP()``, ``BLPOP``…) or use ``proxy:``.
=============  ==============================================================================

``proxy:<name>`` (any registered name, e.g. ``proxy:memcached``, ``proxy:redis``) is a
:class:`~.fixtures.LatencyProxy` in front of service ``<name>`` (started with delay 0) that holds
every server→client chunk for the delay: latency for servers that cannot sleep on request.
Its endpoint copies the inner endpoint's ``extra`` (user, password, database, cafile…) and URL
with the proxy's port, plus ``proxied`` (the inner name) and ``target_port``. TCP only (not
``proxy:slow_dns``). ``proxy:<host>:<port>`` (``proxy:127.0.0.1:6380``, ``proxy:[::1]:6380``)
puts the same proxy in front of any loopback address, no service needed; its endpoint has
``target_host`` and ``target_port``.

What the proxy delays: every chunk the server sends (each response, not only the first), by
the delay counted from the moment the chunk reached the proxy, in order; the client's bytes
pass at once, the connect is not delayed, and half closes are forwarded.

URLs from configuration (``[tool.patchcheck] services = {name = "URL"}``, given to the registry
as ``urls``) point a name at an existing loopback server: for the built-in real services they are
used by :func:`~.real.reach_or_start` (a ``PATCHCHECK_*_URL`` in the environment still wins);
any other name becomes a service of that name (checked with a TCP connect). A ``proxy://HOST:PORT``
URL makes the name a latency proxy in front of that address, delayed by the probe's wait.

This module is also the built-in plugin that registers these services
(``patchcheck_add_services``).
"""
from __future__ import annotations

import os
import socket
import sys
import threading
from collections.abc import Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any
from urllib.parse import unquote, urlsplit, urlunsplit

from patchcheck.hookspecs import hookimpl
from patchcheck.services.real import REAL_SERVICES, reach_or_start
from patchcheck.spec import Endpoint, ServiceSpec, ServiceUnavailable

__all__ = ["PROXY_PREFIX", "PROXY_URL_SCHEME", "ServiceRegistry", "builtin_services",
           "proxy_address"]

PROXY_PREFIX = "proxy:"
#: ``services = {name = "proxy://127.0.0.1:6380"}``: the name is a latency proxy to there
PROXY_URL_SCHEME = "proxy"


def proxy_address(text: str) -> tuple[str, int] | None:
    """``"127.0.0.1:6380"`` / ``"[::1]:6380"`` / ``"localhost:6380"`` → (host, port), or None
    when ``text`` is not an address (then it names a service). Loopback is checked by the
    proxy itself."""
    host, sep, port = text.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        return None
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    elif ":" in host:
        return None  # an IPv6 address must be bracketed: [::1]:6380
    return host, int(port)

#: name -> (module, class, description). The classes load when a fixture first starts: a scan
#: without probes (or a cached one) never pays for the servers' modules (ssl among them).
_FIXTURES: Mapping[str, tuple[str, str, str]] = {
    "slow_tcp": ("fixtures", "SlowTCPServer", "TCP echo that answers each request after the "
                                              "delay"),
    "slow_http": ("fixtures", "SlowHTTPServer", "HTTP/1.1 keep-alive server answering after "
                                                "the delay (?delay= overrides, /status/NNN)"),
    "slow_tls": ("fixtures", "SlowTLSServer", "the slow HTTP server over TLS with a generated "
                                              "CA (extra: cafile)"),
    "slow_dns": ("fixtures", "SlowDNSServer", "UDP DNS answering A queries with 127.0.0.1 "
                                              "after the delay"),
    "silent": ("fixtures", "SilentServer", "accepts connections and never answers"),
    "fake_mongo": ("fake_mongo", "FakeMongoServer", "a fake mongod (OP_MSG): handshakes at "
                                                    "once, other commands after the delay"),
    "fake_s3": ("fake_http_apis", "FakeS3Server", "a fake S3 (path-style, any credentials) "
                                                  "answering after the delay"),
    "fake_elasticsearch": ("fake_http_apis", "FakeElasticsearchServer", "a fake Elasticsearch "
                           "node (product header) answering after the delay"),
    "slow_websocket": ("fake_websocket", "FakeWebSocketServer", "a websocket server echoing "
                                                                "each message after the delay"),
}


def _latency_proxy() -> type:
    return _fixture_class("fixtures.proxy", "LatencyProxy")


def _is_latency_proxy(handle: Any) -> bool:
    # Not loaded means none was started: closing a scan must not load the servers' modules.
    module = sys.modules.get("patchcheck.services.fixtures.proxy")
    return module is not None and isinstance(handle, module.LatencyProxy)


def _fixture_class(module: str, name: str) -> type:
    import importlib

    cls: type = getattr(importlib.import_module(f"patchcheck.services.{module}"), name)
    return cls


_REAL_DESCRIPTIONS: Mapping[str, str] = {
    "redis": "a Redis server (PATCHCHECK_REDIS_URL, redis-server, or 127.0.0.1:6379)",
    "memcached": "a memcached server (PATCHCHECK_MEMCACHED_URL, memcached, or :11211)",
    "postgresql": "PostgreSQL with a scratch database (PATCHCHECK_POSTGRES_URL, postgres, "
                  "or :5432)",
    "mariadb": "MariaDB/MySQL with a scratch database (PATCHCHECK_MYSQL_URL, mariadbd, or :3306)",
    "rabbitmq": "a RabbitMQ broker (PATCHCHECK_AMQP_URL or 127.0.0.1:5672)",
    "mosquitto": "an MQTT broker (PATCHCHECK_MQTT_URL or 127.0.0.1:1883)",
}


def builtin_services(env: Mapping[str, str] | None = None,
                     urls: Mapping[str, str] | None = None) -> list[ServiceSpec]:
    """The built-in services. ``env`` (default ``os.environ``) supplies ``PATCHCHECK_*_URL``
    and ``PATH``; ``urls`` are URLs from configuration (``[tool.patchcheck] services``),
    used when the environment names none."""
    specs = []
    for name, (module, cls, description) in _FIXTURES.items():
        specs.append(ServiceSpec(name=name, start=_fixture_starter(module, cls),
                                 description=description))
    for name in REAL_SERVICES:
        specs.append(ServiceSpec(name=name, start=_real_starter(name, env, urls),
                                 description=_REAL_DESCRIPTIONS[name], uses_delay=False))
    # Daemons patchcheck runs from a temporary directory of their own (slapd, sshd, ZooKeeper).
    from patchcheck.services import ldap, ssh, zookeeper

    for daemon in (ldap, ssh, zookeeper):
        specs.extend(daemon.service_specs())
    return specs


@hookimpl
def patchcheck_add_services() -> Sequence[ServiceSpec]:
    """The built-in services (this module is registered as a built-in plugin)."""
    return builtin_services()


def _fixture_starter(module: str, cls: str) -> Any:
    def start(delay: float) -> Any:
        return _fixture_class(module, cls)(delay).start()
    return start


def _real_starter(name: str, env: Mapping[str, str] | None,
                  urls: Mapping[str, str] | None) -> Any:
    def start(delay: float) -> Any:
        return reach_or_start(name, os.environ if env is None else env,
                              url=(urls or {}).get(name))
    return start


class _Slot:
    """One (name, delay): started at most once, even when asked from several threads."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.done = False
        self.handle: Any = None
        self.result: Endpoint | ServiceUnavailable | None = None


class ServiceRegistry:
    """The services of one scan: each (name, delay) started at most once, all stopped by
    :meth:`close`. Thread-safe. When two specs share a name the first wins
    (:func:`patchcheck.plugins.collect_services` lists plugins' services before built-ins')."""

    def __init__(self, specs: Iterable[ServiceSpec] = (), *,
                 urls: Mapping[str, str] | None = None,
                 env: Mapping[str, str] | None = None) -> None:
        self._urls = dict(urls or {})
        self._env = env
        self._specs: dict[str, ServiceSpec] = {}
        #: (name, origin) of specs that were shadowed by an earlier one with the same name.
        self.shadowed: list[tuple[str, str]] = []
        for spec in specs:
            if spec.name in self._specs:
                self.shadowed.append((spec.name, spec.origin))
            elif spec.name.startswith(PROXY_PREFIX):
                raise ValueError(f"service names may not start with {PROXY_PREFIX!r}: "
                                 f"{spec.name!r} (from {spec.origin})")
            else:
                self._specs[spec.name] = spec
        for name, url in self._urls.items():  # any configured name is a service
            if name not in self._specs:
                proxied = urlsplit(url).scheme == PROXY_URL_SCHEME
                self._specs[name] = ServiceSpec(name=name, start=lambda delay: None,
                                                origin="config", uses_delay=proxied)
        self._slots: dict[tuple[str, float], _Slot] = {}
        self._order: list[_Slot] = []  # start order, so close() stops proxies before targets
        self._lock = threading.Lock()
        self._closed = False
        #: Problems met while stopping services, for the log; close() never raises.
        self.stop_errors: list[str] = []

    @property
    def names(self) -> list[str]:
        return sorted(self._specs)

    def endpoint(self, name: str, delay: float = 0.0) -> Endpoint | ServiceUnavailable:
        """The endpoint of ``name`` answering after ``delay`` s, starting it on first use."""
        base = name[len(PROXY_PREFIX):] if name.startswith(PROXY_PREFIX) else name
        address = proxy_address(base) if name != base else None
        spec = self._specs.get(base)
        if spec is None and address is None:
            known = ", ".join(self.names) or "none"
            return ServiceUnavailable(name, f"no service named {base!r} is registered "
                                            f"(known: {known})",
                                      install_hint="check the probe's services=, or install "
                                                   "the plugin that provides it")
        if name == base and spec is not None and not spec.uses_delay:
            delay = 0.0
        key = (name, round(float(delay), 6))
        with self._lock:
            if self._closed:
                raise RuntimeError("ServiceRegistry is closed")
            slot = self._slots.get(key)
            if slot is None:
                slot = self._slots[key] = _Slot()
        with slot.lock:
            if not slot.done:
                if address is not None:
                    slot.result, slot.handle = self._start_address_proxy(name, address,
                                                                         key[1])
                elif name == base:
                    assert spec is not None
                    slot.result, slot.handle = self._start(spec, key[1])
                else:
                    slot.result, slot.handle = self._start_proxy(name, base, key[1])
                slot.done = True
                with self._lock:
                    self._order.append(slot)
                    closed = self._closed
                if closed:  # close() ran meanwhile: do not leak what we just started
                    self._stop(slot)
            assert slot.result is not None
            return slot.result

    #: ``get`` is the short name.
    def get(self, name: str, delay: float = 0.0) -> Endpoint | ServiceUnavailable:
        return self.endpoint(name, delay)

    def _start(self, spec: ServiceSpec,
               delay: float) -> tuple[Endpoint | ServiceUnavailable, Any]:
        try:
            handle = self._start_handle(spec, delay)
        except Exception as exc:
            # A plugin's failure to start a server skips its probes; it must not end the scan.
            return ServiceUnavailable(spec.name, f"starting {spec.name} ({spec.origin}) "
                                                 f"failed: {type(exc).__name__}: {exc}"), None
        if isinstance(handle, ServiceUnavailable):
            return handle, None
        endpoint = getattr(handle, "endpoint", None)
        if not isinstance(endpoint, Endpoint):
            self._stop_handle(handle)
            return ServiceUnavailable(spec.name, f"service {spec.name} ({spec.origin}) returned "
                                                 f"{type(handle).__name__} without an Endpoint"
                                      ), None
        return endpoint, handle

    def _start_handle(self, spec: ServiceSpec, delay: float) -> Any:
        url = self._urls.get(spec.name)
        if url is None:
            return spec.start(delay)
        if urlsplit(url).scheme == PROXY_URL_SCHEME:
            address = proxy_address(urlsplit(url).netloc)
            if address is None:
                return ServiceUnavailable(spec.name, f"services.{spec.name} = {url!r} needs "
                                                     "host:port after proxy://")
            return _latency_proxy()(address[0], address[1], delay, name=spec.name).start()
        if spec.name in REAL_SERVICES and spec.origin == "builtin":
            return reach_or_start(spec.name, os.environ if self._env is None else self._env,
                                  url=url)
        return _external(spec.name, url)

    def _start_proxy(self, name: str, base: str,
                     delay: float) -> tuple[Endpoint | ServiceUnavailable, Any]:
        inner = self.endpoint(base, 0.0)
        if isinstance(inner, ServiceUnavailable):
            return ServiceUnavailable(name, f"{base} is unavailable: {inner.reason}",
                                      inner.install_hint), None
        try:
            proxy = _latency_proxy()(inner.host, inner.port, delay, name=name).start()
        except (OSError, ValueError) as exc:
            return ServiceUnavailable(name, f"cannot proxy {base}: {exc}"), None
        return _proxied_endpoint(name, inner, proxy.port, delay), proxy

    def _start_address_proxy(self, name: str, address: tuple[str, int],
                             delay: float) -> tuple[Endpoint | ServiceUnavailable, Any]:
        try:
            proxy = _latency_proxy()(address[0], address[1], delay, name=name).start()
        except (OSError, ValueError) as exc:
            return ServiceUnavailable(name, f"cannot proxy {address[0]}:{address[1]}: {exc}",
                                      install_hint="only loopback addresses may be proxied"
                                      ), None
        return proxy.endpoint, proxy

    def close(self) -> None:
        """Stop every service: the proxies first, then the rest, each wave at once (a scratch
        database's DROP and a server's shutdown take a second or more each on a loaded box,
        and services do not depend on each other, only proxies on what they front).
        Idempotent."""
        with self._lock:
            self._closed = True
            order, self._order = self._order, []
        proxies = [slot for slot in order if _is_latency_proxy(slot.handle)]
        rest = [slot for slot in reversed(order) if slot not in proxies]
        for wave in (proxies, rest):
            if len(wave) <= 1:
                for slot in wave:
                    self._stop(slot)
                continue
            with ThreadPoolExecutor(max_workers=len(wave),
                                    thread_name_prefix="patchcheck-stop") as pool:
                list(pool.map(self._stop, wave))

    def _stop(self, slot: _Slot) -> None:
        handle, slot.handle = slot.handle, None
        if handle is not None:
            self._stop_handle(handle)

    def _stop_handle(self, handle: Any) -> None:
        try:
            handle.stop()
        except Exception as exc:
            self.stop_errors.append(f"{type(exc).__name__}: {exc}")
        self.stop_errors.extend(getattr(handle, "stop_errors", ()))

    def __enter__(self) -> ServiceRegistry:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _proxied_endpoint(name: str, inner: Endpoint, port: int, delay: float) -> Endpoint:
    url = inner.url
    if url:
        parts = urlsplit(url)
        if parts.port is not None or parts.hostname:
            auth = parts.netloc.rpartition("@")[0]
            netloc = f"{auth}@" if auth else ""
            url = urlunsplit(parts._replace(netloc=f"{netloc}{inner.host}:{port}"))
    return Endpoint(name=name, host=inner.host, port=port, url=url,
                    extra={**dict(inner.extra), "delay": delay, "proxied": inner.name,
                           "target_port": inner.port})


class _External:
    """A configured server patchcheck neither starts nor stops."""

    def __init__(self, endpoint: Endpoint) -> None:
        self.endpoint = endpoint

    def stop(self) -> None:
        pass


def _external(name: str, url: str) -> _External | ServiceUnavailable:
    parts = urlsplit(url)
    host = parts.hostname or "127.0.0.1"
    if host.lower() == "localhost":
        host = "127.0.0.1"
    try:
        port = parts.port
    except ValueError:
        port = None
    if port is None:
        return ServiceUnavailable(name, f"services.{name} = {url!r} has no port",
                                  install_hint="write the URL with host:port")
    try:
        with socket.create_connection((host, port), timeout=2.0):
            pass
    except OSError as exc:
        return ServiceUnavailable(name, f"services.{name} = {url!r}: nothing answers on "
                                        f"{host}:{port} ({exc.strerror or exc})",
                                  install_hint=f"start the server or remove services.{name}")
    return _External(Endpoint(name=name, host=host, port=port, url=url, extra={
        "user": unquote(parts.username) if parts.username else None,
        "password": unquote(parts.password) if parts.password is not None else None,
        "database": unquote(parts.path.lstrip("/")) or None, "origin": "url"}))
