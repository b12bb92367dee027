"""A self-contained HTML report: one file, no network.

Summary counts, a sortable and filterable results table, per-distribution evidence (findings
with the blocking stack, the remedies measured, what the team's test suite measured) and an
inline-SVG chart of each probe's heartbeat beside its remedies. The stylesheet and script next
to this module are inlined and a Content-Security-Policy forbids every fetch, so the page looks
the same opened from a CI artefact, an e-mail or a laptop offline.

Several environments (the version matrix: one ``ScanReport`` per interpreter/gevent) go to
:func:`render_html_reports`: a distributions × environments table, the cells where the verdict
changes marked, then each environment's own section. :func:`render_html` is that with one.
"""
from __future__ import annotations

import html
from collections.abc import Sequence
from pathlib import Path

from patchcheck import __version__
from patchcheck.model import DistributionResult, Measurement, ProbeOutcome, ScanReport, Verdict
from patchcheck.reporters import _views as v
from patchcheck.reporters._sentences import VERDICTS_WORST_FIRST

_HERE = Path(__file__).parent
#: No fetch of any kind: styles and the script are inline, images are inline SVG.
_CSP = ("default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; "
        "img-src data:")
#: The meter's rule: a gap this long (or half a call) is a stall (harness/pc_meter.py).
_MIN_BLOCK_GAP_MS = 25.0

_CHART_W, _CHART_H, _PAD_L, _PAD_B, _PAD_T = 320, 120, 34, 16, 8


def _e(text: object) -> str:
    return html.escape(str(text), quote=True)


def _asset(name: str) -> str:
    return (_HERE / name).read_text(encoding="utf-8")


def _anchor(prefix: str, result: DistributionResult) -> str:
    """The id of a distribution's evidence (escaped: a name is the library's text)."""
    return _e(f"{prefix}d-{result.key}")


def _has_details(result: DistributionResult) -> bool:
    return bool(result.probes) or not v.detail_view(result).empty


def render_html(report: ScanReport) -> str:
    """One scan as a page."""
    return render_html_reports([report])


def render_html_reports(reports: Sequence[ScanReport]) -> str:
    """One page for one or more scans of the same requirements (the matrix hook: one report
    per environment; with more than one, the matrix table comes first)."""
    if not reports:
        raise ValueError("no report to render")
    out = [
        "<!DOCTYPE html>",
        '<html lang="en">',
        "<head>",
        '<meta charset="utf-8">',
        f'<meta http-equiv="Content-Security-Policy" content="{_CSP}">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        "<title>patchcheck report</title>",
        f"<style>\n{_asset('html_report.css')}</style>",
        "</head>",
        "<body>",
        "<header>",
        "<h1>patchcheck</h1>",
    ]
    for report in reports:
        out.append(f'<div class="muted">{_e(v.environment_line(report.environment))}</div>')
    out.append("</header>")
    out += _summary(reports)
    out += _controls(reports)
    if len(reports) > 1:
        out += _matrix(reports)
    for i, report in enumerate(reports):
        prefix = f"e{i}-" if len(reports) > 1 else ""
        out += _environment_section(report, prefix, titled=len(reports) > 1)
    out.append(f'<footer>written by patchcheck {_e(__version__)}</footer>')
    out.append(f"<script>\n{_asset('html_report.js')}</script>")
    out += ["</body>", "</html>"]
    return "\n".join(out) + "\n"


# --- the top: counts, problems, the filter --------------------------------------------------


