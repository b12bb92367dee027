"""Helpers for the service tests (imported by name: pytest puts this folder on sys.path)."""
from __future__ import annotations

import os
import time
from typing import Callable

import pytest

IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


def require(condition: bool, message: str) -> None:
    """Skip when something real is missing on a laptop; in CI it is a failure."""
    if condition:
        return
    if IN_CI:
        pytest.fail(message + " (CI=true: every service binary must be installed)")
    pytest.skip(message)


def wait_until(predicate: Callable[[], bool], timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.01)
    return predicate()
