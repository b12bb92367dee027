from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "harness"))

from pc_probe_testutil import start_fixtures  # noqa: E402


@pytest.fixture(scope="module")
def fixture_servers():
    servers = start_fixtures()
    yield servers
    for server in servers.values():
        server.stop()
