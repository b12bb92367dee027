"""Typed objects that plugins return from hooks (probes, services, knowledge, reporters)."""
from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable

if TYPE_CHECKING:
    from patchcheck.model import ScanReport


@dataclass(frozen=True)
class RemedySpec:
    """A remedy a probe knows how to apply inside the child before re-running the call.

    ``function`` is a zero-argument function of the probe file, ``DECLARED_REMEDY`` for a
    ``patchcheck_probe.Remedy`` (the child finds it by ``label`` on the probe), or one of the
    generic remedies (``THREADPOOL_FUNCTION``, ``GREENIFY_FUNCTION``).
    """

    label: str  # shown to users, e.g. "psycogreen.gevent.patch_psycopg()"
    function: str
    requires: tuple[str, ...] = ()  # modules the remedy itself imports ("psycogreen")
    install: str | None = None  # how to get them ("pip install psycogreen")
    # GREENIFY_FUNCTION: the sonames of the client libraries the native check found, patched
    # with greenify.patch_lib() once the distribution's modules have loaded them.
    libraries: tuple[str, ...] = ()


#: The child finds a ``patchcheck_probe.Remedy`` by its label on the probe's metadata.
DECLARED_REMEDY = "<declared>"
THREADPOOL_FUNCTION = "<threadpool>"
GREENIFY_FUNCTION = "<greenify>"

#: The generic remedy for C code that releases the GIL: run the call on gevent's threadpool.
THREADPOOL_REMEDY = RemedySpec(
    label="gevent.get_hub().threadpool.apply(call)", function=THREADPOOL_FUNCTION
)

#: Packages ``--install`` adds to its venv so that the remedies that need them are measured:
#: package -> the distributions whose remedy needs it (empty: any, greenify is tried on every
#: C client the native check finds).
REMEDY_PACKAGES: Mapping[str, tuple[str, ...]] = {
    "greenify": (),
    "psycogreen": ("psycopg2", "psycopg2-binary"),
}


def greenify_remedy(libraries: Sequence[str]) -> RemedySpec:
    """douban's greenify on the client libraries a distribution's native code links: their
    libc calls (connect, recv, poll, …) then wait through gevent."""
    # "libmemcached-f7e872de.so.11" -> "libmemcached": auditwheel's hash changes per build.
    names = ", ".join(dict.fromkeys(re.sub(r"-[0-9a-f]{8}$", "", lib.split(".so")[0])
                                    for lib in libraries))
    return RemedySpec(label=f"greenify.patch_lib({names})", function=GREENIFY_FUNCTION,
                      requires=("greenify",), install="pip install greenify",
                      libraries=tuple(libraries))


@dataclass(frozen=True)
class ProbeSpec:
    """A probe: a call into a library that waits on a slow loopback peer.

    ``path``/``function`` name a factory executed in the child: it receives a context (the
    services it asked for, the wait in seconds) and returns a zero-argument callable that
    performs the waiting call. The meter runs ``concurrency`` of them at once.
    """

    name: str
    distributions: tuple[str, ...]
    path: str
    function: str
    services: tuple[str, ...] = ()
    wait: float = 0.3
    concurrency: int = 3
    remedies: tuple[RemedySpec, ...] = ()
    import_order: str = "after"  # "after": patch_all() then import; "before": the other order
    # "failed": remedies are measured when the plain call blocks or breaks; "always": also
    # when it cooperates (``--all-remedies`` does that for every probe).
    measure_remedies: str = "failed"
    origin: str = "builtin"
    description: str = ""
    version: str = "1"


@dataclass(frozen=True)
class Endpoint:
    """How a child reaches a running service (JSON-able; passed in the child's spec)."""

    name: str
    host: str = "127.0.0.1"
    port: int = 0
    url: str | None = None
    extra: Mapping[str, Any] = field(default_factory=dict)  # user, password, database, cafile…

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "host": self.host, "port": self.port, "url": self.url,
                **dict(self.extra)}


@dataclass(frozen=True)
class ServiceUnavailable:
    """Why a service could not be reached or started, and how to get it."""

    name: str
    reason: str
    install_hint: str = ""


@dataclass(frozen=True)
class ServiceSpec:
    """A loopback service: ``start(delay)`` returns a handle with ``endpoint`` and ``stop()``,
    or a ``ServiceUnavailable``. ``delay`` is how late the peer answers (seconds), for
    fixture servers that inject latency; real servers receive 0 and delay server-side."""

    name: str
    start: Callable[[float], Any]
    description: str = ""
    origin: str = "builtin"
    #: False when ``start`` ignores ``delay`` (a real server): the registry then starts it once
    #: per scan instead of once per delay.
    uses_delay: bool = True


@dataclass(frozen=True)
class KnowledgeEntry:
    """What is known about a distribution under gevent, as data (never overrides measurement)."""

    distribution: str
    versions: str  # PEP 440 specifier, "" for any
    finding: str  # e.g. "blocks": what the library does without the remedy
    summary: str
    remedy: str | None = None
    evidence: Sequence[str] = ()  # links to the upstream issue or documentation
    origin: str = "builtin"
    #: where the remedy shows in a project's source ("import:zmq.green",
    #: "call:psycogreen.gevent.patch_psycopg"; ``sources.project_source``)
    applied_when: Sequence[str] = ()
    #: the name of the probe remedy that measures it (a key of a probe's ``remedies``)
    probe_remedy: str | None = None


@dataclass(frozen=True)
class RenderOptions:
    """What a reporter may need besides the report; the CLI and the pytest plugin fill it in.

    A reporter uses the options it needs and ignores the others.
    """

    color: bool = False  # ANSI colour (terminal formats only)
    width: int = 100  # terminal columns (terminal formats only)
    fail_on: int = 3  # lowest verdict rank that counts as a failure: FAIL_ON_LEVELS["blocks"]
    root: str | None = None  # directory requirement-file paths are relative to (SARIF)
    #: -v: the whole evidence (stacks, settled suspicions, every control), not one screen
    #: per problem (terminal table)
    verbose: bool = False


@dataclass(frozen=True)
class ReporterSpec:
    """A report format: ``render(report, options) -> str``, the whole document as text
    (the caller writes it to stdout or ``--output``; a reporter does no I/O)."""

    name: str
    render: Callable[[ScanReport, RenderOptions], str]
    description: str = ""
    origin: str = "builtin"
