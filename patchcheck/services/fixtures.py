"""Loopback peers that answer late: the slow side of every probe.

These servers run on threads in the **tool process** (never in the measured child, which is
monkey-patched), bind 127.0.0.1 only, and use nothing but ``socket``/``selectors``/``threading``:
the tool process is never patched, so plain blocking sockets with short timeouts are the
simplest correct design. Every blocking call polls a stop flag every ``_POLL`` seconds and every
delay is an ``Event.wait``, so ``stop()`` returns promptly (well under a second) even while a
delayed reply is pending or a client holds a connection open.

Each server: ``start()`` (binds port 0, returns self), ``.endpoint`` (an :class:`Endpoint` for
the child), ``stop()`` (idempotent; joins threads, closes sockets), context manager, and a
``delay`` in seconds before answering.

A delayed TCP *connect* cannot be produced on loopback: the kernel completes the handshake for
a listening socket whether or not the server calls ``accept()``, and a full backlog makes Linux
drop SYNs so that the client retries after ~1 s (its SYN retransmission timer), which is neither
controllable nor portable. :class:`SlowTCPServer` offers ``accept_delay`` instead (the server
ignores a new connection for that long: a client waiting for a greeting or a first reply waits).
"""
from __future__ import annotations

import heapq
import http
import ipaddress
import json
import os
import queue
import re
import secrets
import selectors
import shutil
import socket
import ssl
import struct
import subprocess
import tempfile
import threading
import time
from dataclasses import dataclass
from typing import Any, Callable
from urllib.parse import parse_qs, urlsplit

from patchcheck.spec import Endpoint

__all__ = [
    "LatencyProxy",
    "SilentServer",
    "SlowDNSServer",
    "SlowHTTPServer",
    "SlowTCPServer",
    "SlowTLSServer",
    "TLSMaterial",
    "make_tls_material",
]

#: How often a blocked server thread looks at the stop flag (seconds).
_POLL = 0.05
#: How long ``stop()`` waits for its threads in total (seconds).
_JOIN_BUDGET = 0.8
_LOOPBACK_V4 = "127.0.0.1"
#: An upper bound for ``?delay=`` so a typo cannot park a thread for hours.
MAX_DELAY = 300.0


class _Stopped(Exception):
    """Raised inside server threads when ``stop()`` was called: unwinds the handler."""


def _close(sock: socket.socket | None) -> None:
    if sock is None:
        return
    try:
        sock.close()
    except OSError:
        pass


def _abort(sock: socket.socket) -> None:
    """Wake any thread blocked on ``sock``; safe from another thread (unlike close)."""
    try:
        # The base-class method: SSLSocket.shutdown would also drop its SSL object under a
        # thread that may be reading it.
        socket.socket.shutdown(sock, socket.SHUT_RDWR)
    except OSError:
        pass


