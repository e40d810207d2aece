"""Sources, their API keys and verticals through the staff API: a clear key is shown once
and works at once; rotation and revocation take effect on the next request; a vertical's
schema is refused when the capture API could not apply it."""

from __future__ import annotations

import pytest
from django.contrib.admin.models import LogEntry

from apps.sources.models import Source, SourceApiKey, Vertical
from tests.api.staff_payloads import vertical_payload
from tests.factories import (
    consumer_fields,
    lead_submit,
    sim_contract,
    source_with_key,
)

pytestmark = pytest.mark.django_db


def _create_source(am_client, **attributes) -> dict:
    response = am_client.post("/api/v1/sources", {"name": "Affiliate A",
                                                  "verticals": ["auto-insurance"],
                                                  **attributes}, format="json")
    assert response.status_code == 201, response.json()
    return response.json()


def test_a_new_source_gets_a_key_shown_once_that_works_at_once(am_client, api_client,
                                                               vertical):
    created = _create_source(am_client, payout_model="fixed", payout_value="5.00")
    key = created["api_key"]
    assert key.startswith("lx_")
    [row] = created["keys"]
    assert key.startswith(f"lx_{row['prefix']}_")

    assert lead_submit(api_client, key).status_code == 200  # no buyer: unsold, but accepted

    shown = am_client.get(f"/api/v1/sources/{created['id']}").content.decode()
    listed = am_client.get("/api/v1/sources").content.decode()
    digest = SourceApiKey.objects.get(pk=row["id"]).digest
    for text in (shown, listed):
        assert key not in text and key.split("_", 2)[2] not in text
        assert digest not in text and "digest" not in text
    assert "api_key" not in am_client.get(f"/api/v1/sources/{created['id']}").json()


def test_rotating_a_key_revokes_the_old_one_at_once(am_client, api_client, vertical):
    created = _create_source(am_client)
    old_key, [old_row] = created["api_key"], created["keys"]

    response = am_client.post(f"/api/v1/sources/{created['id']}/keys/{old_row['id']}/rotate")

    assert response.status_code == 200, response.json()
    new_key = response.json()["api_key"]
    assert new_key != old_key and response.json()["revoked"]["revoked_at"] is not None
    assert response.json()["key"]["name"] == old_row["name"]
    assert lead_submit(api_client, old_key).status_code == 401
    assert lead_submit(api_client, new_key).status_code == 200
    again = am_client.post(f"/api/v1/sources/{created['id']}/keys/{old_row['id']}/rotate")
    assert again.status_code == 400 and "key" in again.json()["errors"]


def test_a_revoked_key_gets_401(am_client, api_client, vertical):
    created = _create_source(am_client)
    extra = am_client.post(f"/api/v1/sources/{created['id']}/keys", {"name": "landing page"},
                           format="json")
    assert extra.status_code == 201, extra.json()
    extra_key, extra_id = extra.json()["api_key"], extra.json()["key"]["id"]
    assert lead_submit(api_client, extra_key, consumer_fields(1)).status_code == 200

    response = am_client.post(f"/api/v1/sources/{created['id']}/keys/{extra_id}/revoke")

    assert response.status_code == 200 and response.json()["revoked_at"] is not None
    assert lead_submit(api_client, extra_key, consumer_fields(2)).status_code == 401
    assert lead_submit(api_client, created["api_key"],  # the source's other key still works
                       consumer_fields(3)).status_code == 200
    assert LogEntry.objects.filter(object_id=str(created["id"]),
                                   change_message__startswith="Revoked API key").exists()


def test_another_sources_key_is_not_found(am_client, vertical):
    created = _create_source(am_client)
    other, _ = source_with_key(vertical)
    other_key = other.api_keys.get()

    for action in ("rotate", "revoke"):
        response = am_client.post(f"/api/v1/sources/{created['id']}/keys/{other_key.pk}/{action}")
        assert response.status_code == 404
    other_key.refresh_from_db()
    assert other_key.revoked_at is None


def test_key_actions_need_key_permissions(staff_client, vertical):
    source, _ = source_with_key(vertical)
    key = source.api_keys.get()
    manager = staff_client("reader", group="Managers")

    assert manager.post(f"/api/v1/sources/{source.pk}/keys").status_code == 403
    assert manager.post(f"/api/v1/sources/{source.pk}/keys/{key.pk}/rotate").status_code == 403
    assert manager.post(f"/api/v1/sources/{source.pk}/keys/{key.pk}/revoke").status_code == 403
    assert source.api_keys.count() == 1 and source.api_keys.get().revoked_at is None


def test_a_source_is_updated_and_keeps_what_was_not_given(am_client, vertical):
    template = "https://track.example.com/pb?click={sub_id}&payout={payout}"
    created = _create_source(am_client, postback_url_template=template)
    assert created["postback_url_template"] == template

    response = am_client.patch(f"/api/v1/sources/{created['id']}",
                               {"status": "paused", "ip_allowlist": ["203.0.113.0/24"]},
                               format="json")

    assert response.status_code == 200, response.json()
    source = Source.objects.get(pk=created["id"])
    assert (source.status, source.ip_allowlist, source.postback_url_template) == (
        "paused", ["203.0.113.0/24"], template)
    assert [v.slug for v in source.verticals.all()] == ["auto-insurance"]


