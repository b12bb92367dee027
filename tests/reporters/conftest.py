"""A realistic in-memory ScanReport shared by every reporter test.

One distribution per verdict shape: cooperating (with a probe), blocking (probe, stack,
remedy, knowledge, a waived native finding), breaking (LoopExit with a traceback and a
remedy), warning (stale references; native code), skipped (missing server), not-installed,
untested. Numbers are what a loaded 2-core machine measures, not idealised ones.
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
    ProbeOutcome,
    ScanReport,
    Severity,
    Verdict,
)

GOLDEN_DIR = Path(__file__).parent / "golden"
DATA_DIR = Path(__file__).parent / "data"
UPDATE_GOLDEN_ENV = "PATCHCHECK_UPDATE_GOLDEN"

PSYCOPG_STACK = (
    'File "/srv/app/.venv/lib/python3.11/site-packages/gevent/greenlet.py", line 908, in run',
    "    result = self._run(*self.args, **self.kwargs)",
    'File "/opt/patchcheck/harness/pc_meter.py", line 141, in _one_call',
    "    call()",
    'File "/opt/patchcheck/probes/psycopg2_probe.py", line 37, in call',
    '    cur.execute("SELECT pg_sleep(%s)", (wait,))',
    'File "/srv/app/.venv/lib/python3.11/site-packages/psycopg2/extras.py", line 146, in execute',
    "    return super().execute(query, vars)",
    'File "/srv/app/.venv/lib/python3.11/site-packages/psycopg2/extensions.py", line 21, in execute',
    "    # blocked in libpq: PQexec() waits on the socket without yielding",
)

GRPC_TRACEBACK = (
    "Traceback (most recent call last):",
    '  File "/opt/patchcheck/probes/grpc_probe.py", line 52, in call',
    "    stub.Wait(request, timeout=5)",
    '  File "/srv/app/.venv/lib/python3.11/site-packages/grpc/_channel.py", line 1176, in __call__',
    "    state, call, = self._blocking(",
    '  File "/srv/app/.venv/lib/python3.11/site-packages/grpc/_channel.py", line 1155, in _blocking',
    "    event = call.next_event()",
    '  File "src/gevent/_hub_primitives.py", line 55, in gevent._gevent_c_hub_primitives.WaitOperationsGreenlet.wait',
    "gevent.exceptions.LoopExit: This operation would block forever",
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
    requests_ = DistributionResult(
        name="requests",
        version="2.32.3",
        verdict=Verdict.COOPERATES,
        requirement="requests>=2.31",
        origin="requirements.txt:1",
        modules=("requests",),
        probes=(
            ProbeOutcome(
                probe="requests.get",
                origin="builtin",
                plain=Measurement(
                    outcome="cooperates", wait_ms=300, concurrency=3, elapsed_ms=318.4,
                    ratio=1.06, max_gap_ms=4.2, cpu_ms=9.8,
                ),
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
            Finding(
                code="PC310",
                severity=Severity.BLOCKS,
                check="probe:psycopg2.pg_sleep",
                summary="the hub stalled while psycopg2 waited on PostgreSQL",
                evidence={"max_gap_ms": 503.1, "ratio": 2.9},
                hint="call psycogreen.gevent.patch_psycopg() right after patch_all()",
            ),
            Finding(
                code="PC240",
                severity=Severity.WARNING,
                check="native",
                summary="psycopg2._psycopg links libpq, which does its own socket I/O",
                evidence={
                    "extension": "psycopg2/_psycopg.cpython-311-x86_64-linux-gnu.so",
                    "libraries": ["libpq.so.5"],
                    "symbols": ["connect", "poll", "recv", "send"],
                },
                hint="use the remedy measured above; the probe exercises libpq",
                waived="psycogreen is applied in gunicorn.conf.py (expires 2026-12-31)",
            ),
        ),
        probes=(
            ProbeOutcome(
                probe="psycopg2.pg_sleep",
                origin="builtin",
                plain=Measurement(
                    outcome="blocks", wait_ms=300, concurrency=3, elapsed_ms=870.3,
                    ratio=2.9, max_gap_ms=503.1, cpu_ms=11.7, stack=PSYCOPG_STACK,
                ),
                remedies=(
                    Measurement(
                        outcome="cooperates", wait_ms=300, concurrency=3, elapsed_ms=309.9,
                        ratio=1.03, max_gap_ms=6.4, cpu_ms=10.2,
                        remedy="psycogreen.gevent.patch_psycopg()",
                    ),
                ),
            ),
        ),
        known=(
            {
                "distribution": "psycopg2-binary",
                "versions": "",
                "finding": "blocks",
                "summary": "libpq waits on its socket in C; patch_all() cannot reach it",
                "remedy": "psycogreen.gevent.patch_psycopg()",
                "evidence": ["https://github.com/psycopg/psycogreen"],
                "origin": "builtin",
            },
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
            Finding(
                code="PC150",
                severity=Severity.BREAKS,
                check="probe:grpc.unary",
                summary="a unary call raised LoopExit under patch_all()",
                evidence={
                    "exception": "gevent.exceptions.LoopExit: This operation would block forever",
                    "traceback": list(GRPC_TRACEBACK),
                },
                hint="call grpc.experimental.gevent.init_gevent() after patch_all(), "
                "never in gunicorn's post_fork (gevent #2060)",
            ),
        ),
        probes=(
            ProbeOutcome(
                probe="grpc.unary",
                origin="builtin",
                plain=Measurement(
                    outcome="breaks", wait_ms=300, concurrency=3,
                    error="gevent.exceptions.LoopExit: This operation would block forever",
                ),
                remedies=(
                    Measurement(
                        outcome="cooperates", wait_ms=300, concurrency=3, elapsed_ms=331.0,
                        ratio=1.1, max_gap_ms=12.9, cpu_ms=40.3,
                        remedy="grpc.experimental.gevent.init_gevent()",
                    ),
                ),
            ),
        ),
        known=(
            {
                "distribution": "grpcio",
                "versions": "<1.24",
                "finding": "breaks",
                "summary": "grpc's C core runs its own threads and polls outside the hub",
                "remedy": "grpc.experimental.gevent.init_gevent()",
                "evidence": ["https://github.com/gevent/gevent/issues/938"],
                "origin": "builtin",
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
                code="PC220",
                severity=Severity.WARNING,
                check="stale-refs",
                summary="imported before patch_all(), redis keeps the original socket class",
                evidence={
                    "stale": [
                        {"module": "redis.connection", "name": "socket", "original": "socket.socket"},
                    ],
                    "order": "import-before",
                },
                hint="import redis only after gevent.monkey.patch_all() (first lines of your "
                "entry point)",
            ),
        ),
        probes=(
            ProbeOutcome(
                probe="redis.blpop",
                origin="builtin",
                plain=Measurement(
                    outcome="cooperates", wait_ms=300, concurrency=3, elapsed_ms=305.2,
                    ratio=1.02, max_gap_ms=3.1, cpu_ms=6.0,
                ),
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
                code="PC240",
                severity=Severity.WARNING,
                check="native",
                summary="zmq.backend.cython._zmq does native I/O that no probe exercised",
                evidence={
                    "extension": "zmq/backend/cython/_zmq.cpython-311-x86_64-linux-gnu.so",
                    "libraries": ["libzmq.so.5"],
                    "symbols": ["connect", "recv", "send", "poll", "epoll_wait"],
                },
                hint="use zmq.green instead of zmq in gevent code",
            ),
        ),
        known=(
            {
                "distribution": "pyzmq",
                "versions": "",
                "finding": "blocks",
                "summary": "blocking zmq sockets wait in libzmq",
                "remedy": "import zmq.green as zmq",
                "evidence": ["https://pyzmq.readthedocs.io/en/latest/howto/eventloop.html"],
                "origin": "builtin",
            },
        ),
    )
    mysqlclient = DistributionResult(
        name="mysqlclient",
        version="2.2.4",
        verdict=Verdict.SKIPPED,
        requirement="mysqlclient",
        origin="requirements.txt:6",
        modules=("MySQLdb",),
        findings=(
            Finding(
                code="PC020",
                severity=Severity.INFO,
                check="probe:mysqlclient.sleep",
                summary="probe skipped: no MySQL/MariaDB server on 127.0.0.1:3306",
                evidence={
                    "service": "mariadb",
                    "install_hint": "apt-get install mariadb-server, or set PATCHCHECK_MARIADB_URL",
                },
            ),
        ),
    )
    uvloop = DistributionResult(
        name="uvloop",
        verdict=Verdict.NOT_INSTALLED,
        requirement="uvloop>=0.19; sys_platform != 'win32'",
        origin="requirements.txt:7",
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
            plain=Measurement(outcome="cooperates", wait_ms=300, concurrency=3,
                              elapsed_ms=302.0, ratio=1.01, max_gap_ms=2.0, cpu_ms=3.0),
        ),
        ProbeOutcome(
            probe="control.blocking",
            origin="builtin",
            plain=Measurement(outcome="blocks", wait_ms=300, concurrency=3,
                              elapsed_ms=903.5, ratio=3.01, max_gap_ms=301.7, cpu_ms=2.5),
        ),
    )
    return ScanReport(
        environment=env,
        results=(requests_, psycopg, grpc, redis, pyzmq, mysqlclient, uvloop, attrs),
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
