"""The synthetic data generator (``manage.py generate_leads``): the mix of outcomes, times that
hang together, one exclusive sale per sold lead, rollups that count every lead, the same data
for the same seed, and a clear that removes only synthetic rows."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from io import StringIO

import pytest
from django.core.management import call_command
from django.db import connection, transaction
from django.db.models import Count, F, Max, Min, Q, Sum
from django.test import override_settings

from apps.auctions.models import Auction, HealthEvent, Ping, Post, Sale, SourcePing
from apps.billing.models import Conversion, Return
from apps.buyers.models import Buyer, Contract
from apps.demo.synthetic import (
    EASTERN,
    MARK,
    SUFFIX,
    synthetic_clear,
    synthetic_generate,
)
from apps.leads.models import Lead, LeadStatus
from apps.reports.models import ContractHour
from apps.reports.selectors import ReportFilter, kpi_totals
from apps.webhooks.models import WebhookAttempt, WebhookDelivery
from tests.factories import SourceFactory

pytestmark = pytest.mark.django_db

END = datetime(2026, 3, 20, 15, 30, tzinfo=UTC)
COUNT, DAYS = 3000, 7


@pytest.fixture(scope="class")
def generated(django_db_setup, django_db_blocker):
    """One generated week for the tests of a class, rolled back after them (generating takes
    a few seconds; those tests only read it). Class-scoped, so before the per-test settings:
    the demo's buyers (the local simulator) are admitted past the SSRF guard here."""
    with django_db_blocker.unblock(), transaction.atomic(), override_settings(
            HTTP_ALLOWED_NETWORKS=["127.0.0.1/32"]):
        result = synthetic_generate(count=COUNT, days=DAYS, seed=3, end=END, method="orm",
                                    batch=1000)
        yield result
        transaction.set_rollback(True)


def share(count: int, total: int) -> float:
    return count / total