class _ServerBase:
    """Start/stop bookkeeping shared by every fixture: threads, tracked sockets, counters."""

    service_name = "fixture"
    scheme = "tcp"

    def __init__(self, delay: float = 0.0, *, name: str | None = None) -> None:
        delay = float(delay)
        if not 0 <= delay <= MAX_DELAY:
            raise ValueError(f"delay must be between 0 and {MAX_DELAY} seconds, not {delay!r}")
        self.delay = delay
        self.name = name or self.service_name
        self.host = _LOOPBACK_V4
        self.port = 0
        #: Requests answered (or started), connections accepted, and the most replies that were
        #: pending at the same time: evidence that the server itself was not the bottleneck.
        self.requests = 0
        self.connections = 0
        self.max_in_flight = 0
        #: Unexpected exceptions in server threads (bugs), as text; client errors are not here.
        self.errors: list[str] = []
        self._in_flight = 0
        self._stopping = threading.Event()
        self._lock = threading.Lock()
        self._threads: set[threading.Thread] = set()
        self._socks: set[socket.socket] = set()
        self._state = "new"  # new -> running -> stopped

    # -- lifecycle --------------------------------------------------------------------------

    def start(self) -> _ServerBase:
        with self._lock:
            if self._state == "running":
                return self
            if self._state == "stopped":
                raise RuntimeError(f"{self.name}: a stopped server cannot be restarted")
            self._state = "running"
        try:
            self._open()
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        with self._lock:
            if self._state == "stopped":
                return
            self._state = "stopped"
            socks = list(self._socks)
        self._stopping.set()
        for sock in socks:
            _abort(sock)
        deadline = time.monotonic() + _JOIN_BUDGET
        while True:
            with self._lock:
                threads = [t for t in self._threads if t is not threading.current_thread()]
            if not threads or time.monotonic() >= deadline:
                break
            threads[0].join(max(0.0, deadline - time.monotonic()))
        with self._lock:
            socks = list(self._socks)
            self._socks.clear()
        for sock in socks:
            _close(sock)
        self._closed()

    def __enter__(self) -> Any:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def running(self) -> bool:
        return self._state == "running"

    @property
    def endpoint(self) -> Endpoint:
        if self._state != "running":
            raise RuntimeError(f"{self.name} is not running; call start() first")
        return Endpoint(name=self.name, host=self.host, port=self.port, url=self._url(),
                        extra={"delay": self.delay, **self._extra()})

    # -- for subclasses ---------------------------------------------------------------------

    def _open(self) -> None:
        raise NotImplementedError

    def _closed(self) -> None:
        """Called once after threads are joined and sockets closed (temporary files…)."""

    def _url(self) -> str:
        return f"{self.scheme}://{self.host}:{self.port}"

    def _extra(self) -> dict[str, Any]:
        return {}

    def _spawn(self, target: Callable[..., None], *args: Any) -> None:
        thread = threading.Thread(target=self._thread_main, args=(target, args),
                                  name=f"patchcheck-{self.name}", daemon=True)
        with self._lock:
            if self._state != "running":
                return
            self._threads.add(thread)
            # Started under the lock so stop() never joins a thread that has not started yet
            # (Thread.start() returns once the thread runs, before the target takes the lock).
            thread.start()

    def _thread_main(self, target: Callable[..., None], args: tuple[Any, ...]) -> None:
        try:
            target(*args)
        except _Stopped:
            pass
        except OSError:
            pass  # a client vanished, reset, or sent garbage TLS: never a server failure
        except Exception as exc:  # a bug in a fixture: keep it for tests, never crash the scan
            self.errors.append(f"{type(exc).__name__}: {exc}")
        finally:
            with self._lock:
                self._threads.discard(threading.current_thread())

    def _track(self, sock: socket.socket) -> None:
        with self._lock:
            self._socks.add(sock)
            stopping = self._state != "running"
        if stopping:
            _abort(sock)

    def _forget(self, sock: socket.socket) -> None:
        with self._lock:
            self._socks.discard(sock)
        _close(sock)

    def _sleep(self, seconds: float) -> None:
        if seconds > 0 and self._stopping.wait(seconds):
            raise _Stopped
        if self._stopping.is_set():
            raise _Stopped

    def _begin_reply(self) -> None:
        with self._lock:
            self.requests += 1
            self._in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self._in_flight)

    def _end_reply(self) -> None:
        with self._lock:
            self._in_flight -= 1

    def _delayed(self, seconds: float) -> None:
        """Wait ``seconds`` as one pending reply (counted in ``max_in_flight``)."""
        self._begin_reply()
        try:
            self._sleep(seconds)
        finally:
            self._end_reply()


class _StreamServer(_ServerBase):
    """A TCP listener on 127.0.0.1 with one thread per connection."""

    backlog = 128

    def _open(self) -> None:
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._track(listener)
        listener.bind((_LOOPBACK_V4, 0))
        listener.listen(self.backlog)
        listener.settimeout(_POLL)
        self.port = listener.getsockname()[1]
        self._spawn(self._accept_loop, listener)

    def _accept_loop(self, listener: socket.socket) -> None:
        while not self._stopping.is_set():
            try:
                conn, _ = listener.accept()
            except socket.timeout:
                continue
            except OSError:
                if self._stopping.is_set():
                    return
                time.sleep(_POLL)  # EMFILE and friends: back off instead of spinning
                continue
            conn.settimeout(_POLL)
            conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            with self._lock:
                self.connections += 1
            self._track(conn)
            self._spawn(self._connection_main, conn)

    def _connection_main(self, conn: socket.socket) -> None:
        try:
            self._handle(conn)
        finally:
            self._forget(conn)

    def _handle(self, conn: socket.socket) -> None:
        raise NotImplementedError

    # Blocking I/O that honours stop(): sockets have a _POLL timeout, and we retry.

    def _recv(self, conn: socket.socket, size: int = 65536) -> bytes:
        while True:
            if self._stopping.is_set():
                raise _Stopped
            try:
                return conn.recv(size)
            except socket.timeout:
                continue
            except ssl.SSLWantReadError:
                continue

    def _send(self, conn: socket.socket, data: bytes) -> None:
        view = memoryview(data)
        while view:
            if self._stopping.is_set():
                raise _Stopped
            try:
                sent = conn.send(view)
            except (socket.timeout, ssl.SSLWantWriteError):
                continue  # retried with the same buffer, as OpenSSL requires
            view = view[sent:]


