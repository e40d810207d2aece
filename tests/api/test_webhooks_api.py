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


# --- the schema says what these endpoints answer and take ---


@pytest.fixture
def schema(api_client) -> dict:
    return api_client.get("/api/schema/?format=json").json()


def _operation(schema: dict, path: str, method: str) -> dict:
    return schema["paths"][path][method]


def _documented(schema: dict, path: str, method: str, status: int) -> dict:
    """The JSON schema of one documented answer, with the components to resolve it."""
    answer = _operation(schema, path, method)["responses"][str(status)]
    return {**answer["content"]["application/json"]["schema"],
            "components": schema["components"]}


def _conforms(schema: dict, path: str, method: str, response) -> None:
    """``response`` is a documented status of the operation and its body fits that answer's
    schema (for bodies without nullable fields: OpenAPI's ``nullable`` is no JSON Schema)."""
    from jsonschema import Draft7Validator

    documented = _documented(schema, path, method, response.status_code)
    Draft7Validator(documented).validate(response.json())


def test_the_delivery_list_is_documented_as_the_cursor_page_it_answers(schema, api_client,
                                                                        acme, vertical):
    source, key = acme
    events(source, vertical, "lead.sold")
    operation = _operation(schema, "/api/v1/webhooks/deliveries", "get")
    page = _documented(schema, "/api/v1/webhooks/deliveries", "get", 200)
    page = schema["components"]["schemas"][page["$ref"].rsplit("/", 1)[1]]

    answer = api_client.get("/api/v1/webhooks/deliveries", **auth(key)).json()

    assert page["type"] == "object"
    assert set(page["properties"]) == set(answer) == {"next", "previous", "results"}
    assert page["properties"]["results"]["type"] == "array"
    assert {"400", "401", "403", "404", "429"} <= set(operation["responses"])
    params = {p["name"]: p["schema"] for p in operation["parameters"]}
    assert params["created_after"] == {"type": "string", "format": "date-time"}
    assert params["page_size"] == {"type": "integer", "minimum": 1, "maximum": 500}
    assert params["cursor"] == {"type": "string", "pattern": "^[^\\u0000]*$"}  # no NUL


@pytest.mark.parametrize(("query", "status", "body"), [
    ("status=", 400, {"errors": {"status": ["Give a value or leave the parameter out."]}}),
    ("created_before=", 400,
     {"errors": {"created_before": ["Give a value or leave the parameter out."]}}),
    ("page_size=0", 400, {"errors": {"page_size": ["Enter a whole number from 1 to 500."]}}),
    ("page_size=501", 400, {"errors": {"page_size": ["Enter a whole number from 1 to 500."]}}),
    ("cursor=bogus", 404, {"detail": "Invalid cursor", "code": "not_found"}),
])
def test_the_delivery_list_refuses_what_its_schema_does_not_allow(schema, api_client, acme,
                                                                  query, status, body):
    _, key = acme

    response = api_client.get(f"/api/v1/webhooks/deliveries?{query}", **auth(key))

    assert (response.status_code, response.json()) == (status, body)
    _conforms(schema, "/api/v1/webhooks/deliveries", "get", response)


@pytest.mark.parametrize("path", ["/api/v1/sources/{source_id}/webhooks",
                                  "/api/v1/sources/{source_id}/deliveries"])
def test_staff_lists_document_the_400_of_a_bad_page_or_filter(schema, am_client, acme, path):
    source, _ = acme
    query = "status=" if path.endswith("deliveries") else "page_size=501"

    response = am_client.get(f"{path.format(source_id=source.pk)}?{query}")

    assert response.status_code == 400
    _conforms(schema, path, "get", response)


def test_a_staff_delivery_filter_given_empty_is_refused(am_client, acme):
    source, _ = acme
    response = am_client.get(f"/api/v1/sources/{source.pk}/deliveries?kind=")
    assert response.status_code == 400
    assert response.json() == {"errors": {"kind": ["Give a value or leave the parameter out."]}}


@pytest.mark.parametrize(("path", "method"), [
    ("/api/v1/webhooks/endpoints", "post"),
    ("/api/v1/webhooks/endpoints/{endpoint_id}", "patch"),
    ("/api/v1/webhooks/deliveries/redeliver", "post"),
])
def test_a_sources_webhook_bodies_are_json_only(schema, api_client, acme, path, method):
    source, key = acme
    endpoint = WebhookEndpoint.objects.get(source=source)
    url = path.format(endpoint_id=endpoint.pk)

    response = getattr(api_client, method)(
        url, "url=https%3A%2F%2Fhooks.example.com%2Fx&is_active=0&since=2026-05-01T00%3A00Z",
        content_type="application/x-www-form-urlencoded", **auth(key))

    assert response.status_code == 415
    _conforms(schema, path, method, response)
    assert set(_operation(schema, path, method)["requestBody"]["content"]) == {
        "application/json"}
    endpoint.refresh_from_db()
    assert endpoint.is_active