class TestAGeneratedWeek:
    """Read-only checks of one generated week (seed 3)."""

    def test_it_writes_the_requested_leads_in_a_realistic_mix(self, generated):
        leads = Lead.objects.filter(sub_id=MARK)
        status = Counter(leads.values_list("status", flat=True))
        sold = status[LeadStatus.SOLD] + status[LeadStatus.RETURNED]  # returned: sold first
        accepted = sold + status[LeadStatus.UNSOLD]

        assert leads.count() == COUNT == generated.counts["lead"]
        assert set(status) == {"rejected", "duplicate", "sold", "unsold", "returned"}
        assert 0.03 < share(status["rejected"], COUNT) < 0.075  # ~5 %
        assert 0.02 < share(status["duplicate"], COUNT) < 0.06  # ~4 %
        assert 0.52 < share(sold, accepted) < 0.70  # ~60 % of accepted
        assert 0 < leads.filter(is_test=True).count() < 0.01 * COUNT  # a few test leads
        assert not leads.filter(status="rejected", errors={}).exists()
        duplicates = leads.filter(status="duplicate")
        assert not duplicates.filter(duplicate_of__isnull=True).exists()
        assert all(d.fields["email"] == d.duplicate_of.fields["email"]
                   for d in duplicates.select_related("duplicate_of")[:50])


    def test_accepted_leads_have_one_auction_with_a_ping_per_contract_considered(self, generated):
        leads = Lead.objects.filter(sub_id=MARK)
        accepted = leads.filter(status__in=["sold", "unsold", "returned"])

        assert Auction.objects.count() == accepted.count()
        assert not Auction.objects.filter(lead__status__in=["rejected", "duplicate"]).exists()
        pings = Ping.objects.filter(auction__lead__sub_id=MARK)
        assert 7 < pings.count() / accepted.count() < 14
        outcomes = Counter(pings.values_list("outcome", flat=True))
        for outcome in ("bid", "no_bid", "filtered", "below_floor", "timeout", "error"):
            assert outcomes[outcome], outcome
        # round one: every primary contract of the vertical exactly once
        first = pings.filter(round=1).values("auction_id", "contract_id").annotate(n=Count("pk"))
        assert not first.filter(n__gt=1).exists()
        bids = pings.filter(outcome="bid", bid__isnull=False)
        assert bids.aggregate(low=Min("bid"))["low"] > 0
        assert not pings.filter(outcome="timeout", latency_ms__lt=100).exists()
        assert HealthEvent.objects.filter(reason__endswith=SUFFIX).count() >= 2


    def test_times_stay_inside_the_window_and_in_auction_order(self, generated):
        leads = Lead.objects.filter(sub_id=MARK)
        start = END - timedelta(days=DAYS)
        span = leads.aggregate(first=Min("received_at"), last=Max("received_at"))

        assert start <= span["first"] and span["last"] < END
        assert span["last"] - span["first"] > timedelta(days=DAYS - 1)
        assert not leads.filter(completed_at__lt=F("received_at")).exists()
        assert not leads.filter(completed_at__gt=F("received_at") + timedelta(seconds=10)).exists()
        assert not Auction.objects.filter(started_at__lt=F("lead__received_at")).exists()
        assert not Ping.objects.filter(created_at__lt=F("auction__started_at")).exists()
        assert not Post.objects.filter(created_at__lt=F("auction__bids_at")).exists()
        assert not Auction.objects.exclude(finished_at=F("lead__completed_at")).exists()
        assert not Sale.objects.exclude(created_at=F("lead__completed_at")).exists()
        # the daily curve: the busiest Eastern hours see several times the quietest ones
        by_hour = Counter(at.astimezone(EASTERN).hour
                          for at in leads.values_list("received_at", flat=True))
        assert max(by_hour.values()) > 4 * min(by_hour.values())


    def test_every_sold_lead_has_exactly_one_exclusive_sale_at_its_price(self, generated):
        sold = Lead.objects.filter(sub_id=MARK, status__in=["sold", "returned"])

        assert sold.count() == Sale.objects.count() == generated.counts["sale"]
        assert not sold.annotate(n=Count("sales", filter=Q(sales__exclusive=True))).exclude(
            n=1).exists()
        assert not Sale.objects.exclude(price=F("lead__sale_price")).exists()
        assert not Sale.objects.exclude(buyer=F("contract__buyer")).exists()
        assert not Lead.objects.filter(status="unsold", sales__isnull=False).exists()
        for sale in Sale.objects.select_related("lead")[:100]:
            assert Post.objects.filter(auction__lead=sale.lead, contract=sale.contract_id,
                                       outcome="accepted", price=sale.price).count() == 1
            lead = sale.lead
            assert lead.margin == lead.sale_price - lead.payout
            assert lead.payout == 0 if lead.is_test else lead.payout > 0


    def test_rollups_are_built_for_the_whole_window(self, generated):
        report = ReportFilter(start=(END - timedelta(days=DAYS)).date(),
                              end=END.date() + timedelta(days=1))
        totals = kpi_totals(report)
        real = Lead.objects.filter(is_test=False)

        assert totals.received == real.count()
        assert totals.sold == real.filter(status__in=["sold", "returned"]).count()
        assert totals.revenue == real.aggregate(s=Sum("sale_price"))["s"]
        assert totals.wins == Sale.objects.filter(is_test=False).count()
        assert totals.pings and totals.bids and totals.post_rejects
        assert 0.4 < totals.sell_through < 0.8
        assert totals.latency_p50_ms and totals.deliver_p95_ms > totals.deliver_p50_ms
        assert ContractHour.objects.filter(auto_pauses__gt=0).exists()
        approved = Return.objects.filter(status="approved")
        assert totals.returns == approved.count() > 0
        assert totals.credits == approved.aggregate(s=Sum("credit"))["s"]
        assert totals.net_revenue == totals.revenue - totals.credits
        assert totals.conversions == Conversion.objects.count() > 0
        assert totals.returns_pending and totals.clawbacks and totals.conversion_value

    def test_a_few_percent_of_sales_are_returned_for_several_reasons(self, generated):
        sales = Sale.objects.filter(is_test=False).count()
        returns = Return.objects.all()
        status = Counter(returns.values_list("status", flat=True))

        assert 0.02 < returns.count() / sales < 0.08
        assert status["approved"] > status["rejected"] > 0 and status["pending"] > 0
        assert len(set(returns.values_list("reason", flat=True))) >= 4
        assert not returns.filter(created_at__lte=F("sale__created_at")).exists()
        assert not returns.filter(decided_at__gt=END).exists()
        assert not returns.exclude(credit=F("sale__price")).exists()
        # the demo's Blue Landing Pages absorbs returns; the others claw the payout back
        absorbed = returns.filter(source__return_policy="absorb")
        assert absorbed.exists() and not absorbed.exclude(clawback=0).exists()
        assert not returns.exclude(source__return_policy="absorb").exclude(
            clawback=F("lead__payout")).exists()
        returned = Lead.objects.filter(status="returned")
        assert returned.count() == status["approved"]
        assert set(returned.values_list("pk", flat=True)) == set(
            returns.filter(status="approved").values_list("lead_id", flat=True))

    def test_buyers_report_conversions_with_values_for_sold_policies(self, generated):
        events = Counter(Conversion.objects.values_list("event", flat=True))

        assert events["contacted"] > events["quoted"] > events["policy_sold"] > 0
        assert not Conversion.objects.filter(event="policy_sold", value__isnull=True).exists()
        assert not Conversion.objects.filter(created_at__gt=END).exists()
        assert not Conversion.objects.filter(lead__status="returned").exists()

    def test_the_demo_sources_have_heard_of_their_sales_and_returns(self, generated):
        deliveries = WebhookDelivery.objects.all()
        kinds = Counter(deliveries.values_list("kind", "event"))

        assert kinds[("webhook", "lead.sold")] > 0 and kinds[("postback", "lead.sold")] > 0
        assert kinds[("webhook", "lead.returned")] > 0
        assert set(deliveries.values_list("status", flat=True)) == {"succeeded"}
        assert set(deliveries.values_list("source__name", flat=True)) == {
            "Acme Affiliates", "Blue Landing Pages"}
        assert WebhookAttempt.objects.filter(succeeded=True).count() == deliveries.count()

    def test_the_first_demo_source_pings_before_posting_some_of_its_leads(self, generated):
        pings = SourcePing.objects.filter(sub_id=MARK)
        posted = pings.filter(posted_at__isnull=False)
        status = Counter(pings.values_list("status", flat=True))
        acme_leads = Lead.objects.filter(sub_id=MARK, source__name="Acme Affiliates",
                                         status__in=["sold", "returned", "unsold"])

        assert set(pings.values_list("source__name", flat=True)) == {"Acme Affiliates"}
        assert generated.counts["sourceping"] == pings.count()
        assert 0.25 < posted.count() / acme_leads.count() < 0.45  # ~35 %
        assert status["bid"] > status["no_bid"] > 0
        assert not posted.exclude(lead__received_at=F("posted_at")).exists()
        assert not posted.filter(created_at__gte=F("posted_at")).exists()
        # a sold lead's ping offered the payout it earned
        assert not posted.filter(lead__status="sold").exclude(bid=F("lead__payout")).exists()
        expired = pings.filter(status="bid", posted_at__isnull=True)
        assert expired.exists() and not expired.filter(expires_at__gt=END).exists()
        assert not pings.filter(created_at__lt=END - timedelta(days=DAYS)).exists()

    def test_the_ping_figures_are_rolled_up(self, generated):
        report = ReportFilter(start=(END - timedelta(days=DAYS)).date(),
                              end=END.date() + timedelta(days=1))
        totals = kpi_totals(report)
        pings = SourcePing.objects.filter(is_test=False)

        assert totals.pings_received == pings.count()
        assert totals.pings_posted == pings.filter(posted_at__isnull=False).count()
        assert 0.5 < totals.ping_bid_rate < 0.75 and 0.85 < totals.ping_post_rate < 0.95
        assert totals.pings_expired and totals.pings_sold and totals.avg_bid_offered


