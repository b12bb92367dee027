"""Fixtures for the service tests."""
from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest
from pc_svc_helpers import wait_until


@pytest.fixture
def no_leaked_threads() -> Iterator[None]:
    """Every server thread (named patchcheck-*) started by the test is gone afterwards."""
    before = {t.ident for t in threading.enumerate()}
    yield
    assert wait_until(lambda: not [t for t in threading.enumerate()
                                   if t.name.startswith("patchcheck-") and t.ident not in before],
                      timeout=3.0), [t.name for t in threading.enumerate()]
