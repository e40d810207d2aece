"""Webhooks and postbacks to sources, end to end against a local receiver (an ``http.server``
that verifies every signature with the ``standardwebhooks`` package): what is sent and
signed, when it is written (with the outcome, or not at all), retries after 500s and their
schedule, redelivery after an outage longer than the retry window, postbacks, endpoints
switched off after days of failures, and that none of it slows an auction."""

from __future__ import annotations

import json
import time
from datetime import timedelta
from decimal import Decimal
from urllib.parse import parse_qs, urlsplit

import pytest
from django.contrib.auth import get_user_model
from django.core import mail
from django.db import transaction
from django.utils import timezone

from apps.core.cache import cached_row
from apps.leads.models import Lead
from apps.sources.models import Source
from apps.webhooks.models import (
    DeliveryKind,
    DeliveryStatus,
    WebhookDelivery,
    WebhookEndpoint,
)
from apps.webhooks.selectors import endpoints_subscribed
from apps.webhooks.services import (
    deliveries_redeliver,
    deliveries_send,
    deliveries_send_due,
    delivery_redeliver,
    endpoint_create,
    endpoint_secret_rotate,
    source_event_record,
)
from tests.factories import (
    lead_submit,
    sim_contract,
    source_with_key,
    valid_fields,
)
from tests.webhook_receiver import Receiver, verify

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("fresh_simulator")]

DATA_KEYS = {"lead_id", "status", "payout", "vertical", "sub_id", "sub_ids", "test",
             "received_at", "completed_at"}


@pytest.fixture
def receiver():
    server = Receiver().start()
    yield server
    server.stop()


@pytest.fixture
def market(vertical, sim_url):
    source, key = source_with_key(vertical, payout_model="revshare", payout_value=Decimal(50))
    contract = sim_contract(vertical, sim_url, query="bid=12")
    return source, key, contract


def endpoint_for(source: Source, receiver: Receiver, **attributes) -> WebhookEndpoint:
    endpoint, secret = endpoint_create(source=source, url=f"{receiver.url}/hooks", **attributes)
    receiver.secret = secret
    return endpoint


def a_lead(vertical, source, **attributes) -> Lead:
    return Lead.objects.create(vertical=vertical, source=source, fields=valid_fields(),
                               status="sold", **attributes)


def due_now() -> None:
    """Move every waiting retry to now (as if its delay had passed)."""
    WebhookDelivery.objects.filter(status=DeliveryStatus.PENDING).update(
        next_attempt_at=timezone.now())


# --- what is sent ---


def test_a_sold_lead_is_announced_with_a_signature_the_receiver_verifies(
        api_client, market, receiver, django_capture_on_commit_callbacks):
    source, key, _ = market
    endpoint_for(source, receiver)

    with django_capture_on_commit_callbacks(execute=True):
        answer = lead_submit(api_client, key, sub_id="click-1", sub_ids={"sub_id2": "ad-7"})

    assert answer.json()["status"] == "sold"
    [got] = receiver.webhooks()
    assert got.verified
    assert got.path == "/hooks" and got.headers["content-type"] == "application/json"
    payload = json.loads(got.body)
    assert (payload["type"], set(payload["data"])) == ("lead.sold", DATA_KEYS)
    assert payload["data"] | {"received_at": None, "completed_at": None} == {
        "lead_id": answer.json()["id"], "status": "sold", "payout": "6.00",
        "vertical": "auto-insurance", "sub_id": "click-1", "sub_ids": {"sub_id2": "ad-7"},
        "test": False, "received_at": None, "completed_at": None}
    text = got.body.decode()  # never the buyer or its price
    assert "12.00" not in text and "buyer" not in text and "price" not in text
    delivery = WebhookDelivery.objects.get()
    assert (delivery.msg_id, delivery.status) == (got.headers["webhook-id"],
                                                  DeliveryStatus.SUCCEEDED)
    [attempt] = delivery.attempt_log.all()
    assert (attempt.succeeded, attempt.http_status, attempt.response_excerpt) == (
        True, 200, '{"ok": true}')
    assert attempt.latency_ms is not None and attempt.latency_ms > 0


