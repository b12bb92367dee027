"""The tool side of the tool/child protocol: every message to a child is built here, every
answer read here (xdist's ``workermanage.py``; the child's side is ``harness/pc_protocol.py``,
as ``remote.py`` is xdist's).

Two conversations cross the boundary:

* a **task** for one child: ``pc_child.py SPEC RESULT``. The spec is a JSON document
  ``{"schema", "task": kind, "args": {...}, ...envelope}``, one typed builder per kind below
  (``InfoTask``, ``ImportTask``, ``ProbeTask``, ``ControlTask``, ``PluginsTask``); the result is
  ``{"schema", "task", "ok": true, "data"}`` or ``{"ok": false, "error", "traceback"}`` (the
  harness itself failed), read by ``read_result`` and, per kind, by ``read_info`` /
  ``read_plugins`` (measurements: ``Measurement.from_json``; import reports are read by the
  verdict fold).
* the **zygote** lines of the fork server (``harness/pc_zygote.py``): ``zygote_request`` and
  ``read_zygote_reply``.

What both sides must agree on (schema versions, the control table) is data in
``harness/pc_protocol.json``, read by both: the tool never imports child code for a constant,
and a child of another patchcheck version refuses a spec whose schema it does not know.
"""
from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Union

from patchcheck.model import (
    Environment,
    GeventPlugin,
    InstalledDistribution,
    TargetInfo,
    normalize_name,
)

HARNESS_DIR = Path(__file__).resolve().parent.parent / "harness"
CHILD_SCRIPT = HARNESS_DIR / "pc_child.py"
ZYGOTE_SCRIPT = HARNESS_DIR / "pc_zygote.py"
PROTOCOL_FILE = HARNESS_DIR / "pc_protocol.json"

_SHARED: Mapping[str, Any] = json.loads(PROTOCOL_FILE.read_text(encoding="utf-8"))
SPEC_SCHEMA: str = _SHARED["spec_schema"]
RESULT_SCHEMA: str = _SHARED["result_schema"]
TASK_KINDS: tuple[str, ...] = tuple(_SHARED["tasks"])


@dataclass(frozen=True)
class Control:
    """A call whose answer is known, measured to check the meter itself."""

    name: str
    expect: str  # the outcome the meter must report: "blocks", "cooperates", "cpu-bound"
    services: tuple[str, ...] = ()  # loopback services it needs
    default: bool = True  # run before every scan's probes (else: a check of the classifier)


#: Every control, by name, in the shared table's order.
ALL_CONTROLS: Mapping[str, Control] = {
    name: Control(name, str(row["expect"]), tuple(row.get("services") or ()),
                  bool(row.get("default", True)))
    for name, row in _SHARED["controls"].items()
}
#: The controls run before a scan's probes and by ``doctor``: name → expected outcome.
CONTROLS: Mapping[str, str] = {c.name: c.expect for c in ALL_CONTROLS.values() if c.default}
#: The services each control needs.
CONTROL_SERVICES: Mapping[str, tuple[str, ...]] = {
    c.name: c.services for c in ALL_CONTROLS.values()}


# -- tasks ------------------------------------------------------------------------------------

@dataclass(frozen=True)
class InfoTask:
    """What the interpreter is and what is installed (``harness/pc_info.py``)."""

    kind: ClassVar[str] = "info"
    distributions: tuple[str, ...] = ()
    all_installed: bool = False

    def args(self) -> dict[str, Any]:
        return {"distributions": list(self.distributions), "all_installed": self.all_installed}


@dataclass(frozen=True)
class ImportTask:
    """Import ``modules`` after (or before) ``patch_all()`` (``harness/pc_imports.py``)."""

    kind: ClassVar[str] = "import"
    modules: tuple[str, ...]
    order: str = "after"  # "after" | "before" patching
    patch_args: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.order not in ("after", "before"):
            raise ValueError(f"import order must be 'after' or 'before', not {self.order!r}")

    def args(self) -> dict[str, Any]:
        return {"modules": list(self.modules), "order": self.order,
                "patch_args": dict(self.patch_args)}


@dataclass(frozen=True)
class RemedyCall:
    label: str
    function: str  # a function of the probe file, "<declared>", "<threadpool>", "<greenify>"
    requires: tuple[str, ...] = ()  # checked before the call runs: missing -> not-tried
    install: str | None = None
    libraries: tuple[str, ...] = ()  # "<greenify>": sonames to patch

    def to_json(self) -> dict[str, Any]:
        return {"label": self.label, "function": self.function,
                "requires": list(self.requires), "install": self.install,
                "libraries": list(self.libraries)}


@dataclass(frozen=True)
class ProbeTask:
    """Measure one probe under patching (``harness/pc_probe.py``)."""

    kind: ClassVar[str] = "probe"
    name: str
    path: str
    function: str
    wait: float
    concurrency: int
    import_order: str = "after"  # "after" | "before"
    remedy: RemedyCall | None = None
    services: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)  # endpoint JSON
    modules: tuple[str, ...] = ()
    patch_args: Mapping[str, Any] = field(default_factory=dict)

    def args(self) -> dict[str, Any]:
        return {
            "probe": {
                "name": self.name, "path": self.path, "function": self.function,
                "wait": self.wait, "concurrency": self.concurrency,
                "import_order": self.import_order,
                "remedy": None if self.remedy is None else self.remedy.to_json(),
            },
            "services": {k: dict(v) for k, v in self.services.items()},
            "modules": list(self.modules),
            "patch_args": dict(self.patch_args),
        }


