"""Suppression (issue 14 item 3) and the staff privacy API: a suppressed consumer's next lead
is refused with ``409 suppressed`` — by e-mail alone, by phone alone — stored without its PII
and counted in the reports as a rejection for ``suppressed``; other consumers are not
affected; a vertical may switch it off. Staff endpoints need their model permissions."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from django.utils import timezone

from apps.core.pii import pii_digest
from apps.leads.models import Lead, LeadStatus, SuppressedConsumer, VerticalPrivacy
from apps.privacy.models import ErasureRequest, ErasureStatus
from apps.reports.models import LeadHour, RejectionHour
from apps.reports.services import rollup_refresh
from tests.factories import source_with_key, valid_fields

pytestmark = pytest.mark.django_db

EMAIL, PHONE = "Opted.Out@Example.com", "(212) 555-0166"


@pytest.fixture
def source_key(vertical):
    return source_with_key(vertical, default_mode="async")


@pytest.fixture
def admin_client(staff_client):
    return staff_client("root", superuser=True)


def submit(client, key, **overrides):
    body = {"vertical": "auto-insurance", "fields": valid_fields(**overrides)}
    return client.post("/api/v1/leads", data=json.dumps(body), content_type="application/json",
                       HTTP_AUTHORIZATION=f"Bearer {key}")


def opt_out(client, **consumer):
    return client.post("/api/v1/staff/suppressions", data=consumer, format="json")


def test_a_captured_lead_carries_its_consumers_keyed_digests(api_client, source_key):
    _, key = source_key
    answer = submit(api_client, key, email=" Jane.Doe@Example.COM ", phone="212.555.0147")

    lead = Lead.objects.get(uuid=answer.json()["id"])
    assert lead.email_digest == pii_digest("email", "jane.doe@example.com")
    assert lead.phone_digest == pii_digest("phone", "+12125550147")
    assert lead.email_digest != pii_digest("phone", "jane.doe@example.com")


@pytest.mark.parametrize("by", ["email", "phone"])
def test_a_suppressed_consumers_next_lead_is_refused_with_409(api_client, admin_client,
                                                              source_key, by):
    _, key = source_key
    assert opt_out(admin_client, **{by: EMAIL if by == "email" else PHONE}).json() == {
        "added": 1}
    other = {"email": "fresh@example.com", "phone": "(212) 555-0155"}
    other[by] = EMAIL if by == "email" else PHONE  # the other identifier is new

    answer = submit(api_client, key, **other)

    assert answer.status_code == 409, answer.json()
    body = answer.json()
    assert (body["status"], body["ignored_fields"]) == ("suppressed", [])
    assert "suppression" in body["detail"]
    lead = Lead.objects.get(uuid=body["id"])
    assert lead.status == LeadStatus.SUPPRESSED and lead.completed_at is not None
    assert not {"email", "phone", "first_name", "last_name"} & set(lead.fields)  # no PII kept
    assert lead.fields["zip"] == "10001"
    assert lead.errors == {"suppressed": [body["detail"]]}


def test_other_consumers_are_not_affected(api_client, admin_client, source_key):
    _, key = source_key
    opt_out(admin_client, email=EMAIL, phone=PHONE)

    answer = submit(api_client, key, email="someone.else@example.com", phone="(212) 555-0144")

    assert answer.status_code == 202, answer.json()


def test_a_vertical_that_switches_suppression_off_accepts_the_lead(
        api_client, admin_client, source_key, vertical):
    _, key = source_key
    opt_out(admin_client, email=EMAIL)
    VerticalPrivacy.objects.create(vertical=vertical, suppression_enforced=False)

    answer = submit(api_client, key, email=EMAIL)

    assert answer.status_code == 202, answer.json()


def test_suppressed_leads_count_as_rejections_for_suppressed_in_the_reports(
        api_client, admin_client, source_key):
    source, key = source_key
    opt_out(admin_client, phone=PHONE)
    assert submit(api_client, key, phone=PHONE).status_code == 409
    assert submit(api_client, key, email="x@example.com", phone="(212) 555-0122",
                  zip="1").status_code == 400

    rollup_refresh(timezone.now() - timedelta(hours=2), timezone.now() + timedelta(hours=1))

    hour = LeadHour.objects.get(source=source)
    assert (hour.received, hour.rejected) == (2, 2)
    assert dict(RejectionHour.objects.values_list("reason", "count")) == {
        "suppressed": 1, "fields.zip": 1}


def test_an_erasure_suppresses_the_consumer(api_client, admin_client, source_key,
                                            django_capture_on_commit_callbacks):
    _, key = source_key
    assert submit(api_client, key, email=EMAIL).status_code == 202

    with django_capture_on_commit_callbacks(execute=True):
        answer = admin_client.post("/api/v1/staff/erasures", data={"email": EMAIL},
                                   format="json")

    assert answer.status_code == 202, answer.json()
    assert set(answer.json()) == {"id", "status", "by_email", "by_phone", "leads_erased",
                                  "channel", "requested_by", "requested_at", "finished_at"}
    assert (answer.json()["by_email"], answer.json()["by_phone"]) == (True, False)
    read = admin_client.get(f"/api/v1/staff/erasures/{answer.json()['id']}").json()
    assert (read["status"], read["leads_erased"], read["requested_by"]) == (
        ErasureStatus.DONE, 1, "root")
    assert submit(api_client, key, email=EMAIL).json()["status"] == "suppressed"
    assert admin_client.get("/api/v1/staff/erasures").json()["count"] == 1


@pytest.mark.parametrize(("body", "named"), [
    ({}, {"email": "Give the consumer's e-mail, phone, or both.",
          "phone": "Give the consumer's e-mail, phone, or both."}),
    ({"email": "nope", "phone": "12"}, {"email": "Enter a valid email address.",
                                        "phone": "Enter a valid US phone number"}),
    ({"email": 7}, {"email": ""}),
])
def test_bad_consumer_input_is_a_400_naming_it(admin_client, body, named):
    for url in ("/api/v1/staff/erasures", "/api/v1/staff/suppressions"):
        answer = admin_client.post(url, data=body, format="json")

        assert answer.status_code == 400, answer.content
        errors = answer.json()["errors"]
        assert set(errors) == set(named)
        assert all(errors[key][0].startswith(text) for key, text in named.items())
    assert not ErasureRequest.objects.exists() and not SuppressedConsumer.objects.exists()


def test_the_privacy_endpoints_refuse_staff_without_the_permission(staff_client, api_client,
                                                                   source_key):
    plain = staff_client("nobody")  # staff, no permission
    _, source_api_key = source_key
    for method, url in (("post", "/api/v1/staff/erasures"), ("get", "/api/v1/staff/erasures"),
                        ("get", "/api/v1/staff/erasures/1"),
                        ("post", "/api/v1/staff/suppressions")):
        answer = getattr(plain, method)(url, data={"email": EMAIL}, format="json")
        assert answer.status_code == 403, (method, url)
        api_client.credentials(HTTP_AUTHORIZATION=f"Bearer {source_api_key}")
        assert getattr(api_client, method)(url, data={"email": EMAIL},
                                           format="json").status_code == 401
    assert not ErasureRequest.objects.exists() and not SuppressedConsumer.objects.exists()


def test_the_spec_shows_the_suppressed_answer_as_the_api_gives_it(api_client, admin_client,
                                                                  source_key):
    _, key = source_key
    opt_out(admin_client, email=EMAIL)
    given = submit(api_client, key, email=EMAIL).json()

    spec = api_client.get("/api/v1/verticals/auto-insurance/spec").json()

    shown = next(a["body"] for a in spec["answers"] if a["body"].get("status") == "suppressed")
    assert set(shown) == set(given) and shown["detail"] == given["detail"]


def test_a_pinged_lead_of_a_suppressed_consumer_is_refused_at_its_post(
        api_client, admin_client, vertical, sim_url):
    """A ping carries no PII, so suppression shows at the post: 409, nothing sent to the
    buyer, the held cap room released."""
    from apps.auctions.models import CapHold, Post, Sale
    from tests.factories import sim_contract

    _, key = source_with_key(vertical)
    sim_contract(vertical, sim_url, query="bid=10",
                 caps=[{"period": "day", "metric": "leads", "limit": 1}])
    ping_fields = {k: v for k, v in valid_fields().items()
                   if k in ("zip", "vehicle_year", "homeowner", "credit_rating", "income")}
    pinged = api_client.post("/api/v1/pings", data=json.dumps(
        {"vertical": "auto-insurance", "fields": ping_fields}),
        content_type="application/json", HTTP_AUTHORIZATION=f"Bearer {key}").json()
    assert pinged["status"] == "bid"
    opt_out(admin_client, phone=PHONE)

    answer = api_client.post(f"/api/v1/pings/{pinged['ping_id']}/post", data=json.dumps(
        {"fields": valid_fields(phone=PHONE)}), content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {key}")

    assert answer.status_code == 409, answer.json()
    assert answer.json()["status"] == "suppressed"
    assert not Post.objects.exists() and not Sale.objects.exists()
    assert CapHold.objects.get().state == "released"
