"""The dashboards under ``/dashboard/`` with Django's test client, against the hand-computed
KPI fixture of ``tests/integration/test_kpis.py`` (2026-03-10 in New York: 6 received,
3 sold, revenue 41.00, margin 12.30).

The numbers are read from the ``data-kpi``/``data-col`` + ``data-value`` attributes the pages
put next to every displayed figure, and compared with ``/api/v1/reports/kpis`` for the same
query string."""

from __future__ import annotations

import csv
import io
import json
import re
from decimal import Decimal
from html.parser import HTMLParser

import pytest
from django.contrib.auth.models import Group
from django.db import connection
from django.test.utils import CaptureQueriesContext

from apps.buyers.models import Contract
from apps.leads.models import Lead, LeadStatus
from apps.reports.services import rollup_refresh
from tests.factories import (
    BuyerFactory,
    SourceFactory,
    VerticalFactory,
    lead_submit,
    sim_contract,
    source_with_key,
)
from tests.factories.dashboards import manager_create, waterfall_lead
from tests.integration import test_kpis
from tests.integration.test_kpis import NY, utc

world = test_kpis.world  # the hand-computed KPI fixture, as a fixture of this module

pytestmark = pytest.mark.django_db

DAY = {"from": "2026-03-10", "to": "2026-03-10", "tz": NY}
PAGES = ["/dashboard/", "/dashboard/buyers/", "/dashboard/sources/", "/dashboard/verticals/",
         "/dashboard/live/", "/dashboard/leads/6f1c3f0e-8a43-4d47-9a55-0d1f5bb1e0a1/"]


class Figures(HTMLParser):
    """Every figure a page shows: ``cards`` {kpi: value}; ``rows`` {(table id, row key):
    {column: value}}; the ``data-value`` strings as rendered ("" where "—" is shown)."""

    def __init__(self, html: str):
        super().__init__()
        self.cards: dict[str, str] = {}
        self.rows: dict[tuple[str, str], dict[str, str]] = {}
        self._table, self._row = "", None
        self.feed(html)

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "table":
            self._table = a.get("id", "")
        elif "data-kpi" in a:
            self.cards[a["data-kpi"]] = a.get("data-value", "")
        elif tag == "tr" and "data-key" in a:
            self._row = self.rows.setdefault((self._table, a["data-key"]), {})
        elif tag == "td" and self._row is not None and "data-col" in a:
            self._row[a["data-col"]] = a.get("data-value", "")

    def handle_endtag(self, tag):
        if tag == "tr":
            self._row = None

    def table(self, table_id: str) -> dict[str, dict[str, str]]:
        return {key: row for (table, key), row in self.rows.items() if table == table_id}


def same(api_value, shown: str) -> bool:
    """A figure of the API equals the one on the page (money strings, rates, ints)."""
    if api_value is None:
        return shown == ""
    return shown != "" and Decimal(str(api_value)) == Decimal(shown)


@pytest.fixture
def manager(client):
    user = manager_create()
    client.force_login(user)
    return user


def _api(api_client, user, params: dict) -> dict:
    api_client.force_login(user)
    response = api_client.get("/api/v1/reports/kpis", params)
    assert response.status_code == 200, response.content
    return response.json()


# --- who gets in ------------------------------------------------------------------------------

@pytest.mark.parametrize("url", PAGES)
def test_anonymous_visitors_are_sent_to_the_admin_login(client, url):
    response = client.get(url, {"tz": NY})

    assert response.status_code == 302
    assert response["Location"].startswith("/admin/login/?next=/dashboard/")
    assert "tz%3DAmerica%252FNew_York" in response["Location"]  # the filter survives login


def test_the_live_feed_answers_anonymous_callers_401_not_a_login_page(client):
    response = client.get("/dashboard/live.json")

    assert response.status_code == 401
    assert response.json() == {"detail": "Log in first."}


@pytest.mark.parametrize("url", [*PAGES, "/dashboard/live.json"])
def test_staff_without_the_reports_permission_get_403(client, django_user_model, url):
    clerk = django_user_model.objects.create_user("clerk", is_staff=True)
    client.force_login(clerk)

    assert client.get(url).status_code == 403


