"""The fixture servers, measured with real clients on 127.0.0.1.

Timing: lower bounds only ("the reply came no earlier than the delay"), plus ratio bounds for
concurrency (10 clients x 0.3 s must finish well under the 3 s a serial server would take).
"""
from __future__ import annotations

import http.client
import json
import shutil
import socket
import ssl
import struct
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
from pc_svc_helpers import IN_CI, wait_until

from patchcheck.services.fixtures import (
    LatencyProxy,
    SilentServer,
    SlowDNSServer,
    SlowHTTPServer,
    SlowTCPServer,
    SlowTLSServer,
    dns_query,
    dns_reply,
)
from patchcheck.spec import Endpoint

DELAY = 0.3
#: Timer granularity slack for lower bounds (monotonic clocks, Event.wait rounding).
EPS = 0.02
pytestmark = pytest.mark.usefixtures("no_leaked_threads")


def _connect(server) -> socket.socket:
    sock = socket.create_connection((server.host, server.port), timeout=10)
    return sock


def _round_trip(sock: socket.socket, data: bytes, expect: int | None = None) -> tuple[bytes, float]:
    start = time.monotonic()
    sock.sendall(data)
    reply = b""
    while len(reply) < (expect or len(data)):
        chunk = sock.recv(65536)
        if not chunk:
            break
        reply += chunk
    return reply, time.monotonic() - start


def _concurrently(n: int, call) -> float:
    barrier = threading.Barrier(n)

    def one(i: int):
        barrier.wait()
        return call(i)

    start = time.monotonic()
    with ThreadPoolExecutor(n) as pool:
        results = list(pool.map(one, range(n)))
    assert len(results) == n
    return time.monotonic() - start


# --- lifecycle ----------------------------------------------------------------------------


def test_lifecycle_endpoint_and_idempotent_stop():
    server = SlowTCPServer(0.1)
    with pytest.raises(RuntimeError):
        _ = server.endpoint
    assert server.start() is server
    assert server.start() is server  # already running: no second listener
    endpoint = server.endpoint
    assert isinstance(endpoint, Endpoint)
    assert (endpoint.name, endpoint.host, endpoint.port) == ("slow_tcp", "127.0.0.1", server.port)
    assert endpoint.url == f"tcp://127.0.0.1:{server.port}"
    assert endpoint.to_json()["delay"] == 0.1
    json.dumps(endpoint.to_json())  # goes to the child as JSON
    server.stop()
    server.stop()
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", endpoint.port), timeout=2)
    with pytest.raises(RuntimeError):
        server.start()


def test_bad_arguments():
    with pytest.raises(ValueError):
        SlowTCPServer(-1)
    with pytest.raises(ValueError):
        SlowTCPServer(framing="words")
    with pytest.raises(ValueError, match="loopback"):
        LatencyProxy("192.0.2.1", 80)
    with pytest.raises(ValueError):
        LatencyProxy("127.0.0.1", 80, direction="sideways")


# --- TCP ----------------------------------------------------------------------------------


def test_tcp_echo_after_delay_and_several_round_trips():
    with SlowTCPServer(DELAY) as server, _connect(server) as sock:
        for payload in (b"PING\n", b"second request\n", b"third"):
            reply, took = _round_trip(sock, payload)
            assert reply == payload
            assert took >= DELAY - EPS
        assert server.connections == 1 and server.requests == 3
        assert server.errors == []


def test_tcp_fixed_reply_line_framing_and_greeting():
    with SlowTCPServer(0.05, reply=b"+OK\r\n", framing="line", greeting=b"HELLO\r\n",
                       accept_delay=0.2) as server, _connect(server) as sock:
        start = time.monotonic()
        greeting = sock.recv(100)
        assert greeting == b"HELLO\r\n"
        assert time.monotonic() - start >= 0.2 - EPS
        # Two lines in one send: two replies, each after the delay; a partial line waits.
        reply, took = _round_trip(sock, b"a\nb\nc", expect=10)
        assert reply == b"+OK\r\n+OK\r\n"
        assert took >= 0.1 - EPS
        reply, _ = _round_trip(sock, b"\n", expect=5)
        assert reply == b"+OK\r\n"


