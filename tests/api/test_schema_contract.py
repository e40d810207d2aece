"""The OpenAPI schema says what the API answers and takes: the paginated lead list, the
optional fields that may be blank, JSON types taken as written, realistic examples, and
the docs opening on the affiliate's endpoints. (``test_schemathesis.py`` checks the whole
schema against a live server; these pin the decisions one by one.)"""

from __future__ import annotations

import pytest

from tests.api.conftest import staff_token
from tests.factories import source_with_key

pytestmark = pytest.mark.django_db


@pytest.fixture
def schema(api_client) -> dict:
    return api_client.get("/api/schema/?format=json").json()


def _resolve(schema: dict, ref: dict) -> dict:
    return schema["components"]["schemas"][ref["$ref"].rsplit("/", 1)[1]]


def _staff(api_client):
    api_client.credentials(HTTP_AUTHORIZATION=f"Bearer {staff_token('ops', superuser=True)}")
    return api_client


def test_the_lead_list_is_documented_as_the_page_it_answers(schema, api_client, vertical):
    operation = schema["paths"]["/api/v1/leads"]["get"]
    page = _resolve(schema, operation["responses"]["200"]["content"]["application/json"]
                    ["schema"])
    _, key = source_with_key(vertical)

    answer = api_client.get("/api/v1/leads", HTTP_AUTHORIZATION=f"Bearer {key}").json()

    assert page["type"] == "object"
    assert set(page["properties"]) == set(answer) == {"next", "previous", "results"}
    assert page["properties"]["results"]["type"] == "array"
    assert {"400", "401", "403", "404", "429"} <= set(operation["responses"])
    params = {p["name"]: p["schema"] for p in operation["parameters"]}
    assert params["created_after"] == {"type": "string", "format": "date-time"}
    assert params["page_size"] == {"type": "integer", "minimum": 1, "maximum": 500}


@pytest.mark.parametrize(("query", "errors"), [
    ("status=", {"status": ["Give a value or leave the parameter out."]}),
    ("created_after=", {"created_after": ["Give a value or leave the parameter out."]}),
    ("page_size=0", {"page_size": ["Enter a whole number from 1 to 500."]}),
    ("page_size=501", {"page_size": ["Enter a whole number from 1 to 500."]}),
    ("page_size=ten", {"page_size": ["Enter a whole number from 1 to 500."]}),
])
def test_the_lead_list_refuses_what_its_schema_does_not_allow(api_client, vertical, query,
                                                             errors):
    _, key = source_with_key(vertical)

    response = api_client.get(f"/api/v1/leads?{query}", HTTP_AUTHORIZATION=f"Bearer {key}")

    assert response.status_code == 400
    assert response.json() == {"errors": errors}


@pytest.mark.parametrize(("query", "status", "body"), [
    ("page=0", 400, {"errors": {"page": ["Enter a whole number from 1 or more."]}}),
    ("page=x", 400, {"errors": {"page": ["Enter a whole number from 1 or more."]}}),
    ("page_size=null", 400, {"errors": {"page_size": ["Enter a whole number from 1 to 500."]}}),
    ("page=9", 404, {"detail": "Invalid page.", "code": "not_found"}),
    ("status=", 400, {"errors": {"status": ["Give a value or leave the parameter out."]}}),
])
def test_staff_lists_refuse_bad_pages_and_empty_filters(api_client, query, status, body):
    response = _staff(api_client).get(f"/api/v1/buyers?{query}")

    assert response.status_code == status
    assert response.json() == body


def test_a_blank_optional_email_is_documented_and_taken_as_none_given(schema, api_client):
    buyer_in = schema["components"]["schemas"]["BuyerInputRequest"]["properties"]
    buyer_out = schema["components"]["schemas"]["BuyerOutput"]["properties"]

    response = _staff(api_client).post("/api/v1/buyers", {"company": "Apex",
                                                          "contact_email": ""}, format="json")

    blank_or_email = [{"type": "string", "format": "email"}, {"type": "string", "maxLength": 0}]
    assert [{k: v for k, v in branch.items() if k != "maxLength" or v == 0}
            for branch in buyer_in["contact_email"]["oneOf"]] == blank_or_email
    assert buyer_out["contact_email"]["oneOf"] == blank_or_email
    assert response.status_code == 201 and response.json()["contact_email"] == ""