def test_a_logged_in_non_staff_user_gets_403_even_with_the_permission(client,
                                                                      django_user_model):
    user = django_user_model.objects.create_user("outsider")
    user.groups.add(Group.objects.get(name="Managers"))
    client.force_login(user)

    assert client.get("/dashboard/").status_code == 403


def test_a_source_api_key_opens_no_dashboard(client, world):
    _, key = source_with_key(world.vertical)
    auth = {"HTTP_AUTHORIZATION": f"Bearer {key}"}

    page = client.get("/dashboard/", **auth)
    feed = client.get("/dashboard/live.json", **auth)
    csv_file = client.get("/dashboard/buyers/", {"format": "csv", **DAY}, **auth)

    assert page.status_code == 302 and page["Location"].startswith("/admin/login/")
    assert feed.status_code == 401
    assert csv_file.status_code == 302


@pytest.mark.parametrize("role", ["Managers", "Account managers", "superuser"])
def test_managers_account_managers_and_superusers_read_every_page(client, world,
                                                                   django_user_model, role):
    if role == "superuser":
        user = django_user_model.objects.create_superuser("root", "root@example.com", "pw")
    else:
        user = django_user_model.objects.create_user("staff", is_staff=True)
        user.groups.add(Group.objects.get(name=role))
    client.force_login(user)
    lead = Lead.objects.filter(status=LeadStatus.SOLD).first()

    for url in [*PAGES[:5], f"/dashboard/leads/{lead.uuid}/"]:
        response = client.get(url, DAY)
        assert response.status_code == 200, url
        assert b"Overview" in response.content and b"Buyers" in response.content
    assert client.get("/dashboard/live.json").status_code == 200


def test_the_home_page_sends_readers_to_the_dashboards_and_others_to_the_api_docs(
        client, manager, django_user_model):
    assert client.get("/")["Location"] == "/dashboard/"
    client.logout()
    assert client.get("/")["Location"] == "/api/docs/"
    client.force_login(django_user_model.objects.create_user("clerk", is_staff=True))
    assert client.get("/")["Location"] == "/api/docs/"


def test_dashboards_are_never_cached_and_refuse_posts(client, manager):
    response = client.get("/dashboard/", DAY)
    posted = client.post("/dashboard/", DAY)  # the test client sends no CSRF check

    assert "no-cache" in response["Cache-Control"] and "private" in response["Cache-Control"]
    assert posted.status_code == 405 and posted["Allow"] == "GET, HEAD"


# --- the overview -------------------------------------------------------------------------------

def test_the_overview_shows_the_hand_computed_figures_of_the_day(client, world, manager):
    response = client.get("/dashboard/", DAY)
    cards = Figures(response.content.decode()).cards

    assert response.status_code == 200
    assert (cards["received"], cards["accepted"], cards["duplicates"]) == ("6", "4", "1")
    assert (cards["sold"], cards["sell_through"]) == ("3", "0.75")
    assert (cards["revenue"], cards["payouts"], cards["margin"]) == ("41.00", "28.70", "12.30")
    assert cards["revenue_per_lead"] == "10.25"
    assert cards["rejection_rate"] == "0.1667"  # 1 rejected of 6 received
    assert (cards["deliver_p50_ms"], cards["deliver_p95_ms"]) == ("175.0", "470.0")
    assert cards["post_reject_rate"] == "0.25" and cards["auto_pauses"] == "1"
    assert (cards["returns"], cards["net_revenue"], cards["net_margin"]) == (
        "0", "41.00", "12.30")  # nothing returned: net revenue is the revenue
    html = response.content.decode()
    assert re.search(r'data-kpi="revenue" data-value="41.00"[^>]*>\s*<div class="card-title">'
                     r'Revenue.*?</div>\s*<div class="card-value">41.00</div>', html, re.S)
    assert ">16.7 %<" in html and ">75.0 %<" in html and ">175 ms<" in html


