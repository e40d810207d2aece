"""Failed deliveries are retried (SPEC §4.6): at once with backoff inside the real-time window,
then from ``retry`` rows driven by beat; always with the same Idempotency-Key, never into a
second sale; a buyer that stays down hands the lead on, and retries end."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from apps.auctions.models import Auction, Post, Sale
from apps.auctions.services import posting
from apps.auctions.services.maintenance import post_retries_run_due
from apps.buyers.models import Endpoint
from apps.core.http import OutboundResponse
from apps.leads.models import Lead, LeadStatus
from tests.factories import (
    assert_sent_as_attempts,
    lead_submit,
    sim_contract,
    sim_requests,
    source_with_key,
)

pytestmark = pytest.mark.django_db

DOWN = "fail=close&fail_on=post"  # every post: the connection is dropped unanswered



@pytest.fixture(autouse=True)
def _simulator(fresh_simulator, settings):
    settings.POST_REALTIME_BACKOFF_S = (0.01, 0.02)


def attempts(lead: Lead, contract=None) -> list[tuple[int, str]]:
    posts = Post.objects.filter(auction__lead=lead)
    if contract is not None:
        posts = posts.filter(contract=contract)
    return list(posts.order_by("attempt").values_list("attempt", "outcome"))


def make_due(lead: Lead) -> Post:
    post = Post.objects.get(auction__lead=lead, outcome="retry")
    Post.objects.filter(pk=post.pk).update(
        next_attempt_at=timezone.now() - timedelta(seconds=1))
    return post


def test_a_post_refused_once_is_retried_with_the_same_key_and_sells_once(
        api_client, vertical, sim_url, monkeypatch):
    real_send = posting.http_send
    sent = []

    def refused_once(request, **kwargs):
        sent.append(request)
        if len(sent) == 1:
            return OutboundResponse(status=None, headers={}, body=b"", latency_ms=1.0,
                                    error="connect", detail="refused")
        return real_send(request, **kwargs)

    monkeypatch.setattr("apps.auctions.services.posting.http_send", refused_once)
    _, key = source_with_key(vertical)
    contract = sim_contract(vertical, sim_url, query="bid=10")

    body = lead_submit(api_client, key).json()

    assert body["status"] == "sold"
    lead = Lead.objects.get(uuid=body["id"])
    assert Sale.objects.filter(lead=lead).count() == 1
    assert attempts(lead) == [(1, "error"), (2, "accepted")]
    assert Post.objects.get(auction__lead=lead, attempt=1).reason == "connect: refused"
    [delivered] = sim_requests(sim_url, f"/b{contract.pk}/post")
    assert len(sent) == 2
    first_key = sent[0].headers["Idempotency-Key"]
    assert first_key == f"{lead.uuid}-{contract.pk}"
    assert delivered["headers"]["idempotency-key"] == first_key
    assert sent[1].body == sent[0].body


def test_a_buyer_that_stays_down_hands_the_lead_to_the_next_bidder(
        api_client, vertical, sim_url, settings):
    _, key = source_with_key(vertical)
    down = sim_contract(vertical, sim_url, query=f"bid=20&{DOWN}")
    runner_up = sim_contract(vertical, sim_url, query="bid=9")

    body = lead_submit(api_client, key).json()

    assert body["status"] == "sold"
    lead = Lead.objects.get(uuid=body["id"])
    tries = settings.POST_REALTIME_ATTEMPTS
    assert attempts(lead, down) == [(n, "error") for n in range(1, tries + 1)]
    assert_sent_as_attempts(sim_url, f"/b{down.pk}/post", tries)
    assert attempts(lead, runner_up) == [(1, "accepted")]
    assert Sale.objects.get(lead=lead).contract == runner_up
    assert not Post.objects.filter(auction__lead=lead, outcome="retry").exists()


def test_a_lone_bidder_that_is_down_gets_the_lead_later_from_a_retry_row(
        api_client, vertical, sim_url, settings):
    _, key = source_with_key(vertical)
    contract = sim_contract(vertical, sim_url, query=f"bid=10&{DOWN}")

    body = lead_submit(api_client, key).json()

    lead = Lead.objects.get(uuid=body["id"])
    assert lead.status == LeadStatus.AUCTIONING and body["status"] == "auctioning"
    tries = settings.POST_REALTIME_ATTEMPTS
    retry = Post.objects.get(auction__lead=lead, outcome="retry")
    assert retry.attempt == tries + 1 and retry.next_attempt_at > timezone.now()
    assert Auction.objects.get(lead=lead).outcome == "pending"
    assert post_retries_run_due() == 0, "a retry ran before it was due"

    # The buyer is back (at another address); staff saves the endpoint and the contract.
    endpoint = Endpoint.objects.get(contract=contract, kind="post")
    endpoint.url = f"{sim_url}/b{contract.pk}-back/post?bid=10&format=json"
    endpoint.save()
    contract.save(update_fields=["updated_at"])
    make_due(lead)

    assert post_retries_run_due() == 1

    lead.refresh_from_db()
    assert lead.status == LeadStatus.SOLD and lead.sale_price == 10
    assert Sale.objects.filter(lead=lead).count() == 1
    assert attempts(lead)[-1] == (tries + 1, "accepted")
    [delivered] = sim_requests(sim_url, f"/b{contract.pk}-back/post")
    assert delivered["headers"]["idempotency-key"] == f"{lead.uuid}-{contract.pk}"
    assert Auction.objects.get(lead=lead).outcome == "sold"

    assert post_retries_run_due() == 0
    assert Sale.objects.filter(lead=lead).count() == 1
    assert len(sim_requests(sim_url, f"/b{contract.pk}-back/post")) == 1


@pytest.mark.parametrize("max_attempts", [
    pytest.param(4, id="after-two-scheduled-retries"),
    pytest.param(2, id="within-the-real-time-window"),
])
def test_a_lead_whose_retries_are_exhausted_is_unsold_with_a_reason(
        api_client, vertical, sim_url, settings, max_attempts):
    settings.POST_REALTIME_ATTEMPTS = 2
    settings.POST_MAX_ATTEMPTS = max_attempts
    _, key = source_with_key(vertical)
    contract = sim_contract(vertical, sim_url, query=f"bid=10&{DOWN}")

    lead = Lead.objects.get(uuid=lead_submit(api_client, key).json()["id"])
    for _ in range(max_attempts - settings.POST_REALTIME_ATTEMPTS):
        assert Lead.objects.get(pk=lead.pk).status == LeadStatus.AUCTIONING
        make_due(lead)
        assert post_retries_run_due() == 1

    lead.refresh_from_db()
    assert lead.status == LeadStatus.UNSOLD
    assert "retries exhausted" in lead.message
    assert attempts(lead) == [(n, "error") for n in range(1, max_attempts + 1)]
    assert_sent_as_attempts(sim_url, f"/b{contract.pk}/post", max_attempts)
    assert not Sale.objects.filter(lead=lead).exists()
    assert not Post.objects.filter(auction__lead=lead, outcome="retry").exists()
    assert post_retries_run_due() == 0
    auction = Auction.objects.get(lead=lead)
    assert auction.outcome == "unsold" and "retries exhausted" in auction.reason


# --- the retry path checks the contract again, like an auction would (issue 10, A7) ---


@pytest.fixture
def pending(api_client, vertical, sim_url):
    """A lead whose lone bidder was down: waiting on a retry row (due now), the bidder's
    post endpoint now answering again."""
    _, key = source_with_key(vertical)
    contract = sim_contract(vertical, sim_url, query=f"bid=10&{DOWN}", slow_threshold_ms=5000)
    lead = Lead.objects.get(uuid=lead_submit(api_client, key).json()["id"])
    endpoint = Endpoint.objects.get(contract=contract, kind="post")
    endpoint.url = f"{sim_url}/b{contract.pk}-back/post?bid=10&format=json"
    endpoint.save()
    contract.save(update_fields=["updated_at"])
    make_due(lead)
    return lead, contract


def test_a_retry_to_a_contract_switched_off_meanwhile_is_dropped(pending, sim_url):
    lead, contract = pending
    contract.status = "paused"
    contract.save()

    assert post_retries_run_due() == 1

    lead.refresh_from_db()
    assert lead.status == LeadStatus.UNSOLD
    assert lead.message == "The buyer's contract was switched off before the delivery retry."
    assert sim_requests(sim_url, f"/b{contract.pk}-back/post") == []
    assert not Post.objects.filter(auction__lead=lead, outcome="retry").exists()


def test_a_retry_to_an_auto_paused_contract_is_not_sent_and_waits_for_the_next_one(
        pending, sim_url, settings):
    lead, contract = pending
    contract.auto_paused_at = timezone.now()
    contract.save()

    assert post_retries_run_due() == 1

    lead.refresh_from_db()
    assert lead.status == LeadStatus.AUCTIONING
    assert sim_requests(sim_url, f"/b{contract.pk}-back/post") == []
    tries = settings.POST_REALTIME_ATTEMPTS
    assert attempts(lead)[-2:] == [(tries + 1, "error"), (tries + 2, "retry")]
    skipped = Post.objects.get(auction__lead=lead, attempt=tries + 1)
    assert skipped.reason == "contract auto-paused: not sent"


def test_a_retry_to_a_contract_whose_cap_filled_meanwhile_is_not_sent(pending, sim_url):
    from apps.auctions.caps import cap_reserve
    from apps.auctions.setups import contract_setups

    lead, contract = pending
    contract.caps.create(period="day", metric="leads", limit=1)
    contract.save(update_fields=["updated_at"])
    [setup] = [s for s in contract_setups(lead.vertical_id, timezone.now())
               if s.terms.id == contract.pk]
    assert cap_reserve(setup.caps, price=10, now=timezone.now())  # another lead took it

    assert post_retries_run_due() == 1

    lead.refresh_from_db()
    assert lead.status == LeadStatus.UNSOLD
    assert sim_requests(sim_url, f"/b{contract.pk}-back/post") == []
    assert Post.objects.filter(auction__lead=lead).order_by("-attempt").first().reason == (
        "cap reached before the post")


def test_the_attempts_of_a_retry_feed_the_circuit_breaker(pending, monkeypatch):
    lead, contract = pending
    seen = []
    monkeypatch.setattr("apps.auctions.services.posting.health_observe",
                        lambda observations: seen.extend(observations) or [])

    assert post_retries_run_due() == 1

    assert [(o.contract_id, o.failed) for o in seen] == [(contract.pk, False)]
    lead.refresh_from_db()
    assert lead.status == LeadStatus.SOLD