def test_the_receiver_rejects_a_tampered_message(market, receiver, vertical,
                                                 django_capture_on_commit_callbacks):
    source, _, _ = market
    endpoint_for(source, receiver)
    with django_capture_on_commit_callbacks(execute=True):
        source_event_record(a_lead(vertical, source), "lead.sold", payout=Decimal("6.00"))
    [got] = receiver.webhooks()
    secret = receiver.secret

    assert verify(secret, got.body, got.headers)
    assert not verify(secret, got.body.replace(b'"6.00"', b'"60.00"'), got.headers)
    assert not verify(secret, got.body, {**got.headers, "webhook-id": "msg_other"})
    assert not verify(secret, got.body, {**got.headers, "webhook-timestamp": str(
        int(got.headers["webhook-timestamp"]) + 1)})
    _, other_secret = endpoint_create(source=source, url=f"{receiver.url}/other")
    assert not verify(other_secret, got.body, got.headers)


def test_an_unsold_lead_is_announced_with_its_reason(api_client, vertical, sim_url, receiver,
                                                     django_capture_on_commit_callbacks):
    source, key = source_with_key(vertical)
    sim_contract(vertical, sim_url, query="no_bid=1")
    endpoint_for(source, receiver)

    with django_capture_on_commit_callbacks(execute=True):
        assert lead_submit(api_client, key).json()["status"] == "unsold"

    [got] = receiver.webhooks()
    payload = json.loads(got.body)
    assert got.verified
    assert (payload["type"], payload["data"]["status"], payload["data"]["payout"],
            payload["data"]["message"]) == ("lead.unsold", "unsold", None,
                                             "No buyer bid on this lead.")


def test_an_endpoint_hears_only_the_events_it_subscribed_to(
        api_client, market, receiver, django_capture_on_commit_callbacks):
    source, key, _ = market
    endpoint_for(source, receiver, events=["lead.unsold", "lead.returned"])

    with django_capture_on_commit_callbacks(execute=True):
        assert lead_submit(api_client, key).json()["status"] == "sold"

    assert receiver.received == []
    assert not WebhookDelivery.objects.exists()


def test_a_test_lead_gets_its_webhook_but_fires_no_postback(
        api_client, market, receiver, django_capture_on_commit_callbacks):
    source, key, _ = market
    endpoint_for(source, receiver)
    Source.objects.filter(pk=source.pk).update(
        postback_url_template=f"{receiver.url}/pb?c={{sub_id}}")

    with django_capture_on_commit_callbacks(execute=True):
        assert lead_submit(api_client, key, test=True).json()["status"] == "sold"

    [got] = receiver.received
    assert (got.method, json.loads(got.body)["data"]["test"]) == ("POST", True)
    assert list(WebhookDelivery.objects.values_list("kind", flat=True)) == [
        DeliveryKind.WEBHOOK]


def test_a_shared_lead_announces_each_sale_with_what_it_adds_to_the_payout(
        api_client, vertical, sim_url, receiver, django_capture_on_commit_callbacks):
    source, key = source_with_key(vertical, payout_model="revshare", payout_value=Decimal(50))
    for bid in (10, 8):
        sim_contract(vertical, sim_url, query=f"bid={bid}", exclusive=False,
                     shared_max_sales=2)
    endpoint_for(source, receiver)

    with django_capture_on_commit_callbacks(execute=True):
        answer = lead_submit(api_client, key).json()

    assert (answer["status"], answer["payout"]) == ("sold", "9.00")
    payouts = sorted(json.loads(r.body)["data"]["payout"] for r in receiver.webhooks())
    assert payouts == ["4.00", "5.00"]  # 50 % of 10, then of 18 less the 5 already told