def test_every_card_carries_its_definition_as_tooltip_and_in_the_footnote(client, world,
                                                                          manager):
    html = client.get("/dashboard/", DAY).content.decode()

    assert 'title="Wins ÷ bids: how often a bid ends in a sale."' in html
    assert 'title="Rejected ÷ received: submissions refused for invalid input."' in html
    footnote = html[html.index('id="definitions"'):]
    assert "<dt>Revenue / lead</dt><dd>Revenue ÷ accepted leads" in footnote
    assert "<dt>Win rate / bid</dt>" in footnote and "<dt>Time to deliver p95</dt>" in footnote


@pytest.mark.parametrize("extra", [
    {}, {"source": "S2"}, {"buyer": "B2"}, {"vertical": "auto-insurance"},
    {"from": "2026-03-09", "tz": "UTC"},
], ids=["day", "source", "buyer", "vertical-slug", "two-utc-days"])
def test_the_overview_and_the_kpi_api_show_the_same_numbers(client, api_client, world,
                                                            manager, extra):
    ids = {"S2": world.s2.pk, "B2": world.b2.pk}
    params = {**DAY, **{k: ids.get(v, v) for k, v in extra.items()}}

    cards = Figures(client.get("/dashboard/", params).content.decode()).cards
    totals = _api(api_client, manager, params)["totals"]

    compared = [name for name in cards if name in totals]
    assert len(compared) >= (8 if "buyer" in extra else 18)
    for name in compared:
        assert same(totals[name], cards[name]), (name, totals[name], cards[name])
    if totals["received"]:
        assert Decimal(cards["rejection_rate"]) == round(
            Decimal(totals["rejected"]) / totals["received"], 4)
    else:
        assert "rejection_rate" not in cards  # with a buyer filter: buyer cards only


def test_the_overview_charts_are_hourly_for_one_day_and_daily_for_longer(client, world,
                                                                         manager):
    def chart(params):
        html = client.get("/dashboard/", params).content.decode()
        found = re.search(r'<script id="chart-data" type="application/json">(.*?)</script>',
                          html, re.S)
        return json.loads(found.group(1))

    hourly = chart(DAY)
    daily = chart({**DAY, "from": "2026-03-08"})
    by_buyer = chart({**DAY, "buyer": world.b1.pk})

    assert hourly["unit"] == "hour" and len(hourly["labels"]) == 24
    volume = {s["key"]: s["data"] for s in hourly["volume"]}
    assert sum(volume["received"]) == 6 and sum(volume["sold"]) == 3
    assert volume["received"][hourly["keys"].index("2026-03-10 23:00")] == 1  # 03:30Z on 11th
    assert daily["unit"] == "day" and daily["keys"] == ["2026-03-08", "2026-03-09",
                                                        "2026-03-10"]
    money = {s["key"]: s["data"] for s in daily["money"]}
    assert money["revenue"] == [0.0, 15.0, 41.0] and money["margin"][2] == 12.3
    assert [s["key"] for s in by_buyer["volume"]] == ["pings", "bids", "wins"]


def test_the_overview_lists_top_buyers_sources_and_reasons(client, world, manager):
    page = Figures(html := client.get("/dashboard/", DAY).content.decode())

    buyers = page.table("top-buyers")
    assert list(buyers) == [str(world.b2.pk), str(world.b1.pk)]  # by revenue: 31.00, 10.00
    assert buyers[str(world.b2.pk)]["revenue"] == "31.00"
    assert page.table("top-sources")[str(world.s1.pk)]["revenue"] == "41.00"
    # the one rejected submission failed on e-mail and phone: each is in 100 % of them
    assert re.search(r"<code>fields.email</code></th><td[^>]*>1</td><td[^>]*>100.0 %</td>",
                     html)
    assert "<code>fields.phone</code>" in html
    assert re.search(r">B1</th><td[^>]*>Duplicate</td><td[^>]*>1</td>", html)