@pytest.mark.parametrize(("body", "errors"), [
    ({"company": 42}, {"company": ["Not a valid string."]}),
    ({"company": "Apex", "quality_multiplier": 1.5},
     {"quality_multiplier": ["A valid number is required."]}),
    ({"company": "Apex", "dedupe_window_days": "30"},
     {"dedupe_window_days": ["A valid integer is required."]}),
    ({"company": "Apex", "account_manager": "1"},
     {"account_manager": ["Incorrect type. Expected pk value, received str."]}),
])
def test_a_json_value_of_another_type_than_the_schema_says_is_refused(api_client, body,
                                                                      errors):
    response = _staff(api_client).post("/api/v1/buyers", body, format="json")

    assert response.status_code == 400
    assert response.json() == {"errors": errors}


@pytest.mark.parametrize(("verticals", "message"), [
    ([0], "Invalid value."),
    ({}, 'Expected a list of items but got type "dict".'),
])
def test_a_slug_list_takes_a_list_of_strings_only(api_client, vertical, verticals, message):
    response = _staff(api_client).post("/api/v1/sources", {"name": "Partner",
                                                           "verticals": verticals},
                                       format="json")

    assert response.status_code == 400
    assert response.json() == {"errors": {"verticals": [message]}}


def test_staff_bodies_are_json_only(api_client, schema):
    response = _staff(api_client).post("/api/v1/buyers", "company=Apex",
                                       content_type="application/x-www-form-urlencoded")

    assert response.status_code == 415
    assert set(schema["paths"]["/api/v1/buyers"]["post"]["requestBody"]["content"]) == {
        "application/json"}


def test_the_docs_open_on_the_source_endpoints(schema):
    assert [tag["name"] for tag in schema["tags"]] == ["Sources", "Buyers", "Staff", "Reports"]
    tags = {(path, method): operation["tags"] for path, methods in schema["paths"].items()
            for method, operation in methods.items()}
    assert tags[("/api/v1/leads", "post")] == ["Sources"]
    assert tags[("/api/v1/verticals/{slug}/spec", "get")] == ["Sources"]
    assert tags[("/api/v1/reports/kpis", "get")] == ["Reports"]
    assert tags[("/api/v1/returns", "post")] == ["Buyers"]
    assert {tuple(t) for t in tags.values()} == {("Sources",), ("Buyers",), ("Staff",),
                                                 ("Reports",)}


def test_examples_are_realistic(schema):
    components = schema["components"]["schemas"]
    submission = components["SubmissionRequest"]["properties"]
    assert submission["vertical"]["example"] == "auto-insurance"
    assert submission["fields"]["example"]["phone"] == "212-555-0147"
    for name, component in components.items():
        for key, prop in (component.get("properties") or {}).items():
            decimal = prop.get("format") == "decimal" or any(
                b.get("format") == "decimal" for b in prop.get("oneOf", []))
            free_form = prop.get("type") == "object" and "properties" not in prop
            if decimal or free_form:
                assert "example" in prop, f"{name}.{key} has no example"
    assert components["ContractInputRequest"]["properties"]["fixed_price"]["example"] == \
        "12.50"


def test_blank_consent_tokens_count_as_not_given_and_the_schema_says_so(schema, api_client,
                                                                        vertical):
    from tests.factories import valid_fields

    consent = schema["components"]["schemas"]["ConsentRequest"]["properties"]
    _, key = source_with_key(vertical, default_mode="async")

    response = api_client.post("/api/v1/leads", {
        "vertical": "auto-insurance", "fields": valid_fields(),
        "consent": {"trustedform_cert_url": "", "jornaya_leadid": " "}},
        format="json", HTTP_AUTHORIZATION=f"Bearer {key}")

    assert response.status_code == 202, response.json()
    for name in ("trustedform_cert_url", "jornaya_leadid"):
        assert consent[name]["oneOf"][1] == {"type": "string", "pattern": r"^\s*$"}
    assert "cert\\.trustedform\\.com/[0-9a-fA-F]{40}" in \
        consent["trustedform_cert_url"]["oneOf"][0]["pattern"]