def test_tcp_concurrent_clients_are_served_concurrently():
    n = 10
    with SlowTCPServer(DELAY) as server:
        def client(i: int) -> None:
            with _connect(server) as sock:
                reply, took = _round_trip(sock, b"x%d" % i)
                assert reply == b"x%d" % i and took >= DELAY - EPS

        total = _concurrently(n, client)
        # A serial server needs n * DELAY = 3 s; concurrent ≈ 0.3 s. Generous on 2 busy cores.
        assert total < n * DELAY / 2, total
        assert server.max_in_flight >= 2
        assert server.errors == []


def test_stop_while_reply_pending_is_prompt():
    server = SlowTCPServer(30).start()
    sock = _connect(server)
    sock.sendall(b"wait for me")
    assert wait_until(lambda: server.requests == 1)
    start = time.monotonic()
    server.stop()
    assert time.monotonic() - start < 1.5
    sock.settimeout(5)
    try:
        assert sock.recv(10) == b""  # the client sees the connection end, not a reply
    except ConnectionResetError:
        pass
    sock.close()


def test_survives_abrupt_disconnects():
    with SlowTCPServer(0.1) as server:
        for _ in range(5):
            sock = _connect(server)
            sock.sendall(b"bye")
            # SO_LINGER 0: close sends a RST while the server's reply is pending.
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            sock.close()
        with _connect(server) as sock:
            assert _round_trip(sock, b"still here")[0] == b"still here"
        assert server.errors == []


def test_silent_server_never_answers_and_stops_promptly():
    server = SilentServer().start()
    sock = _connect(server)
    sock.sendall(b"hello?" * 1000)
    sock.settimeout(0.5)
    with pytest.raises(socket.timeout):
        sock.recv(10)
    assert server.connections == 1
    start = time.monotonic()
    server.stop()
    assert time.monotonic() - start < 1.5
    sock.settimeout(5)
    try:
        assert sock.recv(10) == b""
    except ConnectionResetError:
        pass
    sock.close()


# --- HTTP ---------------------------------------------------------------------------------


def _get(conn: http.client.HTTPConnection, path: str, method: str = "GET", **kw):
    start = time.monotonic()
    conn.request(method, path, **kw)
    response = conn.getresponse()
    body = response.read()
    return response, body, time.monotonic() - start


def test_http_keep_alive_delay_and_json_body():
    with SlowHTTPServer(DELAY) as server:
        assert server.endpoint.url == f"http://127.0.0.1:{server.port}/"
        conn = http.client.HTTPConnection(server.host, server.port, timeout=10)
        for path in ("/", "/anything/at/all", "/x?y=1"):
            response, body, took = _get(conn, path)
            assert response.status == 200
            assert response.getheader("Content-Type") == "application/json"
            data = json.loads(body)
            assert data["path"] == path.split("?")[0] and data["delay"] == DELAY
            assert took >= DELAY - EPS
        assert server.connections == 1  # one keep-alive connection for all three
        conn.close()


def test_http_query_delay_status_post_head_and_close():
    with SlowHTTPServer(0) as server:
        conn = http.client.HTTPConnection(server.host, server.port, timeout=10)
        response, body, took = _get(conn, "/slow?delay=0.25")
        assert response.status == 200 and json.loads(body)["delay"] == 0.25
        assert took >= 0.25 - EPS
        response, body, _ = _get(conn, "/status/503")
        assert response.status == 503 and json.loads(body)["status"] == 503
        response, body, _ = _get(conn, "/status/204")
        assert response.status == 204 and body == b""
        response, body, _ = _get(conn, "/upload", "POST", body=b"x" * 5000,
                                 headers={"Content-Type": "text/plain"})
        assert json.loads(body)["received"] == 5000
        # A chunked body (what clients send for generators).
        response, body, _ = _get(conn, "/chunked", "POST", body=iter([b"ab", b"cde"]),
                                 encode_chunked=True)
        assert json.loads(body)["received"] == 5
        response, body, _ = _get(conn, "/", "HEAD")
        assert response.status == 200 and body == b""
        response, body, _ = _get(conn, "/", headers={"Connection": "close"})
        assert response.getheader("Connection") == "close"
        assert server.connections == 1
        conn.close()
        response, _, _ = _get(http.client.HTTPConnection(server.host, server.port), "/?delay=x")
        assert response.status == 400