def test_filters_change_the_numbers(client, world, manager):
    def cards(**extra):
        return Figures(client.get("/dashboard/", {**DAY, **extra}).content.decode()).cards

    assert cards()["received"] == "6"
    assert cards(source=world.s2.pk)["received"] == "2"
    assert cards(source=[world.s1.pk, world.s2.pk])["received"] == "6"
    assert cards(tz="UTC")["revenue"] == "45.00"  # the UTC day holds 15.00 + 10.00 + 20.00
    assert cards(**{"from": "2025-01-01", "to": "2025-01-01"})["received"] == ""
    assert cards(buyer=world.b1.pk)["pings"] == "4"


def test_the_filter_bar_keeps_the_chosen_values_and_the_links_keep_the_filter(client, world,
                                                                              manager):
    html = client.get("/dashboard/", {**DAY, "source": world.s2.pk}).content.decode()

    assert 'name="from" value="2026-03-10"' in html and 'name="to" value="2026-03-10"' in html
    assert '<option value="America/New_York" selected>' in html
    assert f'<option value="{world.s2.pk}" selected>S2</option>' in html
    assert (f'href="/dashboard/buyers/?from=2026-03-10&amp;to=2026-03-10&amp;'
            f'tz=America%2FNew_York&amp;source={world.s2.pk}"') in html


# --- the tables ---------------------------------------------------------------------------------

@pytest.mark.parametrize(("url", "group_by"), [
    ("/dashboard/buyers/", "buyer"), ("/dashboard/buyers/", "contract"),
    ("/dashboard/sources/", "source"), ("/dashboard/verticals/", "vertical")])
def test_each_table_shows_the_numbers_of_the_api(client, api_client, world, manager, url,
                                                 group_by):
    params = {**DAY, "group_by": group_by}

    page = Figures(client.get(url, params).content.decode())
    body = _api(api_client, manager, params)

    table = page.table("kpi-table")
    assert set(table) == {row["key"] for row in body["rows"]} | {"total"}
    for row in body["rows"]:
        shown = table[row["key"]]
        assert len(shown) >= 13
        for name, value in shown.items():
            if name != "rejection_rate":
                assert same(row[name], value), (group_by, row["label"], name)
    for name, value in table["total"].items():
        if name != "rejection_rate":
            assert same(body["totals"][name], value), name


def test_the_buyers_table_has_every_buyer_figure_and_toggles_to_contracts(client, world,
                                                                          manager):
    html = client.get("/dashboard/buyers/", DAY).content.decode()
    b1 = Figures(html).table("kpi-table")[str(world.b1.pk)]

    assert b1 == {"pings": "4", "bids": "2", "bids_below_floor": "0", "bid_rate": "0.5",
                  "avg_bid": "11.00", "wins": "1", "win_rate_pings": "0.25",
                  "win_rate_bids": "0.5", "posts": "2", "post_rejects": "1",
                  "post_reject_rate": "0.5", "timeouts_pct": "25.0",
                  "latency_p50_ms": "40.0", "latency_p95_ms": "700.0",
                  "auto_pauses": "1", "revenue": "10.00", "returns": "0",
                  "returns_pending": "0", "return_rate": "0.0", "credits": "0.00",
                  "net_revenue": "10.00", "clawbacks": "0.00", "conversions": "0",
                  "converted_leads": "0", "conversion_rate": "0.0",
                  "conversion_value": "0.00"}
    assert '<td class="num" data-col="timeouts_pct" data-value="25.0">25.0 %</td>' in html
    assert 'class="table kpi-table sortable"' in html and 'data-sort="number"' in html
    assert "group_by=contract" in html
    contracts = Figures(client.get("/dashboard/buyers/", {**DAY, "group_by": "contract"})
                        .content.decode()).table("kpi-table")
    assert set(contracts) == {str(world.c1.pk), str(world.c2.pk), "total"}


