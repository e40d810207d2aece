"""Source-side ping-post through the public API: bid and no-bid, the held reservation, the
post to the reserved winner with its token, fallback, and every refusal."""

from __future__ import annotations

import json
import uuid
from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from apps.auctions.caps import cap_holds_purge, cap_reserve, cap_usage
from apps.auctions.models import CapHold, Ping, Post, Sale, SourcePing
from apps.auctions.setups import contract_setups
from apps.buyers.models import CapCounter
from apps.leads.models import Lead, LeadStatus
from tests.factories import VerticalFactory, sim_contract, source_with_key, valid_fields

pytestmark = pytest.mark.django_db

PING_FIELDS = {k: v for k, v in valid_fields().items()
               if k in ("zip", "vehicle_year", "homeowner", "credit_rating", "income")}


def call(api_client, key, path, body):
    return api_client.post(path, data=json.dumps(body), content_type="application/json",
                           HTTP_AUTHORIZATION=f"Bearer {key}")


def ping(api_client, key, **extra):
    return call(api_client, key, "/api/v1/pings",
                {"vertical": "auto-insurance", "fields": PING_FIELDS, **extra})


def post(api_client, key, ping_id, **fields):
    return call(api_client, key, f"/api/v1/pings/{ping_id}/post",
                {"fields": valid_fields(**fields)})


def test_a_ping_answers_the_sources_payout_and_holds_the_winners_cap_room(
        api_client, vertical, sim_url):
    _, key = source_with_key(vertical, payout_model="revshare", payout_value=Decimal("60"))
    sim_contract(vertical, sim_url, query="bid=8")
    high = sim_contract(vertical, sim_url, query="bid=12.50",
                        caps=[{"period": "day", "metric": "leads", "limit": 1}])

    response = ping(api_client, key)

    assert response.status_code == 200, response.json()
    body = response.json()
    assert set(body) == {"ping_id", "status", "bid", "expires_at"}
    assert body["status"] == "bid" and body["bid"] == "7.50"  # 60 % of 12.50, not the price
    stored = SourcePing.objects.get(uuid=body["ping_id"])
    assert stored.expires_at - stored.bids_at == timedelta(seconds=60)
    hold = CapHold.objects.get(ping=stored)
    assert (hold.contract_id, hold.amount, hold.state) == (high.pk, 1, "held")
    setup = next(s for s in contract_setups(vertical.pk, timezone.now()) if s.terms.id == high.pk)
    assert cap_usage(setup.caps, timezone.now()) == {setup.caps[0].cap_id: 1}
    # another lead cannot take the held room
    assert cap_reserve(setup.caps, price=Decimal(10), now=timezone.now()) is None


def test_a_ping_nobody_bids_on_is_no_bid(api_client, vertical, sim_url):
    _, key = source_with_key(vertical)
    sim_contract(vertical, sim_url, query="no_bid=1")

    body = ping(api_client, key).json()

    assert body["status"] == "no_bid" and body["bid"] is None
    assert not CapHold.objects.exists()


def test_the_post_goes_to_the_reserved_winner_with_its_token_and_pays_what_was_promised(
        api_client, vertical, sim_url):
    source, key = source_with_key(vertical, payout_model="revshare", payout_value=Decimal("60"))
    high = sim_contract(vertical, sim_url, query="bid=12.50",
                        caps=[{"period": "day", "metric": "leads", "limit": 1}])
    body = ping(api_client, key).json()
    source.payout_value = Decimal("50")  # terms changed after the promise
    source.save()

    response = post(api_client, key, body["ping_id"])

    assert response.status_code == 200, response.json()
    answer = response.json()
    assert answer["status"] == "sold" and answer["payout"] == body["bid"] == "7.50"
    lead = Lead.objects.get(uuid=answer["id"])
    assert Sale.objects.get(lead=lead).contract == high
    ping_row = Ping.objects.get(auction__lead=lead, contract=high)
    post_row = Post.objects.get(auction__lead=lead)
    assert ping_row.token and post_row.token == ping_row.token
    assert Ping.objects.filter(auction__lead=lead).count() == 1  # no second ping round
    assert CapCounter.objects.get(cap__contract=high).used == 1
    assert CapCounter.objects.get(cap__contract=high).held == 0
    assert CapHold.objects.get().state == "consumed"


