"""A Manager reads the dashboards in a real browser (headless Debian Chromium driven by
Playwright) against the hand-computed KPI fixture plus a busy week of leads: the overview
draws its charts, a source filter changes the numbers, the buyers table sorts and downloads
as CSV, a lead's waterfall shows every pinged buyer, and the live view picks up a lead
submitted through the API while the page is open; and every page fits a 1366 px laptop
and a 390 px phone. Screenshots go to ``test-artifacts/screenshots/``, the README's picture to
``docs/screenshots/dashboard-overview.png``; nothing is fetched from outside the live
server.

Skipped, with the reason, when Playwright or ``/usr/bin/chromium`` is missing.
"""

from __future__ import annotations

import csv
import io
import json
import re
import urllib.request
from pathlib import Path

import pytest

from apps.reports.services import rollup_refresh
from tests.factories import source_with_key
from tests.factories.dashboards import busy_week, manager_create, waterfall_lead
from tests.functional.browser import BROWSER_MARKS, SCREENSHOTS, chromium
from tests.integration import test_kpis
from tests.integration.test_kpis import utc

world = test_kpis.world  # the hand-computed KPI fixture, as a fixture of this module

pytestmark = BROWSER_MARKS  # ~10 s: a browser, a live server, a week of leads

DAY = "from=2026-03-10&to=2026-03-10&tz=America%2FNew_York"
WEEK = "from=2026-03-02&to=2026-03-08&tz=America%2FNew_York"

# The overview's volume chart: how many leads it plots and how many pixels it painted.
CHART_STATE = """(id) => {
  const canvas = document.getElementById(id);
  const chart = window.Chart && Chart.getChart(canvas);
  if (!chart) return null;
  const pixels = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data;
  let painted = 0;
  for (let i = 3; i < pixels.length; i += 4) if (pixels[i] > 0) painted++;
  return {received: chart.data.datasets[0].data.reduce((a, b) => a + b, 0),
          series: chart.data.datasets.map(d => d.label), painted};
}"""


@pytest.fixture(autouse=True)
def _plain_static_storage(settings):
    """Link ``/static/…`` as in the source tree, which the live server's handler serves."""
    settings.STORAGES = {**settings.STORAGES, "staticfiles": {
        "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"}}


