"""What each finding code's evidence holds: one frozen type per code (``EVIDENCE_TYPES``).

``Finding.evidence`` is one of these; ``to_json()`` gives the shape documented in README
"JSON report" and in ``reporters/report.schema.json`` (``$defs``, one per type), and
``evidence_from_json(code, data)`` reads it back. Reporters read the fields, never guessed keys.

Measurements are not copied into evidence: a probe finding (PC200–PC207, PC209) holds a
``ProbeRef`` (probe name and import order) to the ``ProbeOutcome`` on its
``DistributionResult``.

A leaf module (standard library only): ``patchcheck.model`` imports it.
"""
from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar


class ImportOrder(str, enum.Enum):
    """The import order a probe measurement was taken in (``ProbeOutcome.order``)."""

    AFTER_PATCH = "after-patch"  # patch_all(), then import the library: the right order
    BEFORE_PATCH = "before-patch"  # import the library, then patch_all(): the app's mistake

    def __str__(self) -> str:
        return self.value


#: What a BEFORE_PATCH measurement's label adds to the probe name (and what reports before the
#: ``order`` field appended to it).
BEFORE_PATCH_SUFFIX = " (imported before patch_all)"


def _compact(data: Mapping[str, Any]) -> dict[str, Any]:
    """Drop unset optional keys, so the JSON says only what was observed."""
    return {k: v for k, v in data.items() if v is not None and v != "" and v != [] and v != {}}


class Evidence:
    """Base of every evidence type."""

    kind: ClassVar[str] = ""

    def to_json(self) -> dict[str, Any]:
        raise NotImplementedError

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Evidence:
        raise NotImplementedError


@dataclass(frozen=True)
class NoEvidence(Evidence):
    """PC000, PC300: the summary and hint say it all."""

    kind: ClassVar[str] = "none"

    def to_json(self) -> dict[str, Any]:
        return {}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> NoEvidence:
        return cls()


@dataclass(frozen=True)
class UnknownEvidence(Evidence):
    """Evidence of a code this version does not know (a report from a newer patchcheck)."""

    kind: ClassVar[str] = "unknown"
    data: Mapping[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return dict(self.data)

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> UnknownEvidence:
        return cls(dict(data))


@dataclass(frozen=True)
class VersionMismatch(Evidence):
    """PC001."""

    kind: ClassVar[str] = "version-mismatch"
    installed: str
    required: str

    def to_json(self) -> dict[str, Any]:
        return {"installed": self.installed, "required": self.required}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> VersionMismatch:
        return cls(installed=str(data["installed"]), required=str(data["required"]))


@dataclass(frozen=True)
class InstallFailed(Evidence):
    """PC002: the installer's output (its last 4000 characters)."""

    kind: ClassVar[str] = "install-failed"
    installer: str

    def to_json(self) -> dict[str, Any]:
        return {"installer": self.installer}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> InstallFailed:
        return cls(installer=str(data.get("installer", "")))


@dataclass(frozen=True)
class Instrument(Evidence):
    """PC003: for gevent, what the controls measured when this scan ran them."""

    kind: ClassVar[str] = "instrument"
    controls: Mapping[str, str] = field(default_factory=dict)  # control probe -> outcome
    controls_ok: bool | None = None

    def to_json(self) -> dict[str, Any]:
        if not self.controls:
            return {}
        return {"controls": dict(self.controls), "controls_ok": self.controls_ok}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Instrument:
        return cls(controls=dict(data.get("controls") or {}), controls_ok=data.get("controls_ok"))


@dataclass(frozen=True)
class InstrumentIncompatible(Evidence):
    """PC004: what gevent requires (``requires``: a Requires-Dist line evaluated for the target,
    or its Requires-Python) and what the scan has (``have``: a greenlet version, a Python
    version; ``None``: not installed). ``source`` says whether ``have`` was installed or is the
    scan's own pin (``pin``, then ``pinned`` is the line and its origin)."""

    kind: ClassVar[str] = "instrument-incompatible"
    distribution: str  # "gevent"
    version: str | None  # the gevent version whose metadata says so
    requirement: str  # "greenlet" or "python"
    requires: str  # "greenlet>=3.0rc3", "python>=3.9", "python 3.8–3.12 (classifiers)"
    have: str | None  # "2.0.2", "3.13.1"
    source: str = "installed"  # "installed" or "pin"
    pinned: str = ""  # "greenlet==2.0.2 (requirements.txt:2)" when source is "pin"

    def to_json(self) -> dict[str, Any]:
        return {"distribution": self.distribution, "version": self.version,
                "requirement": self.requirement, "requires": self.requires, "have": self.have,
                "source": self.source, **_compact({"pinned": self.pinned})}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> InstrumentIncompatible:
        return cls(distribution=str(data["distribution"]), version=data.get("version"),
                   requirement=str(data["requirement"]), requires=str(data["requires"]),
                   have=data.get("have"), source=str(data.get("source", "installed")),
                   pinned=str(data.get("pinned") or ""))


@dataclass(frozen=True)
class InstrumentKnownBug(Evidence):
    """PC005: a known bug of the gevent version checked (the scan's ``==`` pin when it has
    one, so a pin is judged without installing it; else the installed version)."""

    kind: ClassVar[str] = "instrument-known-bug"
    id: str  # "CVE-2023-41419", "gevent#1957"
    distribution: str  # "gevent"
    version: str  # the version checked
    source: str  # "pin" or "installed"
    affected: str  # PEP 440 specifier of the affected versions
    fixed_in: str  # the first release with the fix
    links: tuple[str, ...] = ()

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "distribution": self.distribution, "version": self.version,
                "source": self.source, "affected": self.affected, "fixed_in": self.fixed_in,
                "links": list(self.links)}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> InstrumentKnownBug:
        return cls(id=str(data["id"]), distribution=str(data["distribution"]),
                   version=str(data["version"]), source=str(data.get("source", "installed")),
                   affected=str(data.get("affected", "")), fixed_in=str(data.get("fixed_in", "")),
                   links=tuple(str(x) for x in data.get("links") or ()))


