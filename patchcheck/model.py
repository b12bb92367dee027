"""The result data model shared by every layer of the tool process.

Pure data: no I/O, no gevent. Results are frozen dataclasses; ``to_json()`` gives the
documented JSON shape (see README "JSON report") and ``from_json()`` reads it back (the cache
and baselines use it).
"""
from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from patchcheck.bisect.result import BisectResult

from patchcheck.verdicts.evidence import (
    BEFORE_PATCH_SUFFIX,
    Evidence,
    ImportOrder,
    NoEvidence,
    evidence_from_json,
)

#: Version of the JSON report document (``patchcheck scan --format json``).
REPORT_SCHEMA = "patchcheck.report/1"

#: The reserved target name of the Python standard library (README "The standard library
#: row"); its probes are named ``stdlib.<module>[.<case>]``.
STDLIB = "stdlib"


def stdlib_module(probe: str) -> str:
    """The module a standard-library probe exercises, from its name: ``stdlib.os.read`` →
    ``os`` (a probe named otherwise is its own group)."""
    prefix = STDLIB + "."
    return probe[len(prefix):].split(".", 1)[0] if probe.startswith(prefix) else probe


class Severity(enum.IntEnum):
    """How bad one finding is; a distribution's verdict is the worst of its findings
    (``verdicts.fold.SEVERITY_VERDICT`` says which verdict each leads to; README "Verdicts").

    Unmeasured risks are triaged (issue #10.3): ``ORDER_ONLY`` matters only if the app imports
    the library before ``patch_all()``; ``SUSPECT`` probably blocks the hub (the library's own
    C code does network I/O); ``WARNING`` is every other unmeasured risk. Only the labels are
    stored (JSON), never the numbers, so members may be inserted.
    """

    INFO = 0
    ORDER_ONLY = 1
    WARNING = 2
    SUSPECT = 3
    BLOCKS = 4
    BREAKS = 5

    @property
    def label(self) -> str:
        return _SEVERITY_LABEL[self]

    @classmethod
    def parse(cls, text: str) -> Severity:
        for member in cls:
            if member.label == text:
                return member
        raise ValueError(text)


class Verdict(str, enum.Enum):
    """One verdict per distribution (docs/architecture.md, "The data model")."""

    COOPERATES = "cooperates"
    UNTESTED = "untested"
    SKIPPED = "skipped"
    NOT_INSTALLED = "not-installed"
    #: only if imported before patch_all(): stale references, gevent's ssl warning, a probe
    #: that blocks or breaks only in that order
    ORDER_SENSITIVE = "order-sensitive"
    WARNS = "warns"  # another unmeasured risk (native threads, leftover processes, …)
    #: probably blocks the hub: its own extension does socket I/O or links a network client
    #: library, and no probe measured it
    SUSPECT = "suspect"
    BLOCKS = "blocks"
    BREAKS = "breaks"

    @property
    def rank(self) -> int:
        """Ordering used by ``--fail-on``: higher is worse."""
        return _VERDICT_RANK[self]

    def __str__(self) -> str:  # pragma: no cover - convenience for f-strings
        return self.value


_VERDICT_RANK = {
    Verdict.COOPERATES: 0,
    Verdict.UNTESTED: 1,
    Verdict.SKIPPED: 1,
    Verdict.NOT_INSTALLED: 1,
    Verdict.ORDER_SENSITIVE: 2,
    Verdict.WARNS: 3,
    Verdict.SUSPECT: 4,
    Verdict.BLOCKS: 5,
    Verdict.BREAKS: 6,
}

_SEVERITY_LABEL = {
    Severity.INFO: "info",
    Severity.ORDER_ONLY: "order-only",
    Severity.WARNING: "warning",
    Severity.SUSPECT: "suspect",
    Severity.BLOCKS: "blocks",
    Severity.BREAKS: "breaks",
}

#: ``--fail-on`` levels, mapped to the lowest verdict rank that fails.
FAIL_ON_LEVELS: Mapping[str, int] = {
    "untested": _VERDICT_RANK[Verdict.UNTESTED],
    "order-sensitive": _VERDICT_RANK[Verdict.ORDER_SENSITIVE],
    "warns": _VERDICT_RANK[Verdict.WARNS],
    "suspect": _VERDICT_RANK[Verdict.SUSPECT],
    "blocks": _VERDICT_RANK[Verdict.BLOCKS],
    "breaks": _VERDICT_RANK[Verdict.BREAKS],
    "never": 99,
}


