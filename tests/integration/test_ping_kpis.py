"""The sources' ping figures (pings received, bid rate, average bid offered, ping → post rate,
expired, sold) against a hand-computed fixture: the KPI day of ``test_kpis`` plus
``tests.factories.pings.ping_day`` (its docstring gives every number); the refresh that
picks up pings posted or expired after their hour; and the real ping → post path."""

from __future__ import annotations

import json
from datetime import date, timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from apps.auctions.models import SourcePing
from apps.leads.models import Lead, LeadStatus
from apps.reports.models import PingHour, RollupMark
from apps.reports.selectors import ReportFilter, kpi_totals, kpis
from apps.reports.services import ping_hours, rollup_recent, rollup_refresh
from tests.factories import sim_contract, source_with_key, valid_fields
from tests.factories.pings import ping_day, source_ping_create
from tests.integration import test_kpis
from tests.integration.test_kpis import DAY, NY, utc

world = test_kpis.world  # the hand-computed KPI fixture, as a fixture of this module

pytestmark = pytest.mark.django_db
D = Decimal
PING_FIGURES = ("pings_received", "pings_bid", "ping_bid_rate", "avg_bid_offered",
                "pings_posted", "ping_post_rate", "pings_expired", "pings_sold")


@pytest.fixture
def pings(world):
    found = ping_day(world)
    rollup_refresh(utc("2026-03-09T00:00:00"), utc("2026-03-12T00:00:00"))
    return found


def figures(row) -> tuple:
    return tuple(getattr(row, name) for name in PING_FIGURES)


def test_the_ping_figures_of_the_day(pings):
    total = kpi_totals(DAY)

    assert figures(total) == (10, 7, 0.7, D("6.79"), 4, 0.5714, 2, 2)
    # the lead figures are those of the leads, pinged or not
    assert (total.received, total.sold, total.revenue) == (6, 3, D("41.00"))


def test_the_ping_figures_per_source_and_per_vertical(pings, world):
    by_source = {row.label: row for row in kpis(DAY, "source")}
    by_vertical = kpis(DAY, "vertical")

    assert figures(by_source["S1"]) == (6, 4, 0.6667, D("8.50"), 3, 0.75, 1, 2)
    assert figures(by_source["S2"]) == (4, 3, 0.75, D("4.50"), 1, 0.3333, 1, 0)
    assert [(r.key, *figures(r)) for r in by_vertical] == [
        (str(world.vertical.pk), 10, 7, 0.7, D("6.79"), 4, 0.5714, 2, 2)]


def test_pings_count_in_the_local_day_and_hour_they_were_received(pings):
    days = kpis(ReportFilter(date(2026, 3, 9), date(2026, 3, 12), tz=NY), "day")

    # the no-bid ping at 03:00Z on the 10th is 23:00 on the 9th in New York
    assert [(r.key, r.pings_received, r.pings_bid) for r in days] == [
        ("2026-03-09", 1, 0), ("2026-03-10", 10, 7)]
    hours = {r.key: r for r in kpis(ReportFilter(date(2026, 3, 10), date(2026, 3, 11),
                                                 tz="UTC"), "hour")}
    # p1 came at 04:59:40, its lead l1 at 05:00: the ping is in the 04:00 hour, the lead not
    assert (hours["2026-03-10 04:00"].pings_received, hours["2026-03-10 04:00"].pings_sold,
            hours["2026-03-10 04:00"].received) == (1, 1, None)
    assert hours["2026-03-10 05:00"].received == 1


def test_the_rollup_rows_are_per_hour_source_and_vertical(pings, world):
    s1_first = PingHour.objects.get(hour=utc("2026-03-10T04:00:00"))
    s2_expired = PingHour.objects.get(hour=utc("2026-03-10T14:00:00"))

    assert (s1_first.source_id, s1_first.vertical_id) == (world.s1.pk, world.vertical.pk)
    assert (s1_first.pings, s1_first.bids, s1_first.bid_sum, s1_first.posted,
            s1_first.sold, s1_first.expired) == (1, 1, D("7.00"), 1, 1, 0)
    assert (s2_expired.source_id, s2_expired.bids, s2_expired.expired) == (world.s2.pk, 1, 1)
    # one per hour with pings (p3, p4 and p5 share 09:00), the test ping none
    assert PingHour.objects.count() == 9


def test_test_pings_are_never_counted(pings):
    assert not PingHour.objects.filter(hour=utc("2026-03-10T10:00:00")).exists()
    assert SourcePing.objects.filter(is_test=True).count() == 1


def test_a_live_bid_is_neither_posted_nor_expired(pings):
    q2_hour = PingHour.objects.get(hour=utc("2026-03-10T12:00:00"))

    assert (q2_hour.bids, q2_hour.posted, q2_hour.expired) == (1, 0, 0)


def test_with_a_buyer_filter_no_ping_figures(pings, world):
    b1_only = kpi_totals(ReportFilter(DAY.start, DAY.end, NY, buyer_ids=(world.b1.pk,)))
    by_buyer = kpis(DAY, "buyer")

    assert b1_only.pings_received is None  # the sources' pings are not split by buyer
    assert all(row.pings_received is None for row in by_buyer)


