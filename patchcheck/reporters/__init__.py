"""Report formats: pure functions from a ``ScanReport`` to text.

Registered on the plugin manager like any third-party reporter (``patchcheck_add_reporters``);
``--format NAME`` picks one. A reporter does no I/O: the caller writes the returned text to
stdout or ``--output``.

============  ===================================================================
``table``     terminal table, details for every non-clean distribution, summary
``json``      the report document (``report.schema.json``, ``patchcheck.report/1``)
``junit``     JUnit XML, one test case per distribution, failures at ``--fail-on``
``sarif``     SARIF 2.1.0 for code scanning, results on the requirements line
``markdown``  GitHub-flavoured Markdown for a step summary or a PR comment
``github``    GitHub Actions ``::error``/``::warning`` annotations
``html``      one self-contained page: counts, a filterable table, evidence, heartbeat charts
============  ===================================================================
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from patchcheck.hookspecs import hookimpl
from patchcheck.spec import RenderOptions, ReporterSpec

if TYPE_CHECKING:
    from patchcheck.model import ScanReport

__all__ = ["RenderOptions", "builtin_reporters", "patchcheck_add_reporters"]


# The adapters import their module lazily: choosing a format should not import the others.


def _table(report: ScanReport, options: RenderOptions) -> str:
    from patchcheck.reporters.table import render_table

    return render_table(report, color=options.color, width=options.width,
                        verbose=options.verbose)


def _json(report: ScanReport, options: RenderOptions) -> str:
    from patchcheck.reporters.json_report import render_json

    return render_json(report)


def _junit(report: ScanReport, options: RenderOptions) -> str:
    from patchcheck.reporters.junit import render_junit

    return render_junit(report, fail_on=options.fail_on)


def _sarif(report: ScanReport, options: RenderOptions) -> str:
    from patchcheck.reporters.sarif import render_sarif

    return render_sarif(report, root=options.root)


def _markdown(report: ScanReport, options: RenderOptions) -> str:
    from patchcheck.reporters.markdown import render_markdown

    return render_markdown(report)


def _github(report: ScanReport, options: RenderOptions) -> str:
    from patchcheck.reporters.github import render_github

    return render_github(report)


def _html(report: ScanReport, options: RenderOptions) -> str:
    from patchcheck.reporters.html import render_html

    return render_html(report)


def builtin_reporters() -> list[ReporterSpec]:
    return [
        ReporterSpec("table", _table, "terminal table with details and a summary"),
        ReporterSpec("json", _json, "the JSON report document (patchcheck.report/1)"),
        ReporterSpec("junit", _junit, "JUnit XML: one test case per distribution"),
        ReporterSpec("sarif", _sarif, "SARIF 2.1.0 for code scanning"),
        ReporterSpec("markdown", _markdown, "GitHub-flavoured Markdown (step summary, PR comment)"),
        ReporterSpec("github", _github, "GitHub Actions workflow-command annotations"),
        ReporterSpec("html", _html, "one self-contained HTML page (no network): table, "
                     "evidence, heartbeat charts"),
    ]


@hookimpl
def patchcheck_add_reporters() -> list[ReporterSpec]:
    return builtin_reporters()