@dataclass(frozen=True)
class ChildEnd(Evidence):
    """PC101 (crash), PC102 (hang), PC103 (exit): how a check's child ended without a result."""

    kind: ClassVar[str] = "child-end"
    duration_s: float
    stack: str = ""  # faulthandler dump (first 60 lines)
    stderr: str = ""  # tail
    stdout: str = ""  # tail
    signal: str | None = None  # "SIGSEGV" (PC101)
    end: str | None = None  # how it ended (PC103)

    def to_json(self) -> dict[str, Any]:
        return {"duration_s": self.duration_s, **_compact({
            "stack": self.stack, "stderr": self.stderr, "stdout": self.stdout,
            "signal": self.signal, "end": self.end})}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> ChildEnd:
        return cls(duration_s=float(data.get("duration_s", 0.0)), stack=data.get("stack") or "",
                   stderr=data.get("stderr") or "", stdout=data.get("stdout") or "",
                   signal=data.get("signal"), end=data.get("end"))


@dataclass(frozen=True)
class RaisedException(Evidence):
    """PC105: the exception patch_all() raised."""

    kind: ClassVar[str] = "exception"
    exception: str | None  # dotted type name
    message: str | None = None
    traceback: str = ""  # tail

    def to_json(self) -> dict[str, Any]:
        return {"exception": self.exception, "message": self.message, "traceback": self.traceback}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> RaisedException:
        return cls(exception=data.get("exception"), message=data.get("message"),
                   traceback=data.get("traceback") or "")


@dataclass(frozen=True)
class ImportFailure(Evidence):
    """PC100, PC104: a module's import raised."""

    kind: ClassVar[str] = "import-failure"
    module: str
    exception: str | None = None
    message: str | None = None
    traceback: str = ""

    def to_json(self) -> dict[str, Any]:
        return {"module": self.module, "exception": self.exception, "message": self.message,
                "traceback": self.traceback}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> ImportFailure:
        return cls(module=str(data["module"]), exception=data.get("exception"),
                   message=data.get("message"), traceback=data.get("traceback") or "")


@dataclass(frozen=True)
class OrderSensitive(Evidence):
    """PC121: the module that fails only when imported first, or how the import-before child
    ended (its ``ChildEnd`` keys, flat) while the patch-first import worked."""

    kind: ClassVar[str] = "order-sensitive"
    module: str | None = None
    ended: ChildEnd | None = None

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {} if self.ended is None else self.ended.to_json()
        if self.module is not None:
            data["module"] = self.module
        return data

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> OrderSensitive:
        ended = ChildEnd.from_json(data) if "duration_s" in data else None
        return cls(module=data.get("module"), ended=ended)


@dataclass(frozen=True)
class WarningRecord:
    """One warning as the harness recorded it."""

    category: str  # dotted
    message: str
    filename: str | None = None
    lineno: int | None = None

    @property
    def text(self) -> str:
        return f"{self.category.rsplit('.', 1)[-1]}: {self.message}"

    def to_json(self) -> dict[str, Any]:
        return {"category": self.category, "message": self.message, "filename": self.filename,
                "lineno": self.lineno}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> WarningRecord:
        return cls(category=str(data.get("category") or "Warning"),
                   message=str(data.get("message", "")), filename=data.get("filename"),
                   lineno=data.get("lineno"))


