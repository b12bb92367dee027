from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from pc_probe_testutil import start_fixtures  # noqa: E402


@pytest.fixture(scope="module")
def slow_tcp():
    servers = start_fixtures(("slow_tcp",))
    yield servers["slow_tcp"]
    for server in servers.values():
        server.stop()
