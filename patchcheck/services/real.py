"""Real servers for probes: Redis, memcached, PostgreSQL, MariaDB, RabbitMQ, Mosquitto.

:func:`reach_or_start` finds a server in this order and stops at the first that works:

1. **An explicit URL** — the ``url`` argument (from ``[tool.patchcheck] services``) or the
   environment (``PATCHCHECK_REDIS_URL``, ``PATCHCHECK_MEMCACHED_URL``,
   ``PATCHCHECK_POSTGRES_URL``, ``PATCHCHECK_MYSQL_URL``, ``PATCHCHECK_AMQP_URL``,
   ``PATCHCHECK_MQTT_URL``; the environment wins). If it does not answer, the service is
   unavailable: patchcheck never silently swaps the server the user named for another.
2. **Our own server** (redis, memcached, postgresql, mariadb) — started from the binary on PATH
   or the usual Debian/RHEL paths, in a temporary directory, on a free 127.0.0.1 port, with
   durability off (these servers hold nothing worth keeping); stopped and deleted by
   ``stop()``. Preferred over a server already running because it is isolated and disposable.
3. **The default local port** (6379, 11211, 5432, 3306, 5672, 1883) if something answers
   there, with the default credentials (postgres/trust, root/no password, guest/guest).
4. Otherwise a :class:`ServiceUnavailable` with the reason and an install hint.

For PostgreSQL and MariaDB a scratch database ``patchcheck_<random>`` is created on whichever
server was chosen and dropped by ``stop()``; no other database is ever modified. The tool process
must not depend on database drivers, so this uses the servers' CLI tools (psql, mariadb) and, for
readiness, raw protocol (Redis ``PING``, memcached ``version``).

Only loopback is ever contacted: a URL naming another host is a :class:`ConfigError`.
"""
from __future__ import annotations

import glob
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Callable
from urllib.parse import quote, unquote, urlsplit

from patchcheck.errors import ConfigError
from patchcheck.net import is_loopback, redact_url
from patchcheck.spec import Endpoint, ServiceUnavailable

__all__ = ["ENV_URLS", "REAL_SERVICES", "RealService", "find_binary", "reach_or_start"]

#: Environment variable naming an existing server, per service.
ENV_URLS: Mapping[str, str] = {
    "redis": "PATCHCHECK_REDIS_URL",
    "memcached": "PATCHCHECK_MEMCACHED_URL",
    "postgresql": "PATCHCHECK_POSTGRES_URL",
    "mariadb": "PATCHCHECK_MYSQL_URL",
    "rabbitmq": "PATCHCHECK_AMQP_URL",
    "mosquitto": "PATCHCHECK_MQTT_URL",
}
DEFAULT_PORTS: Mapping[str, int] = {
    "redis": 6379, "memcached": 11211, "postgresql": 5432, "mariadb": 3306,
    "rabbitmq": 5672, "mosquitto": 1883,
}
_INSTALL_HINTS: Mapping[str, str] = {
    "redis": "apt-get install redis-server (or set PATCHCHECK_REDIS_URL=redis://127.0.0.1:6379/0)",
    "memcached": "apt-get install memcached "
                 "(or set PATCHCHECK_MEMCACHED_URL=memcache://127.0.0.1:11211)",
    "postgresql": "apt-get install postgresql (or set "
                  "PATCHCHECK_POSTGRES_URL=postgresql://postgres@127.0.0.1:5432/postgres)",
    "mariadb": "apt-get install mariadb-server mariadb-client "
               "(or set PATCHCHECK_MYSQL_URL=mysql://root@127.0.0.1:3306/)",
    "rabbitmq": "apt-get install rabbitmq-server and start it "
                "(or set PATCHCHECK_AMQP_URL=amqp://guest:guest@127.0.0.1:5672/%2F)",
    "mosquitto": "apt-get install mosquitto and start it "
                 "(or set PATCHCHECK_MQTT_URL=mqtt://127.0.0.1:1883)",
}
_SCHEMES: Mapping[str, str] = {
    "redis": "redis", "memcached": "memcache", "postgresql": "postgresql", "mariadb": "mysql",
    "rabbitmq": "amqp", "mosquitto": "mqtt",
}
#: Default credentials used at the default port (what a fresh Debian install accepts).
_DEFAULT_CREDENTIALS: Mapping[str, tuple[str | None, str | None]] = {
    "postgresql": ("postgres", None), "mariadb": ("root", None), "rabbitmq": ("guest", "guest"),
}
REAL_SERVICES: Sequence[str] = tuple(ENV_URLS)
_STARTABLE = ("redis", "memcached", "postgresql", "mariadb")
_CLI_TIMEOUT = 30.0


