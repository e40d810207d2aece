"""Leads a crashed process left behind are picked up again by the sweeper."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from apps.auctions.caps import cap_reserve
from apps.auctions.models import Auction, Post, PostOutcome, Sale
from apps.auctions.services.maintenance import leads_redrive, post_retries_run_due
from apps.auctions.setups import contract_setups
from apps.buyers.models import CapCounter
from apps.leads.models import Lead, LeadStatus
from tests.factories import VerticalFactory, sim_contract, source_with_key, valid_fields

pytestmark = pytest.mark.django_db


@pytest.fixture
def market(sim_url):
    vertical = VerticalFactory(slug="auto-insurance")
    source, _ = source_with_key(vertical)
    contract = sim_contract(vertical, sim_url, query="bid=10")
    return vertical, source, contract


def test_a_lead_whose_auction_task_was_lost_is_auctioned_again(
        market, django_capture_on_commit_callbacks):
    vertical, source, _ = market
    lead = Lead.objects.create(vertical=vertical, source=source, fields=valid_fields())
    Lead.objects.filter(pk=lead.pk).update(received_at=timezone.now() - timedelta(minutes=5))

    with django_capture_on_commit_callbacks(execute=True):
        assert leads_redrive() == 1

    lead.refresh_from_db()
    assert lead.status == LeadStatus.SOLD


def test_a_fresh_lead_is_left_alone(market, django_capture_on_commit_callbacks):
    vertical, source, _ = market
    Lead.objects.create(vertical=vertical, source=source, fields=valid_fields())

    with django_capture_on_commit_callbacks(execute=True):
        assert leads_redrive() == 0


def test_a_post_cut_off_mid_flight_is_retried_with_the_same_buyer(market):
    vertical, source, contract = market
    started = timezone.now() - timedelta(minutes=10)
    lead = Lead.objects.create(vertical=vertical, source=source, fields=valid_fields(),
                               status=LeadStatus.AUCTIONING, auction_started_at=started)
    auction = Auction.objects.create(lead=lead, started_at=started, ping_deadline_at=started)
    Post.objects.create(auction=auction, contract=contract, attempt=1,
                        outcome=PostOutcome.SENDING, price=10, token="t-1")

    assert leads_redrive() == 1
    post_retries_run_due()

    lead.refresh_from_db()
    assert lead.status == LeadStatus.SOLD
    assert Sale.objects.filter(lead=lead, contract=contract).count() == 1
    assert list(auction.posts.order_by("attempt").values_list("outcome", flat=True)) == [
        PostOutcome.ACCEPTED]


def test_a_post_cut_off_mid_flight_gives_back_its_cap_room_before_its_retry(sim_url):
    """The dead process had reserved the post's cap room; the retry reserves again, so the
    first reservation is given back: a cap of 1 still sells this lead, and counts it once."""
    vertical = VerticalFactory(slug="auto-insurance")
    source, _ = source_with_key(vertical)
    contract = sim_contract(vertical, sim_url, query="bid=10",
                            caps=[{"period": "day", "metric": "leads", "limit": 1}])
    started = timezone.now() - timedelta(minutes=10)
    lead = Lead.objects.create(vertical=vertical, source=source, fields=valid_fields(),
                               status=LeadStatus.AUCTIONING, auction_started_at=started)
    auction = Auction.objects.create(lead=lead, started_at=started, ping_deadline_at=started)
    [setup] = contract_setups(vertical.pk, timezone.now())
    assert cap_reserve(setup.caps, price=Decimal(10), now=timezone.now())  # then it died
    Post.objects.create(auction=auction, contract=contract, attempt=1,
                        outcome=PostOutcome.SENDING, price=10, token="t-1")

    assert leads_redrive() == 1
    post_retries_run_due()

    lead.refresh_from_db()
    assert lead.status == LeadStatus.SOLD
    assert Sale.objects.filter(lead=lead, contract=contract).count() == 1
    assert CapCounter.objects.get(cap__contract=contract).used == 1


def test_an_auction_that_died_before_posting_runs_again(market,
                                                        django_capture_on_commit_callbacks):
    vertical, source, _ = market
    started = timezone.now() - timedelta(minutes=10)
    lead = Lead.objects.create(vertical=vertical, source=source, fields=valid_fields(),
                               status=LeadStatus.AUCTIONING, auction_started_at=started)
    Auction.objects.create(lead=lead, started_at=started, ping_deadline_at=started)

    with django_capture_on_commit_callbacks(execute=True):
        assert leads_redrive() == 1

    lead.refresh_from_db()
    assert lead.status == LeadStatus.SOLD
    assert lead.auctions.count() == 2


def test_a_lead_that_kills_every_auction_ends_in_error_and_tells_its_source(market):
    from apps.webhooks.models import WebhookDelivery
    from apps.webhooks.services.endpoints import endpoint_create

    vertical, source, _ = market
    endpoint_create(source=source, url="https://hooks.example.com/lx")
    started = timezone.now() - timedelta(minutes=10)
    lead = Lead.objects.create(vertical=vertical, source=source, fields=valid_fields(),
                               status=LeadStatus.AUCTIONING, auction_started_at=started)
    for minutes in (30, 20, 10):  # three auctions, each left behind by a dying process
        at = timezone.now() - timedelta(minutes=minutes)
        Auction.objects.create(lead=lead, started_at=at, ping_deadline_at=at)

    assert leads_redrive() == 1

    lead.refresh_from_db()
    assert lead.status == LeadStatus.ERROR
    assert lead.message == "The auction failed 3 times; the lead was not sold."
    assert lead.auctions.count() == 3  # not auctioned a fourth time
    assert list(WebhookDelivery.objects.filter(lead=lead).values_list("event", flat=True)) == [
        "lead.error"]
    assert leads_redrive() == 0  # and left alone after
