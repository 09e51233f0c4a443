"""WCAG 2.1 AA, as BITV 2.0 asks of German public bodies (issue 20, item 8): axe-core runs in
Chromium on every page of every role, in German, and finds no serious or critical violation
(tap targets of at least 24 px included: WCAG 2.2's target-size); and no page scrolls
sideways in a window 800 or 390 px wide.

The pages are those the crawl of tests/e2e/test_words.py reaches for each role. The report
(every violation of any impact, per page) is printed and written to
bench/results/accessibility.json.
"""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import REPO
from tests.e2e.pages import CRAWL_ROLES, crawl, logged_in
from tests.e2e.test_browser import log_in, start_chromium

pytestmark = [pytest.mark.e2e, pytest.mark.browser]

AXE = REPO / "tests" / "e2e" / "axe" / "node_modules" / "axe-core" / "axe.min.js"
REPORT = REPO / "bench" / "results" / "accessibility.json"
BLOCKING = {"serious", "critical"}
RUN_AXE = """
const done = arguments[arguments.length - 1];
axe.run(document, {runOnly: {type: "tag",
                            values: ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa"]}})
  .then(r => done(r.violations.map(v => ({id: v.id, impact: v.impact, help: v.help,
      nodes: v.nodes.slice(0, 5).map(n => n.target.join(" "))}))))
  .catch(e => done([{id: "axe-error", impact: "critical", help: String(e), nodes: []}]));
"""


@pytest.fixture
def german_browser(tmp_path):
    driver = start_chromium(tmp_path, "de-DE", needs=(str(AXE),))
    yield driver
    driver.quit()


# Wider than the window: the page scrolls sideways (a table may scroll inside its own box)
SIDEWAYS_JS = "return document.documentElement.scrollWidth - window.innerWidth;"
WIDTHS = (800, 390)


def _violations(browser, url: str, axe_source: str) -> list[dict]:
    browser.set_window_size(1366, 1000)
    browser.get(url)
    browser.execute_script(axe_source)
    found = browser.execute_async_script(RUN_AXE)
    for width in WIDTHS:
        browser.set_window_size(width, 900)
        overflow = browser.execute_script(SIDEWAYS_JS)
        if overflow > 0:
            found.append({"id": f"scrolls-sideways-at-{width}px", "impact": "serious",
                          "help": f"the page is {overflow} px wider than a {width} px window",
                          "nodes": []})
    return found


def test_axe_finds_no_serious_or_critical_violation_on_any_page_of_any_role(
        network_with_cases, german_browser):
    network, browser = network_with_cases, german_browser
    axe_source = Path(AXE).read_text(encoding="utf-8")
    report: dict[str, dict[str, list[dict]]] = {}
    for role in CRAWL_ROLES:
        urls = [p.url for p in crawl(network, logged_in(network, role, "de"))
                if p.status == 200]
        browser.delete_all_cookies()
        browser.get(f"{network}/login")
        log_in(browser, network, role)
        report[role] = {url.removeprefix(network): _violations(browser, url, axe_source)
                        for url in urls}
    REPORT.parent.mkdir(parents=True, exist_ok=True)
    REPORT.write_text(json.dumps(report, indent=1, ensure_ascii=False), encoding="utf-8")
    blocking = [f"{role} {url}: {v['impact']} {v['id']} ({v['help']}) at {v['nodes']}"
                for role, pages in report.items() for url, found in pages.items()
                for v in found if v["impact"] in BLOCKING]
    minor = sum(1 for pages in report.values() for found in pages.values() for v in found
                if v["impact"] not in BLOCKING)
    pages = sum(len(p) for p in report.values())
    print(f"axe-core: {pages} pages of {len(report)} roles; {len(blocking)} serious or critical "
          f"violations, {minor} moderate or minor (report: {REPORT})")
    print("\n".join(blocking))
    assert not blocking, f"{len(blocking)} serious or critical violations:\n" + "\n".join(
        blocking)
