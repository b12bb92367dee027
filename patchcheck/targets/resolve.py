"""Ask the target interpreter (in a child) what it is and what is installed in it."""
from __future__ import annotations

import os
import shutil
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from patchcheck.errors import EnvironmentProblem, UsageError

# The data model's types, re-exported where they were first defined.
from patchcheck.model import InstalledDistribution, TargetInfo

if TYPE_CHECKING:
    from patchcheck.cache import ResultCache
    from patchcheck.runner.forkserver import Runner

__all__ = ["InstalledDistribution", "TargetInfo", "inspect_target", "resolve_python"]


def resolve_python(python: str | None) -> str:
    """The target interpreter's path; a bad ``--python`` is a usage error (exit 2)."""
    import sys

    if not python:
        return sys.executable
    candidate = Path(python)
    if candidate.is_dir():  # a virtualenv given by its folder
        for sub in ("bin/python", "bin/python3", "Scripts/python.exe"):
            if (candidate / sub).exists():
                return str(candidate / sub)
        raise UsageError(f"--python {python}: no interpreter found in this folder",
                         hint="give the path of the python executable, e.g. .venv/bin/python")
    if candidate.exists():
        if not os.access(candidate, os.X_OK):
            raise UsageError(f"--python {python}: not executable")
        return str(candidate)
    found = shutil.which(python)
    if found:
        return found
    raise UsageError(f"--python {python}: no such interpreter",
                     hint="give the path of the deploy's interpreter, "
                          "e.g. /srv/app/venv/bin/python")


def inspect_target(python: str, names: Sequence[str], *, all_installed: bool = False,
                   timeout: float = 60.0, patch_args: Mapping[str, Any] | None = None,
                   runner: Runner | None = None, cache: ResultCache | None = None
                   ) -> TargetInfo:
    """What ``python`` is and which of ``names`` (or, ``all_installed``, every distribution)
    it has, from an ``info`` task run by ``runner`` (default: a runner of its own).

    With ``cache``, an earlier inspection is reused while it provably still holds
    (``targets/snapshot.py``): then no child runs.

    :raises EnvironmentProblem: the interpreter cannot be inspected, or has no gevent.
    """
    from patchcheck.runner.protocol import InfoTask, read_info

    task = InfoTask(distributions=tuple(names), all_installed=all_installed)
    stored = None
    data = None
    if cache is not None:
        # The key's facts are taken before any child runs: a change while it runs is a miss.
        key, facts = _inspection_key(python, task, runner, cache)
        data = _cached_inspection(key, cache)
        stored = (key, facts, cache)
    if data is None:
        data = _run_inspection(python, task, timeout, runner, stored)
    target = read_info(data, patch_args=patch_args)
    if not target.environment.gevent_version:
        raise EnvironmentProblem(
            f"gevent is not installed in the target interpreter {python}",
            hint=f"install it there: {python} -m pip install gevent")
    return target


def _inspection_key(python: str, task: Any, runner: Runner | None,
                    cache: ResultCache) -> tuple[str, dict[str, Any]]:
    from patchcheck.cache import tool_digest
    from patchcheck.runner.process import child_env
    from patchcheck.targets.snapshot import interpreter_facts

    # The environment the child gets decides its sys.path (PYTHONPATH, the user site, ...).
    facts = interpreter_facts(python, child_env(getattr(runner, "env", None)))
    return cache.key(kind="target-inspection", facts=facts, task=task.args(),
                     tool=tool_digest()), facts


def _cached_inspection(key: str, cache: ResultCache) -> dict[str, Any] | None:
    from patchcheck.targets.snapshot import unchanged

    data = cache.get_inspection(key)
    return data if data is not None and unchanged(data.get("stamps")) else None


def _run_inspection(python: str, task: Any, timeout: float, runner: Runner | None,
                    stored: tuple[str, dict[str, Any], ResultCache] | None) -> dict[str, Any]:
    """Run the ``info`` child; with ``stored`` (key, facts, cache) keep its answer when it
    can be proven later (``snapshot.settled``)."""
    import time

    from patchcheck.runner.forkserver import make_runner

    since = time.time_ns()
    if runner is None:
        with make_runner(python) as own:
            res = own.run(task, timeout=timeout)
    else:
        res = runner.run(task, timeout=timeout)
    if res.data is None:
        detail = res.harness_error or res.problem or "no result"
        tail = res.stderr_tail.strip().splitlines()[-1:] if res.stderr_tail.strip() else []
        raise EnvironmentProblem(
            f"could not inspect the target interpreter {python}: {detail}"
            + (f" ({tail[0]})" if tail else ""),
            hint="check that it runs: " + f"{python} -c 'import sys; print(sys.version)'")
    data = dict(res.data)
    if stored is not None:
        from patchcheck.targets.snapshot import fact_rows, settled

        key, facts, cache = stored
        stamps = data.get("stamps")
        # Without gevent the scan stops; nothing to reuse.
        if (isinstance(stamps, list) and stamps
                and (data.get("environment") or {}).get("gevent_version")
                and settled([*stamps, *fact_rows(facts)], since)):
            cache.put_inspection(key, data)  # best effort: a failed write costs a child
    return data