# --- TCP ----------------------------------------------------------------------------------


class SlowTCPServer(_StreamServer):
    """Reads a request, waits ``delay``, replies; keeps the connection for more round trips.

    ``framing="chunk"``: whatever one ``recv`` returns is a request. ``framing="line"``: each
    ``\\n``-terminated line is a request (answered in order, each after ``delay``).
    ``reply=None`` echoes the request, else ``reply`` is sent. ``greeting`` is sent first (for
    server-speaks-first protocols); ``accept_delay`` postpones handling a new connection.
    """

    service_name = "slow_tcp"

    def __init__(self, delay: float = 0.0, *, reply: bytes | None = None,
                 framing: str = "chunk", greeting: bytes | None = None,
                 accept_delay: float = 0.0, name: str | None = None) -> None:
        super().__init__(delay, name=name)
        if framing not in ("chunk", "line"):
            raise ValueError(f"framing must be 'chunk' or 'line', not {framing!r}")
        self.reply = reply
        self.framing = framing
        self.greeting = greeting
        self.accept_delay = float(accept_delay)

    def _extra(self) -> dict[str, Any]:
        return {"framing": self.framing, "echo": self.reply is None}

    def _handle(self, conn: socket.socket) -> None:
        if self.accept_delay:
            self._sleep(self.accept_delay)
        if self.greeting is not None:
            self._send(conn, self.greeting)
        pending = b""
        while True:
            data = self._recv(conn)
            if not data:
                return
            if self.framing == "chunk":
                requests = [data]
            else:
                *lines, pending = (pending + data).split(b"\n")
                requests = [line + b"\n" for line in lines]
            for request in requests:
                self._delayed(self.delay)
                self._send(conn, request if self.reply is None else self.reply)


class SilentServer(_StreamServer):
    """Accepts connections and never answers; reads and discards so clients' sends succeed."""

    service_name = "silent"

    def _handle(self, conn: socket.socket) -> None:
        while self._recv(conn):
            pass


# --- HTTP and HTTPS -----------------------------------------------------------------------


class _BadRequest(Exception):
    pass


class _Reader:
    """Buffered reads for the HTTP parser."""

    def __init__(self, server: _StreamServer, conn: socket.socket) -> None:
        self.server = server
        self.conn = conn
        self.buf = b""

    def _fill(self) -> bool:
        data = self.server._recv(self.conn)
        self.buf += data
        return bool(data)

    def until(self, delim: bytes, limit: int) -> bytes | None:
        """Bytes up to and including ``delim``; None on a clean EOF before any byte."""
        while delim not in self.buf:
            if len(self.buf) > limit:
                raise _BadRequest("header too large")
            if not self._fill():
                if self.buf:
                    raise _BadRequest("connection closed mid-request")
                return None
        head, _, self.buf = self.buf.partition(delim)
        return head + delim

    def exact(self, size: int) -> bytes:
        while len(self.buf) < size:
            if not self._fill():
                raise _BadRequest("connection closed mid-body")
        data, self.buf = self.buf[:size], self.buf[size:]
        return data


_STATUS_PATH = re.compile(r"/status/(\d{3})/?")