def test_a_range_without_pings_has_no_ping_figures(world):
    total = kpi_totals(DAY)

    assert total.received == 6 and figures(total) == (None,) * len(PING_FIGURES)


def test_the_kpi_api_gives_the_ping_figures_and_their_definitions(pings, world, api_client,
                                                                   admin_user):
    api_client.force_login(admin_user)

    body = api_client.get("/api/v1/reports/kpis", {
        "from": "2026-03-10", "to": "2026-03-10", "tz": NY, "group_by": "source"}).json()

    totals = body["totals"]
    assert [totals[name] for name in PING_FIGURES] == [10, 7, 0.7, "6.79", 4, 0.5714, 2, 2]
    s2 = next(row for row in body["rows"] if row["label"] == "S2")
    assert [s2[name] for name in PING_FIGURES] == [4, 3, 0.75, "4.50", 1, 0.3333, 1, 0]
    assert set(PING_FIGURES) <= set(body["definitions"])


def test_the_schema_lists_the_ping_figures(api_client):
    schema = api_client.get("/api/schema/?format=json").json()

    row = schema["components"]["schemas"]["KpiRow"]["properties"]
    assert set(PING_FIGURES) <= set(row)


# --- after the hour: posted and expired pings rewrite their hour ------------------------------

def test_a_ping_posted_after_its_hour_left_the_look_back_is_picked_up(world):
    old = timezone.now() - timedelta(hours=5)
    lead = Lead.objects.filter(status=LeadStatus.SOLD).first()
    ping = source_ping_create(world.s1, world.vertical, old.replace(tzinfo=None).isoformat(),
                              bid="9.00", live=True)  # a long ping_ttl_seconds
    rollup_refresh(old, old)
    RollupMark.objects.create(name="rollup_recent", ran_at=timezone.now())
    assert PingHour.objects.get().posted == 0

    SourcePing.objects.filter(pk=ping.pk).update(posted_at=timezone.now(), lead=lead)
    rollup_recent()

    row = PingHour.objects.get()
    assert (row.bids, row.posted, row.sold, row.expired) == (1, 1, 1, 0)


def test_a_ping_that_expired_after_its_hour_left_the_look_back_is_picked_up(world):
    old = timezone.now() - timedelta(hours=5)
    ping = source_ping_create(world.s1, world.vertical, old.replace(tzinfo=None).isoformat(),
                              bid="9.00", live=True)
    rollup_refresh(old, old)
    RollupMark.objects.create(name="rollup_recent",
                              ran_at=timezone.now() - timedelta(minutes=10))
    assert PingHour.objects.get().expired == 0

    SourcePing.objects.filter(pk=ping.pk).update(
        expires_at=timezone.now() - timedelta(minutes=1))  # its time ran out since
    rollup_recent()

    assert PingHour.objects.get().expired == 1


def test_the_late_ping_hours_are_found_in_one_query(pings):
    now = timezone.now()
    since = now - timedelta(minutes=1)
    SourcePing.objects.filter(pk=pings["q2"].pk).update(expires_at=now)  # q2's expiry came
    SourcePing.objects.filter(pk=pings["p3"].pk).update(  # as if p3 lived long, posted now
        posted_at=now, expires_at=now + timedelta(minutes=1))

    with CaptureQueriesContext(connection) as queries:
        hours = ping_hours(since, now)

    assert len(queries) == 1
    assert hours == [utc("2026-03-10T09:00:00"), utc("2026-03-10T12:00:00")]
    assert ping_hours(now + timedelta(minutes=1), now + timedelta(minutes=2)) == []


# --- the real path: POST /api/v1/pings, then the post ------------------------------------------

def _call(api_client, key, path, body):
    return api_client.post(path, data=json.dumps(body), content_type="application/json",
                           HTTP_AUTHORIZATION=f"Bearer {key}")


def test_pings_made_through_the_api_are_reported(api_client, vertical, sim_url):
    _, key = source_with_key(vertical, payout_model="revshare", payout_value=D("60"))
    sim_contract(vertical, sim_url, query="bid=12.50")
    pinged = {k: v for k, v in valid_fields().items()
              if k in ("zip", "vehicle_year", "homeowner", "credit_rating", "income")}
    first = _call(api_client, key, "/api/v1/pings",
                  {"vertical": "auto-insurance", "fields": pinged}).json()
    second = _call(api_client, key, "/api/v1/pings",
                   {"vertical": "auto-insurance", "fields": pinged}).json()
    _call(api_client, key, "/api/v1/pings",
          {"vertical": "auto-insurance", "fields": pinged, "test": True})
    sold = _call(api_client, key, f"/api/v1/pings/{first['ping_id']}/post",
                 {"fields": valid_fields()})
    assert (first["status"], second["status"], sold.json()["status"]) == ("bid", "bid", "sold")
    SourcePing.objects.filter(uuid=second["ping_id"]).update(
        expires_at=timezone.now() - timedelta(seconds=1))  # never posted: it expired

    rollup_recent()
    today = timezone.now().date()
    total = kpi_totals(ReportFilter(today - timedelta(days=1), today + timedelta(days=1)))

    assert figures(total) == (2, 2, 1.0, D("7.50"), 1, 0.5, 1, 1)
    assert total.sold == 1  # the posted lead, in the lead figures
