"""Leads a crashed process left behind are picked up again by the sweeper."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from apps.auctions.caps import cap_reserve
from apps.auctions.models import Auction, Ping, Post, PostOutcome, Sale
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


def _cut_off_auction(vertical, source, first, second):
    """An auction a process died in: both contracts bid (first ranked above second), and
    its post to ``first`` was on the wire."""
    started = timezone.now() - timedelta(minutes=10)
    lead = Lead.objects.create(vertical=vertical, source=source, fields=valid_fields(),
                               status=LeadStatus.AUCTIONING, auction_started_at=started)
    auction = Auction.objects.create(lead=lead, started_at=started, ping_deadline_at=started,
                                     bids_at=started, rounds=1)
    for contract, bid in ((first, Decimal(12)), (second, Decimal(9))):
        Ping.objects.create(auction=auction, contract=contract, outcome="bid", bid=bid,
                            effective_bid=bid, token=f"t-{contract.pk}")
    Post.objects.create(auction=auction, contract=first, attempt=1,
                        outcome=PostOutcome.SENDING, price=12, token=f"t-{first.pk}")
    return lead, auction


def test_a_cut_off_post_whose_cap_room_went_elsewhere_falls_back_to_the_next_bidder(sim_url):
    """The retry of the cut-off post finds its cap full (another lead took the room it gave
    back): the lead is then offered to the bidder ranked below, which the dead process never
    reached — not left unsold."""
    vertical = VerticalFactory(slug="auto-insurance")
    source, _ = source_with_key(vertical)
    first = sim_contract(vertical, sim_url, query="bid=12",
                         caps=[{"period": "day", "metric": "leads", "limit": 1}])
    second = sim_contract(vertical, sim_url, query="bid=9")
    lead, auction = _cut_off_auction(vertical, source, first, second)

    assert leads_redrive() == 1  # the room the dead post held is given back …
    setup = next(s for s in contract_setups(vertical.pk, timezone.now())
                 if s.terms.id == first.pk)
    assert cap_reserve(setup.caps, price=Decimal(12), now=timezone.now())  # … and taken
    post_retries_run_due()

    lead.refresh_from_db()
    assert lead.status == LeadStatus.SOLD
    assert list(Sale.objects.filter(lead=lead).values_list("contract_id", "price")) == [
        (second.pk, Decimal("9.00"))]
    assert list(auction.posts.order_by("pk").values_list("contract_id", "outcome")) == [
        (first.pk, PostOutcome.REJECTED), (second.pk, PostOutcome.ACCEPTED)]


def test_after_an_ordinary_retry_nobody_is_offered_the_lead_twice(sim_url):
    """A retry scheduled by a finished auction (every bidder was offered the lead) that
    fails ends the lead unsold: the bidders below it were tried already."""
    vertical = VerticalFactory(slug="auto-insurance")
    source, _ = source_with_key(vertical)
    first = sim_contract(vertical, sim_url, query="bid=12&reject_rate=1")
    second = sim_contract(vertical, sim_url, query="bid=9&reject_rate=1")
    lead, auction = _cut_off_auction(vertical, source, first, second)
    Post.objects.create(auction=auction, contract=second, attempt=1,
                        outcome=PostOutcome.REJECTED, price=9, token=f"t-{second.pk}")

    assert leads_redrive() == 1
    post_retries_run_due()

    lead.refresh_from_db()
    assert lead.status == LeadStatus.UNSOLD
    assert auction.posts.filter(contract=second).count() == 1