def test_http_expect_continue_and_malformed_request():
    with SlowHTTPServer(0) as server, _connect(server) as sock:
        sock.sendall(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n"
                     b"Expect: 100-continue\r\n\r\n")
        assert sock.recv(100).startswith(b"HTTP/1.1 100 Continue")
        sock.sendall(b"abc")
        assert b'"received": 3' in sock.recv(1000)
        sock.sendall(b"NONSENSE\r\n\r\n")
        assert sock.recv(1000).startswith(b"HTTP/1.1 400 ")


def test_http_many_concurrent_connections():
    n = 10
    with SlowHTTPServer(DELAY) as server:
        def client(i: int) -> None:
            conn = http.client.HTTPConnection(server.host, server.port, timeout=10)
            response, _, took = _get(conn, f"/c{i}")
            assert response.status == 200 and took >= DELAY - EPS
            conn.close()

        total = _concurrently(n, client)
        assert total < n * DELAY / 2, total
        assert server.connections == n and server.errors == []


# --- TLS ----------------------------------------------------------------------------------


def _backends():
    backends = ["cryptography", "openssl"]
    try:
        import cryptography  # noqa: F401
    except ImportError:
        backends.remove("cryptography")
    if shutil.which("openssl") is None:
        backends.remove("openssl")
    if not backends and IN_CI:
        pytest.fail("no TLS certificate backend (cryptography or openssl) in CI")
    return backends


@pytest.mark.parametrize("backend", _backends())
@pytest.mark.parametrize("host", ["127.0.0.1", "localhost"])
def test_tls_verified_with_generated_ca(backend, host):
    with SlowTLSServer(DELAY, cert_backend=backend) as server:
        endpoint = server.endpoint
        assert endpoint.url == f"https://127.0.0.1:{server.port}/"
        context = ssl.create_default_context(cafile=endpoint.extra["cafile"])
        # What Python 3.13 turns on by default: the generated CA must satisfy it.
        context.verify_flags |= getattr(ssl, "VERIFY_X509_STRICT", 0)
        conn = http.client.HTTPSConnection(host, server.port, context=context, timeout=10)
        for _ in range(2):
            response, body, took = _get(conn, "/secure")
            assert response.status == 200 and json.loads(body)["path"] == "/secure"
            assert took >= DELAY - EPS
        assert server.connections == 1
        conn.close()
        cafile = endpoint.extra["cafile"]
    assert not __import__("os").path.exists(cafile)  # the key material is deleted on stop


def test_tls_rejected_without_the_ca_and_server_survives():
    with SlowTLSServer(0) as server:
        conn = http.client.HTTPSConnection(server.host, server.port,
                                           context=ssl.create_default_context(), timeout=10)
        with pytest.raises(ssl.SSLCertVerificationError):
            conn.request("GET", "/")
        context = ssl.create_default_context(cafile=server.endpoint.extra["cafile"])
        conn = http.client.HTTPSConnection(server.host, server.port, context=context, timeout=10)
        assert _get(conn, "/")[0].status == 200
        conn.close()
        assert server.errors == []


