"""POST /api/v1/leads: the happy path, normalization, and every error class of SPEC §3."""

from __future__ import annotations

import json
import logging
from datetime import timedelta
from urllib.parse import urlencode

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from apps.leads.models import DedupeClaim, Lead, LeadStatus
from apps.sources.models import SourceStatus
from tests.factories import VerticalFactory, source_with_key, valid_fields

pytestmark = pytest.mark.django_db

URL = "/api/v1/leads"


@pytest.fixture
def source_key(vertical):
    # async: these tests are about capture; the auction has its own tests
    return source_with_key(vertical, default_mode="async")


def submit(client, key, body, *, content_type="application/json", **headers):
    data = json.dumps(body) if content_type == "application/json" and not isinstance(
        body, (str, bytes)) else body
    return client.post(URL, data=data, content_type=content_type,
                       HTTP_AUTHORIZATION=f"Bearer {key}", **headers)


def lead_body(**field_overrides):
    return {"vertical": "auto-insurance", "fields": valid_fields(**field_overrides)}


# --- accepted ---------------------------------------------------------------------------------

def test_it_accepts_a_valid_json_lead_and_stores_it_normalized(api_client, source_key):
    source, key = source_key
    response = submit(api_client, key, {**lead_body(), "sub_id": "camp-7"})

    assert response.status_code == 202, response.json()
    body = response.json()
    assert body["status"] == "received"
    assert body["status_url"].endswith(f"/api/v1/leads/{body['id']}")
    lead = Lead.objects.get(uuid=body["id"])
    assert lead.source == source and lead.sub_id == "camp-7"
    assert lead.fields["email"] == "jane.doe@example.com"
    assert lead.fields["phone"] == "+12125550147"
    assert lead.fields["homeowner"] is True
    assert lead.fields["credit_rating"] == "good"
    assert lead.fields["income"] == "52000.00"


def test_it_accepts_a_flat_form_encoded_lead(api_client, source_key):
    _, key = source_key
    form = {"vertical": "auto-insurance", "sub_id": "f1", "test": "true",
            "jornaya_leadid": "4b1a8c9e-2f3d-4e5a-9b6c-7d8e9f0a1b2c",
            **valid_fields(vehicle_year="2019")}
    response = api_client.post(URL, data=urlencode(form),
                               content_type="application/x-www-form-urlencoded",
                               HTTP_AUTHORIZATION=f"Bearer {key}")

    assert response.status_code == 202, response.json()
    lead = Lead.objects.get(uuid=response.json()["id"])
    assert lead.is_test is True and lead.sub_id == "f1"
    assert lead.fields["vehicle_year"] == 2019
    assert lead.consent["jornaya_leadid"] == "4B1A8C9E-2F3D-4E5A-9B6C-7D8E9F0A1B2C"
    assert "vertical" not in lead.fields and "jornaya_leadid" not in lead.fields


# --- keys the platform does not use are listed back ---------------------------------------

def test_a_json_answer_lists_every_key_it_did_not_use(api_client, source_key):
    _, key = source_key
    body = {**lead_body(favourite_colour="blue", Email="x@example.com"), "campaign": "c7",
            "consent": {"tcpa_consent": True, "trusted_form": "https://x"}, "sub_id": "s"}

    response = submit(api_client, key, body)

    assert response.status_code == 202, response.json()
    assert response.json()["ignored_fields"] == [
        "campaign", "consent.trusted_form", "fields.Email", "fields.favourite_colour"]


def test_a_json_answer_with_every_key_used_lists_none(api_client, source_key):
    _, key = source_key

    response = submit(api_client, key, {**lead_body(), "sub_id": "s", "test": False})

    assert response.status_code == 202
    assert response.json()["ignored_fields"] == []


def test_a_form_answer_names_the_unused_keys_as_the_form_sent_them(api_client, source_key):
    _, key = source_key
    form = {"vertical": "auto-insurance", "sub_id": "f1", "sub_id9": "x",
            "tcpa_consent": "true", "favourite_colour": "blue", **valid_fields()}

    response = api_client.post(URL, data=urlencode(form),
                               content_type="application/x-www-form-urlencoded",
                               HTTP_AUTHORIZATION=f"Bearer {key}")

    assert response.status_code == 202, response.json()
    assert response.json()["ignored_fields"] == ["favourite_colour", "sub_id9"]


