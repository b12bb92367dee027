"""Runner test fixtures: the tiny modules on the children's path, and both runners."""
from __future__ import annotations

import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from pc_runner_testutil import MODULES  # noqa: E402

from patchcheck.runner.forkserver import (  # noqa: E402
    ForkRunner,
    SpawnRunner,
    fork_supported,
    make_runner,
)

BACKENDS = ["spawn", pytest.param("fork", marks=pytest.mark.skipif(
    not fork_supported(), reason="no fork server on this platform"))]


@pytest.fixture(scope="module")
def modules_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("rt_modules")
    for name, source in MODULES.items():
        (folder / f"{name}.py").write_text(textwrap.dedent(source))
    return folder


@pytest.fixture
def child_env(modules_dir: Path, tmp_path: Path) -> dict[str, str]:
    return {"PYTHONPATH": str(modules_dir), "RT_PIDFILE": str(tmp_path / "grandchild.pid"),
            "RT_ENVIRON": str(tmp_path / "environ.json")}


@pytest.fixture(params=BACKENDS)
def runner(request: pytest.FixtureRequest, child_env: dict[str, str]
           ) -> Iterator[SpawnRunner | ForkRunner]:
    with make_runner(sys.executable, use_fork=request.param == "fork", env=child_env) as r:
        yield r


