"""What a scan tells a progress display: the phase it is in and the distributions it finished.

The engine counts *distributions* (the rows of the report), never child processes or probes,
so ``[3/4]`` means three of the four requirements (issue #15: ``[1/7]`` for 4); a phase that
only waits (services starting, the meter's controls) says so in words. The terminal display
is ``reporters.table.ProgressDisplay``; anything with these two methods will do.
"""
from __future__ import annotations

from enum import Enum
from typing import Protocol


class ScanPhase(str, Enum):
    """The phases of one scan, in order; the value is what the progress line says."""

    IMPORTS = "checking imports"  # counted: every distribution of the plan
    SERVICES = "starting services"  # not counted: the detail names them
    CONTROLS = "checking the meter"  # not counted: the controls run side by side
    PROBES = "measuring"  # counted: the distributions that have probes

    def __str__(self) -> str:
        return self.value


class ProgressSink(Protocol):
    def phase(self, phase: ScanPhase, total: int = 0, detail: str = "") -> None:
        """A phase begins: ``total`` distributions to finish in it (0: not counted);
        ``detail``: what it works on (``"postgresql, redis"``)."""

    def advance(self, label: str) -> None:
        """One more distribution finished in the current phase; ``label`` names it."""


class NoProgress:
    """The progress sink that shows nothing (the pytest plugin, the library API)."""

    def phase(self, phase: ScanPhase, total: int = 0, detail: str = "") -> None:
        pass

    def advance(self, label: str) -> None:
        pass
