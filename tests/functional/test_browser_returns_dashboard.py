"""A Manager reads the net figures and the returns page in a real browser (headless Debian
Chromium driven by Playwright) against the KPI day of ``test_kpis`` with
``tests.factories.after_sale.after_sale_day`` (2 approved returns of 4 sold, 22.00 credited,
net revenue 31.00): the overview's Returns card shows the count and the rate, the nav leads
to the returns page, whose chart draws the reasons and whose tables list them per buyer and
per source. Screenshots go to ``test-artifacts/screenshots/``.

Skipped, with the reason, when Playwright or ``/usr/bin/chromium`` is missing.
"""

from __future__ import annotations

import pytest

from apps.reports.services import rollup_refresh
from tests.factories.after_sale import after_sale_day
from tests.factories.dashboards import manager_create
from tests.functional.browser import BROWSER_MARKS, SCREENSHOTS, chromium
from tests.integration import test_kpis
from tests.integration.test_kpis import utc

world = test_kpis.world

pytestmark = BROWSER_MARKS

DAY = "from=2026-03-10&to=2026-03-10&tz=America%2FNew_York"

# The returns chart: its reasons, approved counts and how many pixels it painted.
CHART_STATE = """() => {
  const canvas = document.getElementById('chart-returns');
  const chart = window.Chart && Chart.getChart(canvas);
  if (!chart) return null;
  const pixels = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data;
  let painted = 0;
  for (let i = 3; i < pixels.length; i += 4) if (pixels[i] > 0) painted++;
  return {labels: chart.data.labels, approved: chart.data.datasets[0].data, painted};
}"""


@pytest.fixture(autouse=True)
def _plain_static_storage(settings):
    settings.STORAGES = {**settings.STORAGES, "staticfiles": {
        "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"}}


def test_a_manager_reads_the_returns_in_a_browser(live_server, world):
    after_sale_day(world)
    rollup_refresh(utc("2026-03-09T00:00:00"), utc("2026-03-12T00:00:00"))
    manager_create("mia", "returns-pw-1")
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    shots = {name: SCREENSHOTS / f"dashboard_{name}.png" for name in (
        "overview_returns", "returns")}
    for shot in shots.values():
        shot.unlink(missing_ok=True)
    base = live_server.url
    broken: list[str] = []
    errors: list[str] = []

    with chromium() as browser:
        page = browser.new_context(viewport={"width": 1440, "height": 1100}).new_page()
        page.set_default_timeout(15_000)
        page.on("response", lambda r: r.status >= 400 and broken.append(f"{r.status} {r.url}"))
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.goto(f"{base}/dashboard/?{DAY}")
        page.fill("#id_username", "mia")
        page.fill("#id_password", "returns-pw-1")
        page.click("input[type=submit]")
        page.wait_for_url(f"{base}/dashboard/?{DAY}")

        returns_card = page.locator("[data-kpi=returns]")
        card = (returns_card.locator(".card-value").inner_text(),
                returns_card.locator(".card-detail").inner_text())
        net_revenue = page.locator("[data-kpi=net_revenue] .card-value").inner_text()
        page.locator("#lead-cards-title").scroll_into_view_if_needed()
        page.screenshot(path=shots["overview_returns"])

        page.click("nav >> text=Returns")
        page.wait_for_url(f"{base}/dashboard/returns/?{DAY}")
        page.wait_for_function(f"() => ({CHART_STATE})() !== null")
        chart = page.evaluate(CHART_STATE)
        by_buyer = page.locator("#returns-by-buyer tbody tr").all_inner_texts()
        by_source = page.locator("#returns-by-source tbody tr").count()
        cards = {name: page.locator(f"[data-kpi={name}] .card-value").inner_text()
                 for name in ("returns", "returns_pending", "return_rate", "credits")}
        page.screenshot(path=shots["returns"], full_page=True)

    assert card == ("2", "50.0 % return rate") and net_revenue == "31.00"
    assert cards == {"returns": "2", "returns_pending": "1", "return_rate": "50.0 %",
                     "credits": "22.00"}
    assert chart["labels"] == ["bad_contact", "fraud", "not_interested"]
    assert chart["approved"] == [1, 1, 0] and chart["painted"] > 1000
    assert len(by_buyer) == 4 and by_source == 3
    assert by_buyer[0].split("\t")[:3] == ["B1", "bad_contact", "1"]
    assert not broken and not errors, (broken, errors)
    assert all(shot.stat().st_size > 10_000 for shot in shots.values())