def snapshot() -> tuple:
    leads = tuple(Lead.objects.filter(sub_id=MARK).order_by("received_at", "uuid").values_list(
        "uuid", "status", "source__name", "received_at", "completed_at", "sale_price",
        "fields"))
    pings = Counter(Ping.objects.values_list("outcome", "contract__buyer__company", "bid",
                                             "latency_ms"))
    posts = Counter(Post.objects.values_list("outcome", "reason", "created_at"))
    return leads, pings, posts


def test_the_same_seed_gives_the_same_data_and_another_seed_other_data():
    end = datetime(2026, 5, 2, 12, 0, tzinfo=UTC)
    synthetic_generate(count=300, days=2, seed=11, end=end, method="orm", rollup=False)
    first = snapshot()

    synthetic_clear(rollup=False)
    synthetic_generate(count=300, days=2, seed=11, end=end, method="orm", rollup=False)
    again = snapshot()
    synthetic_clear(rollup=False)
    synthetic_generate(count=300, days=2, seed=12, end=end, method="orm", rollup=False)

    assert len(first[0]) == 300
    assert again == first
    assert snapshot()[0] != first[0]


def test_clear_removes_only_synthetic_rows():
    synthetic_generate(count=200, days=1, seed=4, method="orm")
    real_source = SourceFactory(name="Real partner")
    real = Lead.objects.create(source=real_source, status="received")
    assert Buyer.objects.filter(company__endswith=SUFFIX).exists()

    deleted = synthetic_clear()

    assert deleted["lead"] == 200
    assert list(Lead.objects.all()) == [real]
    assert not Ping.objects.exists() and not Sale.objects.exists()
    assert not Return.objects.exists() and not Conversion.objects.exists()
    assert deleted["sourceping"] > 0 and not SourcePing.objects.exists()
    assert not WebhookDelivery.objects.exists() and not WebhookAttempt.objects.exists()
    assert not Buyer.objects.filter(company__endswith=SUFFIX).exists()
    assert Contract.objects.filter(buyer__company="Apex Auto Insurance").exists()  # demo kept
    assert not ContractHour.objects.exists()  # the rollups of the cleared hours are rebuilt