def test_a_duplicate_answer_lists_the_unused_keys_too(api_client, source_key):
    _, key = source_key
    submit(api_client, key, lead_body())

    response = submit(api_client, key, {**lead_body(), "campagin": "typo"})

    assert response.status_code == 409
    assert response.json()["ignored_fields"] == ["campagin"]


def test_a_sync_outcome_lists_the_unused_keys(api_client, vertical):
    _, key = source_with_key(vertical, default_mode="sync")  # no buyers: unsold at once

    response = submit(api_client, key, lead_body(favourite_colour="blue"))

    assert response.status_code == 200, response.json()
    assert response.json()["status"] == "unsold"
    assert response.json()["ignored_fields"] == ["fields.favourite_colour"]


def test_it_fills_city_and_state_from_the_zip(api_client, source_key):
    _, key = source_key
    response = submit(api_client, key, lead_body(zip="77429-1234"))

    lead = Lead.objects.get(uuid=response.json()["id"])
    assert lead.fields["zip"] == "77429"
    assert lead.fields["city"] == "Cypress" and lead.fields["state"] == "TX"
    assert lead.enrichment["county"] == "Harris County"


def test_it_flags_a_state_that_disagrees_with_the_zip(api_client, source_key):
    _, key = source_key
    response = submit(api_client, key, lead_body(zip="77429", state="California"))

    lead = Lead.objects.get(uuid=response.json()["id"])
    assert lead.fields["state"] == "CA"
    assert lead.enrichment["state_mismatch"] is True


# --- 400 --------------------------------------------------------------------------------------

def test_it_lists_every_bad_field_by_key_and_records_the_rejection(api_client, source_key):
    _, key = source_key
    body = {"vertical": "auto-insurance", "test": "maybe",
            "consent": {"trustedform_cert_url": "https://evil.example/cert"},
            "fields": valid_fields(first_name=None, email="not-an-email", phone="555",
                                   zip="ABCDE", vehicle_year=1900, credit_rating="stellar",
                                   date_of_birth="02/30/1985")}
    response = submit(api_client, key, body)

    assert response.status_code == 400
    errors = response.json()["errors"]
    assert set(errors) == {
        "test", "consent.trustedform_cert_url", "fields.first_name", "fields.email",
        "fields.phone", "fields.zip", "fields.vehicle_year", "fields.credit_rating",
        "fields.date_of_birth",
    }
    assert errors["fields.email"] == ["Enter a valid email address."]
    assert errors["fields.first_name"] == ["This field is required."]
    lead = Lead.objects.get(uuid=response.json()["id"])
    assert lead.status == LeadStatus.REJECTED
    assert set(lead.errors) == set(errors)
    assert "email" not in lead.fields  # only values that passed are kept


def test_a_format_error_names_the_expected_format(api_client, source_key):
    _, key = source_key
    body = {"vertical": "auto-insurance",
            "consent": {"trustedform_cert_url": "https://cert.trustedform.com/abc",
                        "jornaya_leadid": "LEADID-123"},
            "fields": valid_fields(phone="555", date_of_birth="12.04.1985", zip="1234")}

    errors = submit(api_client, key, body).json()["errors"]

    assert errors == {
        "fields.phone": ["Enter a valid US phone number, e.g. 212-555-0147 or +1 212 555 0147 "
                         "(another country: + and its country code)."],
        "fields.date_of_birth": ["Enter a valid date as YYYY-MM-DD, e.g. 1985-04-12 (also "
                                 "accepted: MM/DD/YYYY, YYYY/MM/DD, April 12, 1985 and 12 Apr "
                                 "1985)."],
        "fields.zip": ["Enter a valid 5-digit ZIP code, e.g. 10001 (ZIP+4 such as 10001-1234 "
                       "is accepted)."],
        "consent.trustedform_cert_url": [
            "Enter a valid TrustedForm certificate URL: https://cert.trustedform.com/ and the 40 "
            "hex digits of the certificate id, e.g. https://cert.trustedform.com/"
            "2a5f8c3e9b1d4f6a8c0e2b4d6f8a0c2e4b6d8f0a."],
        "consent.jornaya_leadid": [
            "Enter a valid Jornaya LeadiD token: 36 characters, hex digits in groups of "
            "8-4-4-4-12 joined by hyphens, e.g. 4B1A8C9E-2F3D-4E5A-9B6C-7D8E9F0A1B2C."],
    }


def test_it_names_an_unknown_vertical(api_client, source_key):
    _, key = source_key
    response = submit(api_client, key, {"vertical": "solar", "fields": {}})

    assert response.status_code == 400
    assert response.json()["errors"] == {"vertical": ["Unknown vertical 'solar'."]}