# --- written with the outcome, cheaply ---


def test_the_outbox_rows_commit_or_roll_back_with_the_outcome(market, vertical, receiver):
    source, _, _ = market
    endpoint_for(source, receiver)
    lead = a_lead(vertical, source)

    with pytest.raises(RuntimeError), transaction.atomic():
        source_event_record(lead, "lead.sold", payout=Decimal("6.00"))
        raise RuntimeError("the sale's transaction failed")
    assert not WebhookDelivery.objects.exists()

    with transaction.atomic():
        source_event_record(lead, "lead.sold", payout=Decimal("6.00"))
    assert WebhookDelivery.objects.filter(lead=lead, status=DeliveryStatus.PENDING).count() == 1


def test_a_sale_whose_process_dies_after_it_committed_still_has_its_webhook(
        market, vertical, receiver, monkeypatch):
    from apps.auctions.services import auction_run

    source, _, _ = market
    endpoint_for(source, receiver)

    def crash(*args, **kwargs):
        raise RuntimeError("the process died here")

    monkeypatch.setattr("apps.auctions.services.run.lead_finalize", crash)
    lead = Lead.objects.create(vertical=vertical, source=source, fields=valid_fields())
    with pytest.raises(RuntimeError):
        auction_run(lead.pk)

    delivery = WebhookDelivery.objects.get(lead=lead)
    assert (delivery.event, delivery.payout, delivery.status) == (
        "lead.sold", Decimal("6.00"), DeliveryStatus.PENDING)
    assert deliveries_send_due() == 1  # the due job sends what the dead process did not
    assert [json.loads(r.body)["data"]["lead_id"] for r in receiver.webhooks()] == [
        str(lead.uuid)]


def test_recording_an_event_costs_the_auction_one_insert(
        market, vertical, receiver, django_assert_num_queries):
    source, _, _ = market
    endpoint_for(source, receiver)
    Source.objects.filter(pk=source.pk).update(postback_url_template=f"{receiver.url}/pb")
    lead = a_lead(vertical, source)
    endpoints_subscribed(source.pk), cached_row(Source, source.pk)  # as the auction's cache

    with transaction.atomic(), django_assert_num_queries(1):  # the webhook + postback rows
        source_event_record(lead, "lead.sold", payout=Decimal("6.00"))
    assert WebhookDelivery.objects.filter(lead=lead).count() == 2

    quiet, _ = source_with_key(vertical)
    endpoints_subscribed(quiet.pk), cached_row(Source, quiet.pk)
    quiet_lead = a_lead(vertical, quiet)
    with django_assert_num_queries(0):  # no endpoint, no postback: nothing written
        source_event_record(quiet_lead, "lead.sold", payout=Decimal("6.00"))


# --- retries, schedule, redelivery ---


def test_the_receiver_sees_the_retries_after_500s_with_one_webhook_id(
        market, vertical, receiver, settings, django_capture_on_commit_callbacks):
    settings.WEBHOOK_RETRY_DELAYS_S = (0, 0, 0)
    source, _, _ = market
    endpoint_for(source, receiver)
    receiver.fail_next(2)

    with django_capture_on_commit_callbacks(execute=True):
        source_event_record(a_lead(vertical, source), "lead.sold", payout=Decimal("6.00"))
    assert WebhookDelivery.objects.get().status == DeliveryStatus.PENDING
    assert deliveries_send_due() == 1
    assert deliveries_send_due() == 1
    assert deliveries_send_due() == 0  # delivered: nothing left

    got = receiver.webhooks()
    assert [r.answered for r in got] == [500, 500, 200]
    assert all(r.verified for r in got)
    assert len({r.headers["webhook-id"] for r in got}) == 1
    assert len({r.body for r in got}) == 1
    delivery = WebhookDelivery.objects.get()
    assert delivery.status == DeliveryStatus.SUCCEEDED
    assert [(a.number, a.http_status, a.succeeded) for a in delivery.attempt_log.all()] == [
        (1, 500, False), (2, 500, False), (3, 200, True)]


