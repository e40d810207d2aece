"""A lead through the whole auction against simulator buyers: sync answers, sale rows,
payout and margin, fallback, test leads."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest

from apps.auctions.models import Ping, Post, Sale
from apps.leads.models import Lead, LeadStatus
from tests.factories import sim_contract, source_with_key, valid_fields

pytestmark = pytest.mark.django_db


def submit(api_client, key, **extra):
    body = {"vertical": "auto-insurance", "fields": valid_fields(), **extra}
    return api_client.post("/api/v1/leads", data=json.dumps(body),
                           content_type="application/json", HTTP_AUTHORIZATION=f"Bearer {key}")


def test_a_sync_lead_sells_to_the_best_bid_and_the_answer_keeps_the_buyer_secret(
        api_client, vertical, sim_url):
    _, key = source_with_key(vertical, payout_model="revshare", payout_value=Decimal("60"))
    low = sim_contract(vertical, sim_url, query="bid=8")
    high = sim_contract(vertical, sim_url, query="bid=12.50")

    response = submit(api_client, key)

    assert response.status_code == 200, response.json()
    body = response.json()
    assert body == {"id": body["id"], "status": "sold", "payout": "7.50", "message": "Sold.",
                    "ignored_fields": []}
    lead = Lead.objects.get(uuid=body["id"])
    assert lead.sale_price == Decimal("12.50") and lead.margin == Decimal("5.00")
    sale = Sale.objects.get(lead=lead)
    assert sale.contract == high
    outcomes = dict(Ping.objects.filter(auction__lead=lead).values_list("contract", "outcome"))
    assert outcomes == {low.pk: "bid", high.pk: "bid"}


def test_a_rejected_post_falls_back_to_the_next_bidder(api_client, vertical, sim_url):
    _, key = source_with_key(vertical)
    rejecting = sim_contract(vertical, sim_url, query="bid=20&accept=0&reject_reason=Dupe")
    accepting = sim_contract(vertical, sim_url, query="bid=9")

    body = submit(api_client, key).json()

    lead = Lead.objects.get(uuid=body["id"])
    assert body["status"] == "sold"
    assert Sale.objects.get(lead=lead).contract == accepting
    posts = list(Post.objects.filter(auction__lead=lead).order_by("created_at")
                 .values_list("contract", "outcome", "reason"))
    assert posts == [(rejecting.pk, "rejected", "Dupe"), (accepting.pk, "accepted", "")]


def test_a_lead_nobody_bids_on_is_unsold_with_a_reason(api_client, vertical, sim_url):
    _, key = source_with_key(vertical)
    sim_contract(vertical, sim_url, query="no_bid=1")

    body = submit(api_client, key).json()

    assert body["status"] == "unsold" and body["payout"] == "0.00"
    assert Lead.objects.get(uuid=body["id"]).status == LeadStatus.UNSOLD


def test_pings_never_carry_pii_and_stored_posts_are_masked(api_client, vertical, sim_url):
    _, key = source_with_key(vertical)
    contract = sim_contract(vertical, sim_url, query="bid=10")

    body = submit(api_client, key).json()

    ping = Ping.objects.get(auction__lead__uuid=body["id"], contract=contract)
    sent = json.loads(ping.request_body)
    assert "zip" in sent and not {"email", "phone", "first_name", "date_of_birth"} & set(sent)
    post = Post.objects.get(auction__lead__uuid=body["id"])
    stored = json.loads(post.request_body)
    assert stored["email"] == "***" and stored["zip"] == "10001"


def test_a_secondary_contract_is_pinged_only_after_every_first_round_bidder_failed(
        api_client, vertical, sim_url):
    _, key = source_with_key(vertical)
    rejecting = sim_contract(vertical, sim_url, query="bid=20&accept=0")
    silent = sim_contract(vertical, sim_url, query="no_bid=1")
    secondary = sim_contract(vertical, sim_url, query="bid=4", is_secondary=True)

    body = submit(api_client, key).json()

    lead = Lead.objects.get(uuid=body["id"])
    assert body["status"] == "sold"
    assert Sale.objects.get(lead=lead).contract == secondary
    rounds = sorted(Ping.objects.filter(auction__lead=lead)
                    .values_list("round", "contract", "outcome"))
    assert rounds == sorted([(1, rejecting.pk, "bid"), (1, silent.pk, "no_bid"),
                             (2, secondary.pk, "bid")])


def test_a_sold_lead_never_pings_the_secondary_contracts(api_client, vertical, sim_url):
    _, key = source_with_key(vertical)
    sim_contract(vertical, sim_url, query="bid=10")
    secondary = sim_contract(vertical, sim_url, query="bid=40", is_secondary=True)

    body = submit(api_client, key).json()

    assert body["status"] == "sold"
    assert not Ping.objects.filter(contract=secondary).exists()