def test_it_names_missing_envelope_keys(api_client, source_key):
    _, key = source_key
    response = submit(api_client, key, {})

    assert response.status_code == 400
    assert set(response.json()["errors"]) == {"vertical", "fields"}


@pytest.mark.parametrize("raw", [
    b"{bad", b"[1, 2]", b'"a string"', b"null", b"\xff\xfe\x00", b'{"vertical": NaN}',
    b'{"vertical": "auto-insurance", "fields": []}', b"", b"{" * 5000,
], ids=["truncated", "array", "string", "null", "not-utf8", "nan", "fields-array", "empty",
        "deep-nesting"])
def test_malformed_json_is_a_400_never_a_500(api_client, source_key, raw):
    _, key = source_key
    response = submit(api_client, key, raw)

    assert response.status_code == 400
    assert "errors" in response.json()


# --- 401 / 403 --------------------------------------------------------------------------------

@pytest.mark.parametrize("auth", [None, "Bearer", "Bearer nope", "Bearer lx_abcdefgh_wrong",
                                  "Basic dXNlcjpwYXNz"])
def test_it_answers_401_without_a_valid_key(api_client, source_key, auth):
    headers = {"HTTP_AUTHORIZATION": auth} if auth else {}
    response = api_client.post(URL, data=lead_body(), format="json", **headers)

    assert response.status_code == 401
    assert response["WWW-Authenticate"].startswith("Bearer")


def test_a_revoked_key_gets_401(api_client, source_key):
    source, key = source_key
    source.api_keys.update(revoked_at=timezone.now())

    assert submit(api_client, key, lead_body()).status_code == 401


def test_it_answers_403_to_an_address_outside_the_allowlist(api_client, source_key):
    source, key = source_key
    source.ip_allowlist = ["203.0.113.0/24"]
    source.save()

    refused = submit(api_client, key, lead_body(), REMOTE_ADDR="198.51.100.7")
    allowed = submit(api_client, key, lead_body(), REMOTE_ADDR="203.0.113.9")

    assert refused.status_code == 403
    assert "198.51.100.7" in refused.json()["detail"]
    assert allowed.status_code == 202


def test_it_answers_403_to_a_paused_source(api_client, source_key):
    source, key = source_key
    source.status = SourceStatus.PAUSED
    source.save()

    response = submit(api_client, key, lead_body())

    assert response.status_code == 403
    assert response.json()["detail"] == "This source is paused."


def test_it_answers_403_for_a_vertical_the_source_may_not_post(api_client, source_key):
    _, key = source_key
    VerticalFactory(slug="solar", schema=[])

    response = submit(api_client, key, {"vertical": "solar", "fields": {}})

    assert response.status_code == 403
    assert response.json()["code"] == "vertical_not_allowed"
    assert not Lead.objects.exists()


def test_a_capture_for_an_inactive_vertical_is_400_unknown_even_where_it_was_allowed(
        api_client, source_key, vertical):
    _, key = source_key
    vertical.is_active = False
    vertical.save()

    response = submit(api_client, key, lead_body())

    assert response.status_code == 400
    assert response.json()["errors"]["vertical"] == ["Unknown vertical 'auto-insurance'."]


def test_a_capture_reads_the_database_three_times_before_it_writes(api_client, source_key):
    """The key with its source, the vertical's version with the source's right to it, the
    suppression list: nothing else is read on the way to the insert (each read is a turn
    of the interpreter's lock given back and taken again)."""
    _, key = source_key
    submit(api_client, key, lead_body(email="first@example.com"))  # key's last use touched

    with CaptureQueriesContext(connection) as queries:
        response = submit(api_client, key, lead_body(email="second@example.com",
                                                     phone="+12025550143"))

    assert response.status_code == 202
    statements = [q["sql"].lstrip().split(None, 1)[0].upper() for q in queries.captured_queries]
    first_write = statements.index("INSERT")
    assert [s for s in statements[:first_write] if s == "SELECT"] == ["SELECT"] * 3


# --- 409 duplicates ---------------------------------------------------------------------------