@dataclass(frozen=True)
class Warnings(Evidence):
    """PC110 (gevent's MonkeyPatchWarning, no module), PC111 (an import's warnings)."""

    kind: ClassVar[str] = "warnings"
    warnings: tuple[WarningRecord, ...]
    module: str | None = None

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {} if self.module is None else {"module": self.module}
        data["warnings"] = [w.to_json() for w in self.warnings]
        return data

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Warnings:
        return cls(warnings=tuple(WarningRecord.from_json(w) for w in data.get("warnings") or ()),
                   module=data.get("module"))


@dataclass(frozen=True)
class StaleReference:
    kind: str  # "module" (a module global) or "class" (a class attribute)
    holder: str
    name: str
    original: str  # the unpatched original it still holds

    def to_json(self) -> dict[str, Any]:
        return {"kind": self.kind, "holder": self.holder, "name": self.name,
                "original": self.original}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> StaleReference:
        return cls(kind=str(data.get("kind", "")), holder=str(data.get("holder", "")),
                   name=str(data.get("name", "")), original=str(data.get("original", "")))


@dataclass(frozen=True)
class StaleReferences(Evidence):
    """PC120 (at most 50)."""

    kind: ClassVar[str] = "stale-references"
    references: tuple[StaleReference, ...]

    def to_json(self) -> dict[str, Any]:
        return {"references": [r.to_json() for r in self.references]}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> StaleReferences:
        return cls(tuple(StaleReference.from_json(r) for r in data.get("references") or ()))


@dataclass(frozen=True)
class LeftoverProcesses(Evidence):
    """PC106: what a check left running (the runner killed them)."""

    kind: ClassVar[str] = "leftover-processes"
    processes: tuple[str, ...]  # command lines, at most 20

    def to_json(self) -> dict[str, Any]:
        return {"processes": list(self.processes)}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> LeftoverProcesses:
        return cls(tuple(str(p) for p in data.get("processes") or ()))


@dataclass(frozen=True)
class NativeThreads(Evidence):
    """PC130: OS threads an import started, and who started them.

    ``native_threads`` were started while the distribution's own modules ran;
    ``started_by`` counts those started while a module of *another* distribution was being
    imported for the first time (numpy's OpenBLAS pool when openpyxl imports numpy), by that
    distribution's name (or top-level module name where the child could not tell).
    """

    kind: ClassVar[str] = "native-threads"
    native_threads: int
    python_threads: tuple[str, ...] = ()  # names of the Python-level threads started
    started_by: Mapping[str, int] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {"native_threads": self.native_threads,
                                "python_threads": list(self.python_threads)}
        if self.started_by:
            data["started_by"] = dict(self.started_by)
        return data

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> NativeThreads:
        return cls(native_threads=int(data.get("native_threads", 0)),
                   python_threads=tuple(str(t) for t in data.get("python_threads") or ()),
                   started_by={str(k): int(v) for k, v in (data.get("started_by") or {}).items()})


@dataclass(frozen=True)
class LinkedLibrary:
    soname: str
    name: str  # "libpq"
    embedded: bool = False  # compiled into the file (found by its exported API), not linked

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {"soname": self.soname, "name": self.name}
        if self.embedded:
            data["embedded"] = True
        return data

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> LinkedLibrary:
        return cls(soname=str(data.get("soname", "")), name=str(data.get("name", "")),
                   embedded=bool(data.get("embedded", False)))


class NativeIO(str, enum.Enum):
    """Why a native finding has the severity it has (``NativeCode.io``)."""

    CLIENT_LIBRARY = "client-library"  # links or embeds a network client library: SUSPECT
    OWN_CALLS = "own-calls"  # the extension itself imports socket/DNS/TLS calls: SUSPECT
    # INFO: the extension's network imports are Rust's std::net (built by rustc, no event
    # loop, no client library): every Rust extension imports them (cryptography).
    RUST_STD = "rust-std"
    # INFO: the only network calls are in bundled helper libraries (Kerberos, SASL, FIDO,
    # libxcb …), not in the extension nor in a client library.
    BUNDLED_HELPER = "bundled-helper"

    def __str__(self) -> str:
        return self.value