@dataclass(frozen=True)
class Requirement:
    """One requirement as written by the user, with where it came from."""

    name: str  # the project name as written (not normalised)
    specifier: str = ""  # e.g. ">=2.0,<3"
    extras: tuple[str, ...] = ()
    marker: str | None = None  # environment marker text, evaluated for the target
    url: str | None = None  # for "name @ url" / "-e url#egg=name"
    origin: str = "<command line>"  # "path/to/requirements.txt:12"
    line: str = ""  # the logical line as written

    @property
    def key(self) -> str:
        """The PEP 503 normalised name."""
        return normalize_name(self.name)


def normalize_name(name: str) -> str:
    import re

    return re.sub(r"[-_.]+", "-", name).lower()


@dataclass(frozen=True)
class Finding:
    """One thing a check observed, with a stable code, evidence and (where known) a fix."""

    code: str  # stable, e.g. "PC120"; see patchcheck.verdicts.codes
    severity: Severity
    check: str  # "import-after", "import-before", "stale-refs", "threads", "native", "probe:<name>"
    summary: str  # one line, human readable
    # The code's evidence type (``patchcheck.verdicts.evidence.EVIDENCE_TYPES``); a mapping
    # (a plugin, older code) is read as that type's JSON.
    evidence: Evidence = field(default_factory=NoEvidence)
    hint: str | None = None
    waived: str | None = None  # the waiver's reason when a waiver applies

    def __post_init__(self) -> None:
        if not isinstance(self.evidence, Evidence):
            object.__setattr__(self, "evidence", evidence_from_json(self.code, self.evidence))

    def to_json(self) -> dict[str, Any]:
        return {
            "code": self.code,
            "severity": self.severity.label,
            "check": self.check,
            "summary": self.summary,
            "evidence": self.evidence.to_json(),
            "hint": self.hint,
            "waived": self.waived,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Finding:
        return cls(
            code=data["code"],
            severity=Severity.parse(data["severity"]),
            check=data["check"],
            summary=data["summary"],
            evidence=evidence_from_json(data["code"], data.get("evidence")),
            hint=data.get("hint"),
            waived=data.get("waived"),
        )


class Outcome(str, enum.Enum):
    """What one probe run measured. Str-valued: the value is the JSON ``outcome``.

    The one place that says how bad a measurement is (``severity``) and which distribution
    verdict it implies on its own (``verdict``); fold, policy, knowledge, the pytest plugin and
    the reporters ask it, never the text.
    """

    COOPERATES = "cooperates"  # the hub kept running while the call waited
    BLOCKS = "blocks"  # the hub stalled while the call waited on I/O
    CPU_BOUND = "cpu-bound"  # the hub stalled while the call burned CPU
    BREAKS = "breaks"  # the call raised, crashed or hung (``Measurement.hung``)
    SKIPPED = "skipped"  # not measured: a service it needs is unavailable
    # Nothing about the library was measured: the call did not wait on the peer (per-call time
    # far below the intended wait), or the probe's own code failed (its file, its factory).
    # A probe problem: never a pass, never the library's ``breaks``.
    INCONCLUSIVE = "inconclusive"
    # A remedy that could not be tried: its own module is not installed in the target
    # (``Measurement.not_installed`` names it). Never a verdict on the library (issue #15).
    NOT_TRIED = "not-tried"

    @property
    def severity(self) -> Severity:
        return _OUTCOME_SEVERITY[self]

    @property
    def verdict(self) -> Verdict:
        """The verdict this measurement implies when nothing else is known."""
        return _OUTCOME_VERDICT[self]

    @property
    def passed(self) -> bool:
        return self is Outcome.COOPERATES

    @property
    def failed(self) -> bool:
        """Blocked, CPU-bound or broke: what a remedy is tried for."""
        return self in (Outcome.BLOCKS, Outcome.CPU_BOUND, Outcome.BREAKS)

    @property
    def stalled(self) -> bool:
        """The hub stalled (blocks or CPU-bound): the monitor's stack says where."""
        return self in (Outcome.BLOCKS, Outcome.CPU_BOUND)

    @property
    def skipped(self) -> bool:
        """Not measured: a service was missing, or a remedy's package is not installed."""
        return self in (Outcome.SKIPPED, Outcome.NOT_TRIED)

    @property
    def inconclusive(self) -> bool:
        """A probe problem (``Measurement.phase`` says where): fix the probe, not the library."""
        return self is Outcome.INCONCLUSIVE

    @classmethod
    def parse(cls, text: str) -> Outcome:
        # "order-blocks" (reports before ProbeOutcome.order: an import-before measurement that
        # blocked while the patch-first one cooperated) is BLOCKS with ImportOrder.BEFORE_PATCH.
        return cls.BLOCKS if text == "order-blocks" else cls(text)

    def __str__(self) -> str:
        return self.value


_OUTCOME_SEVERITY = {
    Outcome.COOPERATES: Severity.INFO,
    Outcome.SKIPPED: Severity.INFO,
    Outcome.NOT_TRIED: Severity.INFO,
    Outcome.BLOCKS: Severity.BLOCKS,
    Outcome.CPU_BOUND: Severity.BLOCKS,
    Outcome.BREAKS: Severity.BREAKS,
    Outcome.INCONCLUSIVE: Severity.WARNING,
}
_OUTCOME_VERDICT = {
    Outcome.COOPERATES: Verdict.COOPERATES,
    Outcome.SKIPPED: Verdict.SKIPPED,
    Outcome.NOT_TRIED: Verdict.SKIPPED,
    Outcome.BLOCKS: Verdict.BLOCKS,
    Outcome.CPU_BOUND: Verdict.BLOCKS,
    Outcome.BREAKS: Verdict.BREAKS,
    Outcome.INCONCLUSIVE: Verdict.WARNS,
}


class Phase(str, enum.Enum):
    """Where in a probe run a measurement ended early (a hang, an error, a probe problem)."""

    LOAD = "load"  # importing the probe file or finding its factory
    REMEDY = "remedy"  # applying the remedy
    FACTORY = "factory"  # the probe's factory (setup: connect, login …)
    CALL = "call"  # the measured call


@dataclass(frozen=True)
class Measurement:
    """What the hub meter measured for one probe run (all times in milliseconds)."""

    outcome: Outcome
    wait_ms: float = 0.0  # how long each call was meant to wait (S)
    concurrency: int = 0  # K
    elapsed_ms: float = 0.0  # wall time for K concurrent calls
    ratio: float = 0.0  # elapsed / T (T: median time of one call): ~1 cooperating, ~K blocking
    max_gap_ms: float = 0.0  # largest heartbeat gap
    cpu_ms: float = 0.0  # CPU time of the process during the calls
    stack: tuple[str, ...] = ()  # blocking stack from gevent's monitor thread
    error: str | None = None  # exception text for "breaks"
    remedy: str | None = None  # the remedy applied for this run, if any
    # The call never returned (set where it was seen: the meter's join timeout, or the child
    # killed on its wall-clock timeout). Always with outcome BREAKS.
    hung: bool = False
    # Where the run ended early (hung, raised, or a probe problem); None for a full run.
    phase: Phase | None = None
    # The heartbeat over the measured window: (t_ms since the calls were released, the gap
    # that ended at t_ms), at most ~200 points, the largest gap of each time slice kept.
    heartbeat: tuple[tuple[float, float], ...] = ()
    # NOT_TRIED: the remedy's module that is missing, and how to install it.
    not_installed: str | None = None
    install: str | None = None
    # The exact lines an application adds to apply this remedy, when the harness computed
    # them for this machine's layout (greenify: the library's path pattern).
    remedy_lines: tuple[str, ...] = ()
    # The hub thread's run-queue wait during the calls (waiting for a CPU; Linux schedstat),
    # None where unknown. ``starved``: a blocks/cpu-bound run whose stall was mostly that
    # wait, not the library (harness/pc_meter.py); ``measured_alone``: the runner measured it
    # again with no other check running, and this is that second measurement.
    # ``max_gap_unstarved_ms``: the largest gap less the run-queue wait inside it (the stall
    # the hub thread caused while it had a CPU), None where unknown.
    run_queue_ms: float | None = None
    max_gap_unstarved_ms: float | None = None
    starved: bool = False
    measured_alone: bool = False

    def __post_init__(self) -> None:
        if not isinstance(self.outcome, Outcome):  # a plugin or test passing the JSON text
            object.__setattr__(self, "outcome", Outcome.parse(str(self.outcome)))
        if self.phase is not None and not isinstance(self.phase, Phase):
            object.__setattr__(self, "phase", Phase(str(self.phase)))

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "outcome": self.outcome.value,
            "hung": self.hung,
            "wait_ms": round(self.wait_ms, 1),
            "concurrency": self.concurrency,
            "elapsed_ms": round(self.elapsed_ms, 1),
            "ratio": round(self.ratio, 2),
            "max_gap_ms": round(self.max_gap_ms, 1),
            "cpu_ms": round(self.cpu_ms, 1),
            "stack": list(self.stack),
            "error": self.error,
            "remedy": self.remedy,
            "phase": None if self.phase is None else self.phase.value,
            "not_installed": self.not_installed,
            "install": self.install,
            "remedy_lines": list(self.remedy_lines),
            "run_queue_ms": None if self.run_queue_ms is None else round(self.run_queue_ms, 1),
            "max_gap_unstarved_ms": None if self.max_gap_unstarved_ms is None
            else round(self.max_gap_unstarved_ms, 1),
            "starved": self.starved,
            "measured_alone": self.measured_alone,
        }
        if self.heartbeat:  # left out when empty: cached results from before it still load
            data["heartbeat"] = [[round(float(t), 1), round(float(gap), 1)]
                                 for t, gap in self.heartbeat]
        return data

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Measurement:
        phase = data.get("phase")
        return cls(
            outcome=Outcome.parse(data["outcome"]),
            hung=bool(data.get("hung", False)),
            phase=Phase(phase) if phase else None,
            wait_ms=float(data.get("wait_ms", 0.0)),
            concurrency=int(data.get("concurrency", 0)),
            elapsed_ms=float(data.get("elapsed_ms", 0.0)),
            ratio=float(data.get("ratio", 0.0)),
            max_gap_ms=float(data.get("max_gap_ms", 0.0)),
            cpu_ms=float(data.get("cpu_ms", 0.0)),
            stack=tuple(data.get("stack") or ()),
            error=data.get("error"),
            remedy=data.get("remedy"),
            heartbeat=tuple((float(t), float(gap)) for t, gap in data.get("heartbeat") or ()),
            not_installed=data.get("not_installed"),
            install=data.get("install"),
            remedy_lines=tuple(data.get("remedy_lines") or ()),
            run_queue_ms=None if data.get("run_queue_ms") is None
            else float(data["run_queue_ms"]),
            max_gap_unstarved_ms=None if data.get("max_gap_unstarved_ms") is None
            else float(data["max_gap_unstarved_ms"]),
            starved=bool(data.get("starved", False)),
            measured_alone=bool(data.get("measured_alone", False)),
        )


