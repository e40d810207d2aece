"""The posting spec (JSON and page) and the OpenAPI schema and docs."""

from __future__ import annotations

import json
import re
from io import StringIO

import pytest

from apps.leads.intake import SubmissionSerializer
from tests.factories import VerticalFactory, source_with_key

pytestmark = pytest.mark.django_db


def test_the_spec_endpoint_lists_every_field_with_its_rules(api_client):
    VerticalFactory(slug="auto-insurance", name="Auto insurance")

    response = api_client.get("/api/v1/verticals/auto-insurance/spec")

    assert response.status_code == 200
    spec = response.json()
    assert spec["vertical"] == "auto-insurance" and spec["name"] == "Auto insurance"
    by_key = {f["key"]: f for f in spec["fields"]}
    assert by_key["email"]["pii"] is True and by_key["email"]["type"] == "email"
    assert by_key["zip"]["required_for_ping"] is True
    assert by_key["credit_rating"]["choices"] == ["excellent", "good", "fair", "poor"]
    assert by_key["vehicle_year"]["min"] == "1981" and by_key["vehicle_year"]["max"] == "2028"
    assert set(by_key["zip"]) >= {"key", "type", "required_for_ping", "required_for_post",
                                  "pii", "choices", "min", "max", "example"}


def test_the_spec_is_always_current(api_client):
    vertical = VerticalFactory(slug="solar", schema=[])
    assert api_client.get("/api/v1/verticals/solar/spec").json()["fields"] == []

    vertical.fields.create(key="roof_type", type="text")

    assert [f["key"] for f in api_client.get("/api/v1/verticals/solar/spec").json()["fields"]] \
        == ["roof_type"]


def test_an_unknown_vertical_spec_is_a_404(api_client):
    assert api_client.get("/api/v1/verticals/nope/spec").status_code == 404
    assert api_client.get("/verticals/nope/spec").status_code == 404


def test_the_spec_page_renders_the_fields_for_affiliates(client):
    VerticalFactory(slug="auto-insurance", name="Auto insurance")

    page = client.get("/verticals/auto-insurance/spec")

    assert page.status_code == 200
    html = page.content.decode()
    assert "Auto insurance" in html and "<code>date_of_birth</code>" in html


def _spec_vertical(which: str):
    from django.core.management import call_command

    from apps.sources.models import Vertical

    if which == "demo":
        call_command("demo_data", stdout=StringIO())
        return Vertical.objects.get(slug="auto-insurance")
    return VerticalFactory(slug="auto-insurance")


@pytest.mark.parametrize("which", ["demo", "factory"])
def test_every_example_of_the_spec_is_accepted_by_capture(api_client, which):
    vertical = _spec_vertical(which)
    spec = api_client.get("/api/v1/verticals/auto-insurance/spec").json()
    _, key = source_with_key(vertical, default_mode="async")
    lead = {"vertical": "auto-insurance",
            "fields": {f["key"]: f["example"] for f in spec["fields"]},
            "consent": {c["key"]: c["example"] for c in spec["consent"]}}
    lead["consent"]["tcpa_consent"] = True
    lead["consent"]["one_to_one"] = json.loads(lead["consent"]["one_to_one"])  # JSON text

    response = api_client.post("/api/v1/leads", lead, format="json",
                               HTTP_AUTHORIZATION=f"Bearer {key}")

    assert response.status_code == 202, response.json()
    assert response.json()["ignored_fields"] == []
    assert {e["key"] for e in spec["envelope"]} == set(SubmissionSerializer().fields)