def _submit_lead(base_url: str, key: str) -> str:
    """A lead arriving through the capture API while the live view is open; its id."""
    request = urllib.request.Request(  # noqa: S310 - the live server on 127.0.0.1
        f"{base_url}/api/v1/leads", method="POST",
        data=json.dumps({"vertical": "auto-insurance", "fields": {}}).encode(),
        headers={"Authorization": f"Bearer {key}", "Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
        return json.loads(response.read())["id"]


def test_a_manager_reads_the_dashboards_in_a_browser(live_server, world, tmp_path):
    lead = waterfall_lead(world)
    busy_week(world)
    rollup_refresh(utc("2026-03-01T00:00:00"), utc("2026-03-13T00:00:00"))
    manager_create("mia", "dashboard-pw-1")
    _, key = source_with_key(world.vertical, name="Webform Direct")
    s2 = world.s2.pk
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    shots = {name: SCREENSHOTS / f"dashboard_{name}.png" for name in (
        "overview", "overview_top", "overview_day", "overview_filtered", "buyers",
        "lead_waterfall", "live")}
    for shot in shots.values():
        shot.unlink(missing_ok=True)
    base = live_server.url
    broken: list[str] = []
    foreign: list[str] = []
    errors: list[str] = []

    with chromium() as browser:
        context = browser.new_context(viewport={"width": 1440, "height": 1100},
                                      accept_downloads=True)
        page = context.new_page()
        page.set_default_timeout(15_000)
        page.on("response", lambda r: r.status >= 400 and broken.append(
            f"{r.status} {r.url}"))
        page.on("request", lambda r: r.url.startswith((base, "data:", "blob:"))
                or foreign.append(r.url))
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.on("console", lambda m: m.type == "error" and errors.append(
            f"{m.text} {m.location.get('url', '')}"))

        # the login page sends the Manager back to the filtered overview
        page.goto(f"{base}/dashboard/?{DAY}")
        page.fill("#id_username", "mia")
        page.fill("#id_password", "dashboard-pw-1")
        page.click("input[type=submit]")
        page.wait_for_url(f"{base}/dashboard/?{DAY}")

        # (a) the overview draws its charts
        page.wait_for_function(f"() => ({CHART_STATE})('chart-money') !== null")
        day = page.evaluate(CHART_STATE, "chart-volume")
        day_received = page.locator("[data-kpi=received] .card-value").inner_text()
        page.screenshot(path=shots["overview_day"], full_page=True)

        # (b) a source filter changes the numbers, in the cards and in the chart
        page.select_option("select[name=source]", str(s2))
        page.click(".filters button[type=submit]")
        page.wait_for_url(re.compile(rf"/dashboard/\?.*source={s2}"))
        page.wait_for_function(f"() => ({CHART_STATE})('chart-volume') !== null")
        filtered = page.evaluate(CHART_STATE, "chart-volume")
        filtered_received = page.locator("[data-kpi=received] .card-value").inner_text()
        page.screenshot(path=shots["overview_filtered"], full_page=True)

        page.goto(f"{base}/dashboard/?{WEEK}")
        page.wait_for_function(f"() => ({CHART_STATE})('chart-money') !== null")
        week = page.evaluate(CHART_STATE, "chart-volume")
        page.screenshot(path=shots["overview"], full_page=True)
        page.screenshot(path=shots["overview_top"])

        # (c) the buyers table sorts on a click and downloads as CSV
        page.goto(f"{base}/dashboard/buyers/?{DAY}")
        first_before = page.locator("#kpi-table tbody tr").first.get_attribute("data-label")
        page.click("#kpi-table th[data-col=revenue]")
        by_revenue = page.locator("#kpi-table tbody tr").evaluate_all(
            "rows => rows.map(r => r.dataset.label)")
        page.click("#kpi-table th[data-col=revenue]")
        by_revenue_up = page.locator("#kpi-table tbody tr").evaluate_all(
            "rows => rows.map(r => r.dataset.label)")
        page.screenshot(path=shots["buyers"], full_page=True)
        with page.expect_download() as download_info:
            page.click("a.csv-link")
        download = download_info.value
        csv_name = download.suggested_filename
        saved = tmp_path / csv_name
        download.save_as(saved)
        csv_rows = list(csv.DictReader(io.StringIO(saved.read_text())))

        # (d) the lead's waterfall shows every pinged buyer
        page.goto(f"{base}/dashboard/leads/{lead.uuid}/")
        page.wait_for_function(
            "() => Chart.getChart(document.querySelector('canvas.waterfall'))")
        bar_labels = page.evaluate("() => Chart.getChart(document.querySelector("
                                   "'canvas.waterfall')).data.labels")
        painted = page.evaluate("""() => {
          const c = document.querySelector('canvas.waterfall');
          const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
          let n = 0; for (let i = 3; i < d.length; i += 4) if (d[i] > 0) n++; return n; }""")
        page.screenshot(path=shots["lead_waterfall"], full_page=True)

        # (e) the live view picks up a new lead without a reload
        page.goto(f"{base}/dashboard/live/")
        page.evaluate("() => { window.__notReloaded = true; }")
        rows_before = page.locator("#live-table tbody tr").count()
        new_id = _submit_lead(base, key)
        new_row = page.locator(f"#live-table tbody tr.is-new[data-uuid='{new_id}']")
        new_row.wait_for(timeout=12_000)
        rows_after = page.locator("#live-table tbody tr").count()
        first_uuid = page.locator("#live-table tbody tr").first.get_attribute("data-uuid")
        not_reloaded = page.evaluate("() => window.__notReloaded === true")
        new_source = new_row.locator("td").nth(1).inner_text()
        page.screenshot(path=shots["live"], full_page=True)

    assert day["received"] == 6 and day["painted"] > 2_000, day
    assert day["series"] == ["Received", "Sold", "Rejected"] and day_received == "6"
    assert filtered["received"] == 2 and filtered_received == "2"  # S2 only
    assert week["received"] > 200 and week["painted"] > day["painted"], week
    assert first_before == "B1"  # by name first
    assert by_revenue == ["B2", "B1"] and by_revenue_up == ["B1", "B2"]  # 31.00 vs 10.00
    assert csv_name == "leadexchange-buyers-buyer-2026-03-10-2026-03-10.csv"
    assert [(r["buyer"], r["pings"], r["revenue"]) for r in csv_rows] == [
        ("B1", "4", "10.00"), ("B2", "3", "31.00")]
    for buyer in ("B1 · c1", "B2 · c2", "B3 · c3", "B4 · c4"):
        assert any(label.endswith(f"ping · {buyer}") for label in bar_labels), (buyer,
                                                                                 bar_labels)
    assert not any("B5" in label for label in bar_labels)  # excluded: listed, not drawn
    assert painted > 2_000
    assert rows_before == rows_after == 50  # the window slides: newest 50
    assert first_uuid == new_id and not_reloaded
    assert new_source == "Webform Direct"
    assert not broken, broken
    assert not foreign, foreign  # no CDN, nothing outside the live server
    # the admin's login page has no icon: Chromium's own favicon request may 404 there
    assert not [e for e in errors if not e.endswith("/favicon.ico")], errors
    for shot in shots.values():
        assert shot.is_file() and shot.stat().st_size > 20_000, shot


# --- every page fits a laptop and a phone ---------------------------------------------------

VIEWPORTS = {"laptop": {"width": 1366, "height": 768}, "phone": {"width": 390, "height": 844}}
README_PICTURE = Path(__file__).resolve().parents[2] / "docs" / "screenshots" / (
    "dashboard-overview.png")

# What a width check reads off a page: the document against the window; the elements that
# stick out of the window outside any sideways-scrolling box (the culprits, if any); each
# table with the box that scrolls it; the filter panel; the top bar's links.
LAYOUT = """() => {
  const width = window.innerWidth;
  const scroller = (e) => {
    for (let p = e.parentElement; p; p = p.parentElement) {
      const x = getComputedStyle(p).overflowX;
      if (x === 'auto' || x === 'scroll') return p;
    }
    return null;
  };
  const name = (e) => e.tagName.toLowerCase() + (e.id ? '#' + e.id : '')
    + (typeof e.className === 'string' && e.className.trim()
       ? '.' + e.className.trim().split(/ +/).join('.') : '');
  const sticking = [...document.body.querySelectorAll('*')].filter((e) => {
    const r = e.getBoundingClientRect();
    return r.width > 0 && r.right > width + 0.5 && !scroller(e);
  }).map(name).slice(0, 8);
  const tables = [...document.querySelectorAll('main table')].map((t) => {
    const box = scroller(t);
    return {table: name(t), box: box && name(box),
            boxRight: box && box.getBoundingClientRect().right,
            scrolls: !!box && box.scrollWidth > box.clientWidth};
  });
  const panel = document.querySelector('details.filter-panel');
  const form = document.querySelector('form.filters');
  const links = [...document.querySelectorAll('.topbar a, .topbar button')].map((e) => {
    const r = e.getBoundingClientRect();
    return {text: e.textContent.trim(), left: r.left, right: r.right, top: r.top,
            bottom: r.bottom, width: r.width};
  });
  return {scrollWidth: document.documentElement.scrollWidth, innerWidth: width, sticking,
          tables, panel: panel && {open: panel.open, formShown: form.checkVisibility()},
          links};
}"""


def _overlap(a: dict, b: dict) -> bool:
    return (a["left"] < b["right"] and b["left"] < a["right"]
            and a["top"] < b["bottom"] and b["top"] < a["bottom"])


def test_every_dashboard_page_fits_a_laptop_and_a_phone(live_server, world, client):
    """1366×768 and 390×844: nothing wider than the window on any page (a wide table scrolls
    inside its card), the top bar's links all on screen and apart, the filter panel open on
    the laptop and folded on the phone (and still fitting once unfolded)."""
    lead = waterfall_lead(world)
    busy_week(world)
    rollup_refresh(utc("2026-03-01T00:00:00"), utc("2026-03-13T00:00:00"))
    client.force_login(manager_create("mia"))
    session = client.cookies["sessionid"].value
    pages = {"overview": f"/dashboard/?{WEEK}", "overview-day": f"/dashboard/?{DAY}",
             "buyers": f"/dashboard/buyers/?{WEEK}",
             "contracts": f"/dashboard/buyers/?{WEEK}&group_by=contract",
             "sources": f"/dashboard/sources/?{WEEK}",
             "verticals": f"/dashboard/verticals/?{WEEK}",
             "returns": f"/dashboard/returns/?{WEEK}", "live": "/dashboard/live/",
             "lead": f"/dashboard/leads/{lead.uuid}/", "bad-filter": "/dashboard/?tz=Mars"}
    base = live_server.url
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    seen: dict[tuple[str, str], dict] = {}
    errors: list[str] = []

    with chromium() as browser:
        for device, viewport in VIEWPORTS.items():
            context = browser.new_context(viewport=viewport)
            context.add_cookies([{"name": "sessionid", "value": session, "url": base}])
            page = context.new_page()
            page.set_default_timeout(15_000)
            page.on("pageerror", lambda e: errors.append(str(e)))
            for name, path in pages.items():
                page.goto(base + path)
                page.wait_for_function("() => [...document.querySelectorAll('canvas')]"
                                       ".every(c => window.Chart && Chart.getChart(c))")
                seen[(device, name)] = page.evaluate(LAYOUT)
                page.screenshot(path=SCREENSHOTS / f"fit_{device}_{name}.png", full_page=True)
                if name == "overview" and device == "laptop":
                    # the README's picture: the laptop's width, down to the charts
                    page.screenshot(path=README_PICTURE, full_page=True,
                                    clip={"x": 0, "y": 0, "width": 1366, "height": 1100})
            page.goto(f"{base}/dashboard/buyers/?{WEEK}")
            toggle = page.locator("details.filter-panel > summary")
            if toggle.count():  # checked below: every report page has it
                toggle.click()  # unfold (phone) / fold (laptop)
                seen[(device, "buyers-toggled")] = page.evaluate(LAYOUT)
            context.close()

    assert not errors, errors
    too_wide = {where: (layout["scrollWidth"], layout["sticking"])
                for where, layout in seen.items()
                if layout["scrollWidth"] > layout["innerWidth"]}
    assert not too_wide, too_wide  # {(device, page): (scrollWidth, what sticks out)}
    for (device, name), layout in seen.items():
        where = (device, name)
        assert layout["innerWidth"] == VIEWPORTS[device]["width"]
        assert not layout["sticking"], where
        for table in layout["tables"]:
            assert table["box"] == "div.table-scroll", (where, table)
            assert table["boxRight"] <= layout["innerWidth"] + 0.5, (where, table)
        links = layout["links"]
        assert len(links) == 10, (where, links)  # brand, 8 pages, log out
        for i, link in enumerate(links):
            assert link["left"] >= 0 and link["right"] <= layout["innerWidth"], (where, link)
            assert not any(_overlap(link, other) for other in links[i + 1:]), (where, link)
    filtered = {key: layout["panel"] for key, layout in seen.items() if layout["panel"]}
    assert len(filtered) == 2 * 7 + 2  # every report page has the filter panel
    for (device, name), panel in filtered.items():
        folded = (device == "phone") != (name == "buyers-toggled")
        assert panel["open"] is not folded, (device, name, panel)
        assert panel["formShown"] is not folded, (device, name, panel)
    # on the phone the wide tables really scroll inside their card
    assert seen[("phone", "buyers")]["tables"][0]["scrolls"]
    assert seen[("phone", "lead")]["tables"][0]["scrolls"]
    assert not seen[("laptop", "live")]["tables"][0]["scrolls"]
    assert README_PICTURE.stat().st_size > 20_000
