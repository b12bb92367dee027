"""The HTML report: self-contained markup, and checked in a real headless Chromium.

The browser test loads the page from a file with the network domain recorded, types into the
filter and clicks the column headers as a user would, and keeps a full-page screenshot
(``tests/artifacts/html-report.png``, a CI artefact).
"""
from __future__ import annotations

import html.parser
import os
import re
from dataclasses import replace
from pathlib import Path

import pytest
from pc_browser import Browser, find_chromium

from patchcheck.model import ScanReport, Verdict
from patchcheck.reporters.html import render_html, render_html_reports
from patchcheck.verdicts import evidence as ev
from patchcheck.verdicts.fold import with_suite_stalls

ARTIFACTS = Path(__file__).resolve().parent.parent / "artifacts"
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")

PSYCOPG_SUITE = ev.SuiteStalls(
    stalls=3, worst_ms=447.0, total_ms=1012.4, limit_ms=100.0,
    worst_test="tests/test_reports.py::test_slow_report",
    worst_location="psycopg2/extras.py:236", tests=("tests/test_reports.py::test_slow_report",
                                                    "tests/test_api.py::test_export"),
    locations=("psycopg2/extras.py:236",), via=("cur.execute (psycopg2.extensions.cursor)",),
    report="reports/stalls.json")
ATTRS_SUITE = ev.SuiteStalls(stalls=1, worst_ms=212.5, total_ms=212.5, limit_ms=100.0,
                             worst_test="tests/test_models.py::test_validate",
                             worst_location="attr/_make.py:12", report="reports/stalls.json")


def with_suite(report: ScanReport) -> ScanReport:
    suite = {"psycopg2-binary": PSYCOPG_SUITE, "attrs": ATTRS_SUITE}
    return replace(report, results=tuple(
        with_suite_stalls(r, suite[r.key]) if r.key in suite else r for r in report.results))


class _Collector(html.parser.HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))


def test_the_page_is_self_contained(sample_report):
    page = render_html(with_suite(sample_report))
    parser = _Collector()
    parser.feed(page)
    tags = parser.tags
    # nothing to fetch: no external script, stylesheet, image or font
    assert not [t for t in tags if t[0] in ("link", "img", "iframe", "object", "embed")]
    assert not [t for t in tags if t[0] == "script" and t[1].get("src")]
    assert not re.search(r"""(?:src|href)=["']?(?:https?:)?//""", page)
    assert "@import" not in page and "url(" not in page
    csp = next(a["content"] for t, a in tags if t == "meta" and a.get("http-equiv"))
    assert "default-src 'none'" in csp
    # one row per distribution, each with its verdict for the filter
    rows = [a for t, a in tags if t == "tr" and "data-verdict" in a]
    assert [a["data-name"] for a in rows] == [r.key for r in sample_report.results]
    anchors = {a["id"] for _, a in tags if "id" in a}
    assert {a["href"][1:] for t, a in tags if t == "a"} <= anchors  # every link lands


def test_library_text_is_escaped(sample_report):
    hostile = replace(sample_report.results[0], name="<script>alert(1)</script>")
    page = render_html(replace(sample_report, results=(hostile,)))
    assert "<script>alert(1)" not in page and "&lt;script&gt;alert(1)" in page


def test_heartbeat_charts_show_the_plain_run_beside_its_remedy(sample_report):
    page = render_html(sample_report)
    psycopg = page[page.index('id="d-psycopg2-binary"'):]
    psycopg = psycopg[:psycopg.index("</details>")]
    figures = re.findall(r'<figure class="chart" data-outcome="([a-z-]+)">', psycopg)
    assert figures == ["blocks", "cooperates"]
    plain, remedy = psycopg.split('<figure class="chart"')[1:3]
    # the blocked run's long gaps are stall bars, the remedy's short ones heartbeat bars
    assert plain.count('class="stall"') == 3 and 'class="beat"' in plain
    assert 'class="stall"' not in remedy and remedy.count('class="beat"') > 50
    assert "with psycogreen.gevent.patch_psycopg(): cooperates" in remedy


def test_suite_evidence_is_beside_the_probe(sample_report):
    page = render_html(with_suite(sample_report))
    suite = page[page.index("<h2>Your test suite</h2>"):]
    suite = suite[:suite.index("</table>")]
    assert "tests/test_reports.py::test_slow_report" in suite
    assert "psycopg2.pg_sleep: blocks (stall 503 ms, ratio 2.9×)" in suite
    assert "no probe" in suite  # attrs: measured by the suite only
    assert "blocked the hub once in your test suite, worst 212 ms" in page