def test_a_rejected_post_falls_back_along_the_ranking_and_releases_the_hold(
        api_client, vertical, sim_url):
    _, key = source_with_key(vertical)
    rejecting = sim_contract(vertical, sim_url, query="bid=20&accept=0&reject_reason=Dupe",
                             caps=[{"period": "day", "metric": "leads", "limit": 5}])
    accepting = sim_contract(vertical, sim_url, query="bid=9")
    body = ping(api_client, key).json()

    answer = post(api_client, key, body["ping_id"]).json()

    lead = Lead.objects.get(uuid=answer["id"])
    assert answer["status"] == "sold"
    assert Sale.objects.get(lead=lead).contract == accepting
    assert list(Post.objects.filter(auction__lead=lead).order_by("created_at")
                .values_list("contract", "outcome")) == [(rejecting.pk, "rejected"),
                                                         (accepting.pk, "accepted")]
    counter = CapCounter.objects.get(cap__contract=rejecting)
    assert (counter.used, counter.held) == (0, 0)


def test_an_expired_ping_is_410_and_its_room_stops_counting(api_client, vertical, sim_url):
    _, key = source_with_key(vertical)
    capped = sim_contract(vertical, sim_url, query="bid=10",
                          caps=[{"period": "day", "metric": "leads", "limit": 1}])
    body = ping(api_client, key).json()
    SourcePing.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
    CapHold.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
    setup = next(s for s in contract_setups(vertical.pk, timezone.now())
                 if s.terms.id == capped.pk)
    assert cap_usage(setup.caps, timezone.now()) == {setup.caps[0].cap_id: 0}
    # a direct lead takes the room no job had to release
    assert cap_reserve(setup.caps, price=Decimal(10), now=timezone.now())

    response = post(api_client, key, body["ping_id"])

    assert response.status_code == 410
    assert response.json()["code"] == "ping_expired"
    assert not Lead.objects.exists()


def test_the_periodic_purge_gives_back_expired_holds_and_deletes_old_rows_only(
        api_client, vertical, sim_url):
    _, key = source_with_key(vertical)
    capped = sim_contract(vertical, sim_url, query="bid=10",
                          caps=[{"period": "day", "metric": "leads", "limit": 5}])
    stale, live = ping(api_client, key).json(), ping(api_client, key).json()
    assert stale["status"] == live["status"] == "bid"
    now = timezone.now()
    CapHold.objects.filter(ping__uuid=stale["ping_id"]).update(
        expires_at=now - timedelta(hours=2))
    counter = CapCounter.objects.get(cap__contract=capped)
    assert counter.held == 2

    assert cap_holds_purge(now=now) == 1

    counter.refresh_from_db()
    assert counter.held == 1  # the expired hold was given back before its row went
    assert list(CapHold.objects.values_list("ping__uuid", "state")) == [
        (uuid.UUID(live["ping_id"]), "held")]
    assert cap_holds_purge(now=now) == 0  # nothing twice


def test_a_post_without_the_lead_is_400_even_on_an_expired_ping(api_client, vertical,
                                                                 sim_url):
    _, key = source_with_key(vertical)
    sim_contract(vertical, sim_url, query="bid=10")
    body = ping(api_client, key).json()
    SourcePing.objects.update(expires_at=timezone.now() - timedelta(seconds=1))

    response = api_client.post(f"/api/v1/pings/{body['ping_id']}/post",
                               HTTP_AUTHORIZATION=f"Bearer {key}")

    assert response.status_code == 400
    assert response.json() == {"errors": {"fields": ["This field is required."]}}
    as_number = api_client.post(f"/api/v1/pings/{body['ping_id']}/post",
                                data={"fields": {}, "test": 0}, format="json",
                                HTTP_AUTHORIZATION=f"Bearer {key}")
    assert as_number.status_code == 400
    assert as_number.json()["errors"]["test"] == ["Must be a valid boolean."]