@dataclass
class RealService:
    """A real server patchcheck reached or started: ``endpoint``, ``stop()`` (idempotent)."""

    endpoint: Endpoint
    origin: str  # "url" (explicit URL), "started" (our own server) or "default-port"
    _cleanups: list[Callable[[], None]] = field(default_factory=list, repr=False)
    #: Problems met while stopping (a failed DROP DATABASE…), for the log; never raised.
    stop_errors: list[str] = field(default_factory=list)

    def stop(self) -> None:
        while self._cleanups:
            cleanup = self._cleanups.pop()
            try:
                cleanup()
            except Exception as exc:
                self.stop_errors.append(f"{type(exc).__name__}: {exc}")

    def __enter__(self) -> RealService:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


@dataclass
class _Target:
    """Where a server is and how to log in (before a scratch database exists)."""

    host: str
    port: int
    user: str | None = None
    password: str | None = None
    database: str | None = None  # from the URL: used only to run CREATE DATABASE from
    unix_socket: str | None = None  # our own servers: the CLI logs in through it


class _Unavailable(Exception):
    """Internal: a step failed; becomes ServiceUnavailable (or a fall-back)."""


def reach_or_start(name: str, env: Mapping[str, str] | None = None, *, url: str | None = None,
                   start_timeout: float = 60.0,
                   allow_start: bool = True) -> RealService | ServiceUnavailable:
    """Reach or start the real server ``name`` (one of :data:`REAL_SERVICES`).

    :param env: where ``PATCHCHECK_*_URL`` are read (default ``os.environ``); also the
        ``PATH`` used to find binaries.
    :param url: a URL from configuration, used when the environment names none.
    :param allow_start: False skips step 2 (start our own server).
    :raises ConfigError: the URL is malformed or names a host that is not loopback.
    """
    if name not in ENV_URLS:
        raise ValueError(f"unknown real service {name!r}; known: {', '.join(ENV_URLS)}")
    env = os.environ if env is None else env
    hint = _INSTALL_HINTS[name]
    explicit = env.get(ENV_URLS[name]) or url
    if explicit:
        source = ENV_URLS[name] if env.get(ENV_URLS[name]) else f"services.{name}"
        target = _parse_url(name, explicit, source)
        problem = _tcp_problem(target.host, target.port)
        if problem:
            return ServiceUnavailable(name, f"{source}={redact_url(explicit)}: {problem}",
                                      install_hint=f"start the server or unset {source}")
        return _attach_or_unavailable(name, target, "url", env, hint)

    start_problem = ""
    if allow_start and name in _STARTABLE:
        try:
            return _STARTERS[name](env, start_timeout)
        except _Unavailable as exc:
            start_problem = str(exc)

    port = DEFAULT_PORTS[name]
    if _tcp_problem("127.0.0.1", port) is None:
        user, password = _DEFAULT_CREDENTIALS.get(name, (None, None))
        return _attach_or_unavailable(name, _Target("127.0.0.1", port, user, password),
                                      "default-port", env, hint)
    reason = f"nothing answers on 127.0.0.1:{port}"
    if start_problem:
        reason = f"{start_problem}; and {reason}"
    elif name in _STARTABLE:
        reason = f"no {name} server binary found; and {reason}"
    return ServiceUnavailable(name, reason, install_hint=hint)


# --- helpers ------------------------------------------------------------------------------