def test_the_buyers_table_and_its_csv_count_the_bids_under_the_floor(client, world,
                                                                     manager):
    lead = world.lead(world.s1, "2026-03-10T14:00:00", LeadStatus.UNSOLD)
    world.ping(lead, world.c1, "below_floor", bid=Decimal("3.00"), latency=35)
    world.ping(lead, world.c2, "below_floor", bid=Decimal("2.50"), latency=35)
    other = world.lead(world.s2, "2026-03-10T15:00:00", LeadStatus.UNSOLD)
    world.ping(other, world.c2, "below_floor", bid=Decimal("4.00"), latency=35)
    rollup_refresh(utc("2026-03-10T00:00:00"), utc("2026-03-11T12:00:00"))

    html = client.get("/dashboard/buyers/", DAY).content.decode()
    table = Figures(html).table("kpi-table")
    lines = list(csv.DictReader(io.StringIO(client.get(
        "/dashboard/buyers/", {**DAY, "format": "csv"}).content.decode())))

    assert {key: row["bids_below_floor"] for key, row in table.items()} == {
        str(world.b1.pk): "1", str(world.b2.pk): "2", "total": "3"}
    assert 'data-col="bids_below_floor"' in html and ">Bids below floor<" in html
    assert [(line["buyer"], line["bids_below_floor"]) for line in lines] == [
        ("B1", "1"), ("B2", "2")]


def test_with_a_buyer_filter_the_overview_shows_the_buyers_revenue(client, world, manager):
    cards = Figures(client.get("/dashboard/", {**DAY, "buyer": world.b2.pk})
                    .content.decode()).cards

    assert cards["revenue"] == "31.00" and "received" not in cards


def test_the_sources_table_shows_rejections_and_time_to_deliver(client, world, manager):
    html = client.get("/dashboard/sources/", DAY).content.decode()
    s2 = Figures(html).table("kpi-table")[str(world.s2.pk)]

    assert (s2["received"], s2["rejected"], s2["rejection_rate"]) == ("2", "1", "0.5")
    assert (s2["sold"], s2["revenue"], s2["deliver_p50_ms"]) == ("0", "0.00", "")
    assert ">50.0 %<" in html and ">—<" in html  # rates as %, None as "—"


@pytest.mark.parametrize(("url", "group_by"), [
    ("/dashboard/buyers/", "buyer"), ("/dashboard/sources/", "source"),
    ("/dashboard/verticals/", "vertical")])
def test_the_csv_export_is_the_table_with_a_header_row(client, world, manager, url, group_by):
    page = Figures(client.get(url, DAY).content.decode()).table("kpi-table")

    response = client.get(url, {**DAY, "format": "csv"})

    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"] == (
        f'attachment; filename="leadexchange-{url.split("/")[2]}-{group_by}-2026-03-10-'
        f'2026-03-10.csv"')
    lines = list(csv.DictReader(io.StringIO(response.content.decode())))
    assert lines and list(lines[0])[:2] == [f"{group_by}_id", group_by]
    assert {line[f"{group_by}_id"] for line in lines} == set(page) - {"total"}
    for line in lines:
        shown = page[line[f"{group_by}_id"]]
        assert {k: v for k, v in line.items() if k in shown} == shown


def test_the_verticals_table_names_leads_of_no_vertical_unknown_vertical(client, world,
                                                                        manager):
    lead = world.lead(world.s2, "2026-03-10T13:00:00", LeadStatus.REJECTED,
                      errors={"vertical": ["Unknown vertical 'solar'."]})
    Lead.objects.filter(pk=lead.pk).update(vertical=None)
    rollup_refresh(utc("2026-03-10T00:00:00"), utc("2026-03-11T12:00:00"))

    html = client.get("/dashboard/verticals/", DAY).content.decode()
    lines = list(csv.DictReader(io.StringIO(client.get(
        "/dashboard/verticals/", {**DAY, "format": "csv"}).content.decode())))

    assert '<tr data-key="" data-label="unknown vertical">' in html and ">None<" not in html
    assert Figures(html).table("kpi-table")[""]["received"] == "1"
    assert [(line["vertical_id"], line["vertical"], line["received"]) for line in lines] == [
        (str(world.vertical.pk), "Auto Insurance", "6"), ("", "unknown vertical", "1")]