class SlowHTTPServer(_StreamServer):
    """HTTP/1.1 with keep-alive: every request waits ``delay`` then gets a small JSON body.

    ``?delay=0.3`` overrides the delay for one request; ``/status/NNN`` answers with that
    status. One thread per connection, so many clients are served concurrently.
    """

    service_name = "slow_http"
    scheme = "http"
    _MAX_HEAD = 64 * 1024
    _MAX_BODY = 16 * 1024 * 1024

    def _url(self) -> str:
        return f"{self.scheme}://{self.host}:{self.port}/"

    def _wrap(self, conn: socket.socket) -> socket.socket:
        return conn

    def _handle(self, conn: socket.socket) -> None:
        wrapped = self._wrap(conn)
        try:
            reader = _Reader(self, wrapped)
            while True:
                try:
                    keep_alive = self._one_request(wrapped, reader)
                except _BadRequest as exc:
                    self._respond(wrapped, 400, {"error": str(exc)}, keep_alive=False)
                    return
                if not keep_alive:
                    return
        finally:
            if wrapped is not conn:
                self._forget(wrapped)

    def _one_request(self, conn: socket.socket, reader: _Reader) -> bool:
        head = reader.until(b"\r\n\r\n", self._MAX_HEAD)
        if head is None:
            return False
        lines = head.decode("latin-1").split("\r\n")
        while lines and not lines[0]:
            lines.pop(0)  # RFC 9112 2.2: tolerate empty lines before a request line
        try:
            method, target, version = lines[0].split(" ")
        except (ValueError, IndexError):
            raise _BadRequest("malformed request line") from None
        if not version.startswith("HTTP/1."):
            raise _BadRequest(f"unsupported version {version}")
        headers: dict[str, str] = {}
        for line in lines[1:]:
            if line:
                key, sep, value = line.partition(":")
                if not sep:
                    raise _BadRequest("malformed header line")
                headers[key.strip().lower()] = value.strip()
        if headers.get("expect", "").lower() == "100-continue":
            # libcurl waits up to 1 s for this before sending a POST body.
            self._send(conn, b"HTTP/1.1 100 Continue\r\n\r\n")
        body = self._read_body(reader, headers)

        url = urlsplit(target)
        delay = self.delay
        query = parse_qs(url.query)
        if "delay" in query:
            try:
                delay = float(query["delay"][-1])
            except ValueError:
                raise _BadRequest(f"bad delay {query['delay'][-1]!r}") from None
            if not 0 <= delay <= MAX_DELAY:
                raise _BadRequest(f"delay must be between 0 and {MAX_DELAY}")
        status = 200
        match = _STATUS_PATH.fullmatch(url.path)
        if match:
            status = int(match.group(1))
            if status < 200:
                raise _BadRequest("status must be 200-599")

        connection = headers.get("connection", "").lower()
        if version == "HTTP/1.0":
            keep_alive = "keep-alive" in connection
        else:
            keep_alive = "close" not in connection
        self._delayed(delay)
        payload = {"method": method, "path": url.path, "status": status, "delay": delay,
                   "received": len(body), "server": "patchcheck"}
        self._respond(conn, status, payload, keep_alive=keep_alive, head=method == "HEAD")
        return keep_alive

    def _read_body(self, reader: _Reader, headers: dict[str, str]) -> bytes:
        if "chunked" in headers.get("transfer-encoding", "").lower():
            chunks: list[bytes] = []
            total = 0
            while True:
                size_line = reader.until(b"\r\n", 1024)
                if size_line is None:
                    raise _BadRequest("connection closed mid-body")
                try:
                    size = int(size_line.split(b";")[0].strip(), 16)
                except ValueError:
                    raise _BadRequest("bad chunk size") from None
                total += size
                if total > self._MAX_BODY:
                    raise _BadRequest("body too large")
                if size == 0:
                    while reader.until(b"\r\n", self._MAX_HEAD) not in (b"\r\n", None):
                        pass  # trailers
                    return b"".join(chunks)
                chunks.append(reader.exact(size))
                reader.exact(2)
        length = headers.get("content-length")
        if not length:
            return b""
        try:
            size = int(length)
        except ValueError:
            raise _BadRequest("bad content-length") from None
        if not 0 <= size <= self._MAX_BODY:
            raise _BadRequest("bad content-length")
        return reader.exact(size)

    def _respond(self, conn: socket.socket, status: int, payload: dict[str, Any], *,
                 keep_alive: bool, head: bool = False) -> None:
        try:
            reason = http.HTTPStatus(status).phrase
        except ValueError:
            reason = "Unknown"
        body = b"" if status in (204, 304) else json.dumps(payload).encode() + b"\n"
        lines = [f"HTTP/1.1 {status} {reason}", "Server: patchcheck-slow-http",
                 f"Connection: {'keep-alive' if keep_alive else 'close'}"]
        if status not in (204, 304):
            lines += ["Content-Type: application/json", f"Content-Length: {len(body)}"]
        data = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
        self._send(conn, data if head else data + body)


