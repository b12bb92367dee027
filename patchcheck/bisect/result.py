"""The result of a patch bisection: pure data, with the JSON shape of ``"bisect"`` in a
distribution's result (README "Patch bisection")."""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

#: How bad a check's outcome is; bisection looks for patches whose removal makes it better.
OUTCOME_RANK: Mapping[str, int] = {
    "cooperates": 0, "imports": 0, "blocks": 1, "cpu-bound": 1, "breaks": 2,
}


def outcome_rank(outcome: str) -> int:
    return OUTCOME_RANK.get(outcome, 2)  # an unknown outcome is no improvement


@dataclass(frozen=True)
class CostProbe:
    """A stdlib probe of a patch the remedy turns off, measured with the remedy applied."""

    patch: str  # the patch_all() argument the probe measures, e.g. "thread"
    probe: str  # e.g. "stdlib.threading.lock"
    outcome: str  # Measurement.outcome with the remedy's patch_all() arguments
    max_gap_ms: float = 0.0
    ratio: float = 0.0
    error: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {"patch": self.patch, "probe": self.probe, "outcome": self.outcome,
                "max_gap_ms": round(self.max_gap_ms, 1), "ratio": round(self.ratio, 2),
                "error": self.error}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> CostProbe:
        return cls(patch=data["patch"], probe=data["probe"], outcome=data["outcome"],
                   max_gap_ms=float(data.get("max_gap_ms", 0.0)),
                   ratio=float(data.get("ratio", 0.0)), error=data.get("error"))


@dataclass(frozen=True)
class BisectResult:
    """Which ``patch_all()`` arguments make one failing check fail, and the remedy measured."""

    check: str  # "import-after" or "probe:<name>": the check that was re-run
    before: str  # its outcome under the configured patch_all(): "breaks" | "blocks"
    candidates: tuple[str, ...]  # boolean patch_all() arguments that were on (the ddmin set)
    culprits: tuple[str, ...]  # the 1-minimal set to turn off; () when none helps
    verified: str | None  # the check's outcome re-run with the culprits off
    runs: int  # child processes run for the search (the verification and costs excluded)
    max_runs: int
    budget_exhausted: bool  # culprits are sufficient but may not be minimal
    duration_s: float = 0.0
    cost: tuple[CostProbe, ...] = ()
    unmeasured: tuple[str, ...] = ()  # culprits no stdlib probe measures
    #: modifiers (e.g. ``aggressive``) that, turned off alone, also remedy it (a narrower
    #: change than turning off the patch they modify)
    alternatives: tuple[str, ...] = ()

    @property
    def remedy_args(self) -> dict[str, bool]:
        return {name: False for name in self.culprits}

    @property
    def remedied(self) -> bool:
        return (self.verified is not None and bool(self.culprits)
                and outcome_rank(self.verified) < outcome_rank(self.before))

    def remedy_call(self) -> str:
        return "patch_all(" + ", ".join(f"{n}=False" for n in self.culprits) + ")"

    def summary(self) -> str:
        """One line, e.g. ``breaks under patch_all() → imports with patch_all(thread=False)``."""
        if not self.culprits:
            why = ("the run budget ran out" if self.budget_exhausted else
                   "it fails even with every patch off" if self.runs else "nothing to turn off")
            return f"{self.before} under patch_all(); no patch_all() argument is to blame: {why}"
        line = f"{self.before} under patch_all() → {self.verified} with {self.remedy_call()}"
        if not self.remedied:
            line += " (not confirmed on the re-run)"
        costly = [c.probe for c in self.cost if c.outcome != "cooperates"]
        if costly:
            line += ("; then " + ", ".join(costly)
                     + (" blocks" if len(costly) == 1 else " block") + " the hub")
        elif self.cost:
            line += "; the stdlib probes of those patches still cooperate"
        if self.unmeasured:
            line += "; no stdlib probe measures " + ", ".join(self.unmeasured)
        for alt in self.alternatives:
            line += f"; patch_all({alt}=False) alone also works"
        if self.budget_exhausted:
            line += f" (budget of {self.max_runs} runs ran out: may not be minimal)"
        return line

    def to_json(self) -> dict[str, Any]:
        return {
            "check": self.check, "before": self.before, "candidates": list(self.candidates),
            "culprits": list(self.culprits), "remedy": self.remedy_args,
            "verified": self.verified, "runs": self.runs, "max_runs": self.max_runs,
            "budget_exhausted": self.budget_exhausted, "duration_s": round(self.duration_s, 2),
            "cost": [c.to_json() for c in self.cost], "unmeasured": list(self.unmeasured),
            "alternatives": list(self.alternatives), "summary": self.summary(),
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> BisectResult:
        return cls(
            check=data["check"], before=data["before"],
            candidates=tuple(data.get("candidates") or ()),
            culprits=tuple(data.get("culprits") or ()), verified=data.get("verified"),
            runs=int(data.get("runs", 0)), max_runs=int(data.get("max_runs", 0)),
            budget_exhausted=bool(data.get("budget_exhausted", False)),
            duration_s=float(data.get("duration_s", 0.0)),
            cost=tuple(CostProbe.from_json(c) for c in data.get("cost") or ()),
            unmeasured=tuple(data.get("unmeasured") or ()),
            alternatives=tuple(data.get("alternatives") or ()))
