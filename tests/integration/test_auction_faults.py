"""Misbehaving buyers (SPEC §4.2, §4.5): one that hangs, drips, 5xx's, answers garbage, sends
10 MB or redirects to the cloud metadata address cannot delay the decision past the ping
deadline or crash the auction; it gets its outcome code and the lead goes to a good bidder.
A top bidder whose post misbehaves hands the lead to the next bidder. Every lead ends decided
with at most one sale, and the caps are exact: a misbehaving buyer's cap counts nothing (a
post that failed gives its room back), the buyer's that bought counts exactly its sale."""

from __future__ import annotations

import re
import time
from datetime import timedelta
from decimal import Decimal
from urllib.parse import quote

import pytest
from django.db.models import Sum

from apps.auctions.models import Auction, Ping, Post, Sale
from apps.buyers.models import CapCounter
from apps.leads.models import Lead, LeadStatus
from tests.factories import (
    assert_sent_as_attempts,
    lead_submit,
    sim_contract,
    sim_requests,
    source_with_key,
)

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("fresh_simulator")]

BUDGET_MS = 600  # the source's budget: the ping deadline is ~340 ms after the start
ENDPOINT_TIMEOUT_MS = 2000  # longer than the budget: the auction's deadline must cut first
SLACK = timedelta(milliseconds=50)
METADATA_URL = "http://169.254.169.254/latest/meta-data/"

# The simulator's drip announces a 10 MiB body; under the default 256 KiB cap its
# Content-Length alone fails it, so the dripping itself is only reached with a larger cap.
BIG_CAP = 64 * 1024 * 1024

DAILY_CAP_OF_1 = [{"period": "day", "metric": "leads", "limit": 1}]

TIMED_OUT = r"no complete answer after \d+ ms"
OVER_THE_CAP = re.escape("too_large: Content-Length is over the 262144-byte cap")
PING_FAULTS = [
    # (buyer behaviour, Ping outcome, its whole detail as a regex (the garbage is random),
    #  HTTP_MAX_RESPONSE_BYTES or default)
    pytest.param("fail=hang", "timeout", TIMED_OUT, None, id="hang"),
    pytest.param("fail=drip", "timeout", TIMED_OUT, BIG_CAP, id="drip"),
    pytest.param("fail=drip", "error", OVER_THE_CAP, None, id="drip-10MB"),
    pytest.param("fail=5xx", "error", "HTTP 503", None, id="5xx"),
    pytest.param("fail=garbage", "invalid_response", "body is not JSON: .+", None,
                 id="garbage"),
    pytest.param("fail=huge", "error", OVER_THE_CAP, None, id="huge"),
    pytest.param(f"fail=redirect&location={quote(METADATA_URL, safe='')}", "error",
                 re.escape("redirect: redirect to 169.254.169.254 not followed"), None,
                 id="redirect"),
]


def cap_used(contract) -> Decimal:
    """What the contract's daily cap has counted (0 when nothing ever reserved room)."""
    return CapCounter.objects.filter(cap__contract=contract).aggregate(
        used=Sum("used"))["used"] or Decimal(0)


def assert_decided_by_the_ping_deadline(auction: Auction) -> None:
    assert auction.bids_at is not None
    assert auction.ping_deadline_at - auction.started_at < timedelta(milliseconds=BUDGET_MS)
    assert auction.bids_at <= auction.ping_deadline_at + SLACK, (
        f"ping phase ended {auction.bids_at - auction.ping_deadline_at} after its deadline")


@pytest.mark.parametrize(("fault", "outcome", "detail", "cap"), PING_FAULTS)
def test_a_misbehaving_buyer_gets_its_outcome_and_the_good_bidder_buys_in_time(
        api_client, vertical, sim_url, settings, fault, outcome, detail, cap):
    if cap:
        settings.HTTP_MAX_RESPONSE_BYTES = cap
    _, key = source_with_key(vertical, time_budget_ms=BUDGET_MS)
    bad = sim_contract(vertical, sim_url, query=f"bid=50&{fault}",
                       timeout_ms=ENDPOINT_TIMEOUT_MS, caps=DAILY_CAP_OF_1)
    good = sim_contract(vertical, sim_url, query="bid=9", timeout_ms=ENDPOINT_TIMEOUT_MS,
                        caps=DAILY_CAP_OF_1)

    response = lead_submit(api_client, key)

    assert response.status_code == 200, response.json()
    assert response.json()["status"] == "sold"
    lead = Lead.objects.get(uuid=response.json()["id"])
    auction = Auction.objects.get(lead=lead)
    assert_decided_by_the_ping_deadline(auction)
    ping = Ping.objects.get(auction=auction, contract=bad)
    assert ping.outcome == outcome
    assert re.fullmatch(detail, ping.detail), ping.detail
    assert ping.bid is None and ping.latency_ms < BUDGET_MS
    assert Ping.objects.get(auction=auction, contract=good).outcome == "bid"
    assert Sale.objects.get(lead=lead).contract == good
    assert (cap_used(bad), cap_used(good)) == (0, 1)
    assert not Post.objects.filter(auction=auction, contract=bad).exists()
    assert len(sim_requests(sim_url, f"/b{bad.pk}/ping")) == 1
    assert sim_requests(sim_url, "/latest/meta-data/") == []


