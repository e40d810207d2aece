"""The webhook APIs: a source lists its own deliveries (``GET /api/v1/webhooks/deliveries``,
paginated and filtered like ``/leads``) and manages its own endpoints; staff manage any
source's endpoints (secret shown once, rotate, delete) and redeliver one delivery or a time
range, under the model permissions of their role."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.contrib.admin.models import LogEntry
from django.utils import timezone

from apps.leads.models import Lead
from apps.webhooks.models import DeliveryStatus, WebhookDelivery, WebhookEndpoint
from apps.webhooks.services import deliveries_send_due, endpoint_create, source_event_record
from tests.api.conftest import MANAGERS
from tests.factories import source_with_key, valid_fields
from tests.webhook_receiver import Receiver

pytestmark = pytest.mark.django_db


@pytest.fixture
def receiver():
    server = Receiver().start()
    yield server
    server.stop()


@pytest.fixture
def acme(vertical, receiver):
    """A source with an endpoint at the receiver, and its API key."""
    source, key = source_with_key(vertical, name="Acme")
    _, receiver.secret = endpoint_create(source=source, url=f"{receiver.url}/hooks")
    return source, key


def events(source, vertical, *names: str) -> list[str]:
    """Record one event per name for a new lead of ``source``; returns their delivery ids,
    oldest first."""
    ids = []
    for name in names:
        lead = Lead.objects.create(vertical=vertical, source=source, fields=valid_fields())
        source_event_record(lead, name, payout=Decimal("6.00") if name == "lead.sold" else None)
        ids.append(WebhookDelivery.objects.filter(lead=lead).get().msg_id)
    return ids


def auth(key: str) -> dict:
    return {"HTTP_AUTHORIZATION": f"Bearer {key}"}


# --- the source's own view ---


def test_a_source_lists_its_own_deliveries_newest_first(api_client, acme, vertical):
    source, key = acme
    mine = events(source, vertical, "lead.sold", "lead.unsold")
    other, _ = source_with_key(vertical, name="Other")
    endpoint_create(source=other, url="http://127.0.0.1:9/x")
    events(other, vertical, "lead.sold")
    deliveries_send_due()

    response = api_client.get("/api/v1/webhooks/deliveries", **auth(key))

    assert response.status_code == 200
    rows = response.json()["results"]
    assert [row["id"] for row in rows] == list(reversed(mine))
    assert rows[1]["payload"]["type"] == "lead.sold"
    assert rows[1]["payload"]["data"]["payout"] == "6.00"
    assert (rows[1]["status"], rows[1]["kind"], rows[1]["attempts"]) == (
        "succeeded", "webhook", 1)


def test_the_delivery_list_pages_with_a_cursor_and_filters(api_client, acme, vertical):
    source, key = acme
    sold = events(source, vertical, "lead.sold", "lead.sold", "lead.sold")
    events(source, vertical, "lead.unsold")

    first = api_client.get("/api/v1/webhooks/deliveries?event=lead.sold&page_size=2",
                           **auth(key)).json()
    second = api_client.get(first["next"], **auth(key)).json()
    pending = api_client.get("/api/v1/webhooks/deliveries?status=pending", **auth(key)).json()
    future = api_client.get("/api/v1/webhooks/deliveries",
                            {"created_after": (timezone.now() + timedelta(hours=1)).isoformat()},
                            **auth(key)).json()

    assert [r["id"] for r in first["results"] + second["results"]] == list(reversed(sold))
    assert second["next"] is None
    assert len(pending["results"]) == 4 and future["results"] == []


@pytest.mark.parametrize(("query", "field"), [
    ("status=lost", "status"), ("event=lead.bought", "event"),
    ("created_after=yesterday", "created_after")])
def test_a_bad_filter_is_a_400_naming_it(api_client, acme, query, field):
    _, key = acme
    response = api_client.get(f"/api/v1/webhooks/deliveries?{query}", **auth(key))
    assert response.status_code == 400
    assert list(response.json()["errors"]) == [field]


def test_a_source_reads_one_delivery_with_its_attempts_and_not_another_sources(
        api_client, acme, vertical, receiver):
    source, key = acme
    [msg_id] = events(source, vertical, "lead.sold")
    receiver.fail_next(1)
    deliveries_send_due()
    _, other_key = source_with_key(vertical, name="Other")

    mine = api_client.get(f"/api/v1/webhooks/deliveries/{msg_id}", **auth(key))
    theirs = api_client.get(f"/api/v1/webhooks/deliveries/{msg_id}", **auth(other_key))

    assert mine.status_code == 200
    [attempt] = mine.json()["attempt_log"]
    assert (attempt["number"], attempt["http_status"], attempt["succeeded"]) == (1, 500, False)
    assert attempt["response_excerpt"] == '{"ok": false}'
    assert theirs.status_code == 404


def test_a_source_redelivers_one_delivery_and_a_time_range(api_client, acme, vertical,
                                                           receiver, settings):
    settings.WEBHOOK_RETRY_DELAYS_S = ()  # one attempt per round
    source, key = acme
    receiver.stop()
    start = timezone.now()
    first, second = events(source, vertical, "lead.sold", "lead.sold")
    deliveries_send_due()
    assert set(WebhookDelivery.objects.values_list("status", flat=True)) == {"failed"}
    receiver.start()

    # (the test's transaction never commits: the due job sends what the requests enqueue)
    one = api_client.post(f"/api/v1/webhooks/deliveries/{first}/redeliver", **auth(key))
    deliveries_send_due()
    span = api_client.post("/api/v1/webhooks/deliveries/redeliver",
                           {"since": start.isoformat(), "until": timezone.now().isoformat()},
                           format="json", **auth(key))
    deliveries_send_due()

    assert (one.status_code, one.json()["status"]) == (202, "pending")
    assert (span.status_code, span.json()) == (202, {"redelivered": 1})  # the other one
    assert receiver.ids() == [first, second]


def test_a_source_manages_its_endpoints_and_sees_a_secret_once(api_client, acme, receiver):
    _, key = acme
    created = api_client.post("/api/v1/webhooks/endpoints",
                              {"url": f"{receiver.url}/two", "events": ["lead.sold"]},
                              format="json", **auth(key))
    assert created.status_code == 201
    body = created.json()
    assert body["secret"].startswith("whsec_") and body["events"] == ["lead.sold"]

    listed = api_client.get("/api/v1/webhooks/endpoints", **auth(key))
    rotated = api_client.post(f"/api/v1/webhooks/endpoints/{body['id']}/rotate", **auth(key))
    changed = api_client.patch(f"/api/v1/webhooks/endpoints/{body['id']}",
                               {"is_active": False}, format="json", **auth(key))
    deleted = api_client.delete(f"/api/v1/webhooks/endpoints/{body['id']}", **auth(key))

    assert "whsec_" not in listed.content.decode() and len(listed.json()) == 2
    assert rotated.json()["secret"] not in ("", body["secret"])
    assert rotated.json()["previous_secret_valid_until"] is not None
    assert (changed.json()["is_active"], changed.json()["disabled_reason"]) == (
        False, "switched off by staff")
    assert deleted.status_code == 204
    assert not WebhookEndpoint.objects.filter(pk=body["id"]).exists()


def test_a_source_cannot_touch_another_sources_endpoint(api_client, acme, vertical):
    source, _ = acme
    endpoint = WebhookEndpoint.objects.get(source=source)
    _, other_key = source_with_key(vertical, name="Other")

    for response in (
            api_client.get(f"/api/v1/webhooks/endpoints/{endpoint.pk}", **auth(other_key)),
            api_client.patch(f"/api/v1/webhooks/endpoints/{endpoint.pk}", {"url": "x"},
                             format="json", **auth(other_key)),
            api_client.post(f"/api/v1/webhooks/endpoints/{endpoint.pk}/rotate",
                            **auth(other_key)),
            api_client.delete(f"/api/v1/webhooks/endpoints/{endpoint.pk}", **auth(other_key))):
        assert response.status_code == 404
    assert WebhookEndpoint.objects.filter(pk=endpoint.pk).exists()


@pytest.mark.parametrize(("payload", "field"), [
    ({"url": "http://10.0.0.5/hook"}, "url"),
    ({"url": "http://169.254.169.254/latest"}, "url"),
    ({"url": "not a url"}, "url"),
    ({"url": "https://hooks.example.com/x", "events": ["lead.bought"]}, "events.0"),
    ({"url": "https://hooks.example.com/x", "events": []}, "events"),
    ({"url": "https://hooks.example.com/x", "events": ["lead.sold", "lead.sold"]}, "events"),
])
def test_a_bad_endpoint_is_a_400_naming_the_field(api_client, acme, payload, field):
    _, key = acme
    response = api_client.post("/api/v1/webhooks/endpoints", payload, format="json",
                               **auth(key))
    assert response.status_code == 400
    assert list(response.json()["errors"]) == [field]
    assert WebhookEndpoint.objects.count() == 1


def test_the_webhook_api_needs_a_source_key(api_client, acme, am_client):
    assert api_client.get("/api/v1/webhooks/deliveries").status_code == 401
    assert am_client.get("/api/v1/webhooks/deliveries").status_code == 401


# --- staff ---


def test_an_account_manager_adds_an_endpoint_and_sees_its_secret_once(am_client, acme,
                                                                       receiver):
    source, _ = acme
    created = am_client.post(f"/api/v1/sources/{source.pk}/webhooks",
                             {"url": f"{receiver.url}/staff", "description": "CRM"},
                             format="json")
    assert created.status_code == 201
    secret = created.json()["secret"]
    assert secret.startswith("whsec_")
    assert created.json()["events"] == ["lead.sold", "lead.unsold", "lead.returned",
                                        "lead.error"]

    listed = am_client.get(f"/api/v1/sources/{source.pk}/webhooks")
    one = am_client.get(f"/api/v1/sources/{source.pk}/webhooks/{created.json()['id']}")

    assert listed.json()["count"] == 2 and secret not in listed.content.decode()
    assert one.status_code == 200 and secret not in one.content.decode()
    assert LogEntry.objects.filter(object_id=str(created.json()["id"]),
                                   change_message="Added through the API.").exists()


def test_staff_rotate_switch_on_and_delete_an_endpoint(am_client, acme):
    source, _ = acme
    endpoint = WebhookEndpoint.objects.get(source=source)
    WebhookEndpoint.objects.filter(pk=endpoint.pk).update(
        is_active=False, disabled_at=timezone.now(), disabled_reason="every attempt failed",
        failing_since=timezone.now() - timedelta(days=4))
    base = f"/api/v1/sources/{source.pk}/webhooks/{endpoint.pk}"

    rotated = am_client.post(f"{base}/rotate")
    switched = am_client.patch(base, {"is_active": True}, format="json")
    deleted = am_client.delete(base)

    assert rotated.status_code == 200 and rotated.json()["secret"] != endpoint.secret
    assert (switched.json()["is_active"], switched.json()["disabled_at"],
            switched.json()["failing_since"], switched.json()["disabled_reason"]) == (
        True, None, None, "")
    assert deleted.status_code == 204


def test_staff_list_read_and_redeliver_a_sources_deliveries(am_client, acme, vertical,
                                                             receiver, settings):
    settings.WEBHOOK_RETRY_DELAYS_S = ()
    source, _ = acme
    receiver.stop()
    start = timezone.now()
    first, second, third = events(source, vertical, "lead.sold", "lead.unsold", "lead.sold")
    deliveries_send_due()
    receiver.start()
    base = f"/api/v1/sources/{source.pk}/deliveries"

    listed = am_client.get(f"{base}?status=failed&event=lead.sold")
    one = am_client.get(f"{base}/{first}")
    again = am_client.post(f"{base}/{first}/redeliver")
    deliveries_send_due()  # (the test's transaction never commits: the due job sends)
    span = am_client.post(f"{base}/redeliver", {"since": start.isoformat(),
                                                "until": timezone.now().isoformat()},
                          format="json")
    deliveries_send_due()

    assert [row["id"] for row in listed.json()["results"]] == [third, first]
    assert one.json()["attempt_log"][0]["error"] == "connect"
    assert again.status_code == 202 and again.json()["status"] == "pending"
    assert span.json() == {"redelivered": 2}
    assert sorted(receiver.ids()) == sorted([first, second, third])
    assert WebhookDelivery.objects.filter(status=DeliveryStatus.SUCCEEDED).count() == 3


def test_a_redelivery_to_a_disabled_endpoint_is_refused_saying_so(am_client, acme, vertical):
    source, _ = acme
    [msg_id] = events(source, vertical, "lead.sold")
    deliveries_send_due()
    endpoint = WebhookEndpoint.objects.get(source=source)
    WebhookEndpoint.objects.filter(pk=endpoint.pk).update(is_active=False)
    base = f"/api/v1/sources/{source.pk}/deliveries"

    one = am_client.post(f"{base}/{msg_id}/redeliver")
    span = am_client.post(f"{base}/redeliver", {
        "since": (timezone.now() - timedelta(hours=1)).isoformat(),
        "until": timezone.now().isoformat(), "endpoint": endpoint.pk}, format="json")
    backwards = am_client.post(f"{base}/redeliver", {
        "since": timezone.now().isoformat(),
        "until": (timezone.now() - timedelta(hours=1)).isoformat()}, format="json")

    assert (one.status_code, one.json()["code"]) == (400, "endpoint_disabled")
    assert (span.status_code, span.json()["code"]) == (400, "endpoint_disabled")
    assert (backwards.status_code, list(backwards.json()["errors"])) == (400, ["until"])


def test_managers_read_but_neither_add_endpoints_nor_redeliver(staff_client, acme, vertical,
                                                               receiver):
    source, _ = acme
    [msg_id] = events(source, vertical, "lead.sold")
    manager = staff_client("reader", group=MANAGERS)

    assert manager.get(f"/api/v1/sources/{source.pk}/webhooks").status_code == 200
    assert manager.get(f"/api/v1/sources/{source.pk}/deliveries").status_code == 200
    assert manager.post(f"/api/v1/sources/{source.pk}/webhooks",
                        {"url": f"{receiver.url}/x"}, format="json").status_code == 403
    assert manager.post(
        f"/api/v1/sources/{source.pk}/deliveries/{msg_id}/redeliver").status_code == 403
    assert WebhookEndpoint.objects.count() == 1


def test_staff_get_404_for_an_unknown_source_or_a_delivery_of_another(am_client, acme,
                                                                       vertical):
    source, _ = acme
    [msg_id] = events(source, vertical, "lead.sold")
    other, _ = source_with_key(vertical, name="Other")

    assert am_client.get("/api/v1/sources/999999/webhooks").status_code == 404
    assert am_client.get(f"/api/v1/sources/{other.pk}/deliveries/{msg_id}").status_code == 404