@pytest.mark.parametrize(("path", "body", "errors"), [
    ("/api/v1/webhooks/endpoints", {"url": "https://hooks.example.com/x", "is_active": "0"},
     {"is_active": ["Must be a valid boolean."]}),
    ("/api/v1/webhooks/endpoints", {"url": "https://hooks.example.com/x", "description": 42},
     {"description": ["Not a valid string."]}),
    ("/api/v1/webhooks/endpoints", {"url": "https://hooks.example.com/x",
                                    "events": "lead.sold"},
     {"events": ['Expected a list of items but got type "str".']}),
    ("/api/v1/webhooks/deliveries/redeliver", {"since": "2026-05-01T00:00:00Z",
                                               "until": "2026-05-02T00:00:00Z",
                                               "endpoint": "1"},
     {"endpoint": ["A valid integer is required."]}),
])
def test_a_json_value_of_another_type_than_the_schema_says_is_refused(schema, api_client,
                                                                      acme, path, body,
                                                                      errors):
    _, key = acme

    response = api_client.post(path, body, format="json", **auth(key))

    assert (response.status_code, response.json()) == (400, {"errors": errors})
    _conforms(schema, path, "post", response)
    assert WebhookEndpoint.objects.count() == 1


def test_events_are_documented_as_a_non_empty_list_of_distinct_events(schema, am_client,
                                                                       acme):
    source, _ = acme
    components = schema["components"]["schemas"]
    taken = components["WebhookEndpointInputRequest"]["properties"]["events"]
    given = components["WebhookEndpointOutput"]["properties"]["events"]

    twice = am_client.post(f"/api/v1/sources/{source.pk}/webhooks",
                           {"url": "https://hooks.example.com/x",
                            "events": ["lead.sold", "lead.error", "lead.sold"]},
                           format="json")

    assert (taken["minItems"], taken["uniqueItems"]) == (1, True)
    assert given["items"] == {"$ref": "#/components/schemas/SourceEventEnum"}
    assert (twice.status_code, twice.json()) == (
        400, {"errors": {"events": ["lead.sold is listed twice."]}})


def test_refused_redeliveries_answer_the_shapes_their_schema_documents(schema, api_client,
                                                                        acme, vertical):
    source, key = acme
    [msg_id] = events(source, vertical, "lead.sold")
    deliveries_send_due()
    WebhookEndpoint.objects.filter(source=source).update(is_active=False)
    endpoint = WebhookEndpoint.objects.get(source=source)
    now = timezone.now()

    disabled = api_client.post(f"/api/v1/webhooks/deliveries/{msg_id}/redeliver", **auth(key))
    backwards = api_client.post("/api/v1/webhooks/deliveries/redeliver",
                                {"since": now.isoformat(),
                                 "until": (now - timedelta(hours=1)).isoformat()},
                                format="json", **auth(key))
    range_disabled = api_client.post("/api/v1/webhooks/deliveries/redeliver",
                                     {"since": (now - timedelta(hours=1)).isoformat(),
                                      "until": now.isoformat(), "endpoint": endpoint.pk},
                                     format="json", **auth(key))

    assert (disabled.status_code, disabled.json()["code"]) == (400, "endpoint_disabled")
    _conforms(schema, "/api/v1/webhooks/deliveries/{delivery_id}/redeliver", "post", disabled)
    assert backwards.json() == {"errors": {"until": ["Must be after since."]}}
    _conforms(schema, "/api/v1/webhooks/deliveries/redeliver", "post", backwards)
    assert range_disabled.json()["code"] == "endpoint_disabled"
    _conforms(schema, "/api/v1/webhooks/deliveries/redeliver", "post", range_disabled)


def test_a_staff_redelivery_to_a_disabled_endpoint_answers_its_documented_shape(
        schema, am_client, acme, vertical):
    source, _ = acme
    [msg_id] = events(source, vertical, "lead.sold")
    WebhookEndpoint.objects.filter(source=source).update(is_active=False)

    response = am_client.post(f"/api/v1/sources/{source.pk}/deliveries/{msg_id}/redeliver")

    assert response.status_code == 400
    _conforms(schema, "/api/v1/sources/{source_id}/deliveries/{delivery_id}/redeliver",
              "post", response)


def test_webhook_examples_are_an_affiliates_not_a_buyers(schema):
    components = schema["components"]["schemas"]
    delivery = components["WebhookDelivery"]["properties"]
    endpoint = components["WebhookEndpointCreated"]["properties"]

    assert delivery["url"]["example"] == "https://affiliate.example.com/leadexchange/webhook"
    assert delivery["id"]["example"].startswith("msg_")
    assert delivery["payload"]["example"]["type"] == "lead.sold"
    assert delivery["payload"]["example"]["data"]["payout"] == "7.50"
    assert endpoint["secret"]["example"].startswith("whsec_")
    assert endpoint["url"]["example"] == delivery["url"]["example"]