@dataclass(frozen=True)
class ControlTask:
    """Measure one control (``harness/pc_probe.py``); the child checks the name against the
    shared table."""

    kind: ClassVar[str] = "control"
    control: str
    wait: float
    services: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    patch_args: Mapping[str, Any] = field(default_factory=dict)

    def args(self) -> dict[str, Any]:
        return {"control": self.control, "wait": self.wait,
                "services": {k: dict(v) for k, v in self.services.items()},
                "patch_args": dict(self.patch_args)}


@dataclass(frozen=True)
class PluginFilter:
    group: str
    name: str
    distribution: str


@dataclass(frozen=True)
class PluginsTask:
    """List the ``gevent.plugins.*`` entry points, ``load()``-ing each unless ``load`` is
    false; ``only`` restricts it to one (``harness/pc_plugins.py``)."""

    kind: ClassVar[str] = "plugins"
    load: bool = True
    only: PluginFilter | None = None

    def args(self) -> dict[str, Any]:
        only = None if self.only is None else {"group": self.only.group, "name": self.only.name,
                                               "distribution": self.only.distribution}
        return {"load": self.load, "only": only}


@dataclass(frozen=True)
class PatchSignatureTask:
    """The keyword arguments of the target gevent's ``patch_all()`` and which ``patch_<x>()``
    functions take each (``harness/pc_signature.py``); patches nothing."""

    kind: ClassVar[str] = "patch-signature"

    def args(self) -> dict[str, Any]:
        return {}


Task = Union[InfoTask, ImportTask, ProbeTask, ControlTask, PluginsTask, PatchSignatureTask]


def task_spec(task: Task, *, timeout: float, stack_file: str, stack_dump_after: float,
              tmpdir: str, cwd: str | None = None) -> dict[str, Any]:
    """The spec document ``pc_child.py`` reads: the envelope plus the task's arguments
    (``cwd``: the check's scratch working directory, README "Containment")."""
    if task.kind not in TASK_KINDS:  # pragma: no cover - a builder above without a table row
        raise ValueError(f"task kind {task.kind!r} is not in {PROTOCOL_FILE.name}")
    return {"schema": SPEC_SCHEMA, "task": task.kind, "args": task.args(),
            "timeout": timeout, "stack_file": stack_file,
            "stack_dump_after": stack_dump_after, "tmpdir": tmpdir, "cwd": cwd}


# -- results ----------------------------------------------------------------------------------

def read_result(raw: str) -> tuple[Mapping[str, Any] | None, str | None]:
    """A result file's document, or why it is unusable (never raises)."""
    try:
        doc = json.loads(raw)
    except ValueError as exc:
        return None, f"the result file is not valid JSON ({exc})"
    if not isinstance(doc, dict) or doc.get("schema") != RESULT_SCHEMA:
        found = doc.get("schema") if isinstance(doc, dict) else type(doc).__name__
        return None, (f"the result file has an unexpected schema {found!r} "
                      f"(expected {RESULT_SCHEMA!r})")
    return doc, None


def read_info(data: Mapping[str, Any], *,
              patch_args: Mapping[str, Any] | None = None) -> TargetInfo:
    """An ``info`` task's data as a ``TargetInfo``."""
    env = data["environment"]
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
    for d in data.get("distributions") or ():
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
            requires_python=str(d.get("requires_python") or ""),
            python_classifiers=tuple(str(v) for v in d.get("python_classifiers") or ()),
        )
        installed[normalize_name(d["requested"])] = dist
        all_names.append(dist.name)
    return TargetInfo(environment=environment, markers=dict(env.get("markers") or {}),
                      installed=installed, missing=tuple(missing), all_names=tuple(all_names),
                      plugins_fingerprint=str(env.get("plugins_fingerprint") or ""))


def read_plugins(data: Mapping[str, Any]) -> list[GeventPlugin]:
    """A ``plugins`` task's data: one ``GeventPlugin`` per entry point."""
    return [GeventPlugin.from_json(row) for row in data.get("plugins") or ()]


# -- the zygote's lines -----------------------------------------------------------------------

def zygote_request(call_id: int, argv: Sequence[str], stdout: str, stderr: str) -> bytes:
    """Ask the zygote to fork ``pc_child.py argv`` with stdout/stderr on the given FIFOs."""
    return (json.dumps({"id": call_id, "argv": list(argv), "stdout": stdout,
                        "stderr": stderr}) + "\n").encode()


@dataclass(frozen=True)
class ZygoteReply:
    """One line from the zygote.

    ``kind``: ``ready`` (it started), ``failed`` (it could not start: ``error``), ``started``
    (call ``id`` forked as ``pid``), ``exited`` (``pid`` ended with raw wait ``status``),
    ``refused`` (call ``id`` was not started: ``error``).
    """

    kind: str
    id: int | None = None
    pid: int | None = None
    status: int | None = None
    error: str | None = None
    orphans: tuple[str, ...] = ()  # ``exited``: what the check left running (killed)


def read_zygote_reply(line: bytes | str) -> ZygoteReply | None:
    """A zygote line as a ``ZygoteReply``; None for a line that is not one (ignored)."""
    try:
        msg = json.loads(line)
    except ValueError:
        return None
    if not isinstance(msg, dict):
        return None
    if "id" not in msg:
        if msg.get("ready"):
            return ZygoteReply("ready", pid=_int(msg.get("pid")))
        if "error" in msg:
            return ZygoteReply("failed", error=str(msg["error"]))
        return None
    call_id = _int(msg.get("id"))
    if "error" in msg:
        return ZygoteReply("refused", id=call_id, error=str(msg["error"]))
    if "status" in msg:
        return ZygoteReply("exited", id=call_id, pid=_int(msg.get("pid")),
                           status=_int(msg["status"]),
                           orphans=tuple(str(n) for n in msg.get("orphans") or ()))
    if "pid" in msg:
        return ZygoteReply("started", id=call_id, pid=_int(msg["pid"]))
    return None


def _int(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None
