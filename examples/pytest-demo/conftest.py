"""The demo's fixtures: a PostgreSQL connection (127.0.0.1:5432, user postgres, trust).

``PATCHCHECK_DEMO_PSYCOGREEN=1`` applies the remedy patchcheck names for psycopg2 — psycogreen's
wait callback, installed after ``gevent.monkey.patch_all()`` (which ``patchcheck_patch = true``
in pytest.ini has already done by the time this file is imported).
"""
from __future__ import annotations

import os
import socket

import psycopg2  # imported at collection: a first import inside a test is a stall of its own
import pytest

DSN = os.environ.get("PATCHCHECK_DEMO_DSN",
                     "host=127.0.0.1 port=5432 user=postgres dbname=postgres connect_timeout=5")

if os.environ.get("PATCHCHECK_DEMO_PSYCOGREEN") == "1":
    from psycogreen.gevent import patch_psycopg

    patch_psycopg()


def _postgres_running() -> bool:
    try:
        with socket.create_connection(("127.0.0.1", 5432), timeout=1):
            return True
    except OSError:
        return False


@pytest.fixture
def db():
    if not _postgres_running():
        if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
            pytest.fail("PostgreSQL is not running on 127.0.0.1:5432 (CI=true)")
        pytest.skip("PostgreSQL is not running on 127.0.0.1:5432")
    conn = psycopg2.connect(DSN)
    conn.autocommit = True
    yield conn
    conn.close()