def test_several_environments_make_a_matrix(sample_report):
    newer = replace(sample_report, environment=replace(sample_report.environment,
                                                        gevent_version="26.12.0"),
                    results=tuple(r.with_verdict(Verdict.COOPERATES) if r.key == "redis" else r
                                  for r in sample_report.results))
    page = render_html_reports([sample_report, newer])
    matrix = page[page.index('<table class="matrix">'):]
    matrix = matrix[:matrix.index("</table>")]
    changed = re.findall(r'<tr class="changed"><th>([^<]+)</th>', matrix)
    assert changed == ["redis"]
    assert "gevent 26.9.0" in matrix and "gevent 26.12.0" in matrix
    # each environment's section has its own anchors
    assert 'id="e0-d-psycopg2-binary"' in page and 'id="e1-d-psycopg2-binary"' in page
    anchors = set(re.findall(r' id="([^"]+)"', page))
    assert {h for h in re.findall(r'href="#([^"]+)"', page)} <= anchors


@pytest.fixture
def chromium() -> str:
    path = find_chromium()
    if path is None:
        if IN_CI:
            pytest.fail("chromium is not installed (CI=true: .ci/setup installs it)")
        pytest.skip("chromium is not installed (apt-get install chromium)")
    return path


def test_in_a_real_browser(sample_report, chromium, tmp_path):
    report = with_suite(sample_report)
    page = tmp_path / "report.html"
    page.write_text(render_html(report), encoding="utf-8")
    browser = Browser(chromium)
    try:
        for domain in ("Page", "Runtime", "Log", "Network"):
            browser.send(f"{domain}.enable")
        browser.send("Page.navigate", url=page.as_uri())
        browser.wait_event("Page.loadEventFired")
        total = len(report.results)

        def visible() -> list[str]:
            return browser.evaluate(
                "Array.from(document.querySelectorAll('#results tbody tr'))"
                ".filter(r => r.offsetParent !== null).map(r => r.dataset.name)")

        # it renders: every row, the counts, the charts drawn with a size
        assert visible() == [r.key for r in report.results]
        assert browser.evaluate("document.getElementById('pc-shown').textContent") == \
            f"{total} of {total} shown"
        assert browser.evaluate(
            "document.querySelector('figure.chart svg').getBoundingClientRect().width") > 200

        # the text filter: type as a user would
        browser.type_into("#pc-filter", "psycopg")
        assert visible() == ["psycopg2-binary"]
        assert browser.evaluate("document.getElementById('pc-shown').textContent") == \
            f"1 of {total} shown"
        browser.evaluate("(() => { const f = document.getElementById('pc-filter');"
                         "f.value = ''; f.dispatchEvent(new Event('input')); })()")
        assert len(visible()) == total

        # the verdict filter, through its count button
        blocks = [r.key for r in report.results if r.verdict is Verdict.BLOCKS]
        assert "attrs" in blocks  # measured by the suite: no longer untested
        browser.click('.count[data-verdict="blocks"]')
        assert visible() == blocks
        browser.click('.count[data-verdict="blocks"]')  # again: all
        assert len(visible()) == total

        # sorting by name, both ways, and by verdict (worst first)
        browser.click("#results th:nth-child(1) button")
        names = sorted(r.key for r in report.results)
        assert visible() == names
        browser.click("#results th:nth-child(1) button")
        assert visible() == names[::-1]
        browser.click("#results th:nth-child(3) button")
        ranks = browser.evaluate(
            "Array.from(document.querySelectorAll('#results tbody tr'))"
            ".map(r => r.dataset.verdict)")
        assert ranks[0] == "breaks" and ranks == sorted(
            ranks, key=lambda name: -Verdict(name).rank)

        # open the blocked distribution's evidence for the screenshot
        browser.click('#results a[href="#d-psycopg2-binary"]')
        browser.evaluate("document.getElementById('d-psycopg2-binary').open = true")
        browser.evaluate("window.scrollTo(0, 0)")

        assert browser.console_errors() == []
        assert [u for u in browser.requests() if not u.startswith(("file:", "data:"))] == []
        shot = ARTIFACTS / "html-report.png"
        browser.screenshot(shot)
        print(f"screenshot: {shot}")
        assert shot.stat().st_size > 10_000
    finally:
        browser.close()
