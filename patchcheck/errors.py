"""One error base for patchcheck, with a base per layer.

Every expected failure carries the message and a hint; the CLI prints them as
``patchcheck: error: <message>`` and ``hint: <hint>`` and exits with ``exit_code``.
"""
from __future__ import annotations

from patchcheck.exitcode import ExitCode


class PatchcheckError(Exception):
    """Base of every error patchcheck raises on purpose."""

    exit_code: ExitCode = ExitCode.INTERNAL_ERROR

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint


class UsageError(PatchcheckError):
    """Bad command line, input file or configuration (exit 2)."""

    exit_code = ExitCode.USAGE_ERROR


class SourceError(UsageError):
    """A requirements source could not be read or parsed; the message names file:line."""


class ConfigError(UsageError):
    """Bad configuration: names the file, the key and the value."""


class EnvironmentProblem(PatchcheckError):
    """The target interpreter or the machine cannot be used (exit 3)."""

    exit_code = ExitCode.INTERNAL_ERROR