def test_retries_back_off_over_about_a_day_then_the_delivery_fails(
        market, vertical, receiver, settings):
    source, _, _ = market
    endpoint_for(source, receiver)
    receiver.fail_next(100)
    source_event_record(a_lead(vertical, source), "lead.sold", payout=Decimal("6.00"))
    delays = settings.WEBHOOK_RETRY_DELAYS_S

    waits = []
    while deliveries_send_due():
        delivery = WebhookDelivery.objects.get()
        if delivery.status == DeliveryStatus.PENDING:
            waits.append(round((delivery.next_attempt_at
                                - delivery.last_attempt_at).total_seconds()))
        due_now()

    assert waits == list(delays)
    assert waits == sorted(waits) and 22 * 3600 <= sum(waits) <= 26 * 3600
    delivery = WebhookDelivery.objects.get()
    assert (delivery.status, delivery.attempts, delivery.next_attempt_at) == (
        DeliveryStatus.FAILED, len(delays) + 1, None)
    assert len(receiver.webhooks()) == len(delays) + 1


def test_a_receiver_down_for_the_whole_window_gets_everything_after_a_redelivery(
        market, vertical, receiver, settings, django_capture_on_commit_callbacks):
    settings.WEBHOOK_RETRY_DELAYS_S = (0, 0)
    source, _, _ = market
    endpoint_for(source, receiver)
    receiver.stop()
    start = timezone.now()
    leads = [a_lead(vertical, source) for _ in range(3)]
    with django_capture_on_commit_callbacks(execute=True):
        for lead in leads:
            source_event_record(lead, "lead.sold", payout=Decimal("6.00"))
    while deliveries_send_due():
        pass
    sent = set(WebhookDelivery.objects.values_list("msg_id", flat=True))
    assert set(WebhookDelivery.objects.values_list("status", "attempts")) == {
        (DeliveryStatus.FAILED, 3)}
    assert {a.error for d in WebhookDelivery.objects.all() for a in d.attempt_log.all()} == {
        "connect"}

    receiver.start()
    with django_capture_on_commit_callbacks(execute=True):
        count = deliveries_redeliver(source, since=start, until=timezone.now())

    assert count == 3
    assert set(receiver.ids()) == sent and len(receiver.ids()) == 3
    assert all(r.verified for r in receiver.webhooks())
    assert set(WebhookDelivery.objects.values_list("status", flat=True)) == {
        DeliveryStatus.SUCCEEDED}


def test_a_redelivery_resends_the_same_message_and_restarts_the_schedule(
        market, vertical, receiver, settings, django_capture_on_commit_callbacks):
    source, _, _ = market
    endpoint_for(source, receiver)
    with django_capture_on_commit_callbacks(execute=True):
        source_event_record(a_lead(vertical, source), "lead.sold", payout=Decimal("6.00"))
    delivery = WebhookDelivery.objects.get()
    receiver.fail_next(1)

    with django_capture_on_commit_callbacks(execute=True):
        delivery_redeliver(delivery)

    first, again = receiver.webhooks()
    assert (first.headers["webhook-id"], first.body) == (again.headers["webhook-id"],
                                                         again.body)
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts, delivery.round_attempts) == (
        DeliveryStatus.PENDING, 2, 1)
    assert round((delivery.next_attempt_at - delivery.last_attempt_at).total_seconds()) == (
        settings.WEBHOOK_RETRY_DELAYS_S[0])


