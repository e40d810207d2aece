"""Once a buyer accepts a post, nothing may change that lead's outcome (issue 10, A1): the sale
and the lead's ``sold`` are one write; the breaker's bookkeeping and alerts come after and may
fail alone; the sweeper finishes a lead that has a sale instead of auctioning it again."""

from __future__ import annotations

import logging
from datetime import timedelta
from decimal import Decimal

import pytest
import redis
from django.db import connection
from django.utils import timezone

from apps.auctions.models import Auction, Ping, Post, PostOutcome, Sale
from apps.auctions.services import auction_run, records
from apps.auctions.services.maintenance import leads_redrive
from apps.leads.models import Lead, LeadStatus
from tests.factories import (
    lead_submit,
    sim_contract,
    sim_requests,
    source_with_key,
    valid_fields,
)

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("fresh_simulator")]


@pytest.fixture
def market(vertical, sim_url):
    source, _ = source_with_key(vertical, payout_model="revshare", payout_value=Decimal(50))
    contract = sim_contract(vertical, sim_url, query="bid=12")
    return source, contract


def a_lead(vertical, source) -> Lead:
    return Lead.objects.create(vertical=vertical, source=source, fields=valid_fields())


class _StorageDown:
    def count(self, observations):
        raise redis.ConnectionError("Connection refused")

    def reset(self, contract_id):
        raise redis.ConnectionError("Connection refused")


def test_a_breaker_storage_outage_after_the_sale_leaves_the_lead_sold(
        vertical, market, monkeypatch, caplog):
    source, contract = market
    monkeypatch.setattr("apps.auctions.health.breaker.streak_storage", _StorageDown)
    lead = a_lead(vertical, source)

    with caplog.at_level(logging.WARNING):
        decided = auction_run(lead.pk)

    assert decided.status == LeadStatus.SOLD
    assert (decided.sale_price, decided.payout, decided.margin) == (12, 6, 6)
    assert Sale.objects.get(lead=lead).contract == contract
    assert Auction.objects.get(lead=lead).outcome == "sold"
    assert "breaker.unavailable error=ConnectionError" in caplog.text


def test_the_sale_and_the_lead_outcome_are_written_together(vertical, market, monkeypatch):
    """A process that dies right after the sale is recorded (here: the next step raises)
    leaves a sold lead, not an auctioning one with a sale."""
    source, _ = market

    def crash(*args, **kwargs):
        raise RuntimeError("the process died here")

    monkeypatch.setattr("apps.auctions.services.run.lead_finalize", crash)
    lead = a_lead(vertical, source)

    with pytest.raises(RuntimeError):
        auction_run(lead.pk)

    lead.refresh_from_db()
    assert lead.status == LeadStatus.SOLD
    assert (lead.sale_price, lead.payout, lead.message) == (12, 6, "Sold.")
    assert lead.completed_at is not None
    assert Auction.objects.get(lead=lead).outcome == "sold"


def test_the_sweeper_finishes_a_lead_with_a_sale_instead_of_auctioning_it_again(
        vertical, market, sim_url, django_capture_on_commit_callbacks):
    """The state the outside check found: the buyer took the lead, the lead stayed
    ``auctioning`` (an older version wrote the outcome apart from the sale)."""
    source, contract = market
    started = timezone.now() - timedelta(minutes=10)
    lead = Lead.objects.create(vertical=vertical, source=source, fields=valid_fields(),
                               status=LeadStatus.AUCTIONING, auction_started_at=started)
    auction = Auction.objects.create(lead=lead, started_at=started, ping_deadline_at=started,
                                     rounds=1)
    Post.objects.create(auction=auction, contract=contract, attempt=1,
                        outcome=PostOutcome.ACCEPTED, price=12)
    Sale.objects.create(lead=lead, contract=contract, buyer=contract.buyer, price=12)

    with django_capture_on_commit_callbacks(execute=True):
        assert leads_redrive() == 1

    lead.refresh_from_db()
    assert lead.status == LeadStatus.SOLD
    assert (lead.sale_price, lead.payout, lead.margin) == (12, 6, 6)
    assert lead.auctions.count() == 1, "the lead was auctioned again"
    assert Auction.objects.get(lead=lead).outcome == "sold"
    assert not Ping.objects.filter(auction__lead=lead).exists()
    assert sim_requests(sim_url, f"/b{contract.pk}/ping") == []
    assert Sale.objects.filter(lead=lead).count() == 1