def _summary(reports: Sequence[ScanReport]) -> list[str]:
    counts: dict[Verdict, int] = {}
    for report in reports:
        for verdict, n in v.verdict_counts(report):
            counts[verdict] = counts.get(verdict, 0) + n
    out = [f'<p id="pc-summary">{_e(v.summary_line(reports[0]))}</p>'
           if len(reports) == 1 else
           f'<p id="pc-summary">{len(reports)} environments</p>']
    out.append('<div class="summary">')
    for verdict in VERDICTS_WORST_FIRST:
        if counts.get(verdict):
            out.append(f'<button type="button" class="count" data-verdict="{verdict.value}" '
                       f'aria-pressed="false"><b>{counts[verdict]}</b>'
                       f'<span class="verdict v-{verdict.value}">{verdict.value}</span></button>')
    out.append("</div>")
    problems = [p for report in reports for p in report.problems]
    if problems:
        out.append('<div class="problems"><b>patchcheck problems</b> (not library verdicts; '
                   "exit code 3):<ul>")
        out += [f"<li>{_e(v.shorten(p, 500))}</li>" for p in problems]
        out.append("</ul></div>")
    return out


def _controls(reports: Sequence[ScanReport]) -> list[str]:
    present = {r.verdict for report in reports for r in report.results}
    options = "".join(f'<option value="{verdict.value}">{verdict.value}</option>'
                      for verdict in VERDICTS_WORST_FIRST if verdict in present)
    return [
        '<div class="controls">',
        '<label>Filter <input id="pc-filter" type="search" '
        'placeholder="name, code, evidence…" autocomplete="off"></label>',
        f'<label>Verdict <select id="pc-verdict"><option value="">all</option>{options}'
        "</select></label>",
        '<span id="pc-shown" class="muted" aria-live="polite"></span>',
        "</div>",
    ]


# --- the matrix (several environments) ------------------------------------------------------


def _environment_label(report: ScanReport) -> str:
    env = report.environment
    return f"Python {env.python_version} · gevent {env.gevent_version or '–'}"


def _matrix(reports: Sequence[ScanReport]) -> list[str]:
    names: dict[str, str] = {}
    for report in reports:
        for r in report.results:
            names.setdefault(r.key, r.name)
    by_env = [{r.key: r for r in report.results} for report in reports]
    out = ["<h2>Matrix</h2>", '<table class="matrix"><thead><tr><th>Distribution</th>']
    out += [f"<th>{_e(_environment_label(report))}</th>" for report in reports]
    out.append("</tr></thead><tbody>")
    for key, name in names.items():
        verdicts = [env.get(key) for env in by_env]
        changed = len({r.verdict for r in verdicts if r is not None}) > 1
        out.append(f'<tr class="{"changed" if changed else ""}"><th>{_e(name)}</th>')
        for i, cell in enumerate(verdicts):
            if cell is None:
                out.append('<td class="muted">not scanned</td>')
                continue
            cls = ' class="changed"' if changed else ""
            mark = f'<span class="verdict v-{cell.verdict.value}">{cell.verdict.value}</span>'
            if _has_details(cell):
                mark = f'<a href="#{_anchor(f"e{i}-", cell)}">{mark}</a>'
            out.append(f'<td{cls}>{mark} <span class="muted">{_e(cell.version or "")}</span></td>')
        out.append("</tr>")
    out.append("</tbody></table>")
    return out


# --- one environment: the table, the suite, the details --------------------------------------


def _environment_section(report: ScanReport, prefix: str, *, titled: bool) -> list[str]:
    out = [f'<section id="{prefix}env">']
    if titled:
        out.append(f"<h2>{_e(_environment_label(report))}</h2>")
        out.append(f'<p class="muted">{_e(v.summary_line(report))}</p>')
    out += _results_table(report, prefix)
    out += _suite_section(report, prefix)
    details = [r for r in report.results if _has_details(r)]
    if details:
        out.append("<h2>Evidence</h2>")
        for r in details:
            out += _details(r, prefix)
    footer = [v.environment_line(report.environment)]
    control = v.control_line(report)
    if control:
        footer.append(control)
    out += [f'<p class="muted">{_e(line)}</p>' for line in footer]
    if report.notes:
        out.append("<h3>Notes</h3><ul>")
        out += [f"<li>{_e(note)}</li>" for note in report.notes]
        out.append("</ul>")
    out.append("</section>")
    return out