def test_the_command_generates_clears_and_prints_timings():
    out = StringIO()
    call_command("generate_leads", "--count", "150", "--days", "2", "--seed", "8",
                 "--buyers", "4", "--batch", "50", "--method", "orm", stdout=out)
    text = out.getvalue()
    assert "150/150 leads" in text and "Seconds: setup" in text and "rows/s" in text
    assert Buyer.objects.filter(company__endswith=SUFFIX).count() == 4
    assert Lead.objects.filter(sub_id=MARK).count() == 150

    out = StringIO()
    call_command("generate_leads", "--clear", "--count", "0", stdout=out)
    assert "Cleared: " in out.getvalue()
    assert not Lead.objects.filter(sub_id=MARK).exists()


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_copy_writes_the_same_rows_as_bulk_create():
    end = datetime(2026, 5, 2, 12, 0, tzinfo=UTC)
    synthetic_generate(count=400, days=2, seed=21, end=end, method="orm", batch=150)
    by_orm = snapshot()
    synthetic_clear()

    result = synthetic_generate(count=400, days=2, seed=21, end=end, method="copy", batch=150)

    assert result.method == "copy"
    assert snapshot() == by_orm
    with connection.cursor() as cursor:  # COPY seals what the ORM seals (apps.core.sealing)
        cursor.execute("SELECT fields::text, consent::text FROM leads_lead LIMIT 50")
        assert all(text.startswith('"sealed:v1:') for row in cursor.fetchall() for text in row)
    assert kpi_totals(ReportFilter(start=end.date() - timedelta(days=2),
                                   end=end.date() + timedelta(days=1))).received == 400 - \
        Lead.objects.filter(is_test=True).count()
    assert Sale.objects.aggregate(s=Sum("price"))["s"] > Decimal(0)