@dataclass(frozen=True)
class ProbeOutcome:
    """A probe's measured result, plain and with each remedy applied."""

    probe: str  # probe name, e.g. "redis.blpop"
    origin: str  # where the probe came from: "builtin", "entry point <x>", a path
    plain: Measurement
    remedies: tuple[Measurement, ...] = ()
    # The import order this was measured in. A probe declared ``import_order="both"`` has two
    # outcomes of the same name: AFTER_PATCH (the right order) and BEFORE_PATCH (the app's
    # mistake, reported as PC206 when only it blocks).
    order: ImportOrder = ImportOrder.AFTER_PATCH
    #: a control's known answer (``pc_protocol.json``): what the meter must measure; None for
    #: a library's probe
    expected: Outcome | None = None

    @property
    def as_expected(self) -> bool:
        """A control measured its known answer (or could not run: a missing fixture is
        ``doctor``'s to report, not an unreliable meter). True for a library's probe."""
        if self.expected is None or self.plain.outcome.skipped:
            return True
        return self.plain.outcome is self.expected

    @property
    def label(self) -> str:
        """The name shown to people and used in a finding's ``check`` (``probe:<label>``)."""
        return self.probe + (BEFORE_PATCH_SUFFIX if self.order is ImportOrder.BEFORE_PATCH else "")

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "probe": self.probe,
            "order": self.order.value,
            "origin": self.origin,
            "plain": self.plain.to_json(),
            "remedies": [m.to_json() for m in self.remedies],
        }
        if self.expected is not None:
            data["expected"] = self.expected.value
        return data

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> ProbeOutcome:
        name = data["probe"]
        order = ImportOrder(data.get("order", ImportOrder.AFTER_PATCH.value))
        if "order" not in data and name.endswith(BEFORE_PATCH_SUFFIX):  # written before "order"
            name, order = name[: -len(BEFORE_PATCH_SUFFIX)], ImportOrder.BEFORE_PATCH
        return cls(
            probe=name,
            order=order,
            origin=data.get("origin", ""),
            plain=Measurement.from_json(data["plain"]),
            remedies=tuple(Measurement.from_json(m) for m in data.get("remedies") or ()),
            expected=Outcome(data["expected"]) if data.get("expected") else None,
        )


