"""The sources' ping figures on the dashboards, in their CSV and in the API, against the KPI
day of ``test_kpis`` plus ``tests.factories.pings.ping_day`` (pings 10, bids 7, bid rate 0.7,
avg bid offered 6.79, posted 4, ping → post 0.5714, expired 2, sold 2; S1 6 / 4 / 8.50 /
3 / 0.75 / 1 / 2, S2 4 / 3 / 4.50 / 1 / 0.3333 / 1 / 0): page = CSV = API."""

from __future__ import annotations

import csv
import io

import pytest

from apps.reports.services import rollup_refresh
from tests.factories.pings import ping_day
from tests.functional.test_dashboards import DAY, Figures, _api, same
from tests.functional.test_dashboards import manager as manager
from tests.integration import test_kpis
from tests.integration.test_kpis import utc

world = test_kpis.world

pytestmark = pytest.mark.django_db

PING_FIGURES = ("pings_received", "pings_bid", "ping_bid_rate", "avg_bid_offered",
                "pings_posted", "ping_post_rate", "pings_expired", "pings_sold")


@pytest.fixture
def pings(world):
    found = ping_day(world)
    rollup_refresh(utc("2026-03-09T00:00:00"), utc("2026-03-12T00:00:00"))
    return found


def _csv(client, url: str, params: dict) -> list[dict[str, str]]:
    response = client.get(url, {**params, "format": "csv"})
    assert response.status_code == 200 and response["Content-Type"].startswith("text/csv")
    return list(csv.DictReader(io.StringIO(response.content.decode())))


def test_the_sources_table_shows_each_sources_pings(client, pings, world, manager):
    html = client.get("/dashboard/sources/", DAY).content.decode()
    table = Figures(html).table("kpi-table")

    s1, s2 = table[str(world.s1.pk)], table[str(world.s2.pk)]
    assert [s1[name] for name in PING_FIGURES] == [
        "6", "4", "0.6667", "8.50", "3", "0.75", "1", "2"]
    assert [s2[name] for name in PING_FIGURES] == [
        "4", "3", "0.75", "4.50", "1", "0.3333", "1", "0"]
    assert [table["total"][name] for name in PING_FIGURES] == [
        "10", "7", "0.7", "6.79", "4", "0.5714", "2", "2"]
    assert ">Ping → post</th>" in html and ">75.0 %</td>" in html


def test_the_verticals_table_shows_the_pings(client, pings, world, manager):
    table = Figures(client.get("/dashboard/verticals/", DAY).content.decode()).table(
        "kpi-table")

    row = table[str(world.vertical.pk)]
    assert [row[name] for name in PING_FIGURES] == [
        "10", "7", "0.7", "6.79", "4", "0.5714", "2", "2"]


@pytest.mark.parametrize(("url", "group_by"), [
    ("/dashboard/sources/", "source"), ("/dashboard/verticals/", "vertical")])
def test_the_csv_has_the_ping_columns_with_the_apis_values(client, api_client, pings,
                                                          manager, url, group_by):
    params = {**DAY, "group_by": group_by}

    lines = _csv(client, url, params)
    rows = {row["key"]: row for row in _api(api_client, manager, params)["rows"]}

    assert set(PING_FIGURES) <= set(lines[0])
    assert {line[f"{group_by}_id"] for line in lines} == set(rows)
    for line in lines:
        for name in PING_FIGURES:
            assert same(rows[line[f"{group_by}_id"]][name], line[name]), name


def test_the_overview_has_a_source_pings_section(client, api_client, pings, manager):
    html = client.get("/dashboard/", DAY).content.decode()
    cards = Figures(html).cards
    totals = _api(api_client, manager, DAY)["totals"]

    assert 'id="ping-cards-title"' in html
    assert (cards["pings_received"], cards["ping_bid_rate"], cards["avg_bid_offered"]) == (
        "10", "0.7", "6.79")
    assert (cards["pings_posted"], cards["pings_expired"], cards["pings_sold"]) == (
        "4", "2", "2")
    assert "57.1 % ping → post" in html  # under the posted pings
    for name in ("pings_received", "ping_bid_rate", "avg_bid_offered", "pings_expired"):
        assert same(totals[name], cards[name]), name


def test_the_ping_figures_are_defined_like_the_others(client, pings, manager):
    html = client.get("/dashboard/sources/", DAY).content.decode()
    footnote = html[html.index('id="definitions"'):]

    assert "<dt>Ping → post</dt><dd>Pings posted ÷ pings answered with a bid" in footnote
    assert "<dt>Avg bid offered</dt>" in footnote and "<dt>Pings expired</dt>" in footnote
    assert 'title="Source pings answered with a bid ÷ pings received."' in html


def test_without_pings_the_overview_has_no_source_pings_section(client, world, manager):
    html = client.get("/dashboard/", DAY).content.decode()

    assert 'id="ping-cards-title"' not in html
    assert "pings_received" not in Figures(html).cards