def test_a_worker_that_overran_its_lease_does_not_overwrite_the_next_claim(
        market, vertical, receiver, monkeypatch):
    source, _, _ = market
    endpoint_for(source, receiver)
    source_event_record(a_lead(vertical, source), "lead.sold", payout=Decimal("6.00"))
    from apps.webhooks.services import delivery as module

    real_send = module.http_send_many

    def slow_send(requests):
        answers = real_send(requests)
        # meanwhile the lease ran out and another worker claimed and delivered it
        WebhookDelivery.objects.update(attempts=2, status=DeliveryStatus.SUCCEEDED)
        return answers

    monkeypatch.setattr(module, "http_send_many", slow_send)
    receiver.fail_next(1)
    deliveries_send_due()

    delivery = WebhookDelivery.objects.get()
    assert (delivery.status, delivery.attempts) == (DeliveryStatus.SUCCEEDED, 2)


# --- secrets ---


def test_after_a_rotation_both_secrets_verify_until_the_grace_period_ends(
        market, vertical, receiver, settings, django_capture_on_commit_callbacks):
    source, _, _ = market
    endpoint = endpoint_for(source, receiver)
    old = receiver.secret
    new = endpoint_secret_rotate(endpoint)
    receiver.secret = new
    lead = a_lead(vertical, source)

    with django_capture_on_commit_callbacks(execute=True):
        source_event_record(lead, "lead.sold", payout=Decimal("6.00"))
    [got] = receiver.webhooks()
    assert len(got.headers["webhook-signature"].split(" ")) == 2
    assert verify(new, got.body, got.headers) and verify(old, got.body, got.headers)

    WebhookEndpoint.objects.filter(pk=endpoint.pk).update(
        previous_secret_expires_at=timezone.now() - timedelta(seconds=1))
    with django_capture_on_commit_callbacks(execute=True):
        source_event_record(lead, "lead.unsold")
    late = receiver.webhooks()[-1]
    assert verify(new, late.body, late.headers) and not verify(old, late.body, late.headers)


# --- postbacks ---


def test_postbacks_fire_on_a_sale_and_a_return_with_url_encoded_macros(
        api_client, market, receiver, django_capture_on_commit_callbacks):
    source, key, _ = market
    Source.objects.filter(pk=source.pk).update(postback_url_template=(
        f"{receiver.url}/pb?click={{sub_id}}&s2={{sub_id2}}&amount={{payout}}"
        "&st={status}&e={event}&v={vertical}&id={lead_id}"))

    with django_capture_on_commit_callbacks(execute=True):
        answer = lead_submit(api_client, key, sub_id="a b&c=d", sub_ids={"sub_id2": "x/y"})
    lead = Lead.objects.get(uuid=answer.json()["id"])
    with django_capture_on_commit_callbacks(execute=True):
        source_event_record(lead, "lead.returned", payout=Decimal("-6.00"))

    sale, clawback = receiver.received
    assert (sale.method, clawback.method) == ("GET", "GET")
    assert "click=a%20b%26c%3Dd&" in sale.path  # a value never adds a parameter
    assert {k: v[0] for k, v in parse_qs(urlsplit(sale.path).query).items()} == {
        "click": "a b&c=d", "s2": "x/y", "amount": "6.00", "st": "sold", "e": "lead.sold",
        "v": "auto-insurance", "id": answer.json()["id"]}
    query = parse_qs(urlsplit(clawback.path).query)
    assert (query["amount"], query["st"], query["e"]) == (["-6.00"], ["returned"],
                                                          ["lead.returned"])
    assert set(WebhookDelivery.objects.values_list("kind", "status")) == {
        (DeliveryKind.POSTBACK, DeliveryStatus.SUCCEEDED)}


def test_an_unsold_lead_fires_no_postback(api_client, vertical, sim_url, receiver,
                                          django_capture_on_commit_callbacks):
    _, key = source_with_key(vertical, postback_url_template=f"{receiver.url}/pb")
    sim_contract(vertical, sim_url, query="no_bid=1")

    with django_capture_on_commit_callbacks(execute=True):
        assert lead_submit(api_client, key).json()["status"] == "unsold"

    assert receiver.received == [] and not WebhookDelivery.objects.exists()


