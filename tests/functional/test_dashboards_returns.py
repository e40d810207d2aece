"""The net figures on the dashboards and the returns page, against the KPI day of
``test_kpis`` plus ``tests.factories.after_sale.after_sale_day`` (sold 4, revenue 53.00,
returns 2 approved + 1 pending + 1 rejected, credits 22.00, net revenue 31.00, clawbacks
7.00, net margin 0.90): page = CSV = API for the same query string."""

from __future__ import annotations

import csv
import io
from decimal import Decimal

import pytest

from apps.reports.services import rollup_refresh
from tests.factories.after_sale import after_sale_day
from tests.functional.test_dashboards import DAY, Figures, _api, same
from tests.functional.test_dashboards import manager as manager
from tests.integration import test_kpis
from tests.integration.test_kpis import utc

world = test_kpis.world

pytestmark = pytest.mark.django_db

NET = ("returns", "returns_pending", "return_rate", "credits", "net_revenue", "clawbacks",
       "net_payout", "net_margin", "conversions", "converted_leads", "conversion_rate",
       "conversion_value")


@pytest.fixture
def sales(world):
    found = after_sale_day(world)
    rollup_refresh(utc("2026-03-09T00:00:00"), utc("2026-03-12T00:00:00"))
    return found


def _csv(client, url: str, params: dict) -> list[dict[str, str]]:
    response = client.get(url, {**params, "format": "csv"})
    assert response.status_code == 200 and response["Content-Type"].startswith("text/csv")
    return list(csv.DictReader(io.StringIO(response.content.decode())))


def test_the_overview_returns_card_shows_the_count_and_the_rate(client, sales, manager):
    html = client.get("/dashboard/", DAY).content.decode()
    cards = Figures(html).cards

    assert (cards["returns"], cards["net_revenue"], cards["net_margin"]) == (
        "2", "31.00", "0.90")
    assert cards["conversion_rate"] == "0.5"
    returns_card = html[html.index('data-kpi="returns"'):]
    returns_card = returns_card[:returns_card.index('<div class="card" ')]
    assert '<div class="card-value">2</div>' in returns_card
    assert "50.0 % return rate" in returns_card
    assert "22.00 credits" in html  # under the net revenue


def test_the_overview_cards_are_the_apis_net_figures(client, api_client, sales, manager):
    cards = Figures(client.get("/dashboard/", DAY).content.decode()).cards
    totals = _api(api_client, manager, DAY)["totals"]

    assert (totals["returns"], totals["credits"], totals["net_revenue"]) == (2, "22.00",
                                                                            "31.00")
    for name in ("returns", "net_revenue", "net_margin", "conversion_rate"):
        assert same(totals[name], cards[name]), name


def test_the_net_figures_are_defined_like_the_others(client, sales, manager):
    html = client.get("/dashboard/sources/", DAY).content.decode()
    footnote = html[html.index('id="definitions"'):]

    assert "<dt>Net revenue</dt><dd>Revenue − credits.</dd>" in footnote
    assert "<dt>Return rate</dt><dd>Approved returns ÷ sold leads" in footnote
    assert "hour the lead was received" in footnote
    assert 'title="Payouts − clawbacks."' in html


@pytest.mark.parametrize(("url", "group_by"), [
    ("/dashboard/sources/", "source"), ("/dashboard/buyers/", "buyer"),
    ("/dashboard/buyers/", "contract"), ("/dashboard/verticals/", "vertical")])
def test_each_table_its_csv_and_the_api_give_the_same_net_figures(client, api_client, sales,
                                                                  manager, url, group_by):
    params = {**DAY, "group_by": group_by}

    table = Figures(client.get(url, params).content.decode()).table("kpi-table")
    lines = {line[f"{group_by}_id"]: line for line in _csv(client, url, params)}
    body = _api(api_client, manager, params)

    rows = {row["key"]: row for row in body["rows"]}
    assert set(table) - {"total"} == set(lines) == set(rows)
    compared = 0
    for key, row in rows.items():
        for name in NET:
            if name in table[key]:
                assert same(row[name], table[key][name]), (key, name)
                assert table[key][name] == lines[key][name], (key, name)
                compared += 1
    assert compared >= 8 * len(rows)
    assert same(body["totals"]["net_revenue"], table["total"]["net_revenue"])


def test_the_sources_table_shows_the_net_columns(client, sales, world, manager):
    table = Figures(client.get("/dashboard/sources/", DAY).content.decode()).table("kpi-table")

    s2 = table[str(world.s2.pk)]
    assert (s2["returns"], s2["return_rate"], s2["credits"], s2["net_revenue"]) == (
        "1", "1.0", "12.00", "0.00")
    assert (s2["clawbacks"], s2["net_payout"], s2["net_margin"]) == ("0.00", "8.40", "-8.40")
    assert table["total"]["net_revenue"] == "31.00"


