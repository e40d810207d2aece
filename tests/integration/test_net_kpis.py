"""The net figures (returns, credits, clawbacks, conversions) against a hand-computed fixture:
the KPI day of ``test_kpis`` plus ``tests.factories.after_sale.after_sale_day`` (its
docstring gives every number), and the refresh that picks up returns filed days later."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from apps.auctions.models import Sale
from apps.billing.models import Return, ReturnStatus
from apps.leads.models import Lead, LeadStatus
from apps.reports.models import LeadHour, ReturnHour, RollupMark
from apps.reports.selectors import ReportFilter, kpi_totals, kpis, return_reasons
from apps.reports.services import after_sale_hours, rollup_recent, rollup_refresh
from tests.factories.after_sale import after_sale_day, conversion_create, return_create
from tests.integration import test_kpis
from tests.integration.test_kpis import DAY, NY, utc

world = test_kpis.world  # the hand-computed KPI fixture, as a fixture of this module

pytestmark = pytest.mark.django_db
D = Decimal


@pytest.fixture
def sales(world):
    found = after_sale_day(world)
    rollup_refresh(utc("2026-03-09T00:00:00"), utc("2026-03-12T00:00:00"))
    return found


def test_net_revenue_is_revenue_minus_the_approved_returns_credits(sales):
    total = kpi_totals(DAY)

    # the returned leads l1 and l8 were sold: they stay in sold, revenue and payouts
    assert (total.sold, total.revenue, total.payouts) == (4, D("53.00"), D("37.10"))
    # approved: l1 (10.00) and l8 (12.00); l2's pending and l6's rejected return count no money
    assert (total.returns, total.returns_pending, total.returns_rejected) == (2, 1, 1)
    assert total.credits == D("22.00") and total.net_revenue == D("31.00")
    assert total.return_rate == 0.5


def test_net_payout_takes_back_clawbacks_and_a_source_that_absorbs_keeps_its_payout(sales,
                                                                                     world):
    total = kpi_totals(DAY)
    by_source = {row.label: row for row in kpis(DAY, "source")}

    assert (total.clawbacks, total.net_payout, total.net_margin) == (
        D("7.00"), D("30.10"), D("0.90"))
    s1, s2 = by_source["S1"], by_source["S2"]
    assert (s1.sold, s1.returns, s1.credits, s1.net_revenue) == (3, 1, D("10.00"), D("31.00"))
    assert (s1.clawbacks, s1.net_payout, s1.net_margin) == (D("7.00"), D("21.70"), D("9.30"))
    assert round(s1.return_rate, 4) == 0.3333
    # S2 absorbs returns: the buyer gets 12.00 back, S2 keeps its 8.40
    assert (s2.sold, s2.returns, s2.return_rate, s2.net_revenue) == (1, 1, 1.0, D("0.00"))
    assert (s2.clawbacks, s2.net_payout, s2.net_margin) == (D("0.00"), D("8.40"), D("-8.40"))


def test_conversions_count_events_converted_leads_and_their_value(sales):
    total = kpi_totals(DAY)

    assert (total.conversions, total.converted_leads, total.conversion_rate) == (3, 2, 0.5)
    assert total.conversion_value == D("450.00")


def test_per_buyer_the_rates_divide_by_the_buyers_wins(sales, world):
    by_buyer = {row.label: row for row in kpis(DAY, "buyer")}
    by_contract = {row.label: row for row in kpis(DAY, "contract")}

    b1, b2 = by_buyer["B1"], by_buyer["B2"]
    assert (b1.wins, b1.revenue, b1.returns, b1.return_rate) == (2, D("22.00"), 2, 1.0)
    assert (b1.credits, b1.net_revenue, b1.clawbacks) == (D("22.00"), D("0.00"), D("7.00"))
    assert (b2.wins, b2.returns, b2.returns_pending, b2.returns_rejected) == (2, 0, 1, 1)
    assert (b2.net_revenue, b2.conversions, b2.converted_leads) == (D("31.00"), 3, 2)
    assert (b2.conversion_rate, b2.conversion_value) == (1.0, D("450.00"))
    assert b1.net_payout is None  # buyers have no payout
    assert by_contract["B2 · c2"].credits == D("0.00") and by_contract["B1 · c1"].returns == 2


def test_with_a_buyer_filter_the_net_figures_are_those_buyers(sales, world):
    b1_only = kpi_totals(ReportFilter(DAY.start, DAY.end, NY, buyer_ids=(world.b1.pk,)))

    assert (b1_only.revenue, b1_only.credits, b1_only.net_revenue) == (
        D("22.00"), D("22.00"), D("0.00"))
    assert b1_only.sold is None and b1_only.return_rate == 1.0


def test_returns_count_in_the_day_the_lead_was_received_not_the_day_filed(sales):
    days = kpis(ReportFilter(date(2026, 3, 9), date(2026, 3, 12), tz=NY), "day")

    # every return here was filed today (years after): still on the leads' day
    assert [(r.key, r.sold, r.returns, r.credits) for r in days] == [
        ("2026-03-09", 1, 0, D("0.00")), ("2026-03-10", 4, 2, D("22.00"))]
    by_vertical = kpis(DAY, "vertical")
    assert [(r.returns, r.net_revenue) for r in by_vertical] == [(2, D("31.00"))]


def test_the_return_reasons_per_buyer_and_per_source(sales, world):
    by_buyer = return_reasons(DAY, "buyer")
    by_source = return_reasons(DAY, "source")

    assert [(r.label, r.reason, r.approved, r.pending, r.rejected, r.credits, r.clawbacks)
            for r in by_buyer] == [
        ("B1", "bad_contact", 1, 0, 0, D("10.00"), D("7.00")),
        ("B1", "fraud", 1, 0, 0, D("12.00"), D("0.00")),
        ("B2", "not_interested", 0, 1, 0, D("0.00"), D("0.00")),
        ("B2", "bad_contact", 0, 0, 1, D("0.00"), D("0.00"))]
    # l1's approved and l6's rejected return are both S1's bad_contact
    assert [(r.label, r.reason, r.approved, r.pending, r.rejected) for r in by_source] == [
        ("S1", "bad_contact", 1, 0, 1), ("S2", "fraud", 1, 0, 0),
        ("S1", "not_interested", 0, 1, 0)]


def test_test_leads_returns_are_never_counted(world):
    sale = Sale.objects.get(is_test=True)
    return_create(sale, ReturnStatus.APPROVED, "fraud", clawback=D("0"))
    conversion_create(sale, "contacted", D("5.00"))
    rollup_refresh(utc("2026-03-09T00:00:00"), utc("2026-03-12T00:00:00"))

    total = kpi_totals(DAY)

    assert (total.returns, total.credits, total.conversions) == (0, D("0.00"), 0)
    assert not ReturnHour.objects.exists()


# --- late returns: the refresh rewrites the hours of the leads they concern -------------------

def test_a_return_approved_after_the_hour_was_rolled_up_changes_it_at_the_next_refresh(
        world):
    rollup_recent()  # the periodic run: marks when it ran
    pending = return_create(Sale.objects.get(price=D("20.00")),
                            ReturnStatus.PENDING, "not_interested", clawback=D("14.00"))
    rollup_recent()
    assert (kpi_totals(DAY).returns_pending, kpi_totals(DAY).returns) == (1, 0)

    Return.objects.filter(pk=pending.pk).update(status=ReturnStatus.APPROVED,
                                                decided_at=timezone.now())
    Lead.objects.filter(pk=pending.lead_id).update(status=LeadStatus.RETURNED)
    assert kpi_totals(DAY).returns == 0  # not yet: the rollup is derived data

    rollup_recent()

    total = kpi_totals(DAY)
    assert (total.returns, total.returns_pending, total.credits) == (1, 0, D("20.00"))
    assert (total.sold, total.net_revenue, total.clawbacks) == (3, D("21.00"), D("14.00"))


def test_a_conversion_recorded_days_later_is_picked_up_by_the_next_refresh(world):
    rollup_recent()
    conversion_create(Sale.objects.get(price=D("20.00")), "quoted", D("99.00"))

    rollup_recent()

    assert (kpi_totals(DAY).conversions, kpi_totals(DAY).conversion_value) == (1, D("99.00"))


def test_the_refresh_looks_back_from_its_previous_run_not_from_the_beginning(world):
    sale = Sale.objects.get(price=D("20.00"))
    old = return_create(sale, ReturnStatus.APPROVED, "fraud", clawback=D("0"),
                        decided_at=timezone.now() - timedelta(days=3))
    Return.objects.filter(pk=old.pk).update(created_at=timezone.now() - timedelta(days=3))
    RollupMark.objects.create(name="rollup_recent", ran_at=timezone.now() - timedelta(days=1))

    assert after_sale_hours(timezone.now() - timedelta(days=1)) == []
    assert after_sale_hours(timezone.now() - timedelta(days=4)) == [utc("2026-03-10T06:00:00")]
    rollup_recent()
    assert kpi_totals(DAY).returns == 0  # filed and decided before the previous run


def test_the_affected_hours_are_found_in_one_query(world):
    for price in ("10.00", "20.00", "11.00"):
        sale = Sale.objects.get(price=D(price))
        return_create(sale, ReturnStatus.PENDING, "other", clawback=D("0"))
    since = timezone.now() - timedelta(minutes=1)

    with CaptureQueriesContext(connection) as queries:
        hours = after_sale_hours(since)

    assert len(queries) == 1
    assert hours == [utc(f"2026-03-{h}:00:00") for h in ("10T05", "10T06", "11T03")]


def test_the_rollup_rows_hold_the_after_sale_sums_in_the_leads_hour(sales, world):
    row = LeadHour.objects.get(hour=utc("2026-03-10T05:00:00"))

    assert (row.sold, row.returns, row.credits, row.clawbacks) == (1, 1, D("10.00"), D("7.00"))