def test_a_postback_template_with_an_unknown_macro_is_refused_naming_it(am_client, vertical):
    response = am_client.post("/api/v1/sources", {
        "name": "Bad", "postback_url_template": "https://t.example.com/pb?c={clickid}"},
        format="json")

    assert response.status_code == 400
    [message] = response.json()["errors"]["postback_url_template"]
    assert message.startswith("Unknown macro {clickid}.")
    assert not Source.objects.filter(name="Bad").exists()


@pytest.mark.parametrize(("attributes", "path"), [
    ({"postback_url_template": "http://10.0.0.5/pb?c={sub_id}"}, "postback_url_template"),
    ({"postback_url_template": "https://t.example.com/pb?c={sub_id"}, "postback_url_template"),
    ({"account_manager": 999999}, "account_manager"),
    ({"ip_allowlist": ["not-a-network"]}, "ip_allowlist"),
    ({"verticals": ["no-such-vertical"]}, "verticals"),
    ({"payout_model": "barter"}, "payout_model"),
    ({"time_budget_ms": 5}, "time_budget_ms"),
])
def test_a_bad_source_is_refused_by_field(am_client, vertical, attributes, path):
    response = am_client.post("/api/v1/sources", {"name": "Bad", **attributes}, format="json")

    assert response.status_code == 400
    assert path in response.json()["errors"]
    assert not Source.objects.filter(name="Bad").exists()


# --- verticals ---


def test_a_vertical_is_created_with_its_schema_and_the_spec_follows(am_client, api_client):
    response = am_client.post("/api/v1/verticals", vertical_payload("solar"), format="json")

    assert response.status_code == 201, response.json()
    assert [f["key"] for f in response.json()["fields"]][:3] == ["first_name", "last_name",
                                                                "email"]
    spec = api_client.get("/api/v1/verticals/solar/spec").json()
    assert {f["key"] for f in spec["fields"]} >= {"zip", "vehicle_year", "email"}

    patched = am_client.patch("/api/v1/verticals/solar", {"fields": [
        {"key": "zip", "type": "zip", "required_for_ping": True},
        {"key": "roof_type", "type": "choice", "choices": ["flat", "pitched"]}],
        "dedupe_fields": []}, format="json")

    assert patched.status_code == 200, patched.json()
    assert [f["key"] for f in api_client.get("/api/v1/verticals/solar/spec").json()[
        "fields"]] == ["zip", "roof_type"]


def test_patch_without_fields_keeps_the_schema(am_client):
    am_client.post("/api/v1/verticals", vertical_payload("solar"), format="json")

    response = am_client.patch("/api/v1/verticals/solar", {"is_active": False}, format="json")

    assert response.status_code == 200
    assert len(response.json()["fields"]) == len(vertical_payload()["fields"])
    assert Vertical.objects.get(slug="solar").is_active is False
    assert am_client.get("/api/v1/verticals/solar").status_code == 200  # staff see inactive


@pytest.mark.parametrize(("field", "path", "says"), [
    ({"key": "age", "type": "integer", "min_value": "abc"}, "fields.1.min_value", "abc"),
    ({"key": "age", "type": "integer", "min_value": "90", "max_value": "18"},
     "fields.1.min_value", "greater"),
    ({"key": "roof", "type": "choice"}, "fields.1.choices", "allowed values"),
    ({"key": "Bad Key", "type": "text"}, "fields.1.key", "letters"),
    ({"key": "zip", "type": "text"}, "fields.1.key", "twice"),
    ({"key": "flag", "type": "boolean", "max_value": "3"}, "fields.1.min_value", "boolean"),
])
def test_a_schema_the_capture_api_could_not_apply_is_refused(am_client, field, path, says):
    body = vertical_payload("solar", dedupe_fields=[],
                            fields=[{"key": "zip", "type": "zip"}, field])

    response = am_client.post("/api/v1/verticals", body, format="json")

    assert response.status_code == 400
    assert path in response.json()["errors"], response.json()
    assert says in " ".join(response.json()["errors"][path])
    assert not Vertical.objects.filter(slug="solar").exists()


def test_a_field_a_contract_uses_cannot_be_removed(am_client, vertical, sim_url):
    sim_contract(vertical, sim_url, ping_mappings=[{"target": "zip", "source": "zip"},
                                                   {"target": "year", "source": "vehicle_year"}])

    response = am_client.patch("/api/v1/verticals/auto-insurance", {
        "fields": [f for f in vertical_payload()["fields"] if f["key"] != "vehicle_year"]},
        format="json")

    assert response.status_code == 400
    assert "vehicle_year" in " ".join(response.json()["errors"]["fields"])
    assert vertical.fields.filter(key="vehicle_year").exists()


def test_dedupe_fields_must_be_fields(am_client):
    response = am_client.post("/api/v1/verticals", vertical_payload(
        "solar", dedupe_fields=["email", "ssn"]), format="json")

    assert response.status_code == 400 and "dedupe_fields" in response.json()["errors"]
