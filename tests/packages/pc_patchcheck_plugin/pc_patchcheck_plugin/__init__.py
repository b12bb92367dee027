"""A third-party patchcheck plugin, as a team would ship one: a probe, a knowledge entry and a
report format, registered through the ``patchcheck`` entry-point group."""
from __future__ import annotations

from pathlib import Path

from patchcheck.hookspecs import hookimpl
from patchcheck.probeloader import load_probe_dir
from patchcheck.spec import KnowledgeEntry, ReporterSpec

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


@hookimpl
def patchcheck_add_reporters():
    return [ReporterSpec(name="csv", render=_csv, description="one line per distribution",
                         origin=ORIGIN)]