@dataclass(frozen=True)
class DistributionResult:
    """Everything patchcheck concluded about one distribution."""

    name: str  # canonical distribution name as installed (or as required, if missing)
    verdict: Verdict
    version: str | None = None
    requirement: str | None = None  # the requirement line as written
    origin: str | None = None  # "requirements.txt:3"
    modules: tuple[str, ...] = ()  # top-level import names that were checked
    findings: tuple[Finding, ...] = ()
    probes: tuple[ProbeOutcome, ...] = ()
    known: tuple[Mapping[str, Any], ...] = ()  # knowledge entries that matched (remedies)
    bisect: BisectResult | None = None  # which patch_all() arguments are to blame (--bisect)
    #: Reported but not asked for (the standard library in a scan of other requirements):
    #: never fails the run (``--fail-on``, baselines).
    implicit: bool = False

    @property
    def key(self) -> str:
        return normalize_name(self.name)

    def probe_outcome(self, probe: str, order: ImportOrder) -> ProbeOutcome | None:
        """The measurement a probe finding's ``ProbeRef`` points at."""
        return next((p for p in self.probes if p.probe == probe and p.order is order), None)

    def with_verdict(self, verdict: Verdict) -> DistributionResult:
        return replace(self, verdict=verdict)

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "version": self.version,
            "verdict": self.verdict.value,
            "requirement": self.requirement,
            "origin": self.origin,
            "modules": list(self.modules),
            "findings": [f.to_json() for f in self.findings],
            "probes": [p.to_json() for p in self.probes],
            "known": [dict(k) for k in self.known],
            **({"bisect": self.bisect.to_json()} if self.bisect is not None else {}),
            # only when set: reports of every other row keep their shape
            **({"implicit": True} if self.implicit else {}),
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> DistributionResult:
        return cls(
            name=data["name"],
            version=data.get("version"),
            verdict=Verdict(data["verdict"]),
            requirement=data.get("requirement"),
            origin=data.get("origin"),
            modules=tuple(data.get("modules") or ()),
            findings=tuple(Finding.from_json(f) for f in data.get("findings") or ()),
            probes=tuple(ProbeOutcome.from_json(p) for p in data.get("probes") or ()),
            known=tuple(dict(k) for k in data.get("known") or ()),
            bisect=_bisect_from_json(data.get("bisect")),
            implicit=bool(data.get("implicit", False)),
        )