def test_a_lead_decided_unsold_is_never_turned_back_by_the_sweeper(vertical, market):
    source, _ = market
    lead = Lead.objects.create(vertical=vertical, source=source, fields=valid_fields(),
                               status=LeadStatus.UNSOLD,
                               auction_started_at=timezone.now() - timedelta(hours=1))

    assert leads_redrive() == 0
    lead.refresh_from_db()
    assert lead.status == LeadStatus.UNSOLD


def test_an_unsold_lead_whose_bids_were_all_under_the_floor_says_so(
        api_client, vertical, sim_url):
    vertical.default_floor = Decimal("12.00")
    vertical.save()
    for _ in range(3):
        sim_contract(vertical, sim_url, query="bid=5")
    _, key = source_with_key(vertical)

    body = lead_submit(api_client, key).json()

    assert body["status"] == "unsold"
    assert body["message"] == "3 bids under the floor 12.00."
    assert Lead.objects.get(uuid=body["id"]).message == "3 bids under the floor 12.00."


def test_an_unsold_lead_nobody_bid_on_says_so(api_client, vertical, sim_url):
    sim_contract(vertical, sim_url, query="no_bid=1")
    _, key = source_with_key(vertical)

    assert lead_submit(api_client, key).json()["message"] == "No buyer bid on this lead."


def test_the_auction_s_rows_are_built_before_the_transactions_that_write_them(
        vertical, market, monkeypatch):
    """The auction record and its ping rows, and the sale, are written in transactions
    that on SQLite hold the database's one write turn (every capture and auction of every
    process waits for it): their values are worked out before each begins."""
    source, contract = market
    lead = a_lead(vertical, source)
    outside = len(connection.atomic_blocks)  # the test's own transaction, if any
    depths: dict[str, list[int]] = {"auction": [], "sale": [], "pings": []}

    def recorded(name, prepare):
        def wrapper(*args, **kwargs):
            depths[name].append(len(connection.atomic_blocks))
            return prepare(*args, **kwargs)
        return wrapper

    for model, name in ((Auction, "auction"), (Sale, "sale")):
        field = model._meta.get_field("is_test" if model is Sale else "ping_deadline_at")
        monkeypatch.setattr(field, "get_db_prep_save", recorded(name, field.get_db_prep_save))
    monkeypatch.setattr(records, "round_rows", recorded("pings", records.round_rows))

    assert auction_run(lead.pk).status == LeadStatus.SOLD

    assert depths == {"auction": [outside], "sale": [outside], "pings": [outside]}
    assert Ping.objects.get(auction__lead=lead).contract == contract
    assert Sale.objects.get(lead=lead).contract == contract


def test_the_outcome_is_told_before_the_bookkeeping_and_the_worker_s_waiter_once(
        vertical, market, monkeypatch):
    """A sync lead's request answers as soon as its outcome is recorded: ``on_decided`` (the
    web process's waiter) and ``done_key`` (a request waiting on a worker) are told before
    the acceptance counts and the breaker's streaks are written, and only once."""
    from apps.auctions import tasks
    from apps.auctions.services import run

    source, contract = market
    order: list[str] = []
    bookkeeping = run.auction_bookkeeping
    monkeypatch.setattr("apps.core.handoff.handoff_done",
                        lambda key: order.append(f"handoff {key}"))
    monkeypatch.setattr(run, "auction_bookkeeping",
                        lambda ctx: order.append("bookkeeping") or bookkeeping(ctx))
    lead = a_lead(vertical, source)

    decided = tasks.auction_run_task.run(
        lead.pk, done_key="k1", on_decided=lambda lead: order.append(f"decided {lead.status}"))

    assert decided.status == LeadStatus.SOLD
    assert order == ["handoff k1", "decided sold", "bookkeeping"]
    contract.refresh_from_db()  # the bookkeeping still counted the accepted post
    assert (contract.posts_recent, contract.accepted_recent) == (1, 1)

    order.clear()  # a lead another process already decided: told once, at the end
    assert tasks.auction_run_task.run(lead.pk, done_key="k2").status == LeadStatus.SOLD
    assert order == ["handoff k2"]
