"""A realistic in-memory ScanReport shared by every reporter test.

One distribution per verdict shape: cooperating (with a probe), blocking (probe, stack,
remedy, knowledge, a waived native finding), breaking (LoopExit with a traceback and a
remedy), warning (stale references; native code), skipped (missing server), not-installed,
untested. Codes and evidence shapes are the ones patchcheck.verdicts.fold and
patchcheck.targets.native write. Numbers are what a loaded 2-core machine measures.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from patchcheck.model import (
    DistributionResult,
    Environment,
    Finding,
    Measurement,
    Outcome,
    ProbeOutcome,
    ScanReport,
    Severity,
    Verdict,
)
from patchcheck.verdicts.evidence import ProbeRef

GOLDEN_DIR = Path(__file__).parent / "golden"

#: A blocking run's heartbeat: three calls one after the other, the hub stalled through each.
BLOCKED_BEATS = ((2.0, 2.0), (4.1, 2.1), (290.3, 286.2), (292.4, 2.1), (580.2, 287.8),
                 (582.4, 2.2), (870.3, 287.9))


def cooperating_beats(elapsed_ms: float) -> tuple[tuple[float, float], ...]:
    """A beat every 2–6 ms (deterministic jitter): the hub ran throughout."""
    beats, t, n = [], 0.0, 0
    while t < elapsed_ms:
        gap = 2.0 + (n * 7 % 5)
        t, n = round(t + gap, 1), n + 1
        beats.append((t, gap))
    return tuple(beats)

DATA_DIR = Path(__file__).parent / "data"
UPDATE_GOLDEN_ENV = "PATCHCHECK_UPDATE_GOLDEN"

# Verbatim stack and traceback lines are longer than the line limit, like real ones.
PSYCOPG_STACK = (  # noqa: E501
    'File "/srv/app/.venv/lib/python3.11/site-packages/gevent/greenlet.py", line 908, in run',
    "    result = self._run(*self.args, **self.kwargs)",
    'File "/opt/patchcheck/harness/pc_meter.py", line 141, in _one_call',
    "    call()",
    'File "/opt/patchcheck/probes/psycopg2_probe.py", line 37, in call',
    '    cur.execute("SELECT pg_sleep(%s)", (wait,))',
    'File "/srv/app/.venv/lib/python3.11/site-packages/psycopg2/extras.py", line 146, in execute',
    "    return super().execute(query, vars)",
    'File "/srv/app/.venv/lib/python3.11/site-packages/psycopg2/extensions.py", line 21, in execute',  # noqa: E501
    "    # blocked in libpq: PQexec() waits on the socket without yielding",
)

GRPC_TRACEBACK = (
    "Traceback (most recent call last):",
    '  File "/opt/patchcheck/probes/grpc_probe.py", line 52, in call',
    "    stub.Wait(request, timeout=5)",
    '  File "/srv/app/.venv/lib/python3.11/site-packages/grpc/_channel.py", line 1176, in __call__',
    "    state, call, = self._blocking(",
    '  File "/srv/app/.venv/lib/python3.11/site-packages/grpc/_channel.py", line 1155, in _blocking',  # noqa: E501
    "    event = call.next_event()",
    '  File "src/gevent/_hub_primitives.py", line 55, in gevent._gevent_c_hub_primitives.WaitOperationsGreenlet.wait',  # noqa: E501
    "gevent.exceptions.LoopExit: This operation would block forever",
)


def _probe_finding(
    code: str, severity: Severity, outcome: ProbeOutcome, summary: str, hint: str | None
) -> Finding:
    """What patchcheck.verdicts.fold.probe_findings writes: a reference to the measurement."""
    return Finding(
        code=code,
        severity=severity,
        check=f"probe:{outcome.label}",
        summary=summary,
        evidence=ProbeRef(probe=outcome.probe, order=outcome.order),
        hint=hint,
    )


def _sample_report() -> ScanReport:
    env = Environment(
        python="/srv/app/.venv/bin/python",
        python_version="3.11.2",
        implementation="CPython",
        platform="linux-x86_64",
        gevent_version="26.9.0",
        greenlet_version="3.2.4",
    )
    requests_probe = ProbeOutcome(
        probe="requests.get",
        origin="builtin",
        plain=Measurement(
            outcome="cooperates",
            wait_ms=300,
            concurrency=3,
            elapsed_ms=318.4,
            ratio=1.06,
            max_gap_ms=4.2,
            cpu_ms=9.8,
        ),
    )
    requests_ = DistributionResult(
        name="requests",
        version="2.32.3",
        verdict=Verdict.COOPERATES,
        requirement="requests>=2.31",
        origin="requirements.txt:1",
        modules=("requests",),
        findings=(
            _probe_finding(
                "PC204",
                Severity.INFO,
                requests_probe,
                "requests.get: cooperates (largest hub gap 4 ms, ratio 1.1×)",
                None,
            ),
        ),
        probes=(requests_probe,),
    )

    psycopg_probe = ProbeOutcome(
        probe="psycopg2.pg_sleep",
        origin="builtin",
        plain=Measurement(
            outcome="blocks",
            wait_ms=300,
            concurrency=3,
            elapsed_ms=870.3,
            ratio=2.9,
            max_gap_ms=503.1,
            cpu_ms=11.7,
            stack=PSYCOPG_STACK,
            heartbeat=BLOCKED_BEATS,
        ),
        remedies=(
            Measurement(
                outcome="cooperates",
                wait_ms=300,
                concurrency=3,
                elapsed_ms=309.9,
                ratio=1.03,
                max_gap_ms=6.4,
                cpu_ms=10.2,
                remedy="psycogreen.gevent.patch_psycopg()",
                heartbeat=cooperating_beats(309.9),
            ),
        ),
    )
    psycopg = DistributionResult(
        name="psycopg2-binary",
        version="2.9.9",
        verdict=Verdict.BLOCKS,
        requirement="psycopg2-binary==2.9.9",
        origin="requirements.txt:2",
        modules=("psycopg2",),
        findings=(
            _probe_finding(
                "PC200",
                Severity.BLOCKS,
                psycopg_probe,
                "psycopg2.pg_sleep: hub stalled 503 ms while waiting (ratio 2.9× for 3 "
                "concurrent calls)",
                "Every greenlet stops while this call waits. Use the remedy shown, or run the "
                "call on gevent's threadpool.",
            ),
            Finding(
                code="PC141",
                severity=Severity.WARNING,
                check="native",
                summary="psycopg2/_psycopg.cpython-311-x86_64-linux-gnu.so links a network "
                "client library: libpq (bundled: libpq-9b8d7e2c.so.5.16)",
                evidence={
                    "file": "/srv/app/.venv/lib/python3.11/site-packages/psycopg2/"
                    "_psycopg.cpython-311-x86_64-linux-gnu.so",
                    "extension": True,
                    "symbols": {"net": ["connect", "poll", "recv", "send"], "dns": ["getaddrinfo"]},
                    "libraries": [{"soname": "libpq-9b8d7e2c.so.5.16", "name": "libpq"}],
                    "via": [
                        {
                            "file": "/srv/app/.venv/lib/python3.11/site-packages/"
                            "psycopg2_binary.libs/libpq-9b8d7e2c.so.5.16",
                            "extension": False,
                            "symbols": {},
                            "libraries": [],
                        }
                    ],
                },
                hint="libpq does its own network I/O in C; look for the library's wait-callback "
                "hook (psycogreen for psycopg2) or run the calls on gevent's threadpool.",
                waived="psycogreen is applied in gunicorn.conf.py (expires 2026-12-31)",
            ),
        ),
        probes=(psycopg_probe,),
        known=(
            {
                "finding": "blocks",
                "summary": "libpq does its own socket I/O in C; queries block the hub.",
                "remedy": "psycogreen.gevent.patch_psycopg() after patch_all()",
                "evidence": ["https://github.com/psycopg/psycogreen"],
                "versions": "",
                "origin": "builtin",
                "status": "agrees",
            },
        ),
    )

    grpc_probe = ProbeOutcome(
        probe="grpc.unary",
        origin="builtin",
        plain=Measurement(
            outcome="breaks",
            wait_ms=300,
            concurrency=3,
            elapsed_ms=5012.0,
            error="\n".join(GRPC_TRACEBACK),
        ),
        remedies=(
            Measurement(
                outcome="cooperates",
                wait_ms=300,
                concurrency=3,
                elapsed_ms=331.0,
                ratio=1.1,
                max_gap_ms=12.9,
                cpu_ms=40.3,
                remedy="grpc.experimental.gevent.init_gevent()",
            ),
        ),
    )
    grpc = DistributionResult(
        name="grpcio",
        version="1.62.1",
        verdict=Verdict.BREAKS,
        requirement="grpcio~=1.62",
        origin="requirements.txt:3",
        modules=("grpc",),
        findings=(
            _probe_finding(
                "PC202",
                Severity.BREAKS,
                grpc_probe,
                "grpc.unary: gevent.exceptions.LoopExit: This operation would block forever",
                "call grpc.experimental.gevent.init_gevent() after patch_all(), never in "
                "gunicorn's post_fork (gevent #2060)",
            ),
        ),
        probes=(grpc_probe,),
        known=(
            {
                "finding": "breaks",
                "summary": "grpc's C core runs its own threads and polls outside the hub",
                "remedy": "grpc.experimental.gevent.init_gevent()",
                "evidence": ["https://github.com/gevent/gevent/issues/938"],
                "versions": "",
                "origin": "builtin",
                "status": "agrees",
            },
        ),
    )
    redis = DistributionResult(
        name="redis",
        version="5.0.1",
        verdict=Verdict.WARNS,
        requirement="redis[hiredis]>=5",
        origin="requirements.txt:4",
        modules=("redis",),
        findings=(
            Finding(
                code="PC120",
                severity=Severity.WARNING,
                check="stale-refs",
                summary="1 reference to unpatched originals when imported before patch_all(): "
                "redis.connection.socket → socket.socket",
                evidence={
                    "references": [
                        {
                            "holder": "redis.connection",
                            "name": "socket",
                            "original": "socket.socket",
                            "kind": "module-attribute",
                        },
                    ]
                },
                hint="The library captured the original (blocking) objects at import time. "
                "Patch before importing it: call gevent.monkey.patch_all() first.",
            ),
        ),
    )
    pyzmq = DistributionResult(
        name="pyzmq",
        version="25.1.2",
        verdict=Verdict.WARNS,
        requirement="pyzmq",
        origin="requirements.txt:5",
        modules=("zmq",),
        findings=(
            Finding(
                code="PC140",
                severity=Severity.WARNING,
                check="native",
                summary="zmq/backend/cython/_zmq.cpython-311-x86_64-linux-gnu.so: native code "
                "calls blocking libc functions (connect, recv, send, poll, epoll_wait)",
                evidence={
                    "file": "/srv/app/.venv/lib/python3.11/site-packages/zmq/backend/cython/"
                    "_zmq.cpython-311-x86_64-linux-gnu.so",
                    "extension": True,
                    "symbols": {"net": ["connect", "recv", "send"], "poll": ["poll", "epoll_wait"]},
                    "libraries": [],
                },
                hint="A C extension that does its own I/O cannot be monkey-patched and may block "
                "the hub. A probe measures it; without one, treat it as a risk.",
            ),
        ),
        known=(
            {
                "finding": "blocks",
                "summary": "blocking zmq sockets wait in libzmq",
                "remedy": "import zmq.green as zmq",
                "evidence": ["https://pyzmq.readthedocs.io/en/latest/howto/eventloop.html"],
                "versions": "",
                "origin": "builtin",
                "status": "known, not measured here",
            },
        ),
    )
    memcache_probe = ProbeOutcome(
        probe="pymemcache.get",
        origin="builtin",
        plain=Measurement(
            outcome="skipped",
            error="memcached is not running on 127.0.0.1:11211 (apt-get install memcached)",
        ),
    )
    pymemcache = DistributionResult(
        name="pymemcache",
        version="4.0.0",
        verdict=Verdict.SKIPPED,
        requirement="pymemcache",
        origin="requirements.txt:6",
        modules=("pymemcache",),
        findings=(
            _probe_finding(
                "PC205",
                Severity.INFO,
                memcache_probe,
                "pymemcache.get: skipped: memcached is not running on 127.0.0.1:11211 "
                "(apt-get install memcached)",
                "Start the service or point patchcheck at one (see the message).",
            ),
        ),
        probes=(memcache_probe,),
    )
    uvloop = DistributionResult(
        name="uvloop",
        verdict=Verdict.NOT_INSTALLED,
        requirement="uvloop>=0.19; sys_platform != 'win32'",
        origin="requirements.txt:7",
        findings=(
            Finding(
                code="PC000",
                severity=Severity.INFO,
                check="targets",
                summary="not installed in the target interpreter",
                hint="Install it in the target environment, or scan with --install.",
            ),
        ),
    )
    attrs = DistributionResult(
        name="attrs",
        version="23.2.0",
        verdict=Verdict.UNTESTED,
        origin="<installed>",
        modules=("attr", "attrs"),
    )
    controls = (
        ProbeOutcome(
            probe="control.cooperating",
            origin="builtin",
            expected=Outcome.COOPERATES,
            plain=Measurement(
                outcome="cooperates",
                wait_ms=300,
                concurrency=3,
                elapsed_ms=302.0,
                ratio=1.01,
                max_gap_ms=2.0,
                cpu_ms=3.0,
            ),
        ),
        ProbeOutcome(
            probe="control.blocking",
            origin="builtin",
            expected=Outcome.BLOCKS,
            plain=Measurement(
                outcome="blocks",
                wait_ms=300,
                concurrency=3,
                elapsed_ms=903.5,
                ratio=3.01,
                max_gap_ms=301.7,
                cpu_ms=2.5,
            ),
        ),
    )
    return ScanReport(
        environment=env,
        results=(requests_, psycopg, grpc, redis, pyzmq, pymemcache, uvloop, attrs),
        controls=controls,
        duration_s=14.2,
    )


@pytest.fixture
def sample_report() -> ScanReport:
    return _sample_report()


@pytest.fixture
def golden():
    """``golden(name, text)``: compare with tests/reporters/golden/<name>; regenerate the file
    instead when PATCHCHECK_UPDATE_GOLDEN=1."""

    def check(name: str, text: str) -> None:
        path = GOLDEN_DIR / name
        if os.environ.get(UPDATE_GOLDEN_ENV) == "1":
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8", newline="\n")
            return
        assert path.exists(), f"missing golden file {path}; run with {UPDATE_GOLDEN_ENV}=1"
        expected = path.read_text(encoding="utf-8")
        assert text == expected, (
            f"{name} differs from the golden file; if the change is intended, regenerate with "
            f"{UPDATE_GOLDEN_ENV}=1 and review the diff"
        )

    return check
