"""The pytest plugin's warning classes, in a leaf module both the plugin and its scan items
import (``patchcheck.pytest_plugin.UnmeasuredRiskWarning`` is the documented name)."""
from __future__ import annotations

import pytest

__all__ = ["UnmeasuredRiskWarning"]


class UnmeasuredRiskWarning(pytest.PytestWarning):
    """A scan item passed below ``--patchcheck-fail-on`` with a verdict of a risk nobody
    measured (``order-sensitive``, ``warns``, ``suspect``): shown in the warnings summary so it
    stays visible. Turn it into an error with
    ``-W error::patchcheck.pytest_plugin.UnmeasuredRiskWarning``."""