# --- the returns page ---------------------------------------------------------------------------

def test_the_returns_page_shows_the_returns_by_status_and_their_money(client, api_client,
                                                                     sales, manager):
    response = client.get("/dashboard/returns/", DAY)
    cards = Figures(response.content.decode()).cards
    totals = _api(api_client, manager, DAY)["totals"]

    assert response.status_code == 200
    assert cards == {"returns": "2", "returns_pending": "1", "returns_rejected": "1",
                     "return_rate": "0.5", "credits": "22.00", "clawbacks": "7.00",
                     "net_revenue": "31.00"}
    for name, shown in cards.items():
        assert same(totals[name], shown), name


def test_the_returns_page_lists_the_reasons_per_buyer_and_per_source(client, sales, world,
                                                                     manager):
    page = Figures(client.get("/dashboard/returns/", DAY).content.decode())

    by_buyer = page.table("returns-by-buyer")
    by_source = page.table("returns-by-source")
    b1 = world.b1.pk
    assert by_buyer[f"{b1}:bad_contact"] == {"approved": "1", "pending": "0", "rejected": "0",
                                             "credits": "10.00", "clawbacks": "7.00"}
    assert by_buyer[f"{b1}:fraud"]["credits"] == "12.00"
    assert by_buyer[f"{world.b2.pk}:not_interested"]["pending"] == "1"
    assert by_source[f"{world.s1.pk}:bad_contact"] == {
        "approved": "1", "pending": "0", "rejected": "1", "credits": "10.00",
        "clawbacks": "7.00"}
    assert len(by_buyer) == 4 and len(by_source) == 3


@pytest.mark.parametrize("by", ["buyer", "source"])
def test_the_returns_csv_is_the_reasons_table(client, sales, manager, by):
    table = Figures(client.get("/dashboard/returns/", DAY).content.decode()).table(
        f"returns-by-{by}")

    response = client.get("/dashboard/returns/", {**DAY, "by": by, "format": "csv"})
    lines = list(csv.DictReader(io.StringIO(response.content.decode())))

    assert response["Content-Disposition"] == (
        f'attachment; filename="leadexchange-returns-{by}-2026-03-10-2026-03-10.csv"')
    assert list(lines[0]) == [f"{by}_id", by, "reason", "approved", "pending", "rejected",
                              "credits", "clawbacks"]
    assert {f"{line[f'{by}_id']}:{line['reason']}": {k: line[k] for k in (
        "approved", "pending", "rejected", "credits", "clawbacks")} for line in lines} == table


def test_the_returns_chart_stacks_the_reasons_by_status(client, sales, manager):
    html = client.get("/dashboard/returns/", DAY).content.decode()

    assert 'id="chart-returns"' in html and 'id="returns-chart-data"' in html
    assert '"labels": ["bad_contact", "fraud", "not_interested"]' in html
    assert '{"key": "approved", "label": "Approved", "data": [1, 1, 0]}' in html


def test_the_returns_page_is_in_the_nav_and_keeps_the_filter(client, sales, world, manager):
    html = client.get("/dashboard/", {**DAY, "source": world.s1.pk}).content.decode()

    assert (f'href="/dashboard/returns/?from=2026-03-10&amp;to=2026-03-10&amp;'
            f'tz=America%2FNew_York&amp;source={world.s1.pk}"') in html
    filtered = Figures(client.get("/dashboard/returns/", {**DAY, "source": world.s2.pk})
                       .content.decode())
    assert filtered.cards["returns"] == "1" and filtered.cards["credits"] == "12.00"
    assert set(filtered.table("returns-by-source")) == {f"{world.s2.pk}:fraud"}


def test_the_returns_page_names_a_bad_table_and_keeps_its_doors_shut(client, sales, manager):
    bad = client.get("/dashboard/returns/", {**DAY, "by": "planet", "format": "csv"})
    client.logout()
    anonymous = client.get("/dashboard/returns/", DAY)

    assert bad.status_code == 400 and '<li data-param="by">' in bad.content.decode()
    assert anonymous.status_code == 302 and "/admin/login/" in anonymous["Location"]


def test_the_returns_page_makes_a_fixed_number_of_queries(client, sales, manager,
                                                          django_assert_max_num_queries):
    with django_assert_max_num_queries(12):
        assert client.get("/dashboard/returns/", DAY).status_code == 200


def test_with_a_buyer_filter_the_overview_shows_the_buyers_net_revenue(client, sales, world,
                                                                       manager):
    cards = Figures(client.get("/dashboard/", {**DAY, "buyer": world.b1.pk})
                    .content.decode()).cards

    assert (cards["revenue"], cards["returns"], cards["net_revenue"]) == (
        "22.00", "2", "0.00")
    assert Decimal(cards["conversion_rate"]) == 0
