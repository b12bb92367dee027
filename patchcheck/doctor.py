"""``patchcheck doctor``: can this machine and this interpreter be measured at all?

Checks, in a few real children of the target interpreter: which gevent and greenlet it has,
that ``patch_all()`` works (the patched controls cooperate), that the hub meter sees blocking
(every control measures its expected outcome, with the numbers), and which loopback services
probes can reach. Every problem comes with a "what to fix" line.
"""
from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from typing import Any

from patchcheck.model import Measurement, Outcome
from patchcheck.net import redact_url
from patchcheck.plugins import collect_services
from patchcheck.runner.forkserver import Runner, make_runner
from patchcheck.runner.protocol import CONTROL_SERVICES, CONTROLS, ControlTask, InfoTask, read_info
from patchcheck.textcols import pad_columns

#: the delay of the controls' slow peer and the controls' wait (seconds)
CONTROL_WAIT_S = 0.3
#: a single child never gets more than this, whatever ``timeout`` says
CHILD_TIMEOUT_CAP_S = 30.0


@dataclass(frozen=True)
class ControlCheck:
    name: str
    expected: Outcome
    outcome: Outcome
    ok: bool
    measurement: Mapping[str, Any] = field(default_factory=dict)  # Measurement.to_json()
    problem: str | None = None


@dataclass(frozen=True)
class ServiceCheck:
    name: str
    reachable: bool
    detail: str = ""  # the endpoint URL, or why it is unavailable
    hint: str = ""
    description: str = ""


@dataclass(frozen=True)
class DoctorReport:
    python: str
    python_version: str | None = None
    implementation: str | None = None
    platform: str | None = None
    gevent_version: str | None = None
    greenlet_version: str | None = None
    patching_works: bool = False
    controls: tuple[ControlCheck, ...] = ()
    services: tuple[ServiceCheck, ...] = ()
    problems: tuple[str, ...] = ()  # what is wrong (patchcheck cannot measure reliably)
    fixes: tuple[str, ...] = ()  # what to do about it, one line each
    notes: tuple[str, ...] = ()  # not failures: services that probes will skip

    @property
    def ok(self) -> bool:
        return not self.problems

    def to_json(self) -> dict[str, Any]:
        doc = asdict(self)
        doc["controls"] = [asdict(c) for c in self.controls]
        doc["services"] = [asdict(s) for s in self.services]
        doc["ok"] = self.ok
        return doc


def _control(runner: Runner, name: str, endpoint: Mapping[str, Any] | None,
             timeout: float) -> ControlCheck:
    expected = Outcome(CONTROLS[name])
    services = {"slow_tcp": dict(endpoint)} if endpoint else {}
    res = runner.run(ControlTask(control=name, wait=CONTROL_WAIT_S, services=services),
                     timeout=timeout)
    if res.data is None:
        why = res.harness_error or res.problem or res.describe_end()
        return ControlCheck(name, expected, Outcome.BREAKS, False, problem=why)
    m = Measurement.from_json(res.data)
    return ControlCheck(name, expected, m.outcome, m.outcome is expected,
                        measurement=m.to_json(),
                        problem=None if m.outcome is expected else m.error)


def _check_services(registry: Any, descriptions: Mapping[str, str]) -> list[ServiceCheck]:
    from patchcheck.spec import Endpoint

    def one(name: str) -> ServiceCheck:
        try:
            got = registry.endpoint(name, delay=CONTROL_WAIT_S)
        except Exception as exc:  # a service plugin's bug: report, don't crash doctor
            return ServiceCheck(name, False, f"{type(exc).__name__}: {exc}",
                                description=descriptions.get(name, ""))
        if isinstance(got, Endpoint):
            return ServiceCheck(name, True, redact_url(got.url or "") or f"{got.host}:{got.port}",
                                description=descriptions.get(name, ""))
        return ServiceCheck(name, False, got.reason, got.install_hint,
                            description=descriptions.get(name, ""))

    with ThreadPoolExecutor(max_workers=4) as pool:
        return list(pool.map(one, registry.names))


def run_doctor(python: str, *, timeout: float = 60.0, check_services: bool = True,
               pm: Any = None, runner: Runner | None = None) -> DoctorReport:
    """Check ``python`` (the target interpreter) and this machine; never raises for what it
    finds (only for patchcheck's own bugs). ``runner`` runs the children, as the engine's
    does (default: one of its own for ``python``)."""
    if runner is None:
        with make_runner(python) as own:
            return _doctor(python, own, timeout, check_services, pm)
    return _doctor(python, runner, timeout, check_services, pm)