@dataclass(frozen=True)
class BundledHelper:
    """A bundled helper library with network calls of its own, named once as secondary."""

    file: str
    family: str  # "Kerberos", "SASL", … or the library's stem
    copies: int = 0  # how many other names the same file has

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {"file": self.file, "family": self.family}
        if self.copies:
            data["copies"] = self.copies
        return data

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> BundledHelper:
        return cls(file=str(data.get("file", "")), family=str(data.get("family", "")),
                   copies=int(data.get("copies", 0)))


@dataclass(frozen=True)
class NativeCode(Evidence):
    """PC140, PC141: one shared object, what it calls and links (with what it loads)."""

    kind: ClassVar[str] = "native-code"
    file: str
    extension: bool = True  # a Python extension module (else a bundled library)
    symbols: Mapping[str, tuple[str, ...]] = field(default_factory=dict)  # category -> names
    libraries: tuple[LinkedLibrary, ...] = ()
    # Bundled libraries it loads, as ``targets.native.NativeFileReport.to_json()`` writes them.
    via: tuple[Mapping[str, Any], ...] = ()
    io: NativeIO | None = None  # why this severity (None: read from an older report)
    chain: tuple[str, ...] = ()  # file names from the extension to the client library
    copies: tuple[str, ...] = ()  # other paths of the same file
    bundles: tuple[BundledHelper, ...] = ()  # the distribution's helper libraries, once

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "file": self.file, "extension": self.extension,
            "symbols": {c: list(s) for c, s in self.symbols.items()},
            "libraries": [lib.to_json() for lib in self.libraries],
        }
        if self.via:
            data["via"] = [dict(v) for v in self.via]
        if self.io is not None:
            data["io"] = self.io.value
        if self.chain:
            data["chain"] = list(self.chain)
        if self.copies:
            data["copies"] = list(self.copies)
        if self.bundles:
            data["bundles"] = [b.to_json() for b in self.bundles]
        return data

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> NativeCode:
        io = data.get("io")
        return cls(file=str(data.get("file", "")), extension=bool(data.get("extension", True)),
                   symbols={str(c): tuple(s) for c, s in (data.get("symbols") or {}).items()},
                   libraries=tuple(LinkedLibrary.from_json(x) for x in data.get("libraries") or ()),
                   via=tuple(dict(v) for v in data.get("via") or ()),
                   io=NativeIO(io) if io is not None else None,
                   chain=tuple(str(c) for c in data.get("chain") or ()),
                   copies=tuple(str(c) for c in data.get("copies") or ()),
                   bundles=tuple(BundledHelper.from_json(b) for b in data.get("bundles") or ()))


@dataclass(frozen=True)
class GeventPluginEvidence(Evidence):
    """PC150, PC151: the ``gevent.plugins.*`` entry point (and why it fails to load)."""

    kind: ClassVar[str] = "gevent-plugin"
    group: str
    event: str
    name: str
    value: str
    error: str | None = None  # PC151
    traceback: str | None = None  # PC151

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {"group": self.group, "event": self.event, "name": self.name,
                                "value": self.value}
        if self.error is not None or self.traceback is not None:
            data.update(error=self.error, traceback=self.traceback)
        return data

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> GeventPluginEvidence:
        return cls(group=str(data.get("group", "")), event=str(data.get("event", "")),
                   name=str(data.get("name", "")), value=str(data.get("value", "")),
                   error=data.get("error"), traceback=data.get("traceback"))


@dataclass(frozen=True)
class ProbeRef(Evidence):
    """PC200–PC207, PC209: which probe measurement this is; the numbers are on the result's
    ``ProbeOutcome`` with this name and order (``DistributionResult.probe(ref)``)."""

    kind: ClassVar[str] = "probe"
    probe: str
    order: ImportOrder = ImportOrder.AFTER_PATCH

    def to_json(self) -> dict[str, Any]:
        return {"probe": self.probe, "order": self.order.value}

    @property
    def label(self) -> str:
        return self.probe + (BEFORE_PATCH_SUFFIX if self.order is ImportOrder.BEFORE_PATCH else "")

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> ProbeRef:
        name = str(data["probe"])
        if "order" not in data and name.endswith(BEFORE_PATCH_SUFFIX):  # written before "order"
            return cls(probe=name[: -len(BEFORE_PATCH_SUFFIX)], order=ImportOrder.BEFORE_PATCH)
        return cls(probe=name, order=ImportOrder(data.get("order", ImportOrder.AFTER_PATCH.value)))