def _bisect_from_json(data: Mapping[str, Any] | None) -> BisectResult | None:
    if not data:
        return None
    from patchcheck.bisect.result import BisectResult

    return BisectResult.from_json(data)


@dataclass(frozen=True)
class Environment:
    """Which interpreter, gevent and greenlet a verdict was measured on."""

    python: str  # path of the target interpreter
    python_version: str
    implementation: str
    platform: str
    gevent_version: str | None
    greenlet_version: str | None
    patch_args: Mapping[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "python": self.python,
            "python_version": self.python_version,
            "implementation": self.implementation,
            "platform": self.platform,
            "gevent_version": self.gevent_version,
            "greenlet_version": self.greenlet_version,
            "patch_args": dict(self.patch_args),
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Environment:
        return cls(
            python=data["python"],
            python_version=data["python_version"],
            implementation=data.get("implementation", ""),
            platform=data.get("platform", ""),
            gevent_version=data.get("gevent_version"),
            greenlet_version=data.get("greenlet_version"),
            patch_args=dict(data.get("patch_args") or {}),
        )


@dataclass(frozen=True)
class Pin:
    """A requirement line of the scan, as written, and where."""

    requirement: str  # "greenlet==2.0.2"
    origin: str  # "requirements.txt:2"

    def to_json(self) -> dict[str, Any]:
        return {"requirement": self.requirement, "origin": self.origin}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Pin:
        return cls(requirement=str(data.get("requirement", "")), origin=str(data.get("origin", "")))


@dataclass(frozen=True)
class Conflict:
    """Requirements that cannot be installed together (issue #15.2): ``distribution``
    ``version`` requires ``requires``, and the environment has ``required`` at ``installed``
    (None: not at all). ``pins`` are the scan's own requirement lines on either side.

    Read from the installed distributions' metadata (Requires-Dist, evaluated for the target
    interpreter), not from the installer's message; when the metadata shows none although the
    installer refused them together, ``distribution`` is empty and only ``installer`` speaks.
    """

    distribution: str  # "gevent"
    version: str | None  # "23.9.1"
    requires: str  # "greenlet>=3.0rc3" (its Requires-Dist line, marker left out)
    required: str  # "greenlet"
    installed: str | None  # "2.0.2"
    pins: tuple[Pin, ...] = ()
    installer: str = ""  # tail of the installer's message for all-together, as evidence

    @property
    def text(self) -> str:
        """One line for people."""
        if not self.distribution:
            return "the requirements cannot be installed together (the installer refused them)"
        have = (f"{self.required} {self.installed} is installed" if self.installed
                else f"{self.required} is not installed")
        pins = "; ".join(f"{p.requirement} ({p.origin})" for p in self.pins)
        return (f"{self.distribution} {self.version or '?'} requires {self.requires}, but "
                f"{have}" + (f" — pinned: {pins}" if pins else ""))

    def to_json(self) -> dict[str, Any]:
        return {"distribution": self.distribution, "version": self.version,
                "requires": self.requires, "required": self.required,
                "installed": self.installed, "pins": [p.to_json() for p in self.pins],
                "installer": self.installer}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Conflict:
        return cls(distribution=str(data.get("distribution", "")), version=data.get("version"),
                   requires=str(data.get("requires", "")), required=str(data.get("required", "")),
                   installed=data.get("installed"),
                   pins=tuple(Pin.from_json(p) for p in data.get("pins") or ()),
                   installer=str(data.get("installer", "")))


@dataclass(frozen=True)
class MarkerSkip:
    """A requirement not scanned because its environment marker is false for the target."""

    name: str
    marker: str
    origin: str  # "requirements.txt:12"

    @classmethod
    def of(cls, req: Requirement) -> MarkerSkip:
        return cls(name=req.name, marker=req.marker or "", origin=req.origin)

    @property
    def text(self) -> str:
        """``requirements.txt:3: pywin32 skipped: marker 'sys_platform == "win32"' is false…``"""
        return (f"{self.origin}: {self.name} skipped: marker {self.marker!r} is false for the "
                "target interpreter")

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "marker": self.marker, "origin": self.origin}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> MarkerSkip:
        return cls(name=str(data.get("name", "")), marker=str(data.get("marker", "")),
                   origin=str(data.get("origin", "")))


