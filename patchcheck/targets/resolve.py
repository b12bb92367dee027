"""Ask the target interpreter (in a child) what it is and what is installed in it."""
from __future__ import annotations

import os
import shutil
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from patchcheck.errors import EnvironmentProblem, UsageError
from patchcheck.model import Environment, normalize_name
from patchcheck.runner.process import run_child


@dataclass(frozen=True)
class InstalledDistribution:
    requested: str
    name: str
    version: str | None
    import_names: tuple[str, ...]
    native_files: tuple[str, ...]
    files_digest: str = ""
    requires: tuple[str, ...] = ()
    error: str | None = None

    @property
    def key(self) -> str:
        return normalize_name(self.name)


@dataclass(frozen=True)
class TargetInfo:
    environment: Environment
    markers: Mapping[str, str]
    installed: Mapping[str, InstalledDistribution]  # by normalised requested name
    missing: tuple[str, ...] = ()
    all_names: tuple[str, ...] = field(default_factory=tuple)  # with all_installed


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
                   timeout: float = 60.0,
                   patch_args: Mapping[str, Any] | None = None) -> TargetInfo:
    res = run_child(python, {"task": "info", "distributions": list(names),
                             "all_installed": all_installed}, timeout=timeout)
    if res.data is None:
        detail = res.harness_error or res.problem or "no result"
        tail = res.stderr_tail.strip().splitlines()[-1:] if res.stderr_tail.strip() else []
        raise EnvironmentProblem(
            f"could not inspect the target interpreter {python}: {detail}"
            + (f" ({tail[0]})" if tail else ""),
            hint="check that it runs: " + f"{python} -c 'import sys; print(sys.version)'")
    env = res.data["environment"]
    if not env.get("gevent_version"):
        raise EnvironmentProblem(
            f"gevent is not installed in the target interpreter {python}",
            hint=f"install it there: {python} -m pip install gevent")
    environment = Environment(
        python=env["executable"],
        python_version=env["python_version"],
        implementation=env.get("implementation", ""),
        platform=env.get("platform", ""),
        gevent_version=env.get("gevent_version"),
        greenlet_version=env.get("greenlet_version"),
        patch_args=dict(patch_args or {}),
    )
    installed: dict[str, InstalledDistribution] = {}
    missing: list[str] = []
    all_names: list[str] = []
    for d in res.data["distributions"]:
        key = normalize_name(d["requested"])
        if not d.get("installed"):
            missing.append(d["requested"])
            continue
        dist = InstalledDistribution(
            requested=d["requested"],
            name=d.get("name") or d["requested"],
            version=d.get("version"),
            import_names=tuple(d.get("import_names") or ()),
            native_files=tuple(d.get("native_files") or ()),
            files_digest=d.get("files_digest", ""),
            requires=tuple(d.get("requires") or ()),
            error=d.get("error"),
        )
        installed[key] = dist
        all_names.append(dist.name)
    return TargetInfo(environment=environment, markers=env.get("markers", {}),
                      installed=installed, missing=tuple(missing), all_names=tuple(all_names))
