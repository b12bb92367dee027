"""Patch bisection: the smallest set of ``patch_all()`` arguments that breaks a library.

``ddmin`` (pure) and the result types import nothing else; ``bisect_results`` (in ``run``) is
the one entry point the scan calls."""
from __future__ import annotations

from patchcheck.bisect.ddmin import DDResult, ddmin
from patchcheck.bisect.result import BisectResult, CostProbe

__all__ = ["BisectResult", "CostProbe", "DDResult", "ddmin"]