def test_the_csv_link_keeps_the_filter(client, world, manager):
    html = client.get("/dashboard/buyers/", {**DAY, "source": world.s1.pk}).content.decode()

    assert (f'href="?from=2026-03-10&amp;to=2026-03-10&amp;tz=America%2FNew_York&amp;'
            f'source={world.s1.pk}&amp;group_by=buyer&amp;format=csv"') in html


def test_the_csv_defuses_names_a_spreadsheet_would_run(client, world, manager):
    world.b1.company = "=HYPERLINK(\"http://evil\")"
    world.b1.save()

    text = client.get("/dashboard/buyers/", {**DAY, "format": "csv"}).content.decode()

    assert "'=HYPERLINK" in text and ",=HYPERLINK" not in text


# --- bad input ----------------------------------------------------------------------------------

@pytest.mark.parametrize(("url", "params", "named"), [
    ("/dashboard/", {"tz": "Mars/Olympus"}, "tz"),
    ("/dashboard/", {"from": "2026-03-10", "to": "2026-03-01"}, "to"),
    ("/dashboard/", {"from": "yesterday"}, "from"),
    ("/dashboard/sources/", {"source": "abc"}, "source"),
    ("/dashboard/verticals/", {"group_by": "planet"}, "group_by"),
    ("/dashboard/buyers/", {"group_by": "day"}, "group_by"),
    ("/dashboard/buyers/", {"format": "csv", "buyer": "0"}, "buyer"),
])
def test_a_bad_filter_is_a_400_page_naming_the_parameter(client, manager, url, params, named):
    response = client.get(url, params)

    assert response.status_code == 400
    assert response["Content-Type"].startswith("text/html")
    assert f'<li data-param="{named}"><code>{named}</code>' in response.content.decode()


def test_an_unknown_lead_is_a_404(client, manager):
    assert client.get(PAGES[-1]).status_code == 404


# --- speed --------------------------------------------------------------------------------------

def _queries(client, url, params) -> int:
    with CaptureQueriesContext(connection) as captured:
        assert client.get(url, params).status_code == 200
    return len(captured)


def _grow(world, n: int) -> None:
    """``n`` more sources and buyers, each with a sold lead of the fixture day."""
    for i in range(n):
        source = SourceFactory(name=f"Extra source {i}")
        contract = Contract.objects.create(buyer=BuyerFactory(company=f"Extra buyer {i}"),
                                           vertical=world.vertical, name="x")
        lead = world.lead(source, f"2026-03-10T15:{i:02d}:00", LeadStatus.SOLD,
                          price=Decimal("5.00"), payout=Decimal("3.00"), deliver_ms=90)
        world.ping(lead, contract, "bid", bid=Decimal("5.00"), latency=40)
        world.post(lead, contract, "accepted", Decimal("5.00"))
        world.sale(lead, contract, Decimal("5.00"))
    rollup_refresh(utc("2026-03-10T00:00:00"), utc("2026-03-11T12:00:00"))


@pytest.mark.parametrize(("url", "limit"), [
    ("/dashboard/", 22), ("/dashboard/buyers/", 14), ("/dashboard/buyers/?group_by=contract", 14),
    ("/dashboard/sources/", 14), ("/dashboard/verticals/", 14), ("/dashboard/live/", 6),
    ("/dashboard/live.json", 6)])
def test_pages_make_a_fixed_number_of_queries_whatever_the_rows(client, world, manager, url,
                                                                 limit,
                                                                 django_assert_max_num_queries):
    before = _queries(client, url, DAY)
    _grow(world, 15)

    with django_assert_max_num_queries(limit):
        client.get(url, DAY)
    assert _queries(client, url, DAY) == before


def test_the_lead_page_makes_a_fixed_number_of_queries(client, world, manager,
                                                       django_assert_max_num_queries):
    lead = waterfall_lead(world)

    # ten: the nine of the page and its timeline, and the vertical's PII keys (the mask)
    with django_assert_max_num_queries(10):
        assert client.get(f"/dashboard/leads/{lead.uuid}/").status_code == 200


# --- one lead -----------------------------------------------------------------------------------

