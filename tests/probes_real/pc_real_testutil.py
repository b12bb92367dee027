"""Gates for the real-library probe tests: the library must be importable and its server up.

On a laptop a missing library or server skips the test; with ``CI=true`` it fails, because CI
installs ``examples/requirements.txt`` and starts every server (``.ci/setup``).
"""
from __future__ import annotations

import importlib.util
import shutil

import pytest
from pc_testutil import IN_CI, port_open, require_server


def require_library(import_name: str, distribution: str) -> None:
    try:
        found = importlib.util.find_spec(import_name) is not None
    except (ImportError, ValueError):
        found = False
    if found:
        return
    message = f"{distribution} is not installed (cannot import {import_name})"
    if IN_CI:
        pytest.fail(message + " (CI=true: pip install -r examples/requirements.txt)")
    pytest.skip(message)


def require_binary_or_port(name: str, binary: str, port: int) -> None:
    """A server patchcheck can start itself from ``binary``, or one already on ``port``."""
    if shutil.which(binary) or port_open(port):
        return
    require_server(name, port)  # skips (or fails in CI) with the port in the message


def require_installed(name: str, *paths: str) -> None:
    """A server patchcheck starts itself (slapd, sshd, ZooKeeper): one of ``paths`` exists."""
    import os

    if any(os.path.exists(p) or shutil.which(p) for p in paths):
        return
    message = f"{name} is not installed (none of {', '.join(paths)})"
    if IN_CI:
        pytest.fail(message + " (CI=true: .ci/setup installs .ci/apt-packages.txt)")
    pytest.skip(message)