def _results_table(report: ScanReport, prefix: str) -> list[str]:
    if not report.results:
        return ['<p class="muted">nothing was scanned</p>']
    out = [
        f'<table class="results" id="{prefix}results"><thead><tr>',
        '<th data-key="text"><button type="button">Distribution</button></th>',
        '<th data-key="text"><button type="button">Version</button></th>',
        '<th data-key="number"><button type="button">Verdict</button></th>',
        '<th data-key="text"><button type="button">Evidence</button></th>',
        "</tr></thead><tbody>",
    ]
    for r in report.results:
        name = _e(r.name)
        linked = f'<a href="#{_anchor(prefix, r)}">{name}</a>' if _has_details(r) else name
        out.append(
            f'<tr data-verdict="{r.verdict.value}" data-name="{_e(r.key)}">'
            f'<td data-value="{_e(r.key)}">{linked}</td>'
            f"<td>{_e(r.version or '–')}</td>"
            # worst first when sorted ascending
            f'<td data-value="{-r.verdict.rank}"><span class="verdict v-{r.verdict.value}">'
            f"{r.verdict.value}</span></td>"
            f"<td>{_e(v.key_evidence(r))}</td></tr>")
    out.append("</tbody></table>")
    return out


def _suite_section(report: ScanReport, prefix: str) -> list[str]:
    rows = [(r, e) for r in report.results if (e := v.suite_evidence(r)) is not None]
    if not rows:
        return []
    out = ["<h2>Your test suite</h2>",
           '<p class="muted">What the watchdog measured while your tests ran '
           "(scan --stalls), beside what the probes measured.</p>",
           f'<table class="suite" id="{prefix}suite"><thead><tr><th>Distribution</th>'
           "<th>Stalls</th><th>Worst</th><th>Worst test</th><th>Probe</th></tr></thead><tbody>"]
    for r, e in sorted(rows, key=lambda item: -item[1].worst_ms):
        measured = [p for p in r.probes if not p.plain.outcome.skipped]
        probe = (f"{measured[0].label}: {measured[0].plain.outcome} "
                 f"({v.measurement_phrase(measured[0].plain)})" if measured else "no probe")
        out.append(f'<tr><td><a href="#{_anchor(prefix, r)}">{_e(r.name)}</a></td>'
                   f"<td>{e.stalls}</td><td>{_e(v.ms(e.worst_ms))}</td>"
                   f'<td class="mono">{_e(e.worst_test or "–")}</td><td>{_e(probe)}</td></tr>')
    out.append("</tbody></table>")
    return out


def _details(result: DistributionResult, prefix: str) -> list[str]:
    view = v.detail_view(result)
    head = f"{_e(v.display_name(result))} — " \
           f'<span class="verdict v-{result.verdict.value}">{result.verdict.value}</span>'
    if result.origin:
        head += f' <span class="muted">{_e(result.origin)}</span>'
    out = [f'<details class="dist" id="{_anchor(prefix, result)}" '
           f'data-verdict="{result.verdict.value}">', f"<summary>{head}</summary>"]
    for f in view.findings:
        title = f'<span class="code">{_e(f.code)}</span> · {_e(f.severity)} — {_e(f.summary)}'
        if f.waived:
            title += f' <span class="waived">(waived: {_e(f.waived)})</span>'
        out.append(f'<div class="finding"><div>{title}</div>')
        if f.every_fact:
            out.append("<ul>" + "".join(f"<li>{_e(fact)}</li>" for fact in f.every_fact)
                       + "</ul>")
        for block in f.blocks:
            label = block.title
            if block.omitted:
                label += f" (last {len(block.lines)} of {len(block.lines) + block.omitted} lines)"
            out.append(f'<div class="muted">{_e(label)}:</div>')
            out.append("<pre>" + _e("\n".join(block.lines)) + "</pre>")
        if f.hint:
            out.append(f'<div class="hint"><b>hint:</b> {_e(f.hint)}</div>')
        out.append("</div>")
    for probe in result.probes:
        charts = _probe_charts(probe)
        if charts:
            out.append(f"<h3>Heartbeat: {_e(probe.label)}</h3>")
            out += charts
    for heading, lines in (("Probes", view.probes), ("Remedies measured", view.remedies),
                           (view.known_title.capitalize(), view.known)):
        if lines:
            out.append(f"<h3>{_e(heading)}</h3><ul>")
            out += [f"<li>{_e(line)}</li>" for line in lines]
            out.append("</ul>")
    out.append("</details>")
    return out