def _parse_url(name: str, url: str, source: str) -> _Target:
    if "://" not in url:
        url = f"{_SCHEMES[name]}://{url}"  # "127.0.0.1:11211" is common for memcached
    try:
        parts = urlsplit(url)
        host, port = parts.hostname, parts.port
    except ValueError as exc:
        raise ConfigError(f"{source}={redact_url(url)} is not a valid URL: {exc}",
                          hint=f"e.g. {_INSTALL_HINTS[name].split('set ')[-1].rstrip(')')}"
                          ) from None
    if not host:
        raise ConfigError(f"{source}={redact_url(url)} names no host",
                          hint="write it as scheme://user:password@127.0.0.1:port/database")
    if not is_loopback(host):
        raise ConfigError(f"{source}={redact_url(url)}: {host} is not a loopback address",
                          hint="patchcheck only ever contacts 127.0.0.1/::1; run the server "
                               "locally or forward its port to loopback")
    if host.lower().startswith("localhost") or host == "ip6-localhost":
        host = "127.0.0.1"
    database = unquote(parts.path.lstrip("/")) or None
    return _Target(host, port or DEFAULT_PORTS[name],
                   unquote(parts.username) if parts.username else None,
                   unquote(parts.password) if parts.password is not None else None, database)


def _tcp_problem(host: str, port: int, timeout: float = 2.0) -> str | None:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return None
    except OSError as exc:
        return f"nothing answers on {host}:{port} ({exc.strerror or exc})"


