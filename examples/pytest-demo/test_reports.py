"""A team's ordinary tests: a slow report query, two reports at once, a quick lookup."""
from __future__ import annotations

import time

import gevent
import psycopg2.extras


def slow_report(conn, seconds: float = 0.3) -> dict:
    """The application code under test: a report that takes a while in the database."""
    cur = conn.cursor(cursor_factory=psycopg2.extras.RealDictCursor)
    cur.execute("SELECT pg_sleep(%s) AS waited, 42 AS total", (seconds,))
    return cur.fetchone()


def test_slow_report(db):
    assert slow_report(db)["total"] == 42


def test_reports_run_concurrently(db):
    # Under gevent two greenlets waiting on the database should overlap. With a blocking
    # driver they run one after the other, and the watchdog sees the hub stall.
    import psycopg2

    second = psycopg2.connect(db.dsn)
    try:
        started = time.perf_counter()
        jobs = [gevent.spawn(slow_report, conn, 0.2) for conn in (db, second)]
        gevent.joinall(jobs, raise_error=True)
        assert all(job.value["total"] == 42 for job in jobs)
        assert time.perf_counter() - started < 10
    finally:
        second.close()


def test_quick_lookup(db):
    cur = db.cursor()
    cur.execute("SELECT 1")
    assert cur.fetchone() == (1,)


def test_report_is_cooperative(db, patchcheck_cooperative):
    # A targeted assertion: this block must never stall the hub for more than 50 ms.
    with patchcheck_cooperative(max_block_ms=50):
        slow_report(db, 0.2)
