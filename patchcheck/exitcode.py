"""Exit codes of the ``patchcheck`` command (the same table is in README.md)."""
from __future__ import annotations

import enum


class ExitCode(enum.IntEnum):
    #: Nothing at or above ``--fail-on`` was found.
    OK = 0
    #: At least one distribution has a verdict at or above ``--fail-on``.
    FINDINGS = 1
    #: Usage, input or configuration error (bad flag, malformed requirements line, bad config),
    #: or a scan of nothing (no distribution, or none installed in the target).
    USAGE_ERROR = 2
    #: patchcheck itself or the environment failed (target interpreter unusable, controls
    #: measured wrongly, a bug); no library verdict is implied.
    INTERNAL_ERROR = 3
    #: The requirements cannot be installed together (``scan --install`` found a conflict
    #: among them, e.g. gevent and greenlet pins): the environment measured is not one the
    #: project can deploy. The conflicting pins are in the report (``conflicts``).
    CONFLICT = 4
