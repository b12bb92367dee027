"""The probe API as a new author meets it, through the real command line: a probe that does
not wait or whose factory fails is inconclusive (a probe problem, never a pass, never the
library's breaks); the latency proxy sits in front of any loopback port; ``probes --check``
catches a bad service name and a mistyped keyword; the API is importable in the tool."""
from __future__ import annotations

import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from pc_testutil import by_name, json_report, run_patchcheck

WAIT = 0.3


@pytest.fixture()
def echo_port() -> Iterator[int]:
    """A plain TCP echo server of the test's own (no patchcheck code): answers at once."""
    server = socket.socket()
    server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    server.bind(("127.0.0.1", 0))
    server.listen(16)
    stop = threading.Event()

    def serve(conn: socket.socket) -> None:
        with conn:
            while True:
                data = conn.recv(4096)
                if not data:
                    return
                conn.sendall(data)

    def accept() -> None:
        server.settimeout(0.2)
        while not stop.is_set():
            try:
                conn, _ = server.accept()
            except OSError:
                continue
            conn.settimeout(None)
            threading.Thread(target=serve, args=(conn,), daemon=True).start()

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield server.getsockname()[1]
    stop.set()
    thread.join()
    server.close()


PROBES = '''
from patchcheck_probe import probe


@probe(distributions=["packaging"], services=["proxy:127.0.0.1:{port}"], wait={wait})
def packaging_echo_through_proxy(ctx):
    import socket

    peer = ctx.service("proxy:127.0.0.1:{port}")
    sock = socket.create_connection((peer.host, peer.port))
    ctx.cleanup(sock.close)

    def call():
        sock.sendall(b"ping")
        assert sock.recv(16) == b"ping"  # held {wait} s by the proxy

    return call


@probe(distributions=["packaging"], wait={wait})
def packaging_nowait(ctx):
    return lambda: None  # does not wait on any peer: nothing is measured


@probe(distributions=["packaging"], wait={wait})
def packaging_factory_fails(ctx):
    raise ConnectionRefusedError(111, "Connection refused")
'''


def test_scan_reports_probe_problems_and_proxies_any_port(tmp_path: Path, echo_port: int):
    probes = tmp_path / "probes"
    probes.mkdir()
    (probes / "packaging_probes.py").write_text(PROBES.format(port=echo_port, wait=WAIT))
    args = ("scan", "packaging", "--probe-path", str(probes), "--no-cache")
    proc = run_patchcheck(*args, "--format", "json", cwd=tmp_path)
    result = by_name(json_report(proc))["packaging"]
    plain = {p["probe"]: p["plain"] for p in result["probes"]}

    echo = plain["packaging.echo_through_proxy"]
    assert echo["outcome"] == "cooperates", echo
    assert echo["elapsed_ms"] >= WAIT * 1000 * 0.9  # the proxy held the echo's answer
    assert echo["ratio"] < 2.0

    assert (plain["packaging.nowait"]["outcome"], plain["packaging.nowait"]["phase"]) == \
        ("inconclusive", "call")
    failed = plain["packaging.factory_fails"]
    assert (failed["outcome"], failed["phase"]) == ("inconclusive", "factory")

    codes = {f["check"]: f["code"] for f in result["findings"] if f["check"].startswith("probe:")}
    assert codes["probe:packaging.nowait"] == "PC207"
    assert codes["probe:packaging.factory_fails"] == "PC207"  # not PC202: not the library's
    assert result["verdict"] == "warns"  # never cooperates, never breaks
    assert proc.returncode == 0  # the default --fail-on blocks

    table = run_patchcheck(*args, "--fail-on", "warns", cwd=tmp_path)
    assert table.returncode == 1, table.stderr
    assert "inconclusive" in table.stdout + table.stderr
    assert "PC207" in table.stdout


def _check(tmp_path: Path, source: str) -> subprocess.CompletedProcess[str]:
    probes = tmp_path / "probes"
    probes.mkdir(exist_ok=True)
    (probes / "mine.py").write_text(source)
    return run_patchcheck("probes", "--check", "--probe-path", str(probes), cwd=tmp_path)