@dataclass(frozen=True)
class RemedyApplied(Evidence):
    """PC208: a known remedy found in the project's source, and what the probe measured with
    it applied (``outcome`` None: no probe measured it in this scan)."""

    kind: ClassVar[str] = "remedy-applied"
    remedy: str  # the probe remedy's name: "import zmq.green as zmq"
    pattern: str  # "import:zmq.green"
    file: str  # relative to the project folder
    line: int
    probe: str | None = None
    outcome: str | None = None  # an Outcome value: "cooperates", "blocks", …

    @property
    def where(self) -> str:
        return f"{self.file}:{self.line}"

    def to_json(self) -> dict[str, Any]:
        return {"remedy": self.remedy, "pattern": self.pattern, "file": self.file,
                "line": self.line, "probe": self.probe, "outcome": self.outcome}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> RemedyApplied:
        return cls(remedy=str(data["remedy"]), pattern=str(data.get("pattern", "")),
                   file=str(data["file"]), line=int(data["line"]), probe=data.get("probe"),
                   outcome=data.get("outcome"))


@dataclass(frozen=True)
class SuiteStalls(Evidence):
    """PC210: what the watchdog measured of this library in the team's own test suite (its
    ``patchcheck.watch/1`` report, ``--stalls``): stalls over the limit, worst first."""

    kind: ClassVar[str] = "suite-stalls"
    stalls: int
    worst_ms: float
    total_ms: float
    limit_ms: float
    worst_test: str = ""  # the test with the worst stall (pytest node id)
    worst_location: str = ""  # "psycopg2/extras.py:236"
    tests: tuple[str, ...] = ()  # every test that stalled in it, at most 20
    locations: tuple[str, ...] = ()  # at most 10
    via: tuple[str, ...] = ()  # the calls it blocked in, at most 10
    cpu_bound: int = 0  # how many of the stalls burned CPU (the rest waited)
    report: str = ""  # the stalls file it came from

    def to_json(self) -> dict[str, Any]:
        return {"stalls": self.stalls, "worst_ms": self.worst_ms, "total_ms": self.total_ms,
                "limit_ms": self.limit_ms, "cpu_bound": self.cpu_bound, **_compact({
                    "worst_test": self.worst_test, "worst_location": self.worst_location,
                    "tests": list(self.tests), "locations": list(self.locations),
                    "via": list(self.via), "report": self.report})}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> SuiteStalls:
        return cls(stalls=int(data["stalls"]), worst_ms=float(data["worst_ms"]),
                   total_ms=float(data.get("total_ms", 0.0)),
                   limit_ms=float(data.get("limit_ms", 0.0)),
                   worst_test=str(data.get("worst_test") or ""),
                   worst_location=str(data.get("worst_location") or ""),
                   tests=tuple(str(t) for t in data.get("tests") or ()),
                   locations=tuple(str(x) for x in data.get("locations") or ()),
                   via=tuple(str(x) for x in data.get("via") or ()),
                   cpu_bound=int(data.get("cpu_bound", 0)),
                   report=str(data.get("report") or ""))


#: The evidence type of each finding code.
EVIDENCE_TYPES: Mapping[str, type[Evidence]] = {
    "PC000": NoEvidence,
    "PC001": VersionMismatch,
    "PC002": InstallFailed,
    "PC003": Instrument,
    "PC004": InstrumentIncompatible,
    "PC005": InstrumentKnownBug,
    "PC100": ImportFailure,
    "PC101": ChildEnd,
    "PC102": ChildEnd,
    "PC103": ChildEnd,
    "PC104": ImportFailure,
    "PC105": RaisedException,
    "PC106": LeftoverProcesses,
    "PC110": Warnings,
    "PC111": Warnings,
    "PC120": StaleReferences,
    "PC121": OrderSensitive,
    "PC130": NativeThreads,
    "PC140": NativeCode,
    "PC141": NativeCode,
    "PC150": GeventPluginEvidence,
    "PC151": GeventPluginEvidence,
    **{f"PC20{i}": ProbeRef for i in range(8)},
    "PC208": RemedyApplied,
    "PC209": ProbeRef,
    "PC210": SuiteStalls,
    "PC300": NoEvidence,
}


def evidence_from_json(code: str, data: Mapping[str, Any] | None) -> Evidence:
    """The typed evidence of a finding with ``code`` from its JSON (``{}`` for none)."""
    cls = EVIDENCE_TYPES.get(code)
    if cls is None:
        return UnknownEvidence(dict(data or {}))
    try:
        return cls.from_json(data or {})
    except (KeyError, TypeError, ValueError, AttributeError):
        # Not this code's shape (a plugin's hand-made finding): kept, and shown as key: value.
        return UnknownEvidence(dict(data or {}))
