"""Every KPI against a hand-computed fixture: raw rows → rollups → ``kpis``.

The fixture day is 2026-03-10 in America/New_York (EDT, UTC−4, two days after the DST
switch): local midnight to midnight is 04:00Z on the 10th to 04:00Z on the 11th.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest

from apps.auctions.models import Auction, HealthEvent, Ping, Post, Sale
from apps.buyers.models import Contract
from apps.leads.models import Lead, LeadStatus
from apps.reports.selectors import (
    GROUPS,
    KpiRow,
    ReportFilter,
    kpi_totals,
    kpis,
    post_reject_reasons,
    rejection_reasons,
)
from apps.reports.services import rollup_refresh
from tests.factories import BuyerFactory, SourceFactory, VerticalFactory

pytestmark = pytest.mark.django_db

NY = "America/New_York"
DAY = ReportFilter(start=date(2026, 3, 10), end=date(2026, 3, 11), tz=NY)


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


class World:
    """Builds raw rows with exact timestamps (auto_now_add is overwritten afterwards)."""

    def __init__(self):
        self.vertical = VerticalFactory(slug="auto-insurance", schema=[])
        self.s1, self.s2 = SourceFactory(name="S1"), SourceFactory(name="S2")
        self.b1, self.b2 = BuyerFactory(company="B1"), BuyerFactory(company="B2")
        self.c1 = Contract.objects.create(buyer=self.b1, vertical=self.vertical, name="c1")
        self.c2 = Contract.objects.create(buyer=self.b2, vertical=self.vertical, name="c2")

    def lead(self, source, at: str, status: str, *, price=None, payout=None, deliver_ms=0,
             errors=None, test=False) -> Lead:
        received = utc(at)
        lead = Lead.objects.create(
            source=source, vertical=self.vertical, status=status, is_test=test,
            sale_price=price, payout=payout,
            margin=(price - payout) if price is not None else None, errors=errors or {},
            completed_at=received + timedelta(milliseconds=deliver_ms))
        Lead.objects.filter(pk=lead.pk).update(received_at=received)
        lead.auction_row = Auction.objects.create(lead=lead, started_at=received,
                                                  ping_deadline_at=received)
        lead.at = received
        return lead

    def ping(self, lead, contract, outcome, *, bid=None, latency=None):
        row = Ping.objects.create(auction=lead.auction_row, contract=contract, outcome=outcome,
                                  bid=bid, latency_ms=latency)
        Ping.objects.filter(pk=row.pk).update(created_at=lead.at + timedelta(milliseconds=10))

    def post(self, lead, contract, outcome, price, reason=""):
        row = Post.objects.create(auction=lead.auction_row, contract=contract,
                                  outcome=outcome, price=price, reason=reason)
        Post.objects.filter(pk=row.pk).update(created_at=lead.at + timedelta(milliseconds=20))

    def sale(self, lead, contract, price, *, test=False):
        row = Sale.objects.create(lead=lead, contract=contract, buyer=contract.buyer,
                                  price=price, is_test=test)
        Sale.objects.filter(pk=row.pk).update(created_at=lead.at + timedelta(milliseconds=30))


@pytest.fixture
def world():
    w = World()
    d = Decimal
    l1 = w.lead(w.s1, "2026-03-10T05:00:00", LeadStatus.SOLD, price=d("10.00"),
                payout=d("7.00"), deliver_ms=120)
    w.ping(l1, w.c1, "bid", bid=d("10.00"), latency=40)
    w.ping(l1, w.c2, "bid", bid=d("8.00"), latency=60)
    w.post(l1, w.c1, "accepted", d("10.00"))
    w.sale(l1, w.c1, d("10.00"))

    l2 = w.lead(w.s1, "2026-03-10T06:00:00", LeadStatus.SOLD, price=d("20.00"),
                payout=d("14.00"), deliver_ms=480)
    w.ping(l2, w.c1, "no_bid", latency=30)
    w.ping(l2, w.c2, "bid", bid=d("20.00"), latency=90)
    w.post(l2, w.c2, "accepted", d("20.00"))
    w.sale(l2, w.c2, d("20.00"))

    l3 = w.lead(w.s2, "2026-03-10T07:00:00", LeadStatus.UNSOLD)
    w.ping(l3, w.c1, "timeout", latency=600)
    w.ping(l3, w.c2, "filtered")

    w.lead(w.s2, "2026-03-10T08:00:00", LeadStatus.REJECTED,
           errors={"fields.email": ["bad"], "fields.phone": ["bad"]})
    w.lead(w.s1, "2026-03-10T09:00:00", LeadStatus.DUPLICATE)

    # 23:30 local on the 10th is 03:30Z on the 11th: still the fixture day
    l6 = w.lead(w.s1, "2026-03-11T03:30:00", LeadStatus.SOLD, price=d("11.00"),
                payout=d("7.70"), deliver_ms=200)
    w.ping(l6, w.c1, "bid", bid=d("12.00"), latency=50)
    w.ping(l6, w.c2, "bid", bid=d("11.00"), latency=70)
    w.post(l6, w.c1, "rejected", d("12.00"), reason="Duplicate")
    w.post(l6, w.c2, "accepted", d("11.00"))
    w.sale(l6, w.c2, d("11.00"))

    # 23:30 local on the 9th (03:30Z on the 10th): the day before
    l7 = w.lead(w.s1, "2026-03-10T03:30:00", LeadStatus.SOLD, price=d("15.00"),
                payout=d("10.50"), deliver_ms=100)
    w.ping(l7, w.c1, "bid", bid=d("15.00"), latency=45)
    w.post(l7, w.c1, "accepted", d("15.00"))
    w.sale(l7, w.c1, d("15.00"))

    # a test lead: never counted
    t1 = w.lead(w.s1, "2026-03-10T10:00:00", LeadStatus.SOLD, price=d("99.00"),
                payout=d("0"), deliver_ms=50, test=True)
    w.ping(t1, w.c1, "bid", bid=d("99.00"), latency=10)
    w.post(t1, w.c1, "accepted", d("99.00"))
    w.sale(t1, w.c1, d("99.00"), test=True)

    HealthEvent.objects.create(contract=w.c1, kind="paused", reason="slow")
    HealthEvent.objects.filter(contract=w.c1).update(created_at=utc("2026-03-10T12:00:00"))

    rollup_refresh(utc("2026-03-09T00:00:00"), utc("2026-03-12T00:00:00"))
    return w


def test_the_lead_figures_of_a_day_in_new_york(world):
    total = kpi_totals(DAY)

    assert (total.received, total.rejected, total.duplicates, total.accepted) == (6, 1, 1, 4)
    assert (total.sold, total.unsold, total.sell_through) == (3, 1, 0.75)
    assert total.revenue == Decimal("41.00") and total.payouts == Decimal("28.70")
    assert total.margin == Decimal("12.30") and total.revenue_per_lead == Decimal("10.25")
    assert total.net_revenue == Decimal("41.00") and total.returns == 0  # nothing returned
    assert total.net_margin == Decimal("12.30") and total.return_rate == 0.0
    # sold in 120, 200 and 480 ms: interpolated in the (150, 200] and (300, 500] buckets
    assert total.deliver_p50_ms == 175.0 and total.deliver_p95_ms == 470.0


def test_the_buyer_figures_per_buyer(world):
    rows = {row.label: row for row in kpis(DAY, "buyer")}

    b1, b2 = rows["B1"], rows["B2"]
    assert (b1.pings, b1.bids, b1.bid_rate, b1.avg_bid) == (4, 2, 0.5, Decimal("11.00"))
    assert (b1.wins, b1.win_rate_pings, b1.win_rate_bids) == (1, 0.25, 0.5)
    assert (b1.posts, b1.post_rejects, b1.post_reject_rate) == (2, 1, 0.5)
    assert (b1.timeouts_pct, b1.auto_pauses, b1.revenue) == (25.0, 1, Decimal("10.00"))
    assert b1.bids_below_floor == 0
    assert (b2.pings, b2.bids, b2.avg_bid, b2.wins) == (3, 3, Decimal("13.00"), 2)
    assert (b2.win_rate_pings, b2.post_rejects, b2.post_reject_rate) == (0.6667, 0, 0.0)
    assert b2.revenue == Decimal("31.00") and b2.timeouts_pct == 0.0
    assert b1.received is None  # lead figures are not split by buyer


def test_bids_under_the_floor_are_counted_per_buyer_and_contract(world):
    d = Decimal
    c3 = Contract.objects.create(buyer=world.b1, vertical=world.vertical, name="c3")
    for at, bids in (("2026-03-10T14:00:00", ((world.c1, "3.00"), (world.c2, "2.50"))),
                     ("2026-03-10T15:00:00", ((c3, "4.00"), (world.c2, "9.00")))):
        lead = world.lead(world.s1, at, LeadStatus.UNSOLD)
        for contract, bid in bids:
            world.ping(lead, contract, "below_floor", bid=d(bid), latency=35)
    rollup_refresh(utc("2026-03-10T00:00:00"), utc("2026-03-11T12:00:00"))

    by_buyer = {row.label: row for row in kpis(DAY, "buyer")}
    by_contract = {row.label: row for row in kpis(DAY, "contract")}
    total = kpi_totals(DAY)

    assert (by_buyer["B1"].bids_below_floor, by_buyer["B2"].bids_below_floor) == (2, 2)
    assert {label: row.bids_below_floor for label, row in by_contract.items()} == {
        "B1 · c1": 1, "B1 · c3": 1, "B2 · c2": 2}
    assert (by_buyer["B1"].pings, by_buyer["B1"].bids) == (6, 4)  # pinged, and a price bid
    assert by_buyer["B1"].wins == 1 and total.bids_below_floor == 4


def test_every_pct_figure_is_a_percentage_rounded_like_the_rates(world):
    total = kpi_totals(DAY)

    # 1 timeout in 7 pings: 14.29 %, where the fraction figures would say 0.1429
    assert total.timeouts_pct == 14.29 and total.bid_rate == round(5 / 7, 4)
    pct = [name for name in KpiRow.__dataclass_fields__ if name.endswith("_pct")]
    for group_by in GROUPS:
        for row in kpis(DAY, group_by):
            for name in pct:
                value = getattr(row, name)
                assert value is None or 0 <= value <= 100, (group_by, row.label, name)
    assert pct == ["timeouts_pct"]


@pytest.mark.parametrize("group_by", [g for g in GROUPS if g])
def test_every_grouping_carries_its_revenue_as_revenue(world, group_by):
    rows = kpis(DAY, group_by)

    assert rows and all(row.revenue is not None for row in rows if row.sold or row.wins)
    assert sum(row.revenue or 0 for row in rows) == Decimal("41.00")  # the day's sales
    assert not hasattr(rows[0], "buyer_revenue")


def test_with_a_buyer_filter_revenue_is_what_those_buyers_paid(world):
    b2_only = ReportFilter(DAY.start, DAY.end, NY, buyer_ids=(world.b2.pk,))

    assert kpi_totals(b2_only).revenue == Decimal("31.00")
    assert [(r.key, r.revenue) for r in kpis(b2_only, "day")] == [
        ("2026-03-10", Decimal("31.00"))]


def test_latency_percentiles_come_from_the_answered_pings(world):
    b1 = next(row for row in kpis(DAY, "buyer") if row.label == "B1")

    # B1 answered in 40, 30, 600 (timeout) and 50 ms: rank 2 of 4 is the first of the two
    # answers in (30, 50], rank 3.8 is 80 % into the (500, 750] bucket of the timeout
    assert (b1.latency_p50_ms, b1.latency_p95_ms) == (40.0, 700.0)


def test_the_day_boundary_follows_the_managers_time_zone(world):
    days = kpis(ReportFilter(date(2026, 3, 9), date(2026, 3, 12), tz=NY), "day")

    assert [(r.key, r.received, r.sold) for r in days] == [
        ("2026-03-09", 1, 1), ("2026-03-10", 6, 3)]
    in_utc = kpis(ReportFilter(date(2026, 3, 9), date(2026, 3, 12), tz="UTC"), "day")
    assert [(r.key, r.received) for r in in_utc] == [("2026-03-10", 6), ("2026-03-11", 1)]


def test_grouping_by_source_and_filters(world):
    by_source = {row.label: row for row in kpis(DAY, "source")}
    s2_only = kpi_totals(ReportFilter(DAY.start, DAY.end, NY, source_ids=(world.s2.pk,)))
    b2_only = kpi_totals(ReportFilter(DAY.start, DAY.end, NY, buyer_ids=(world.b2.pk,)))

    assert (by_source["S1"].received, by_source["S1"].sold) == (4, 3)
    assert (by_source["S2"].received, by_source["S2"].rejected) == (2, 1)
    assert by_source["S1"].pings is None
    assert (s2_only.received, s2_only.pings, s2_only.wins) == (2, 1, 0)
    assert (b2_only.received, b2_only.pings, b2_only.wins) == (None, 3, 2)


def test_rejection_and_post_reject_reasons(world):
    assert rejection_reasons(DAY) == [("fields.email", 1), ("fields.phone", 1)]
    assert post_reject_reasons(DAY) == [("B1", "Duplicate", 1)]


def test_no_leads_gives_empty_figures_not_errors(world):
    empty = ReportFilter(date(2025, 1, 1), date(2025, 1, 2), tz=NY)

    assert kpis(empty) == []
    assert kpi_totals(empty).received is None


def test_a_single_buyer_world(db):
    w = World()
    lead = w.lead(w.s1, "2026-03-10T05:00:00", LeadStatus.SOLD, price=Decimal("5.00"),
                  payout=Decimal("3.50"), deliver_ms=90)
    w.ping(lead, w.c1, "bid", bid=Decimal("5.00"), latency=20)
    w.post(lead, w.c1, "accepted", Decimal("5.00"))
    w.sale(lead, w.c1, Decimal("5.00"))
    rollup_refresh(utc("2026-03-10T00:00:00"), utc("2026-03-11T00:00:00"))

    total = kpi_totals(DAY)

    assert (total.received, total.sold, total.pings, total.wins) == (1, 1, 1, 1)
    assert total.win_rate_bids == 1.0 and total.revenue == Decimal("5.00")


def test_leads_rejected_before_their_vertical_was_known_are_an_unknown_vertical(world):
    lead = world.lead(world.s2, "2026-03-10T13:00:00", LeadStatus.REJECTED,
                      errors={"vertical": ["Unknown vertical 'solar'."]})
    Lead.objects.filter(pk=lead.pk).update(vertical=None)
    rollup_refresh(utc("2026-03-10T00:00:00"), utc("2026-03-11T12:00:00"))

    rows = kpis(DAY, "vertical")

    assert [(r.key, r.label, r.received, r.rejected) for r in rows] == [
        (str(world.vertical.pk), "Auto Insurance", 6, 1), ("", "unknown vertical", 1, 1)]
    assert rows[1].pings is None  # buyers only ever see leads of a known vertical
    assert kpi_totals(DAY).received == 7


def test_the_rollup_is_idempotent(world):
    before = kpi_totals(DAY)
    rollup_refresh(utc("2026-03-10T00:00:00"), utc("2026-03-11T12:00:00"))

    assert kpi_totals(DAY) == before


def test_the_kpi_api_returns_the_same_numbers(world, api_client, django_user_model):
    from django.contrib.auth.models import Group

    manager = django_user_model.objects.create_user("mia", is_staff=True)
    manager.groups.add(Group.objects.get(name="Managers"))
    api_client.force_login(manager)

    body = api_client.get("/api/v1/reports/kpis", {
        "from": "2026-03-10", "to": "2026-03-10", "tz": NY, "group_by": "buyer"}).json()

    assert body["totals"]["received"] == 6 and body["totals"]["revenue"] == "41.00"
    assert body["totals"]["sell_through"] == 0.75
    b1 = next(row for row in body["rows"] if row["label"] == "B1")
    assert b1["win_rate_bids"] == 0.5 and b1["avg_bid"] == "11.00"
    assert (b1["revenue"], b1["timeouts_pct"], b1["bids_below_floor"]) == ("10.00", 25.0, 0)
    assert "buyer_revenue" not in b1 and body["totals"]["timeouts_pct"] == 14.29
    assert "win_rate_pings" in body["definitions"]


def test_the_kpi_api_refuses_sources_and_anonymous_callers(world, api_client):
    from tests.factories import source_with_key

    _, key = source_with_key(world.vertical)

    anonymous = api_client.get("/api/v1/reports/kpis")
    # a source key is no staff credential here: not authenticated, as if none were sent
    with_source_key = api_client.get("/api/v1/reports/kpis", HTTP_AUTHORIZATION=f"Bearer {key}")

    for denied in (anonymous, with_source_key):
        assert denied.status_code == 401
        assert denied["WWW-Authenticate"] == 'Bearer realm="api"'


def test_the_kpi_api_names_bad_parameters(world, api_client, admin_user):
    api_client.force_login(admin_user)

    response = api_client.get("/api/v1/reports/kpis", {"from": "2026-03-10", "to": "2026-03-01",
                                                       "tz": "Mars/Olympus", "group_by": "x"})

    assert response.status_code == 400
    assert {"tz", "group_by"} <= set(response.json()["errors"])