def marker_skip_summary(skipped: tuple[MarkerSkip, ...] | list[MarkerSkip]) -> str:
    """The one line a scan says about them (``-v`` lists each: ``MarkerSkip.text``)."""
    n = len(skipped)
    if n == 1:
        return (f"1 requirement skipped: its environment marker is false for the target "
                f"interpreter ({skipped[0].name}; -v says where)")
    return (f"{n} requirements skipped: their environment markers are false for the target "
            "interpreter (-v lists them)")


@dataclass(frozen=True)
class ScanReport:
    """The whole result of one scan: what reporters render and the exit code is computed from."""

    environment: Environment
    results: tuple[DistributionResult, ...]
    controls: tuple[ProbeOutcome, ...] = ()
    duration_s: float = 0.0
    problems: tuple[str, ...] = ()  # patchcheck's own failures (exit 3), never library verdicts
    notes: tuple[str, ...] = ()  # things the user should know (skipped markers, ignored options)
    #: requirements that cannot be installed together (exit 4): the environment measured is
    #: not one the project can deploy
    conflicts: tuple[Conflict, ...] = ()
    #: requirements whose environment marker is false for the target: not scanned
    marker_skipped: tuple[MarkerSkip, ...] = ()

    def to_json(self) -> dict[str, Any]:
        counts: dict[str, int] = {}
        for r in self.results:
            counts[r.verdict.value] = counts.get(r.verdict.value, 0) + 1
        return {
            "schema": REPORT_SCHEMA,
            "environment": self.environment.to_json(),
            "summary": counts,
            "duration_s": round(self.duration_s, 3),
            "results": [r.to_json() for r in self.results],
            "controls": [c.to_json() for c in self.controls],
            "problems": list(self.problems),
            "notes": list(self.notes),
            "conflicts": [c.to_json() for c in self.conflicts],
            "marker_skipped": [m.to_json() for m in self.marker_skipped],
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> ScanReport:
        if data.get("schema") != REPORT_SCHEMA:
            raise ValueError(f"unsupported report schema {data.get('schema')!r}")
        return cls(
            environment=Environment.from_json(data["environment"]),
            results=tuple(DistributionResult.from_json(r) for r in data["results"]),
            controls=tuple(ProbeOutcome.from_json(c) for c in data.get("controls") or ()),
            duration_s=float(data.get("duration_s", 0.0)),
            problems=tuple(data.get("problems") or ()),
            notes=tuple(data.get("notes") or ()),
            conflicts=tuple(Conflict.from_json(c) for c in data.get("conflicts") or ()),
            marker_skipped=tuple(MarkerSkip.from_json(m)
                                 for m in data.get("marker_skipped") or ()),
        )


# -- what the target interpreter has (reported by its ``info`` and ``plugins`` tasks) ---------

@dataclass(frozen=True)
class InstalledDistribution:
    """One distribution as installed in the target interpreter."""

    requested: str  # the name it was asked for by
    name: str  # as its metadata spells it
    version: str | None
    import_names: tuple[str, ...]
    native_files: tuple[str, ...]
    files_digest: str = ""  # of its RECORD: a reinstall changes the cache key
    requires: tuple[str, ...] = ()  # its Requires-Dist lines
    error: str | None = None  # why its metadata could not be read in full
    requires_python: str = ""  # its Requires-Python
    #: the "Programming Language :: Python :: 3.X" versions its classifiers list
    python_classifiers: tuple[str, ...] = ()

    @property
    def key(self) -> str:
        return normalize_name(self.name)


@dataclass(frozen=True)
class TargetInfo:
    """The target interpreter and the distributions asked about."""

    environment: Environment
    markers: Mapping[str, str]  # its PEP 508 marker environment
    installed: Mapping[str, InstalledDistribution]  # by normalised requested name
    missing: tuple[str, ...] = ()
    all_names: tuple[str, ...] = field(default_factory=tuple)  # with all_installed
    #: digest of its gevent plugins and their distributions ("" unknown): the cached plugin
    #: inventory's key
    plugins_fingerprint: str = ""


#: gevent registers entry points for itself: part of patching, not a third party's code.
_GEVENT = "gevent"


@dataclass(frozen=True)
class GeventPlugin:
    """One ``gevent.plugins.*`` entry point and whether it loads in the target interpreter."""

    group: str  # "gevent.plugins.monkey.did_patch_all"
    name: str  # the entry point's name
    value: str  # "module:attr"
    distribution: str  # the distribution that provides it, as installed
    version: str | None = None
    loaded: bool | None = None  # None: not checked
    error: str | None = None  # "ImportError: ..." when it did not load
    traceback: str | None = None  # tail of the traceback, when there is one

    @property
    def key(self) -> str:
        """The providing distribution's normalised name."""
        return normalize_name(self.distribution)

    @property
    def event(self) -> str:
        """The short event name: ``did_patch_all``, ``periodic_monitor_thread_started``…"""
        return self.group.rsplit(".", 1)[-1]

    @property
    def is_gevents_own(self) -> bool:
        return self.key == _GEVENT

    def to_json(self) -> dict[str, Any]:
        return {
            "group": self.group, "name": self.name, "value": self.value,
            "distribution": self.distribution, "version": self.version,
            "loaded": self.loaded, "error": self.error, "traceback": self.traceback,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> GeventPlugin:
        return cls(
            group=str(data["group"]), name=str(data["name"]), value=str(data["value"]),
            distribution=str(data.get("distribution") or ""), version=data.get("version"),
            loaded=data.get("loaded"), error=data.get("error"), traceback=data.get("traceback"),
        )