def test_the_same_consumer_from_another_source_is_a_duplicate(api_client, vertical):
    _, key_a = source_with_key(vertical, default_mode="async")
    _, key_b = source_with_key(vertical, default_mode="async")
    first = submit(api_client, key_a, lead_body())
    second = submit(api_client, key_b, lead_body(email="other@example.com"))  # same phone

    assert second.status_code == 409
    assert second.json()["status"] == "duplicate"
    assert second.json()["duplicate_of"] == first.json()["id"]
    stored = Lead.objects.get(uuid=second.json()["id"])
    assert stored.status == LeadStatus.DUPLICATE
    assert str(stored.duplicate_of.uuid) == first.json()["id"]


def test_a_duplicate_keeps_none_of_the_claims_it_won_on_the_way(api_client, vertical):
    _, key_a = source_with_key(vertical, default_mode="async")
    _, key_b = source_with_key(vertical, default_mode="async")
    first = submit(api_client, key_a, lead_body())
    # a new payload and a new e-mail (keys it can win), the same phone (held by the first)
    second = submit(api_client, key_b, lead_body(email="other@example.com"))

    assert second.status_code == 409
    holders = set(DedupeClaim.objects.values_list("lead__uuid", flat=True))
    assert {str(uuid) for uuid in holders} == {first.json()["id"]}


def test_a_different_consumer_is_not_a_duplicate(api_client, source_key):
    _, key = source_key
    submit(api_client, key, lead_body())
    response = submit(api_client, key, lead_body(email="x@example.com", phone="3125550198"))

    assert response.status_code == 202


def test_the_same_payload_from_the_same_source_within_60s_is_a_duplicate(api_client):
    vertical = VerticalFactory(slug="auto-insurance", dedupe_fields=[])  # no consumer rule
    _, key = source_with_key(vertical, default_mode="async")
    first = submit(api_client, key, lead_body())
    second = submit(api_client, key, lead_body())

    assert first.status_code == 202
    assert second.status_code == 409
    assert second.json()["duplicate_of"] == first.json()["id"]


def test_a_consumer_is_accepted_again_once_the_window_has_passed(api_client, source_key):
    _, key = source_key
    submit(api_client, key, lead_body())
    DedupeClaim.objects.update(expires_at=timezone.now() - timedelta(seconds=1))

    assert submit(api_client, key, lead_body()).status_code == 202


def test_test_leads_do_not_block_live_leads(api_client, source_key):
    _, key = source_key
    submit(api_client, key, {**lead_body(), "test": True})

    assert submit(api_client, key, lead_body()).status_code == 202


# --- Idempotency-Key --------------------------------------------------------------------------

def test_the_same_idempotency_key_and_body_replay_the_answer(api_client, source_key):
    _, key = source_key
    first = submit(api_client, key, lead_body(), HTTP_IDEMPOTENCY_KEY="k-1")
    again = submit(api_client, key, lead_body(), HTTP_IDEMPOTENCY_KEY="k-1")

    assert first.status_code == again.status_code == 202
    assert first.json() == again.json()
    assert Lead.objects.count() == 1


def test_the_same_idempotency_key_with_another_body_is_a_409(api_client, source_key):
    _, key = source_key
    submit(api_client, key, lead_body(), HTTP_IDEMPOTENCY_KEY="k-2")
    response = submit(api_client, key, lead_body(first_name="Joan"), HTTP_IDEMPOTENCY_KEY="k-2")

    assert response.status_code == 409
    assert response.json()["code"] == "idempotency_conflict"
    assert Lead.objects.count() == 1


def test_idempotency_keys_are_scoped_per_source(api_client, vertical):
    _, key_a = source_with_key(vertical, default_mode="async")
    _, key_b = source_with_key(vertical, default_mode="async")
    submit(api_client, key_a, lead_body(), HTTP_IDEMPOTENCY_KEY="shared")
    response = submit(api_client, key_b, lead_body(email="b@example.com", phone="3125550198"),
                      HTTP_IDEMPOTENCY_KEY="shared")

    assert response.status_code == 202


# --- 413 / 415 / 429 --------------------------------------------------------------------------

def test_it_answers_413_to_a_body_over_the_limit(api_client, source_key, settings):
    _, key = source_key
    settings.LEAD_MAX_BODY_BYTES = 1024
    response = submit(api_client, key, lead_body(address="x" * 2000))

    assert response.status_code == 413
    assert response.json()["code"] == "body_too_large"


@pytest.mark.parametrize("content_type", ["application/xml", "text/plain", "multipart/form-data"])
def test_it_answers_415_to_other_content_types(api_client, source_key, content_type):
    _, key = source_key
    body = "<lead/>" if content_type != "multipart/form-data" else "x"
    response = api_client.post(URL, data=body, content_type=content_type,
                               HTTP_AUTHORIZATION=f"Bearer {key}")

    assert response.status_code == 415