def test_probes_check_names_a_bad_service(tmp_path: Path):
    proc = _check(tmp_path, "from patchcheck_probe import probe\n"
                            "@probe(distributions=['x'], services=['slow_tpc', 'proxy:redis'])\n"
                            "def x_get(ctx):\n    return lambda: None\n")
    assert proc.returncode == 2, proc.stderr
    (error,) = [line for line in proc.stderr.splitlines() if line.startswith("patchcheck: error")]
    assert error.endswith("service 'slow_tpc': no service named 'slow_tpc' "
                          "(did you mean 'slow_tcp'?)")
    assert "Traceback" not in proc.stderr


def test_probes_check_rejects_a_proxy_to_another_machine(tmp_path: Path):
    proc = _check(tmp_path, "from patchcheck_probe import probe\n"
                            "@probe(distributions=['x'], services=['proxy:10.1.2.3:6379'])\n"
                            "def x_get(ctx):\n    return lambda: None\n")
    assert proc.returncode == 2
    assert "10.1.2.3 is not a loopback address" in proc.stderr


def test_a_mistyped_keyword_gets_a_hint_naming_it(tmp_path: Path):
    proc = _check(tmp_path, "from patchcheck_probe import probe\n\n"
                            "@probe(distributions=['x'], wiat=0.3)\n"
                            "def x_get(ctx):\n    return lambda: None\n")
    assert proc.returncode == 2
    (error,) = [line for line in proc.stderr.splitlines() if line.startswith("patchcheck: error")]
    assert f"{tmp_path / 'probes' / 'mine.py'}:3" in error
    assert "unknown keyword 'wiat' (did you mean 'wait'?)" in error
    assert "Traceback" not in proc.stderr


def test_probes_check_passes_good_probes(tmp_path: Path):
    proc = _check(tmp_path, "from patchcheck_probe import probe\n"
                            "@probe(distributions=['x'], services=['slow_tcp', 'proxy:redis', "
                            "'proxy:127.0.0.1:6380'])\n"
                            "def x_get(ctx):\n    return lambda: None\n")
    assert proc.returncode == 0, proc.stderr


def test_probe_api_and_public_loader_in_the_tools_environment(tmp_path: Path):
    (tmp_path / "p.py").write_text("from patchcheck_probe import probe\n"
                                   "@probe(distributions=['x'])\n"
                                   "def x_get(ctx):\n    return lambda: None\n")
    code = ("import patchcheck, patchcheck_probe\n"
            "from patchcheck.harness import patchcheck_probe as harness_copy\n"
            "assert patchcheck_probe.probe is harness_copy.probe\n"
            "assert patchcheck_probe.Context.cleanup.__doc__\n"
            f"(p,) = patchcheck.probes_from_dir({str(tmp_path)!r})\n"
            "print(p.name, p.function)\n")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == ["x.get", "x_get"]


def _echo_through(endpoint) -> float:
    import time

    with socket.create_connection((endpoint.host, endpoint.port), timeout=5) as sock:
        t0 = time.monotonic()
        sock.sendall(b"ping")
        assert sock.recv(16) == b"ping"
        return time.monotonic() - t0


def test_registry_proxies_an_address_and_a_configured_proxy_service(echo_port: int):
    from patchcheck.services import ServiceRegistry
    from patchcheck.spec import Endpoint, ServiceUnavailable

    urls = {"mine": f"proxy://127.0.0.1:{echo_port}"}
    with ServiceRegistry([], urls=urls) as registry:
        direct = registry.endpoint(f"proxy:127.0.0.1:{echo_port}", delay=WAIT)
        assert isinstance(direct, Endpoint), direct
        assert (direct.extra["target_host"], direct.extra["target_port"]) == \
            ("127.0.0.1", echo_port)
        assert _echo_through(direct) >= WAIT * 0.9  # the reply was held, not the connect
        named = registry.endpoint("mine", delay=WAIT)
        assert isinstance(named, Endpoint) and named.port != echo_port
        assert _echo_through(named) >= WAIT * 0.9
        elsewhere = registry.endpoint("proxy:10.1.2.3:6379", delay=WAIT)
        assert isinstance(elsewhere, ServiceUnavailable)
        assert "not a loopback address" in elsewhere.reason


def test_config_proxy_service_needs_a_port(tmp_path: Path):
    (tmp_path / "pyproject.toml").write_text(
        '[tool.patchcheck.services]\nmine = "proxy://127.0.0.1"\n')
    proc = run_patchcheck("probes", "--check", cwd=tmp_path)
    assert proc.returncode == 2
    assert "a proxy needs host:port" in proc.stderr and "pyproject.toml" in proc.stderr