@dataclass(frozen=True)
class TLSMaterial:
    """PEM files of a throwaway CA and a server certificate for 127.0.0.1, ::1 and localhost."""

    cafile: str
    certfile: str
    keyfile: str


def make_tls_material(directory: str, *, backend: str = "auto") -> TLSMaterial:
    """Write a CA and a server certificate (EC P-256, valid 7 days) into ``directory``.

    ``backend``: ``"cryptography"`` (if importable), ``"openssl"`` (the CLI), or ``"auto"``
    (the first that works). Neither is a hard dependency: a machine without both simply cannot
    run TLS probes, which ``SlowTLSServer.start()`` reports as an error.
    """
    if backend not in ("auto", "cryptography", "openssl"):
        raise ValueError(f"unknown TLS backend {backend!r}")
    if backend in ("auto", "cryptography"):
        try:
            import cryptography  # noqa: F401
        except ImportError:
            if backend == "cryptography":
                raise
        else:
            return _tls_with_cryptography(directory)
    return _tls_with_openssl(directory)


def _tls_with_cryptography(directory: str) -> TLSMaterial:
    import datetime

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    now = datetime.datetime.now(datetime.timezone.utc)
    start, end = now - datetime.timedelta(hours=1), now + datetime.timedelta(days=7)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "patchcheck test CA")])
    ca_ski = x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key())
    # Extensions chosen to pass Python 3.13's VERIFY_X509_STRICT (critical basicConstraints,
    # key identifiers), which ssl.create_default_context() enables.
    ca_cert = (
        x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name)
        .public_key(ca_key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(start).not_valid_after(end)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(x509.KeyUsage(digital_signature=False, content_commitment=False,
                                     key_encipherment=False, data_encipherment=False,
                                     key_agreement=False, key_cert_sign=True, crl_sign=True,
                                     encipher_only=False, decipher_only=False), critical=True)
        .add_extension(ca_ski, critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")]))
        .issuer_name(ca_name).public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start).not_valid_after(end)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.SubjectAlternativeName([
            x509.DNSName("localhost"),
            x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
            x509.IPAddress(ipaddress.ip_address("::1")),
        ]), critical=False)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()),
                       critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ca_ski),
                       critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    paths = TLSMaterial(os.path.join(directory, "ca.pem"), os.path.join(directory, "server.pem"),
                        os.path.join(directory, "server.key"))
    with open(paths.cafile, "wb") as f:
        f.write(ca_cert.public_bytes(serialization.Encoding.PEM))
    with open(paths.certfile, "wb") as f:
        f.write(cert.public_bytes(serialization.Encoding.PEM))
    with open(os.open(paths.keyfile, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "wb") as f:
        f.write(key.private_bytes(serialization.Encoding.PEM,
                                  serialization.PrivateFormat.PKCS8,
                                  serialization.NoEncryption()))
    return paths


_OPENSSL_CONFIG = """\
[req]
distinguished_name = dn
prompt = no
[dn]
CN = patchcheck test CA
[v3_ca]
basicConstraints = critical,CA:TRUE,pathlen:0
keyUsage = critical,keyCertSign,cRLSign
subjectKeyIdentifier = hash
[v3_server]
basicConstraints = critical,CA:FALSE
extendedKeyUsage = serverAuth
subjectAltName = DNS:localhost,IP:127.0.0.1,IP:::1
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
"""


def _tls_with_openssl(directory: str) -> TLSMaterial:
    openssl = shutil.which("openssl")
    if openssl is None:
        raise RuntimeError("cannot make a TLS certificate: neither the 'cryptography' package "
                           "nor the openssl command is available (pip install cryptography)")
    join = os.path.join
    config = join(directory, "openssl.cnf")
    with open(config, "w") as f:
        f.write(_OPENSSL_CONFIG)
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
    paths = TLSMaterial(join(directory, "ca.pem"), join(directory, "server.pem"),
                        join(directory, "server.key"))
    commands = [
        [openssl, "req", "-x509", "-new", *ec, "-keyout", join(directory, "ca.key"),
         "-out", paths.cafile, "-days", "7", "-config", config, "-extensions", "v3_ca",
         "-subj", "/CN=patchcheck test CA"],
        [openssl, "req", "-new", *ec, "-keyout", paths.keyfile,
         "-out", join(directory, "server.csr"), "-config", config, "-subj", "/CN=localhost"],
        [openssl, "x509", "-req", "-in", join(directory, "server.csr"), "-CA", paths.cafile,
         "-CAkey", join(directory, "ca.key"), "-set_serial", "0x" + secrets.token_hex(8),
         "-days", "7", "-out", paths.certfile, "-extfile", config, "-extensions", "v3_server"],
    ]
    for argv in commands:
        done = subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True, text=True,
                              timeout=60)
        if done.returncode != 0:
            raise RuntimeError(f"openssl failed ({' '.join(argv[1:3])}): "
                               f"{done.stderr.strip()[-500:]}")
    return paths