def _exchange(port: int, request: bytes, expect: bytes, timeout: float = 1.0) -> bool:
    """Send ``request`` over raw TCP; True if the reply starts with ``expect``."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
            sock.sendall(request)
            reply = b""
            while len(reply) < len(expect):
                data = sock.recv(256)
                if not data:
                    break
                reply += data
            return reply.startswith(expect)
    except OSError:
        return False


def _url(name: str, host: str, port: int, user: str | None = None,
         password: str | None = None, path: str = "") -> str:
    auth = ""
    if user:
        auth = quote(user, safe="")
        if password:
            auth += ":" + quote(password, safe="")
        auth += "@"
    return f"{_SCHEMES[name]}://{auth}{host}:{port}/{path}"


def find_binary(names: Sequence[str], env: Mapping[str, str],
                extra_globs: Sequence[str] = ()) -> str | None:
    """The first of ``names`` on ``env['PATH']``, else in ``extra_globs`` (newest version)."""
    for candidate in names:
        found = shutil.which(candidate, path=env.get("PATH", os.defpath))
        if found:
            return found
    for pattern in extra_globs:
        matches = sorted(glob.glob(pattern), key=_version_key, reverse=True)
        for match in matches:
            if os.access(match, os.X_OK):
                return match
    return None


def _version_key(path: str) -> list[int]:
    return [int(n) for n in re.findall(r"\d+", path)]


def _unprivileged(preferred: Sequence[str]) -> tuple[int, int, str] | None:
    """(uid, gid, name) to run a server as when we are root, else None (run as ourselves).

    PostgreSQL refuses to run as root, memcached/MariaDB want to be told whom to become, and
    a throwaway server has no reason to run as root anyway.
    """
    if not hasattr(os, "geteuid") or os.geteuid() != 0:
        return None
    import pwd

    for user in (*preferred, "nobody"):
        try:
            entry = pwd.getpwnam(user)
        except KeyError:
            continue
        return entry.pw_uid, entry.pw_gid, user
    raise _Unavailable("running as root and no unprivileged user (nobody) exists to run the "
                       "server as")


class _Process:
    """A server we started: its temporary directory and its process; ``stop()`` ends both."""

    def __init__(self, name: str, preferred_users: Sequence[str] = ()) -> None:
        self.name = name
        self.user = _unprivileged(preferred_users)
        self.tmp = tempfile.mkdtemp(prefix=f"patchcheck-{name}-")
        if self.user:
            os.chown(self.tmp, self.user[0], self.user[1])
        self.log_path = os.path.join(self.tmp, "server.log")
        self.proc: subprocess.Popen[bytes] | None = None
        self.stop_signal = signal.SIGTERM

    def _popen_args(self, env: Mapping[str, str]) -> dict[str, object]:
        kwargs: dict[str, object] = {
            "cwd": self.tmp, "stdin": subprocess.DEVNULL,
            # An explicit, small environment: the C locale keeps initdb and friends from
            # failing on a locale the machine lacks.
            "env": {"PATH": env.get("PATH", os.defpath), "HOME": self.tmp, "LC_ALL": "C",
                    "LANG": "C", "TMPDIR": self.tmp},
        }
        if self.user:
            kwargs.update(user=self.user[0], group=self.user[1], extra_groups=[])
        return kwargs

    def run(self, argv: list[str], env: Mapping[str, str], timeout: float) -> None:
        """Run a setup command (initdb…) to completion; _Unavailable with its output if not."""
        try:
            done = subprocess.run(argv, capture_output=True, timeout=timeout,
                                  **self._popen_args(env))  # type: ignore[call-overload]
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise _Unavailable(f"{os.path.basename(argv[0])} failed: {exc}") from None
        if done.returncode != 0:
            out = (done.stderr or done.stdout).decode(errors="replace").strip()
            raise _Unavailable(f"{os.path.basename(argv[0])} exited with {done.returncode}: "
                               f"{_tail(out)}")

    def launch(self, argv: list[str], env: Mapping[str, str]) -> None:
        with open(self.log_path, "ab") as log:
            try:
                self.proc = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT,
                                             **self._popen_args(env))  # type: ignore
            except OSError as exc:
                raise _Unavailable(f"cannot run {argv[0]}: {exc}") from None

    def wait_ready(self, ready: Callable[[], bool], timeout: float) -> None:
        assert self.proc is not None
        deadline = time.monotonic() + timeout
        pause = 0.05
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise _Unavailable(f"{self.name} exited with {self.proc.returncode} while "
                                   f"starting: {_tail(self.log())}")
            if ready():
                return
            time.sleep(pause)
            pause = min(pause * 1.5, 0.5)
        raise _Unavailable(f"{self.name} did not answer within {timeout:g} s: "
                           f"{_tail(self.log())}")

    def log(self) -> str:
        try:
            with open(self.log_path, errors="replace") as f:
                return f.read()
        except OSError:
            return ""

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            try:
                self.proc.send_signal(self.stop_signal)
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
            except ProcessLookupError:
                pass
        shutil.rmtree(self.tmp, ignore_errors=True)


def _tail(text: str, lines: int = 4) -> str:
    kept = [line for line in text.strip().splitlines() if line.strip()][-lines:]
    return " | ".join(kept)[-600:] or "(no output)"


def _free_port() -> int:
    # A small race (another process could take the port before the server binds it) is
    # handled by _start_with_retries.
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _start_with_retries(start: Callable[[], RealService], attempts: int = 3) -> RealService:
    for attempt in range(attempts):
        try:
            return start()
        except _Unavailable as exc:
            if "in use" not in str(exc).lower() or attempt == attempts - 1:
                raise
    raise AssertionError("unreachable")


def _started(process: _Process, endpoint: Endpoint,
             cleanups: Sequence[Callable[[], None]] = ()) -> RealService:
    return RealService(endpoint, "started", [process.stop, *cleanups])


def _guard(process: _Process, body: Callable[[], RealService]) -> RealService:
    try:
        return body()
    except BaseException:
        process.stop()
        raise


# --- Redis and memcached ------------------------------------------------------------------


def _start_redis(env: Mapping[str, str], timeout: float) -> RealService:
    binary = find_binary(["redis-server"], env, ["/usr/sbin/redis-server"])
    if binary is None:
        raise _Unavailable("no redis-server binary on PATH")

    def attempt() -> RealService:
        process = _Process("redis", ["redis"])
        port = _free_port()

        def body() -> RealService:
            process.launch([binary, "--port", str(port), "--bind", "127.0.0.1",
                            "--save", "", "--appendonly", "no", "--dir", process.tmp,
                            "--daemonize", "no", "--logfile", ""], env)
            process.wait_ready(lambda: _exchange(port, b"PING\r\n", b"+PONG"), timeout)
            return _started(process, _kv_endpoint("redis", "127.0.0.1", port, "started"))

        return _guard(process, body)

    return _start_with_retries(attempt)


def _start_memcached(env: Mapping[str, str], timeout: float) -> RealService:
    binary = find_binary(["memcached"], env, ["/usr/bin/memcached", "/usr/sbin/memcached"])
    if binary is None:
        raise _Unavailable("no memcached binary on PATH")

    def attempt() -> RealService:
        process = _Process("memcached", ["memcache"])
        # Its graceful stop (SIGTERM or SIGINT) takes 0.5 s, the longest of a probe scan's
        # service stops; our scratch instance keeps nothing, so it is killed.
        process.stop_signal = signal.SIGKILL
        port = _free_port()
        # memcached refuses to run as root without -u; it then drops privileges itself.
        user = ["-u", process.user[2]] if process.user else []
        process.user = None

        def body() -> RealService:
            process.launch([binary, "-l", "127.0.0.1", "-p", str(port), "-U", "0",
                            "-m", "64", "-c", "1024", *user], env)
            process.wait_ready(lambda: _exchange(port, b"version\r\n", b"VERSION"), timeout)
            return _started(process, _kv_endpoint("memcached", "127.0.0.1", port, "started"))

        return _guard(process, body)

    return _start_with_retries(attempt)


def _kv_endpoint(name: str, host: str, port: int, origin: str,
                 user: str | None = None, password: str | None = None) -> Endpoint:
    # On a shared server (URL or default port) probes must not collide with other users'
    # keys: give each scan its own prefix.
    prefix = f"patchcheck:{secrets.token_hex(4)}:"
    path = "0" if name == "redis" else ""
    return Endpoint(name=name, host=host, port=port,
                    url=_url(name, host, port, user, password, path),
                    extra={"user": user, "password": password,
                           "database": path or None, "origin": origin, "key_prefix": prefix})


# --- PostgreSQL ---------------------------------------------------------------------------

_PG_GLOBS = ("/usr/lib/postgresql/*/bin/{}", "/usr/pgsql-*/bin/{}",
             "/usr/local/pgsql/bin/{}", "/opt/homebrew/opt/postgresql*/bin/{}")


def _pg_tool(tool: str, env: Mapping[str, str], near: str | None = None) -> str | None:
    if near:  # prefer the tool of the same installation as the server
        candidate = os.path.join(os.path.dirname(near), tool)
        if os.access(candidate, os.X_OK):
            return candidate
    return find_binary([tool], env, [g.format(tool) for g in _PG_GLOBS])


def _psql(env: Mapping[str, str], target: _Target, sql: str,
          psql: str | None = None) -> subprocess.CompletedProcess[str]:
    psql = psql or _pg_tool("psql", env)
    if psql is None:
        raise _Unavailable("psql (the PostgreSQL client) is not installed; "
                           "apt-get install postgresql-client")
    child_env = {"PATH": env.get("PATH", os.defpath), "LC_ALL": "C", "PGCONNECT_TIMEOUT": "5",
                 "PGAPPNAME": "patchcheck"}
    if target.password is not None:
        child_env["PGPASSWORD"] = target.password
    argv = [psql, "-X", "-q", "-v", "ON_ERROR_STOP=1", "-tA",
            "-h", target.unix_socket or target.host, "-p", str(target.port),
            "-U", target.user or "postgres", "-d", target.database or "postgres", "-c", sql]
    try:
        return subprocess.run(argv, capture_output=True, text=True, env=child_env,
                              stdin=subprocess.DEVNULL, timeout=_CLI_TIMEOUT)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise _Unavailable(f"psql failed: {exc}") from None


def _start_postgresql(env: Mapping[str, str], timeout: float) -> RealService:
    postgres = _pg_tool("postgres", env)
    initdb = postgres and _pg_tool("initdb", env, near=os.path.realpath(postgres))
    if postgres is None or initdb is None:
        raise _Unavailable("no PostgreSQL server binaries (postgres, initdb) found")
    postgres = os.path.realpath(postgres)
    psql = _pg_tool("psql", env, near=postgres)

    def attempt() -> RealService:
        process = _Process("postgresql", ["postgres"])
        process.stop_signal = signal.SIGINT  # "fast" shutdown: no waiting for clients
        port = _free_port()
        data = os.path.join(process.tmp, "data")

        def body() -> RealService:
            process.run([initdb, "-D", data, "-U", "postgres", "-A", "trust", "-E", "UTF8",
                         "--locale=C", "--no-sync"], env, timeout)
            process.launch([postgres, "-D", data, "-p", str(port), "-h", "127.0.0.1",
                            "-k", process.tmp, "-c", "fsync=off", "-c", "full_page_writes=off",
                            "-c", "synchronous_commit=off", "-c", "max_connections=100",
                            "-c", "shared_buffers=32MB"], env)
            target = _Target("127.0.0.1", port, "postgres", None)
            process.wait_ready(lambda: _psql(env, target, "SELECT 1", psql).stdout.strip() == "1",
                               timeout)
            return _with_scratch_db("postgresql", target, "started", env, process)

        return _guard(process, body)

    return _start_with_retries(attempt)


# --- MariaDB ------------------------------------------------------------------------------


def _mariadb(env: Mapping[str, str], target: _Target, sql: str,
             client: str | None = None) -> subprocess.CompletedProcess[str]:
    client = client or find_binary(["mariadb", "mysql"], env)
    if client is None:
        raise _Unavailable("the mariadb/mysql client is not installed; "
                           "apt-get install mariadb-client")
    child_env = {"PATH": env.get("PATH", os.defpath), "LC_ALL": "C"}
    if target.password:
        child_env["MYSQL_PWD"] = target.password  # not on argv, where ps would show it
    argv = [client, "--no-defaults", "--batch", "--skip-column-names", "--connect-timeout=5",
            "-u", target.user or "root"]
    if target.unix_socket:
        argv += ["--protocol=SOCKET", f"--socket={target.unix_socket}"]
    else:
        argv += ["--protocol=TCP", "-h", target.host, "-P", str(target.port)]
    if target.database:
        argv += ["-D", target.database]
    try:
        return subprocess.run([*argv, "-e", sql], capture_output=True, text=True,
                              env=child_env, stdin=subprocess.DEVNULL, timeout=_CLI_TIMEOUT)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise _Unavailable(f"{os.path.basename(client)} failed: {exc}") from None


def _start_mariadb(env: Mapping[str, str], timeout: float) -> RealService:
    server = find_binary(["mariadbd", "mysqld"], env,
                         ["/usr/sbin/mariadbd", "/usr/sbin/mysqld", "/usr/libexec/mysqld"])
    install = find_binary(["mariadb-install-db", "mysql_install_db"], env,
                          ["/usr/bin/mariadb-install-db", "/usr/bin/mysql_install_db"])
    client = find_binary(["mariadb", "mysql"], env)
    if server is None or install is None:
        raise _Unavailable("no MariaDB server binaries (mariadbd, mariadb-install-db) found")

    def attempt() -> RealService:
        process = _Process("mariadb", ["mysql"])
        port = _free_port()
        data = os.path.join(process.tmp, "data")
        sock = os.path.join(process.tmp, "mysqld.sock")

        def body() -> RealService:
            # --no-defaults must come first; it keeps /etc/mysql/*.cnf (the system server's
            # datadir, socket and port) out of our throwaway server.
            process.run([install, "--no-defaults", f"--datadir={data}",
                         "--auth-root-authentication-method=normal", "--skip-test-db",
                         "--skip-name-resolve", "--innodb-buffer-pool-size=16M"], env, timeout)
            process.launch([server, "--no-defaults", f"--datadir={data}", f"--socket={sock}",
                            f"--pid-file={os.path.join(process.tmp, 'mysqld.pid')}",
                            f"--port={port}", "--bind-address=127.0.0.1",
                            "--skip-name-resolve", "--skip-log-bin",
                            "--innodb-buffer-pool-size=16M",
                            "--innodb-flush-log-at-trx-commit=0", "--max-connections=200"], env)
            local = _Target("127.0.0.1", port, "root", None, unix_socket=sock)
            process.wait_ready(
                lambda: os.path.exists(sock)
                and _mariadb(env, local, "SELECT 1", client).stdout.strip() == "1", timeout)
            # install-db creates root@localhost only, which a TCP client from 127.0.0.1 does
            # not match under --skip-name-resolve: add a TCP account for the probes.
            password = secrets.token_hex(8)
            _check(_mariadb(env, local, (
                f"CREATE USER 'patchcheck'@'127.0.0.1' IDENTIFIED BY '{password}'; "
                "GRANT ALL PRIVILEGES ON `patchcheck\\_%`.* TO 'patchcheck'@'127.0.0.1';"),
                client), "create the probe user")
            tcp = _Target("127.0.0.1", port, "patchcheck", password)
            return _with_scratch_db("mariadb", tcp, "started", env, process, admin=local)

        return _guard(process, body)

    return _start_with_retries(attempt)


# --- scratch databases --------------------------------------------------------------------


def _check(done: subprocess.CompletedProcess[str], what: str) -> str:
    if done.returncode != 0:
        raise _Unavailable(f"could not {what}: {_tail(done.stderr or done.stdout, 2)}")
    return done.stdout


def _with_scratch_db(name: str, target: _Target, origin: str, env: Mapping[str, str],
                     process: _Process | None = None,
                     admin: _Target | None = None) -> RealService:
    """Create ``patchcheck_<random>``; the returned service drops it on stop()."""
    database = f"patchcheck_{secrets.token_hex(6)}"
    admin = admin or target
    run = _psql if name == "postgresql" else _mariadb
    quoted = f'"{database}"' if name == "postgresql" else f"`{database}`"
    _check(run(env, admin, f"CREATE DATABASE {quoted}"), f"create database {database}")

    def drop() -> None:
        if name == "postgresql":
            # WITH (FORCE), PostgreSQL >= 13, ends probe connections a child left behind.
            done = run(env, admin, f"DROP DATABASE IF EXISTS {quoted} WITH (FORCE)")
            if done.returncode != 0:
                done = run(env, admin, f"DROP DATABASE IF EXISTS {quoted}")
        else:
            done = run(env, admin, f"DROP DATABASE IF EXISTS {quoted}")
        _check(done, f"drop database {database}")

    endpoint = Endpoint(
        name=name, host=target.host, port=target.port,
        url=_url(name, target.host, target.port, target.user, target.password, database),
        extra={"user": target.user, "password": target.password, "database": database,
               "origin": origin})
    cleanups: list[Callable[[], None]] = [process.stop] if process else []
    if process is None:
        cleanups.append(drop)  # our own server's databases vanish with its directory
    return RealService(endpoint, origin, cleanups)


def _attach_or_unavailable(name: str, target: _Target, origin: str, env: Mapping[str, str],
                           hint: str) -> RealService | ServiceUnavailable:
    """An endpoint for a server we did not start (a URL or the default port)."""
    try:
        if name in ("postgresql", "mariadb"):
            return _with_scratch_db(name, target, origin, env)
    except _Unavailable as exc:
        where = f"{target.host}:{target.port}"
        return ServiceUnavailable(name, f"{name} on {where}: {exc}", install_hint=(
            f"give patchcheck a user that may create databases: set {ENV_URLS[name]}"))
    if name in ("redis", "memcached"):
        endpoint = _kv_endpoint(name, target.host, target.port, origin,
                                target.user, target.password)
    else:
        path = ""
        extra: dict[str, str | None] = {"user": target.user, "password": target.password,
                                        "database": None, "origin": origin}
        if name == "rabbitmq":
            vhost = extra["vhost"] = target.database or "/"  # already unquoted by _parse_url
            path = quote(vhost, safe="")
        endpoint = Endpoint(name=name, host=target.host, port=target.port,
                            url=_url(name, target.host, target.port, target.user,
                                     target.password, path), extra=extra)
    return RealService(endpoint, origin)


_STARTERS: Mapping[str, Callable[[Mapping[str, str], float], RealService]] = {
    "redis": _start_redis,
    "memcached": _start_memcached,
    "postgresql": _start_postgresql,
    "mariadb": _start_mariadb,
}