def test_tls_handshake_delay_and_concurrency():
    n = 10
    with SlowTLSServer(0, handshake_delay=DELAY) as server:
        context = ssl.create_default_context(cafile=server.endpoint.extra["cafile"])

        def client(i: int) -> None:
            with _connect(server) as raw:
                start = time.monotonic()
                with context.wrap_socket(raw, server_hostname="localhost") as tls:
                    assert time.monotonic() - start >= DELAY - EPS
                    tls.sendall(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
                    assert tls.recv(100).startswith(b"HTTP/1.1 200")

        total = _concurrently(n, client)
        assert total < n * DELAY / 2, total


def test_tls_stop_during_handshake_is_prompt():
    server = SlowTLSServer(0, handshake_delay=30).start()
    sock = _connect(server)
    assert wait_until(lambda: server.connections == 1)
    start = time.monotonic()
    server.stop()
    assert time.monotonic() - start < 1.5
    sock.close()


# --- DNS ----------------------------------------------------------------------------------


def _dns(server, message: bytes, timeout: float = 10) -> tuple[bytes, float]:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.settimeout(timeout)
        start = time.monotonic()
        sock.sendto(message, (server.host, server.port))
        return sock.recv(4096), time.monotonic() - start


def _parse(reply: bytes) -> tuple[int, int, int, int, list[bytes]]:
    """(id, rcode, qdcount, ancount, rdata of each answer) — a hand-written decoder."""
    qid, flags, qd, an, _, _ = struct.unpack("!6H", reply[:12])
    assert flags & 0x8000  # a response
    pos = 12
    for _ in range(qd):
        while reply[pos]:
            pos += 1 + reply[pos]
        pos += 5
    rdatas = []
    for _ in range(an):
        assert reply[pos:pos + 2] == b"\xc0\x0c"  # pointer to the question name
        rdlength = struct.unpack("!H", reply[pos + 10:pos + 12])[0]
        rdatas.append(reply[pos + 12:pos + 12 + rdlength])
        pos += 12 + rdlength
    return qid, flags & 0xF, qd, an, rdatas


def test_dns_answers_a_after_delay():
    with SlowDNSServer(DELAY) as server:
        assert server.endpoint.url == f"dns://127.0.0.1:{server.port}"
        reply, took = _dns(server, dns_query("db.example.internal", qid=0x1234))
        assert took >= DELAY - EPS
        qid, rcode, qd, an, rdatas = _parse(reply)
        assert (qid, rcode, qd, an) == (0x1234, 0, 1, 1)
        assert rdatas == [socket.inet_aton("127.0.0.1")]


def test_dns_aaaa_nodata_invalid_nxdomain_and_ipv6_option():
    with SlowDNSServer(0) as server:
        assert _parse(_dns(server, dns_query("example.com", 28))[0])[1:4] == (0, 1, 0)
        assert _parse(_dns(server, dns_query("example.com", 16))[0])[1:4] == (0, 1, 0)  # TXT
        assert _parse(_dns(server, dns_query("nothing.invalid"))[0])[1:4] == (3, 1, 0)
        server_garbage = b"\x00" * 5
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            sock.sendto(server_garbage, (server.host, server.port))  # dropped, no crash
        assert _parse(_dns(server, dns_query("still.works"))[0])[3] == 1
    with SlowDNSServer(0, ipv6=True) as server:
        rdatas = _parse(_dns(server, dns_query("example.com", 28))[0])[4]
        assert rdatas == [socket.inet_pton(socket.AF_INET6, "::1")]
        assert server.errors == []


def test_dns_reply_edge_cases():
    query = dns_query("a.b", qid=7)
    assert dns_reply(query[:11]) is None  # too short: dropped
    response = bytearray(query)
    response[2] |= 0x80
    assert dns_reply(bytes(response)) is None  # a response, not a query: dropped
    formerr = dns_reply(query[:15])  # question cut short
    assert formerr is not None and struct.unpack("!HH", formerr[:4]) == (7, 0x8581)
    notimp = bytearray(query)
    notimp[2] |= 0x10  # opcode 2 (STATUS)
    assert dns_reply(bytes(notimp))[3] & 0xF == 4
    compressed = query[:12] + b"\xc0\x0c" + query[-4:]
    assert dns_reply(compressed)[3] & 0xF == 1
    # EDNS OPT in the additional section (what dig sends) is ignored, the answer still comes.
    edns = bytearray(query + b"\x00\x00\x29\x10\x00\x00\x00\x00\x00\x00\x00")
    edns[11] = 1
    assert _parse(dns_reply(bytes(edns)))[3] == 1


def test_dns_concurrent_queries():
    n = 10
    with SlowDNSServer(DELAY) as server:
        total = _concurrently(n, lambda i: _dns(server, dns_query(f"h{i}.test"))[1] >= DELAY - EPS)
        assert total < n * DELAY / 2, total
        assert server.max_in_flight >= 2 and server.requests == n


def test_dns_stop_with_pending_reply_is_prompt():
    server = SlowDNSServer(30).start()
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.sendto(dns_query("x.test"), (server.host, server.port))
        assert wait_until(lambda: server.requests == 1)
        start = time.monotonic()
        server.stop()
        assert time.monotonic() - start < 1.5


# --- latency proxy ------------------------------------------------------------------------


def test_proxy_delays_replies_and_preserves_order():
    with SlowTCPServer(0) as echo, LatencyProxy(echo.host, echo.port, DELAY) as proxy:
        endpoint = proxy.endpoint
        assert endpoint.extra["target_port"] == echo.port and endpoint.extra["delay"] == DELAY
        with _connect(proxy) as sock:
            reply, took = _round_trip(sock, b"one")
            assert reply == b"one" and took >= DELAY - EPS
            # Pipelined: each chunk is delayed from its own arrival, order preserved.
            start = time.monotonic()
            for i in range(5):
                sock.sendall(b"<%d>" % i)
                time.sleep(0.02)
            reply = b""
            while len(reply) < 15:
                reply += sock.recv(100)
            assert reply == b"<0><1><2><3><4>"
            took = time.monotonic() - start
            assert DELAY - EPS <= took < 5 * DELAY  # not one full delay per chunk
        assert proxy.errors == []


def test_proxy_client_to_server_direction_and_half_close():
    with SlowTCPServer(0) as echo, LatencyProxy(echo.host, echo.port, DELAY,
                                                 direction="client_to_server") as proxy:
        with _connect(proxy) as sock:
            reply, took = _round_trip(sock, b"ping")
            assert reply == b"ping" and took >= DELAY - EPS
            sock.shutdown(socket.SHUT_WR)  # forwarded: the echo server sees EOF and closes
            sock.settimeout(10)
            assert sock.recv(10) == b""


def test_proxy_to_nothing_closes_the_client():
    with socket.socket() as placeholder:
        placeholder.bind(("127.0.0.1", 0))
        dead_port = placeholder.getsockname()[1]
    with LatencyProxy("127.0.0.1", dead_port, 0.1) as proxy, _connect(proxy) as sock:
        sock.settimeout(10)
        try:
            assert sock.recv(10) == b""
        except ConnectionResetError:
            pass


def test_proxy_concurrency_and_stop_while_pending():
    n = 10
    with SlowHTTPServer(0) as target:
        proxy = LatencyProxy(target.host, target.port, DELAY).start()

        def client(i: int) -> None:
            conn = http.client.HTTPConnection(proxy.host, proxy.port, timeout=10)
            response, _, took = _get(conn, f"/p{i}")
            assert response.status == 200 and took >= DELAY - EPS
            conn.close()

        total = _concurrently(n, client)
        assert total < n * DELAY / 2, total
        proxy.delay = 30  # the next reply will be pending when we stop
        sock = _connect(proxy)
        sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        time.sleep(0.1)
        start = time.monotonic()
        proxy.stop()
        assert time.monotonic() - start < 1.5
        sock.close()


def test_proxy_in_front_of_real_redis():
    from pc_testutil import require_server

    require_server("redis", 6379)
    with LatencyProxy("127.0.0.1", 6379, DELAY) as proxy, _connect(proxy) as sock:
        for _ in range(2):
            reply, took = _round_trip(sock, b"PING\r\n", expect=7)
            assert reply == b"+PONG\r\n"
            assert took >= DELAY - EPS