# --- the heartbeat chart -----------------------------------------------------------------------


def _probe_charts(probe: ProbeOutcome) -> list[str]:
    """The plain run's heartbeat and each remedy's beside it, on one y scale."""
    runs = [m for m in (probe.plain, *probe.remedies) if m.heartbeat]
    if not runs:
        return []
    top = max(max(gap for _, gap in m.heartbeat) for m in runs)
    top = max(top, _MIN_BLOCK_GAP_MS * 2)
    out = ['<div class="charts">']
    for m in runs:
        title = (f"with {m.remedy}" if m.remedy else "plain") + f": {m.outcome}"
        out.append(f'<figure class="chart" data-outcome="{m.outcome.value}">'
                   f"{heartbeat_svg(m, top)}<figcaption>{_e(title)} — "
                   f"{_e(v.measurement_phrase(m))}</figcaption></figure>")
    out.append("</div>")
    return out


def heartbeat_svg(m: Measurement, top_ms: float) -> str:
    """Each heartbeat gap as a bar spanning the time it lasted (x) and as tall as it was (y):
    a cooperating run is a row of short green bars, a blocked hub wide red blocks."""
    span = max(max((t for t, _ in m.heartbeat), default=0.0), m.elapsed_ms, 1.0)
    limit = max(_MIN_BLOCK_GAP_MS, m.wait_ms / 2.0 if m.wait_ms else 0.0)
    plot_w, plot_h = _CHART_W - _PAD_L - 4, _CHART_H - _PAD_B - _PAD_T

    def x(t: float) -> float:
        return _PAD_L + max(0.0, min(t, span)) / span * plot_w

    def y(gap: float) -> float:
        return _PAD_T + plot_h - min(gap, top_ms) / top_ms * plot_h

    bars = []
    for t, gap in m.heartbeat:
        x0, x1 = x(t - gap), x(t)
        cls = "stall" if gap >= limit else "beat"
        bars.append(f'<rect class="{cls}" x="{x0:.1f}" y="{y(gap):.1f}" '
                    f'width="{max(x1 - x0, 0.8):.1f}" height="{_PAD_T + plot_h - y(gap):.1f}">'
                    f"<title>{t:.0f} ms: gap {gap:.1f} ms</title></rect>")
    base = _PAD_T + plot_h
    label = f"hub heartbeat gaps over {span:.0f} ms ({m.outcome})"
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{_CHART_W}" height="{_CHART_H}" '
        f'viewBox="0 0 {_CHART_W} {_CHART_H}" role="img" aria-label="{_e(label)}">'
        f"<title>{_e(label)}</title>"
        + "".join(bars)
        + f'<line class="limit" x1="{_PAD_L}" x2="{_PAD_L + plot_w}" y1="{y(limit):.1f}" '
        f'y2="{y(limit):.1f}"><title>stall threshold {limit:.0f} ms</title></line>'
        f'<line class="axis" x1="{_PAD_L}" x2="{_PAD_L + plot_w}" y1="{base}" y2="{base}"/>'
        f'<line class="axis" x1="{_PAD_L}" x2="{_PAD_L}" y1="{_PAD_T}" y2="{base}"/>'
        f'<text x="{_PAD_L - 3}" y="{_PAD_T + 8}" text-anchor="end">{top_ms:.0f}</text>'
        f'<text x="{_PAD_L - 3}" y="{base}" text-anchor="end">0 ms</text>'
        f'<text x="{_PAD_L}" y="{_CHART_H - 3}">0</text>'
        f'<text x="{_PAD_L + plot_w}" y="{_CHART_H - 3}" text-anchor="end">{span:.0f} ms</text>'
        "</svg>"
    )