def test_the_spec_says_which_fields_a_full_lead_must_carry_and_how(api_client):
    VerticalFactory(slug="auto-insurance", dedupe_fields=["email", "phone"],
                    dedupe_window_days=30)

    spec = api_client.get("/api/v1/verticals/auto-insurance/spec").json()

    by_key = {f["key"]: f for f in spec["fields"]}
    # zip is needed for the ping, email for the post: a full lead carries both
    assert spec["submit"]["required_fields"] == ["first_name", "email", "phone", "zip"]
    # the ping: what buyers need to bid, never PII
    assert spec["ping"]["required_fields"] == ["zip"]
    assert spec["ping"]["post_path"] == "/api/v1/pings/{ping_id}/post"
    assert "one_to_one" in {c["key"] for c in spec["consent"]}
    assert by_key["zip"]["required"] and by_key["email"]["required"]
    assert not by_key["city"]["required"]
    assert by_key["date_of_birth"]["format"].startswith("YYYY-MM-DD")
    assert by_key["vehicle_year"]["example"] == "1981"  # inside the field's bounds
    assert spec["duplicates"] == {
        "fields": ["email", "phone"], "match": "any", "window_days": 30,
        "resubmit_window_seconds": 60,
        "rule": "A lead whose email or phone matches a lead received in the last 30 days, "
                "from any source, is a duplicate (409). The same body from the same source "
                "within 60 s is a duplicate. Test leads only collide with test leads."}
    consent = {c["key"]: c for c in spec["consent"]}
    assert consent["trustedform_cert_url"]["example"] == \
        "https://cert.trustedform.com/2a5f8c3e9b1d4f6a8c0e2b4d6f8a0c2e4b6d8f0a"
    assert consent["jornaya_leadid"]["example"] == "4B1A8C9E-2F3D-4E5A-9B6C-7D8E9F0A1B2C"


def test_the_spec_shows_every_answer_the_lead_api_documents(api_client):
    VerticalFactory(slug="auto-insurance")

    spec = api_client.get("/api/v1/verticals/auto-insurance/spec").json()
    schema = api_client.get("/api/schema/?format=json").json()

    documented = set(schema["paths"]["/api/v1/leads"]["post"]["responses"])
    assert [a["status"] for a in spec["answers"]] == [200, 200, 202, 400, 401, 403, 409, 409,
                                                     409, 413, 415, 429]
    assert {str(a["status"]) for a in spec["answers"]} == documented
    bodies = {(a["status"], a["body"].get("status")): a["body"] for a in spec["answers"]}
    assert set(bodies[(200, "sold")]) == {"id", "status", "payout", "message", "ignored_fields"}
    assert set(bodies[(409, "duplicate")]) == {"status", "duplicate_of", "id", "detail",
                                               "ignored_fields"}
    assert set(bodies[(409, "suppressed")]) == {"status", "id", "detail", "ignored_fields"}


def test_the_spec_page_answers_what_an_integrating_affiliate_asks(client):
    VerticalFactory(slug="auto-insurance", name="Auto insurance",
                    dedupe_fields=["email", "phone"], dedupe_window_days=30)

    html = client.get("/verticals/auto-insurance/spec").content.decode()

    assert re.search(r'class="required-fields"><strong>Send these fields in every lead:</strong>'
                     r'\s*<code>first_name</code>, <code>email</code>, <code>phone</code>, '
                     r'<code>zip</code>\.', html)
    assert "last 30 days, from any source, is a duplicate (409)" in html
    for status in ("200", "202", "400", "401", "403", "409", "413", "415", "429"):
        assert f"<h3><code>{status}</code>" in html
    assert "https://cert.trustedform.com/2a5f8c3e9b1d4f6a8c0e2b4d6f8a0c2e4b6d8f0a" in html
    assert "4B1A8C9E-2F3D-4E5A-9B6C-7D8E9F0A1B2C" in html
    assert "YYYY-MM-DD" in html and "+1 212 555 0147" in html
    assert "ignored_fields" in html


def test_the_openapi_schema_documents_the_lead_api(api_client):
    response = api_client.get("/api/schema/", HTTP_ACCEPT="application/json")

    assert response.status_code == 200
    schema = response.json()
    operations = schema["paths"]["/api/v1/leads"]
    assert {"get", "post"} <= set(operations)
    assert {"202", "400", "401", "403", "409", "413", "415", "429"} <= set(
        operations["post"]["responses"])
    assert "/api/v1/verticals/{slug}/spec" in schema["paths"]


def test_the_api_docs_page_is_served_without_a_cdn(client):
    page = client.get("/api/docs/")

    assert page.status_code == 200
    assert "cdn." not in page.content.decode()