class SlowTLSServer(SlowHTTPServer):
    """:class:`SlowHTTPServer` over TLS with a CA generated at start.

    The endpoint's extra carries ``cafile`` (the CA to verify with) and ``server_hostname``.
    ``handshake_delay`` makes the server wait before reading the ClientHello, so a client
    blocks inside the TLS handshake itself.
    """

    service_name = "slow_tls"
    scheme = "https"

    def __init__(self, delay: float = 0.0, *, handshake_delay: float = 0.0,
                 cert_backend: str = "auto", name: str | None = None) -> None:
        super().__init__(delay, name=name)
        self.handshake_delay = float(handshake_delay)
        self.cert_backend = cert_backend
        self.material: TLSMaterial | None = None
        self._tmpdir: str | None = None
        self._context: ssl.SSLContext | None = None

    def _open(self) -> None:
        self._tmpdir = tempfile.mkdtemp(prefix="patchcheck-tls-")
        self.material = make_tls_material(self._tmpdir, backend=self.cert_backend)
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(self.material.certfile, self.material.keyfile)
        self._context = context
        super()._open()

    def _closed(self) -> None:
        if self._tmpdir:
            shutil.rmtree(self._tmpdir, ignore_errors=True)

    def _extra(self) -> dict[str, Any]:
        assert self.material is not None
        return {"cafile": self.material.cafile, "server_hostname": "localhost",
                "handshake_delay": self.handshake_delay}

    def _wrap(self, conn: socket.socket) -> socket.socket:
        assert self._context is not None
        if self.handshake_delay:
            self._sleep(self.handshake_delay)
        tls = self._context.wrap_socket(conn, server_side=True, do_handshake_on_connect=False)
        # wrap_socket detached ``conn``'s descriptor: track the new object for stop().
        self._track(tls)
        self._forget(conn)
        try:
            deadline = time.monotonic() + 30.0
            while True:
                if self._stopping.is_set():
                    raise _Stopped
                try:
                    tls.do_handshake()
                    return tls
                except (socket.timeout, ssl.SSLWantReadError, ssl.SSLWantWriteError):
                    if time.monotonic() > deadline:
                        raise
        except BaseException:
            self._forget(tls)
            raise


# --- DNS ----------------------------------------------------------------------------------

_QTYPE_A, _QTYPE_AAAA, _QTYPE_ANY = 1, 28, 255
_QCLASS_IN = 1
_RCODE_FORMERR, _RCODE_NXDOMAIN, _RCODE_NOTIMP = 1, 3, 4


