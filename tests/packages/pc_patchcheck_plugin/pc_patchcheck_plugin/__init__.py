"""A third-party patchcheck plugin, as a team would ship one: a probe, a knowledge entry and a
report format, registered through the ``patchcheck`` entry-point group; and replacements for a
built-in reporter (``table``) and a built-in service (``silent``), which must win."""
from __future__ import annotations

from pathlib import Path

from patchcheck.hookspecs import hookimpl
from patchcheck.probeloader import load_probe_dir
from patchcheck.spec import Endpoint, KnowledgeEntry, ReporterSpec, ServiceSpec

ORIGIN = "entry point pc_plugin (pc_patchcheck_plugin)"


@hookimpl
def patchcheck_add_probes():
    return load_probe_dir(Path(__file__).with_name("probes"), origin=ORIGIN)


@hookimpl
def patchcheck_add_knowledge():
    return [KnowledgeEntry(distribution="pc_coop", versions=">=1", finding="cooperates",
                           summary="pure Python over the socket module", origin=ORIGIN)]


def _csv(report, options):
    lines = ["name,version,verdict"]
    lines += [f"{r.name},{r.version or ''},{r.verdict.value}" for r in report.results]
    return "\n".join(lines) + "\n"


def _table(report, options):
    return "".join(f"pc_plugin table: {r.name} {r.verdict.value}\n" for r in report.results)


@hookimpl
def patchcheck_add_reporters():
    return [ReporterSpec(name="csv", render=_csv, description="one line per distribution",
                         origin=ORIGIN),
            ReporterSpec(name="table", render=_table, description="the team's own table",
                         origin=ORIGIN)]


class _SilentServer:
    """The built-in silent server, announced under a URL that says who started it."""

    def __init__(self):
        from patchcheck.services.fixtures import SilentServer

        self._server = SilentServer(0.0).start()
        port = self._server.endpoint.port
        self.endpoint = Endpoint(name="silent", port=port,
                                 url=f"silent://127.0.0.1:{port}/pc_plugin")

    def stop(self):
        self._server.stop()


@hookimpl
def patchcheck_add_services():
    return [ServiceSpec(name="silent", start=lambda delay: _SilentServer(),
                        description="pc_plugin's silent server", origin=ORIGIN)]