# --- failing for days ---


def test_an_endpoint_failing_for_days_is_switched_off_and_its_manager_told(
        market, vertical, receiver, settings, django_capture_on_commit_callbacks):
    settings.WEBHOOK_DISABLE_AFTER_S = 3 * 24 * 3600
    source, _, _ = market
    manager = get_user_model().objects.create_user("mia", "mia@example.com", is_staff=True)
    Source.objects.filter(pk=source.pk).update(account_manager=manager)
    endpoint = endpoint_for(source, receiver)
    WebhookEndpoint.objects.filter(pk=endpoint.pk).update(
        failing_since=timezone.now() - timedelta(days=3, minutes=1))
    receiver.fail_next(1)

    with django_capture_on_commit_callbacks(execute=True):
        source_event_record(a_lead(vertical, source), "lead.sold", payout=Decimal("6.00"))
    with django_capture_on_commit_callbacks(execute=True):
        deliveries_send_due()  # the alert task is enqueued after the switch-off commits

    endpoint.refresh_from_db()
    assert not endpoint.is_active and endpoint.disabled_at is not None
    assert endpoint.disabled_reason.startswith("every attempt failed since ")
    [message] = mail.outbox
    assert message.to == ["mia@example.com"] and endpoint.url in message.body
    assert endpoints_subscribed(source.pk) == ()  # no new events for it

    due_now()
    deliveries_send_due()  # its waiting delivery fails without being sent
    delivery = WebhookDelivery.objects.get()
    assert delivery.status == DeliveryStatus.FAILED
    assert delivery.attempt_log.order_by("number").last().error == "disabled"
    assert len(receiver.webhooks()) == 1


def test_one_success_ends_a_failure_streak(market, vertical, receiver):
    source, _, _ = market
    endpoint = endpoint_for(source, receiver)
    receiver.fail_next(1)
    source_event_record(a_lead(vertical, source), "lead.sold", payout=Decimal("6.00"))
    deliveries_send_due()
    endpoint.refresh_from_db()
    assert endpoint.failing_since is not None

    due_now()
    deliveries_send_due()

    endpoint.refresh_from_db()
    assert (endpoint.failing_since, endpoint.is_active) == (None, True)
    assert endpoint.last_success_at is not None


def test_a_delivery_is_sent_once_even_when_its_task_runs_twice(market, vertical, receiver):
    source, _, _ = market
    endpoint_for(source, receiver)
    source_event_record(a_lead(vertical, source), "lead.sold", payout=Decimal("6.00"))
    msg_id = WebhookDelivery.objects.get().msg_id

    assert deliveries_send([msg_id, msg_id]) == 1
    assert deliveries_send([msg_id]) == 0
    assert receiver.ids() == [msg_id]


# --- never slows an auction ---


@pytest.mark.django_db(transaction=True)
def test_a_receiver_that_hangs_does_not_slow_a_sync_sale(api_client, vertical, sim_url,
                                                         receiver, settings):
    settings.RUN_TASKS_INLINE = False  # the real thing: auction and delivery on their pools
    source, key = source_with_key(vertical, payout_model="revshare", payout_value=Decimal(50))
    sim_contract(vertical, sim_url, query="bid=12")
    endpoint_for(source, receiver)
    receiver.delay_s = 3.0

    started = time.monotonic()
    answer = lead_submit(api_client, key)
    elapsed = time.monotonic() - started

    assert answer.status_code == 200 and answer.json()["status"] == "sold"
    assert elapsed < 1.5, f"the sale waited {elapsed:.2f} s"
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and not WebhookDelivery.objects.filter(
            status=DeliveryStatus.SUCCEEDED).exists():
        time.sleep(0.1)
    assert WebhookDelivery.objects.get().status == DeliveryStatus.SUCCEEDED