def dns_reply(query: bytes, *, ipv6: bool = False) -> bytes | None:
    """The answer to one DNS query message, or None to drop it (too short, or a response).

    A/ANY → 127.0.0.1 (TTL 0, so resolvers with caches such as c-ares ≥ 1.23 ask again);
    AAAA → ::1 if ``ipv6`` else no records (NOERROR/NODATA, what a v4-only name returns);
    other types → NODATA; names under ``.invalid`` (RFC 6761) → NXDOMAIN; other opcodes →
    NOTIMP; malformed questions → FORMERR. EDNS options in the query are ignored, which
    RFC 6891 allows (the reply simply carries no OPT record).
    """
    if len(query) < 12:
        return None
    qid, flags, qdcount = struct.unpack("!HHH", query[:6])
    if flags & 0x8000:
        return None
    opcode = (flags >> 11) & 0xF

    def header(rcode: int, qd: int, an: int) -> bytes:
        # QR, the query's opcode and RD, AA (we are the authority for everything), RA.
        out_flags = 0x8000 | (opcode << 11) | 0x0400 | (flags & 0x0100) | 0x0080 | rcode
        return struct.pack("!6H", qid, out_flags, qd, an, 0, 0)

    if opcode != 0:
        return header(_RCODE_NOTIMP, 0, 0)
    if qdcount != 1:
        return header(_RCODE_FORMERR, 0, 0)
    pos, labels = 12, []
    while True:
        if pos >= len(query):
            return header(_RCODE_FORMERR, 0, 0)
        length = query[pos]
        if length == 0:
            pos += 1
            break
        if length & 0xC0 or pos + 1 + length > len(query) or pos - 12 > 255:
            return header(_RCODE_FORMERR, 0, 0)  # no compression in a question we accept
        labels.append(query[pos + 1:pos + 1 + length])
        pos += 1 + length
    if pos + 4 > len(query):
        return header(_RCODE_FORMERR, 0, 0)
    qtype, qclass = struct.unpack("!HH", query[pos:pos + 4])
    question = query[12:pos + 4]
    name = b".".join(labels).decode("ascii", "replace").lower()
    if name == "invalid" or name.endswith(".invalid"):
        return header(_RCODE_NXDOMAIN, 1, 0) + question
    answers = []
    if qclass in (_QCLASS_IN, _QTYPE_ANY):
        # 0xC00C: a pointer to the name in the question at offset 12.
        if qtype in (_QTYPE_A, _QTYPE_ANY):
            answers.append(struct.pack("!HHHIH", 0xC00C, _QTYPE_A, _QCLASS_IN, 0, 4)
                           + socket.inet_aton("127.0.0.1"))
        if ipv6 and qtype in (_QTYPE_AAAA, _QTYPE_ANY):
            answers.append(struct.pack("!HHHIH", 0xC00C, _QTYPE_AAAA, _QCLASS_IN, 0, 16)
                           + socket.inet_pton(socket.AF_INET6, "::1"))
    return header(0, 1, len(answers)) + question + b"".join(answers)


def dns_query(name: str, qtype: int = _QTYPE_A, *, qid: int | None = None) -> bytes:
    """A minimal DNS query message (RD set), for tests and probes."""
    qid = secrets.randbelow(0x10000) if qid is None else qid
    labels = b"".join(bytes([len(p)]) + p for p in name.rstrip(".").encode("ascii").split(b".")
                      if p)
    return struct.pack("!6H", qid, 0x0100, 1, 0, 0, 0) + labels + b"\0" + struct.pack(
        "!HH", qtype, _QCLASS_IN)


class SlowDNSServer(_ServerBase):
    """UDP DNS on 127.0.0.1 answering every A query with 127.0.0.1 after ``delay``.

    One thread serves every query: replies wait in a heap ordered by due time, so many
    concurrent queries are each answered ``delay`` after they arrived.
    """

    service_name = "slow_dns"
    scheme = "dns"

    def __init__(self, delay: float = 0.0, *, ipv6: bool = False,
                 name: str | None = None) -> None:
        super().__init__(delay, name=name)
        self.ipv6 = ipv6

    def _extra(self) -> dict[str, Any]:
        return {"protocol": "udp", "nameserver": f"{self.host}:{self.port}", "ipv6": self.ipv6}

    def _open(self) -> None:
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self._track(sock)
        sock.bind((_LOOPBACK_V4, 0))
        sock.setblocking(False)
        self.port = sock.getsockname()[1]
        self._spawn(self._serve, sock)

    def _serve(self, sock: socket.socket) -> None:
        due: list[tuple[float, int, bytes, Any]] = []
        seq = 0
        with selectors.DefaultSelector() as selector:
            selector.register(sock, selectors.EVENT_READ)
            while not self._stopping.is_set():
                now = time.monotonic()
                while due and due[0][0] <= now:
                    _, _, reply, addr = heapq.heappop(due)
                    try:
                        sock.sendto(reply, addr)
                    except OSError:
                        pass  # the client's port is gone: UDP, nothing to do
                    self._end_reply()
                timeout = _POLL if not due else min(_POLL, max(0.0, due[0][0] - now))
                if not selector.select(timeout):
                    continue
                while True:
                    try:
                        query, addr = sock.recvfrom(4096)
                    except (BlockingIOError, InterruptedError):
                        break
                    except OSError:
                        break  # ICMP port unreachable from an earlier reply, on some systems
                    answer = dns_reply(query, ipv6=self.ipv6)
                    if answer is None:
                        continue
                    self._begin_reply()
                    seq += 1
                    heapq.heappush(due, (time.monotonic() + self.delay, seq, answer, addr))