def test_a_changed_pinged_field_is_409_naming_it(api_client, vertical, sim_url):
    _, key = source_with_key(vertical)
    sim_contract(vertical, sim_url, query="bid=10")
    body = ping(api_client, key).json()

    response = post(api_client, key, body["ping_id"], zip="90210", vehicle_year=2019)

    assert response.status_code == 409
    assert response.json()["code"] == "ping_mismatch"
    assert response.json()["fields"] == ["fields.zip"]
    assert not Lead.objects.exists()


def test_a_second_post_returns_the_first_answer(api_client, vertical, sim_url):
    _, key = source_with_key(vertical)
    sim_contract(vertical, sim_url, query="bid=10")
    body = ping(api_client, key).json()

    first = post(api_client, key, body["ping_id"])
    second = post(api_client, key, body["ping_id"], email="other@example.com")

    assert second.status_code == first.status_code == 200
    assert second.json() == first.json()
    assert Lead.objects.count() == 1


def test_an_unknown_or_another_sources_ping_is_404(api_client, vertical, sim_url):
    _, key = source_with_key(vertical)
    _, other_key = source_with_key(vertical)
    sim_contract(vertical, sim_url, query="bid=10")
    body = ping(api_client, key).json()

    foreign = post(api_client, other_key, body["ping_id"])
    unknown = post(api_client, key, "5b1f0c7e-0000-4000-8000-000000000000")

    assert foreign.status_code == unknown.status_code == 404
    assert not Lead.objects.exists()


def test_a_pii_field_in_a_ping_is_400_naming_it(api_client, vertical, sim_url):
    _, key = source_with_key(vertical)

    response = call(api_client, key, "/api/v1/pings",
                    {"vertical": "auto-insurance",
                     "fields": {**PING_FIELDS, "email": "a@example.com"}})

    assert response.status_code == 400
    assert list(response.json()["errors"]) == ["fields.email"]
    assert not SourcePing.objects.exists()


def test_a_ping_for_a_vertical_the_source_may_not_send_is_403_and_an_unknown_one_400(
        api_client, vertical, sim_url):
    _, key = source_with_key(vertical)
    VerticalFactory(slug="solar", schema=[])
    VerticalFactory(slug="retired", schema=[], is_active=False)

    refused = call(api_client, key, "/api/v1/pings", {"vertical": "solar", "fields": {}})
    unknown = call(api_client, key, "/api/v1/pings", {"vertical": "retired", "fields": {}})

    assert (refused.status_code, refused.json()["code"]) == (403, "vertical_not_allowed")
    assert unknown.status_code == 400
    assert unknown.json()["errors"]["vertical"] == ["Unknown vertical 'retired'."]
    assert not SourcePing.objects.exists()


def test_ping_modes_per_source(api_client, vertical, sim_url):
    _, post_only = source_with_key(vertical, ping_mode="post_only")
    _, ping_only = source_with_key(vertical, ping_mode="ping_only")

    refused_ping = ping(api_client, post_only)
    refused_post = call(api_client, ping_only, "/api/v1/leads",
                        {"vertical": "auto-insurance", "fields": valid_fields()})

    assert (refused_ping.status_code, refused_ping.json()["code"]) == (403, "ping_not_allowed")
    assert (refused_post.status_code, refused_post.json()["code"]) == (403, "ping_required")


def test_a_failing_hold_release_after_the_sale_leaves_the_sale_and_its_answer(
        api_client, vertical, sim_url, monkeypatch):
    from apps.auctions.services import run

    def broken(ping_id):
        raise ConnectionError("database went away")

    _, key = source_with_key(vertical)
    sim_contract(vertical, sim_url, query="bid=10")
    body = ping(api_client, key).json()
    monkeypatch.setattr(run, "cap_holds_release", broken)

    response = post(api_client, key, body["ping_id"])

    assert response.status_code == 200, response.json()
    assert response.json()["status"] == "sold"
    assert Lead.objects.get(uuid=response.json()["id"]).status == LeadStatus.SOLD
