"""The settings, resolved and validated: one frozen dataclass and the names it accepts."""
from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path

from patchcheck.verdicts.waivers import Waiver


@dataclass(frozen=True)
class Settings:
    """Every setting, resolved and validated. Paths are absolute."""

    fail_on: str = "blocks"  # a key of FAIL_ON_LEVELS
    timeout: float = 60.0  # seconds per child process
    jobs: int = field(default_factory=lambda: os.cpu_count() or 1)
    patch: Mapping[str, bool] = field(default_factory=dict)  # patch_all(**patch)
    probe_paths: tuple[Path, ...] = ()
    services: Mapping[str, str] = field(default_factory=dict)  # name -> loopback URL
    #: normalised distribution name -> import names that replace detection
    import_names: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    #: import-check the test packages a distribution ships (``sasstests``) as well
    include_test_packages: bool = False
    waivers: tuple[Waiver, ...] = ()
    baseline: Path | None = None
    #: the watchdog's report of the team's test suite (``scan --stalls``), read as evidence
    stalls: Path | None = None
    format: str = "table"
    output: Path | None = None
    python: str | None = None  # a path (made absolute) or a command name such as "python3.12"
    cache: bool = True
    skip: tuple[str, ...] = ()  # normalised distribution names not to scan
    #: the project always calls patch_all() before importing its libraries (gunicorn -k gevent,
    #: python -m gevent.monkey, first line of the entry point): order-only findings are info
    patches_first: bool = False
    #: the config file that was read, if any
    config_file: Path | None = field(default=None, compare=False)
    #: setting name -> where its value came from ("pyproject.toml:14", "PATCHCHECK_JOBS",
    #: "--timeout", "default"); for messages such as "timeout 5 (from PATCHCHECK_TIMEOUT)"
    origins: Mapping[str, str] = field(default_factory=dict, compare=False)


#: Settings a config file, the command line or the environment may set.
SETTING_NAMES = tuple(f.name for f in fields(Settings) if f.name not in ("config_file", "origins"))