def test_the_lead_timeline_lists_every_pinged_contract_and_post(client, world, manager):
    lead = waterfall_lead(world)

    html = client.get(f"/dashboard/leads/{lead.uuid}/").content.decode()

    rows = re.findall(r'<tr class="timeline-row" data-kind="(\w+)" data-contract="([^"]+)" '
                      r'data-buyer="(\w+)" data-outcome="(\w+)"', html)
    assert rows == [
        ("ping", "B1 · c1", "B1", "bid"), ("ping", "B2 · c2", "B2", "no_bid"),
        ("ping", "B4 · c4", "B4", "timeout"), ("post", "B1 · c1", "B1", "rejected"),
        ("ping", "B3 · c3", "B3", "bid"), ("post", "B3 · c3", "B3", "accepted")]
    excluded = re.findall(r'<tr class="excluded-row" data-contract="([^"]+)" '
                          r'data-outcome="(\w+)"', html)
    assert excluded == [("B5 · c5", "filtered"), ("B5 · c5", "capped")]
    assert "state not in" in html and "daily cap 100 reached" in html
    assert ">9.00<" in html and ">6.30<" in html and ">2.70<" in html  # price, payout, margin
    assert ">1,450 ms<" in html  # time to deliver


def test_the_waterfall_puts_each_bar_on_the_auction_clock(client, world, manager):
    lead = waterfall_lead(world)

    html = client.get(f"/dashboard/leads/{lead.uuid}/").content.decode()
    data = json.loads(re.search(r'<script id="timeline-1" type="application/json">(.*?)'
                                r'</script>', html, re.S).group(1))

    bars = {(b["kind"], b["contract"]): (b["round"], b["start"], b["end"]) for b in data["bars"]}
    assert bars == {
        ("ping", "B1 · c1"): (1, 0.0, 180.0), ("ping", "B2 · c2"): (1, 0.0, 95.0),
        ("ping", "B4 · c4"): (1, 0.0, 700.0), ("post", "B1 · c1"): (1, 710.0, 1020.0),
        ("ping", "B3 · c3"): (2, 1020.0, 1240.0), ("post", "B3 · c3"): (2, 1250.0, 1440.0)}
    assert data["markers"] == [{"at": 700.0, "label": "ping deadline"},
                               {"at": 705.0, "label": "decision"},
                               {"at": 1445.0, "label": "finished"}]
    assert 'canvas class="waterfall" data-source="timeline-1"' in html


def test_a_real_auction_draws_every_pinged_contract_before_its_posts(client, manager,
                                                                      api_client, sim_url):
    vertical = VerticalFactory(slug="auto-insurance")
    _, key = source_with_key(vertical)
    rejecting = sim_contract(vertical, sim_url, query="bid=20&accept=0&reject_reason=Dupe")
    buying = sim_contract(vertical, sim_url, query="bid=9&latency=fixed:30")
    silent = sim_contract(vertical, sim_url, query="no_bid=1")
    body = lead_submit(api_client, key).json()
    assert body["status"] == "sold"

    html = client.get(f"/dashboard/leads/{body['id']}/").content.decode()
    bars = json.loads(re.search(r'<script id="timeline-1" type="application/json">(.*?)'
                                r'</script>', html, re.S).group(1))["bars"]

    pings = [b for b in bars if b["kind"] == "ping"]
    posts = [b for b in bars if b["kind"] == "post"]
    assert {b["contract"] for b in pings} == {str(c) for c in (rejecting, buying, silent)}
    assert [(b["contract"], b["outcome"]) for b in posts] == [
        (str(rejecting), "rejected"), (str(buying), "accepted")]
    assert all(b["end"] >= b["start"] == 0.0 for b in pings)
    assert max(b["end"] for b in pings) <= min(b["start"] for b in posts)
    assert posts[0]["end"] <= posts[1]["start"]


def test_the_admin_lead_page_links_to_the_waterfall(client, world, admin_user):
    lead = Lead.objects.filter(status=LeadStatus.SOLD).first()
    client.force_login(admin_user)

    html = client.get(f"/admin/leads/lead/{lead.pk}/change/").content.decode()

    assert f'href="/dashboard/leads/{lead.uuid}/"' in html