# --- latency proxy ------------------------------------------------------------------------

_DIRECTIONS = ("server_to_client", "client_to_server", "both")
_EOF = object()


def _is_loopback(host: str) -> bool:
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class LatencyProxy(_StreamServer):
    """A TCP proxy to a loopback server that holds each chunk for ``delay`` seconds.

    ``direction`` picks which way is delayed (``"server_to_client"``, the default: replies
    arrive late, as from a slow server; ``"client_to_server"``; or ``"both"``). Each chunk is
    delayed from the moment it arrived, in order, so pipelined traffic keeps its pace; half
    closes are forwarded. It can sit in front of any server (Redis, memcached, PostgreSQL…).
    """

    service_name = "latency_proxy"

    def __init__(self, target_host: str, target_port: int, delay: float = 0.0, *,
                 direction: str = "server_to_client", connect_timeout: float = 5.0,
                 name: str | None = None) -> None:
        super().__init__(delay, name=name)
        if not _is_loopback(target_host):
            # DESIGN.md hard rule: only loopback is ever contacted.
            raise ValueError(f"LatencyProxy target {target_host!r} is not a loopback address")
        if direction not in _DIRECTIONS:
            raise ValueError(f"direction must be one of {', '.join(_DIRECTIONS)}")
        self.target_host = "127.0.0.1" if target_host.lower() == "localhost" else target_host
        self.target_port = int(target_port)
        self.direction = direction
        self.connect_timeout = connect_timeout

    def _extra(self) -> dict[str, Any]:
        return {"direction": self.direction, "target_host": self.target_host,
                "target_port": self.target_port}

    def _handle(self, client: socket.socket) -> None:
        try:
            upstream = socket.create_connection((self.target_host, self.target_port),
                                                timeout=self.connect_timeout)
        except OSError:
            return  # the client sees its connection closed, as if the server refused
        self._track(upstream)
        try:
            upstream.settimeout(_POLL)
            upstream.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            up = self.delay if self.direction in ("client_to_server", "both") else 0.0
            down = self.delay if self.direction in ("server_to_client", "both") else 0.0
            done = [threading.Event() for _ in range(4)]
            queues: list[queue.Queue[Any]] = [queue.Queue(), queue.Queue()]
            pumps = [(self._read_side, client, queues[0], up), (self._write_side, upstream,
                     queues[0], None), (self._read_side, upstream, queues[1], down),
                     (self._write_side, client, queues[1], None)]
            for (func, sock, chunks, delay), event in zip(pumps, done):
                self._spawn(self._pump, func, sock, chunks, delay, event, client, upstream)
            for event in done:
                while not event.wait(_POLL):
                    if self._stopping.is_set():
                        raise _Stopped
        finally:
            self._forget(upstream)

    def _pump(self, func: Callable[..., None], sock: socket.socket, chunks: queue.Queue[Any],
              delay: float | None, done: threading.Event, *pair: socket.socket) -> None:
        try:
            func(sock, chunks, delay)
        except (OSError, _Stopped):
            for side in pair:  # one side failed: tear the whole connection down
                _abort(side)
            chunks.put(_EOF)
        finally:
            done.set()

    def _read_side(self, src: socket.socket, chunks: queue.Queue[Any], delay: float) -> None:
        while True:
            data = self._recv(src)
            if not data:
                chunks.put(_EOF)
                return
            chunks.put((time.monotonic() + delay, data))

    def _write_side(self, dst: socket.socket, chunks: queue.Queue[Any], _: None) -> None:
        while True:
            try:
                item = chunks.get(timeout=_POLL)
            except queue.Empty:
                if self._stopping.is_set():
                    raise _Stopped from None
                continue
            if item is _EOF:
                try:
                    dst.shutdown(socket.SHUT_WR)  # forward the half close
                except OSError:
                    pass
                return
            due, data = item
            self._delayed(due - time.monotonic())
            self._send(dst, data)