def test_it_answers_429_with_retry_after_over_the_rate_limit(api_client, vertical):
    _, key = source_with_key(vertical, rate_limit_per_minute=2, default_mode="async")
    statuses = [submit(api_client, key, lead_body(email=f"u{i}@example.com",
                                                  phone=f"31255501{i:02d}")).status_code
                for i in range(3)]
    response = submit(api_client, key, lead_body())

    assert statuses == [202, 202, 429]
    assert response.status_code == 429
    assert int(response["Retry-After"]) >= 1


# --- reads ------------------------------------------------------------------------------------

def test_a_source_cannot_read_another_sources_lead(api_client, vertical):
    _, key_a = source_with_key(vertical, default_mode="async")
    _, key_b = source_with_key(vertical, default_mode="async")
    lead_id = submit(api_client, key_a, lead_body()).json()["id"]

    own = api_client.get(f"{URL}/{lead_id}", HTTP_AUTHORIZATION=f"Bearer {key_a}")
    other = api_client.get(f"{URL}/{lead_id}", HTTP_AUTHORIZATION=f"Bearer {key_b}")

    assert own.status_code == 200 and own.json()["id"] == lead_id
    assert other.status_code == 404
    listed = api_client.get(URL, HTTP_AUTHORIZATION=f"Bearer {key_b}").json()["results"]
    assert listed == []


def test_the_detail_never_shows_the_buyer_or_the_sale_price(api_client, source_key):
    _, key = source_key
    lead_id = submit(api_client, key, lead_body()).json()["id"]
    body = api_client.get(f"{URL}/{lead_id}", HTTP_AUTHORIZATION=f"Bearer {key}").json()

    assert not {"sale_price", "margin", "buyer", "contract"} & set(body)


def test_the_list_filters_by_status_sub_id_and_date(api_client, source_key):
    _, key = source_key
    submit(api_client, key, {**lead_body(), "sub_id": "a"})
    submit(api_client, key, {"vertical": "auto-insurance", "fields": {}, "sub_id": "b"})
    auth = {"HTTP_AUTHORIZATION": f"Bearer {key}"}

    rejected = api_client.get(URL, {"status": "rejected"}, **auth).json()["results"]
    by_sub = api_client.get(URL, {"sub_id": "a"}, **auth).json()["results"]
    future = (timezone.now() + timedelta(hours=1)).isoformat()
    none_after = api_client.get(URL, {"created_after": future}, **auth).json()["results"]
    bad = api_client.get(URL, {"status": "nope"}, **auth)

    assert [r["sub_id"] for r in rejected] == ["b"]
    assert [r["status"] for r in by_sub] == ["received"]
    assert none_after == []
    assert bad.status_code == 400 and "status" in bad.json()["errors"]


def test_the_list_is_paginated_with_a_cursor(api_client, source_key):
    _, key = source_key
    for i in range(3):
        submit(api_client, key, lead_body(email=f"p{i}@example.com", phone=f"31255502{i:02d}"))
    auth = {"HTTP_AUTHORIZATION": f"Bearer {key}"}

    page = api_client.get(URL, {"page_size": 2}, **auth).json()
    rest = api_client.get(page["next"], **auth).json()

    assert len(page["results"]) == 2 and len(rest["results"]) == 1
    assert rest["next"] is None


# --- logs -------------------------------------------------------------------------------------

def test_no_pii_reaches_the_logs_of_a_capture(api_client, source_key, caplog):
    _, key = source_key
    caplog.set_level(logging.DEBUG)
    fields = valid_fields(first_name="Zebulon", last_name="Quackenbush",
                          email="zebulon.q@example.org", phone="(312) 555-0177",
                          address="742 Evergreen Terrace")
    submit(api_client, key, {"vertical": "auto-insurance", "fields": fields})
    submit(api_client, key, {"vertical": "auto-insurance", "fields": fields})  # duplicate
    submit(api_client, key, {"vertical": "auto-insurance",
                             "fields": {**fields, "zip": "bad"}})  # rejected

    text = caplog.text.lower()
    assert "lead.received" in text and "lead.duplicate" in text and "lead.rejected" in text
    for secret in ["zebulon", "quackenbush", "zebulon.q@example.org", "5550177", "555-0177",
                   "evergreen"]:
        assert secret not in text