def _doctor(python: str, runner: Runner, timeout: float, check_services: bool,
            pm: Any) -> DoctorReport:
    from patchcheck.services import ServiceRegistry

    child_timeout = max(5.0, min(float(timeout), CHILD_TIMEOUT_CAP_S))
    problems: list[str] = []
    fixes: list[str] = []
    notes: list[str] = []

    res = runner.run(InfoTask(), timeout=child_timeout)
    if res.data is None:
        why = res.harness_error or res.problem or res.describe_end()
        problems.append(f"cannot run the target interpreter {python}: {why}")
        fixes.append(f"check that {python} is a working Python (--python PATH)")
        return DoctorReport(python=python, problems=tuple(problems), fixes=tuple(fixes))
    env = read_info(res.data).environment
    report_env: dict[str, Any] = dict(python_version=env.python_version,
                                      implementation=env.implementation,
                                      platform=env.platform,
                                      gevent_version=env.gevent_version,
                                      greenlet_version=env.greenlet_version)
    if not env.gevent_version:
        problems.append(f"gevent is not installed in {python}")
        fixes.append(f"install it there: {python} -m pip install gevent")
        return DoctorReport(python=python, problems=tuple(problems), fixes=tuple(fixes),
                            **report_env)

    if pm is None:
        from patchcheck.plugins import make_plugin_manager

        pm = make_plugin_manager()
    specs = collect_services(pm)
    descriptions = {s.name: s.description for s in specs}
    with ServiceRegistry(specs) as registry:
        slow_tcp = registry.endpoint("slow_tcp", delay=CONTROL_WAIT_S)
        endpoint = slow_tcp.to_json() if hasattr(slow_tcp, "to_json") else None
        controls = []
        # One at a time: the controls measure the meter, so they should not load the machine.
        for name in CONTROLS:
            if CONTROL_SERVICES.get(name) and endpoint is None:
                controls.append(ControlCheck(name, Outcome(CONTROLS[name]), Outcome.SKIPPED, False,
                                             problem="the slow_tcp fixture could not start: "
                                             + getattr(slow_tcp, "reason", "?")))
                continue
            controls.append(_control(runner, name, endpoint, child_timeout))
        services = _check_services(registry, descriptions) if check_services else []

    patched = [c for c in controls if c.name.endswith("-patched")]
    patching_works = bool(patched) and all(c.ok for c in patched)
    for c in controls:
        if c.ok:
            continue
        problems.append(f"control {c.name} measured {c.outcome}, expected {c.expected}"
                        + (f" ({c.problem})" if c.problem else ""))
        fixes.append(_fix_for_control(c))
    for s in services:
        if not s.reachable:
            notes.append(f"service {s.name} unavailable: {s.detail}; probes that need it "
                         "will be skipped" + (f" (fix: {s.hint})" if s.hint else ""))
    return DoctorReport(python=python, patching_works=patching_works,
                        controls=tuple(controls), services=tuple(services),
                        problems=tuple(problems), fixes=tuple(_unique(fixes)),
                        notes=tuple(notes), **report_env)


def _fix_for_control(c: ControlCheck) -> str:
    if c.outcome is Outcome.SKIPPED:
        return "the slow_tcp fixture server must start on 127.0.0.1 (is loopback available?)"
    if c.outcome is Outcome.BREAKS:
        return (f"the {c.name} control failed in the child: run 'patchcheck doctor "
                "--format json' and report it as a patchcheck bug with the output")
    if c.expected is Outcome.BLOCKS:
        return ("the meter did not see a known blocking call: the machine may be too loaded "
                "for measurements (rerun with fewer --jobs, or when the machine is idle)")
    return ("a patched call did not cooperate: check that patch_all() is not restricted "
            "(patch_args / [tool.patchcheck] patch) and that no gevent plugin raises "
            "DoNotPatch in this environment")


def _unique(items: Sequence[str]) -> list[str]:
    seen: list[str] = []
    for item in items:
        if item not in seen:
            seen.append(item)
    return seen


def render_doctor(report: DoctorReport, fmt: str = "text") -> str:
    """Render a doctor report as ``text`` (for people) or ``json``."""
    if fmt == "json":
        return json.dumps(report.to_json(), indent=2, sort_keys=False)
    if fmt != "text":
        raise ValueError(f"unknown doctor format {fmt!r} (text, json)")
    lines = [f"python      {report.python}"]
    if report.python_version:
        lines.append(f"            {report.implementation} {report.python_version} "
                     f"({report.platform})")
    lines.append(f"gevent      {report.gevent_version or 'not installed'}")
    lines.append(f"greenlet    {report.greenlet_version or 'not installed'}")
    if report.controls:
        lines.append(f"patch_all() {'works' if report.patching_works else 'DOES NOT WORK'}")
        lines.append("")
        lines.append("controls (the meter itself; K copies of a call waiting 300 ms)")
        rows: list[tuple[str, ...]] = [
            ("control", "expected", "measured", "ratio", "max gap", "cpu", "")]
        for c in report.controls:
            m = c.measurement or {}
            rows.append((c.name, c.expected.value, c.outcome.value,
                         f"{m.get('ratio', 0):.2f}" if m else "-",
                         f"{m.get('max_gap_ms', 0):.0f} ms" if m else "-",
                         f"{m.get('cpu_ms', 0):.0f} ms" if m else "-",
                         "ok" if c.ok else "WRONG"))
        lines.extend(_table(rows))
    if report.services:
        lines.append("")
        lines.append("services")
        rows = [("service", "status", "detail")]
        for s in report.services:
            rows.append((s.name, "reachable" if s.reachable else "unavailable", s.detail))
        lines.extend(_table(rows))
    lines.append("")
    if report.ok:
        lines.append("ok: patchcheck can measure this interpreter on this machine")
    else:
        lines.append("problems:")
        lines.extend(f"  - {p}" for p in report.problems)
        lines.append("what to fix:")
        lines.extend(f"  - {f}" for f in report.fixes)
    if report.notes:
        lines.append("notes:")
        lines.extend(f"  - {n}" for n in report.notes)
    return "\n".join(lines)


def _table(rows: Sequence[Sequence[str]]) -> list[str]:
    return pad_columns(rows, indent="  ")
