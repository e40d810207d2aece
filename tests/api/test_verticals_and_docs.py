"""The posting spec (JSON and page) and the OpenAPI schema and docs."""

from __future__ import annotations

import pytest

from tests.factories import VerticalFactory

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