def test_an_empty_ip_address_is_refused_as_the_schema_says(schema, api_client, vertical):
    from tests.factories import valid_fields

    ip = schema["components"]["schemas"]["SubmissionRequest"]["properties"]["ip_address"]
    _, key = source_with_key(vertical, default_mode="async")

    response = api_client.post("/api/v1/leads", {
        "vertical": "auto-insurance", "fields": valid_fields(), "ip_address": ""},
        format="json", HTTP_AUTHORIZATION=f"Bearer {key}")

    assert ip["anyOf"] == [{"format": "ipv4"}, {"format": "ipv6"}]
    assert response.status_code == 400
    assert response.json()["errors"] == {"ip_address": ["This field may not be blank."]}


def test_a_mappings_transform_is_an_enum_of_the_catalogue_with_argument_grammars(schema):
    from apps.buyers.mapping import TRANSFORMS

    row = schema["components"]["schemas"]["MappingRowRequest"]["properties"]
    refs = {choice["$ref"] for choice in row["transform"]["oneOf"]}

    assert "#/components/schemas/TransformEnum" in refs
    assert set(schema["components"]["schemas"]["TransformEnum"]["enum"]) == set(TRANSFORMS)
    assert "date_format: " in row["arg"]["description"]
    assert "age_band: " in row["arg"]["description"]


def test_the_template_list_documents_who_may_read_it(schema, api_client, vertical):
    operation = schema["paths"]["/api/v1/contracts/templates"]["get"]
    _, key = source_with_key(vertical)

    response = api_client.get("/api/v1/contracts/templates", HTTP_AUTHORIZATION=f"Bearer {key}")

    assert response.status_code == 401
    assert set(operation["responses"]) == {"200", "401", "403"}
    assert operation["responses"]["401"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/ErrorDetail"}
    assert set(response.json()) == {"detail", "code"}


@pytest.mark.parametrize(("body", "errors"), [
    ({"vertical": "auto-insurance", "template": "px", "buyer": "1"},
     {"buyer": ["Incorrect type. Expected pk value, received str."]}),
    ({"vertical": "auto-insurance", "template": "px", "name": 7},
     {"name": ["Not a valid string."]}),
    ({"vertical": "auto-insurance", "post": {"request": "a=1", "answer": 5}},
     {"post.answer": ["Not a valid string."]}),
])
def test_a_draft_takes_json_types_as_the_schema_gives_them(api_client, vertical, body,
                                                            errors):
    from tests.factories import BuyerFactory

    BuyerFactory(pk=1)

    response = _staff(api_client).post("/api/v1/contracts/draft", body, format="json")

    assert response.status_code == 400
    assert response.json() == {"errors": errors}


def test_every_operation_the_schemathesis_config_excepts_exists(schema):
    import tomllib

    from tests.api.test_schemathesis import CONFIG

    operation_ids = {operation["operationId"] for methods in schema["paths"].values()
                     for operation in methods.values()}
    excepted = {operation_id for section in tomllib.loads(CONFIG.read_text())["operations"]
                for operation_id in ([section["include-operation-id"]]
                                     if isinstance(section["include-operation-id"], str)
                                     else section["include-operation-id"])}

    assert excepted - operation_ids == set()
    assert {"contracts_draft", "contracts_test_round_trip",
            "webhooks_deliveries_redeliver_range"} <= excepted


def test_drafting_examples_are_a_drafts(schema):
    from apps.buyers.drafting import TEMPLATES

    components = schema["components"]["schemas"]
    draft = components["ContractDraft"]["properties"]["contract"]["example"]

    assert components["Template"]["properties"]["slug"]["example"] in TEMPLATES
    assert draft["status"] == "testing" and draft["vertical"] == "auto-insurance"
    assert draft["endpoints"]["post"]["mappings"][0] == {"target": "fname",
                                                         "source": "first_name"}


def test_the_schema_generates_without_a_warning():
    """``check --deploy`` (README's production step 3) runs drf-spectacular's own check: a
    warning there, such as two choice sets named alike, is a warning in production."""
    from io import StringIO

    from django.core.management import call_command

    call_command("spectacular", "--fail-on-warn", "--file", "/dev/null", stdout=StringIO(),
                 stderr=StringIO())