@pytest.mark.parametrize(("fault", "outcome", "detail", "cap"), PING_FAULTS)
def test_a_misbehaving_buyer_alone_leaves_the_lead_unsold_without_crashing(
        api_client, vertical, sim_url, settings, fault, outcome, detail, cap):
    if cap:
        settings.HTTP_MAX_RESPONSE_BYTES = cap
    _, key = source_with_key(vertical, time_budget_ms=BUDGET_MS)
    bad = sim_contract(vertical, sim_url, query=f"bid=50&{fault}",
                       timeout_ms=ENDPOINT_TIMEOUT_MS)

    started = time.monotonic()
    response = lead_submit(api_client, key)
    elapsed = time.monotonic() - started

    assert response.status_code == 200, response.json()
    assert response.json()["status"] == "unsold"
    assert elapsed < ENDPOINT_TIMEOUT_MS / 1000, "the endpoint timeout, not the budget, cut"
    lead = Lead.objects.get(uuid=response.json()["id"])
    assert lead.status == LeadStatus.UNSOLD and lead.message
    auction = Auction.objects.get(lead=lead)
    assert auction.outcome == "unsold"
    assert_decided_by_the_ping_deadline(auction)
    first = Ping.objects.get(auction=auction, contract=bad, round=1)
    assert first.outcome == outcome
    assert re.fullmatch(detail, first.detail), first.detail
    assert not Sale.objects.filter(lead=lead).exists()
    assert not Post.objects.filter(auction=auction).exists()


def test_a_redirect_is_not_followed_even_to_an_allowed_address(api_client, vertical, sim_url):
    canary = f"{sim_url}/canary/ping"
    bad = sim_contract(vertical, sim_url,
                       query=f"bid=50&fail=redirect&location={quote(canary, safe='')}")
    good = sim_contract(vertical, sim_url, query="bid=9")
    _, key = source_with_key(vertical, time_budget_ms=BUDGET_MS)

    body = lead_submit(api_client, key).json()

    ping = Ping.objects.get(auction__lead__uuid=body["id"], contract=bad)
    assert ping.outcome == "error" and ping.http_status == 302
    assert "redirect" in ping.detail
    assert len(sim_requests(sim_url, f"/b{bad.pk}/ping")) == 1
    assert sim_requests(sim_url, "/canary/ping") == [], "the redirect was followed"
    assert Sale.objects.get(lead__uuid=body["id"]).contract == good


POST_FAULTS = [
    # (buyer behaviour on the post, Post outcome, retried in the real-time window?, cap)
    pytest.param("fail=hang", "timeout", True, None, id="hang"),
    pytest.param("fail=drip", "timeout", True, BIG_CAP, id="drip"),
    pytest.param("fail=5xx", "error", True, None, id="5xx"),
    pytest.param("fail=close", "error", True, None, id="close"),
    pytest.param("fail=garbage", "error", False, None, id="garbage"),
    pytest.param("fail=huge", "error", False, None, id="huge"),
    pytest.param(f"fail=redirect&location={quote(METADATA_URL, safe='')}", "error", False,
                 None, id="redirect"),
]


@pytest.mark.parametrize(("fault", "outcome", "retried", "cap"), POST_FAULTS)
def test_a_top_bidder_whose_post_misbehaves_hands_the_lead_to_the_next_bidder(
        api_client, vertical, sim_url, settings, fault, outcome, retried, cap):
    if cap:
        settings.HTTP_MAX_RESPONSE_BYTES = cap
    _, key = source_with_key(vertical)
    top = sim_contract(vertical, sim_url, query=f"bid=20&{fault}&fail_on=post", timeout_ms=300,
                       caps=DAILY_CAP_OF_1)
    runner_up = sim_contract(vertical, sim_url, query="bid=9", caps=DAILY_CAP_OF_1)

    response = lead_submit(api_client, key)

    assert response.status_code == 200, response.json()
    assert response.json()["status"] == "sold"
    lead = Lead.objects.get(uuid=response.json()["id"])
    assert Ping.objects.get(auction__lead=lead, contract=top).outcome == "bid"
    assert Sale.objects.get(lead=lead).contract == runner_up
    assert lead.status == LeadStatus.SOLD and lead.sale_price == 9
    assert (cap_used(top), cap_used(runner_up)) == (0, 1)  # each failed post gave its room back
    attempts = settings.POST_REALTIME_ATTEMPTS if retried else 1
    posts = list(Post.objects.filter(auction__lead=lead, contract=top).order_by("attempt")
                 .values_list("attempt", "outcome"))
    assert posts == [(n, outcome) for n in range(1, attempts + 1)]
    assert_sent_as_attempts(sim_url, f"/b{top.pk}/post", attempts)
    assert Post.objects.get(auction__lead=lead, contract=runner_up).outcome == "accepted"