def test_a_rejected_lead_has_no_auction_to_draw(client, world, manager):
    lead = Lead.objects.filter(status=LeadStatus.REJECTED).first()
    lead.auctions.all().delete()

    html = client.get(f"/dashboard/leads/{lead.uuid}/").content.decode()

    assert "No auction: the lead was rejected" in html


# --- live ---------------------------------------------------------------------------------------

def test_the_live_view_lists_the_newest_leads_with_links_to_their_timeline(client, world,
                                                                           manager):
    newest = Lead.objects.order_by("-received_at").first()

    html = client.get("/dashboard/live/").content.decode()

    assert html.count("<tr data-uuid=") == Lead.objects.count() == 8
    assert html.index(str(newest.uuid)) < html.index(str(Lead.objects.order_by(
        "received_at").first().uuid))
    assert f'href="/dashboard/leads/{newest.uuid}/"' in html
    assert 'data-url="/dashboard/live.json"' in html


def test_the_live_feed_gives_the_newest_fifty_newest_first(client, world, manager):
    for i in range(50):
        world.lead(world.s1, f"2026-03-12T10:{i:02d}:00", LeadStatus.UNSOLD)
    sold = world.lead(world.s2, "2026-03-12T11:00:00", LeadStatus.SOLD, price=Decimal("7.50"),
                      payout=Decimal("5.00"), deliver_ms=321)

    body = client.get("/dashboard/live.json").json()

    assert len(body["leads"]) == 50
    first = body["leads"][0]
    assert first["uuid"] == str(sold.uuid) and first["status"] == "sold"
    assert (first["price"], first["price_text"], first["deliver"]) == ("7.50", "7.50", "321 ms")
    assert first["source"] == "S2" and first["received"] == "2026-03-12 11:00:00"
    assert first["url"] == f"/dashboard/leads/{sold.uuid}/"
    received = [lead["received_at"] for lead in body["leads"]]
    assert received == sorted(received, reverse=True)


def test_the_live_view_gives_the_reason_for_rejected_duplicate_and_unsold_leads(client, world,
                                                                               manager):
    original = Lead.objects.filter(status=LeadStatus.SOLD).first()
    rejected = world.lead(world.s2, "2026-03-12T10:00:00", LeadStatus.REJECTED, errors={
        "fields.phone": ["Enter a valid phone number."], "fields.email": ["bad"],
        "fields.zip": ["bad"], "fields.state": ["bad"], "consent.jornaya_leadid": ["bad"],
        "test": ["bad"]})
    duplicate = world.lead(world.s1, "2026-03-12T10:01:00", LeadStatus.DUPLICATE)
    unsold = world.lead(world.s1, "2026-03-12T10:02:00", LeadStatus.UNSOLD)
    sold = world.lead(world.s1, "2026-03-12T10:03:00", LeadStatus.SOLD, price=Decimal("5.00"),
                      payout=Decimal("3.50"))
    Lead.objects.filter(pk=duplicate.pk).update(duplicate_of=original)
    Lead.objects.filter(pk=unsold.pk).update(message="3 bids under the floor 12.00")

    feed = {lead["uuid"]: lead for lead in client.get("/dashboard/live.json").json()["leads"]}
    html = client.get("/dashboard/live/").content.decode()
    page = client.get(f"/dashboard/leads/{rejected.uuid}/").content.decode()

    assert feed[str(rejected.uuid)]["reason"] == (
        "invalid consent.jornaya_leadid, fields.email, fields.phone, fields.state (+2 more)")
    assert feed[str(duplicate.uuid)]["reason"] == f"duplicate of {str(original.uuid)[:8]}…"
    assert feed[str(unsold.uuid)]["reason"] == "3 bids under the floor 12.00"
    assert feed[str(sold.uuid)]["reason"] == ""
    assert "Enter a valid phone number" not in str(feed)  # keys, never what was sent
    assert '<td class="reason">3 bids under the floor 12.00</td>' in html
    assert ">Reason</th>" in html
    assert '<dd class="reason">invalid consent.jornaya_leadid, fields.email' in page
