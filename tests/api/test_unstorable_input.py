"""Input PostgreSQL cannot store — a NUL character, an unpaired UTF-16 surrogate — is a 400
naming where it was (body key by dotted path, form key, query parameter, header), never a 500
from the database, and nothing is written. SQLite stores both, so these run on PostgreSQL."""

from __future__ import annotations

import copy
import json
from urllib.parse import urlencode

import pytest
from django.contrib.auth import get_user_model

from apps.buyers.models import Buyer, Contract, ContractFilter, Endpoint
from apps.leads.models import IdempotencyRecord, Lead
from apps.sources.models import Source, Vertical
from tests.api.staff_payloads import contract_payload, vertical_payload
from tests.factories import BuyerFactory, source_with_key, valid_fields

pytestmark = [pytest.mark.postgres, pytest.mark.django_db]

NUL = "Null characters are not allowed."
SURROGATE = "Surrogate characters are not allowed: U+{:X}."
SIM = "http://127.0.0.1:9"  # never called: the request is refused before any view code runs


def _nothing_written() -> None:
    assert Lead.objects.count() == 0
    assert IdempotencyRecord.objects.count() == 0


@pytest.fixture
def key(vertical):
    return source_with_key(vertical, default_mode="async")[1]


def _capture(api_client, key, body: str, content_type="application/json", **headers):
    return api_client.post("/api/v1/leads", data=body, content_type=content_type,
                           HTTP_AUTHORIZATION=f"Bearer {key}", **headers)


def _lead(**changes) -> dict:
    body = {"vertical": "auto-insurance", "fields": valid_fields(), "sub_id": "s",
            "sub_ids": {"sub_id2": "s2"}, "user_agent": "Mozilla/5.0", "ip_address": "8.8.8.8",
            "consent": {"tcpa_text": "I agree", "tcpa_consent": True}, "test": False}
    for path, value in changes.items():
        *parents, last = path.split("__")
        node = body
        for name in parents:
            node = node[name]
        node[last] = value
    return body


# --- lead capture, JSON: every key of the envelope and of fields, in keys and values --------

CAPTURE_CASES = [
    ({"vertical": "auto-insurance\x00"}, "vertical"),
    ({"fields__first_name": "Ja\x00ne"}, "fields.first_name"),
    ({"fields__zip": "10001\x00"}, "fields.zip"),
    ({"fields__nick\x00name": "Jay"}, "fields.nick\\u0000name"),
    ({"sub_id": "camp\x00"}, "sub_id"),
    ({"sub_ids__sub_id2": "\x00"}, "sub_ids.sub_id2"),
    ({"consent__tcpa_text": "I agree\x00"}, "consent.tcpa_text"),
    ({"ip_address": "8.8.8.8\x00"}, "ip_address"),
    ({"user_agent": "Mozilla\x00"}, "user_agent"),
    ({"test": "true\x00"}, "test"),
    ({"fields__tags": ["a", {"deep": "b\x00"}]}, "fields.tags.1.deep"),
]


@pytest.mark.parametrize(("changes", "path"), CAPTURE_CASES)
def test_a_nul_anywhere_in_a_json_lead_is_a_400_naming_it(api_client, key, changes, path):
    response = _capture(api_client, key, json.dumps(_lead(**changes)))

    assert response.status_code == 400
    assert response.json() == {"errors": {path: [NUL]}}
    _nothing_written()


@pytest.mark.parametrize(("raw", "path", "code"), [
    ('"vertical": "auto\\ud800"', "vertical", 0xD800),
    ('"fields": {"first_name": "\\udfff"}', "fields.first_name", 0xDFFF),
    ('"sub_id": "\\ud83d"', "sub_id", 0xD83D),  # half of an emoji's pair
])
def test_an_unpaired_surrogate_in_a_json_lead_is_a_400_naming_it(api_client, key, raw, path,
                                                                 code):
    body = json.dumps(_lead())
    name = raw.split('"')[1]
    start = body.index(f'"{name}": ')
    # replace that key's value with the raw JSON text carrying the escape
    value_end = start + len(f'"{name}": ') + len(json.dumps(_lead()[name]))
    body = body[:start] + raw + body[value_end:]

    response = _capture(api_client, key, body)

    assert response.status_code == 400
    assert response.json() == {"errors": {path: [SURROGATE.format(code)]}}
    _nothing_written()


def test_a_surrogate_pair_is_a_character_and_is_stored(api_client, key):
    body = json.dumps(_lead(sub_id="camp-\U0001F600"))  # json.dumps writes the pair

    response = _capture(api_client, key, body)

    assert response.status_code == 202, response.json()
    assert Lead.objects.get().sub_id == "camp-\U0001F600"


def test_every_bad_key_is_named_at_once(api_client, key):
    body = _lead(vertical="auto\x00", sub_id="\x00", fields__first_name="\x00")

    response = _capture(api_client, key, json.dumps(body))

    assert response.json() == {"errors": {"vertical": [NUL], "sub_id": [NUL],
                                          "fields.first_name": [NUL]}}


# --- lead capture, form-encoded, and the Idempotency-Key header ------------------------------

@pytest.mark.parametrize(("form", "name"), [
    ({"vertical": "auto-insurance\x00"}, "vertical"),
    ({"first_name": "Jane\x00"}, "first_name"),
    ({"sub_id": "\x00"}, "sub_id"),
    ({"jornaya_leadid": "\x00"}, "jornaya_leadid"),
    ({"x\x00y": "1"}, "x\\u0000y"),
])
def test_a_nul_in_a_form_lead_is_a_400_naming_the_key(api_client, key, form, name):
    body = urlencode({"vertical": "auto-insurance", **valid_fields(), **form})
    assert "%00" in body

    response = _capture(api_client, key, body, "application/x-www-form-urlencoded")

    assert response.status_code == 400
    assert response.json() == {"errors": {name: [NUL]}}
    _nothing_written()


def test_a_nul_in_the_idempotency_key_is_a_400_naming_the_header(api_client, key):
    response = _capture(api_client, key, json.dumps(_lead()), HTTP_IDEMPOTENCY_KEY="k\x00")

    assert response.status_code == 400
    assert response.json() == {"errors": {"Idempotency-Key": [NUL]}}
    _nothing_written()


# --- query parameters: the API's lists and the HTML pages -----------------------------------

@pytest.mark.parametrize("query", ["sub_id=%00", "status=sold%00", "x%00=1", "mode=sync%00"])
def test_a_nul_in_a_query_parameter_of_the_source_api_is_a_400(api_client, key, query):
    name = "x\\u0000" if query.startswith("x") else query.split("=")[0]
    for method in ("get", "post"):
        response = getattr(api_client, method)(f"/api/v1/leads?{query}",
                                                HTTP_AUTHORIZATION=f"Bearer {key}")

        assert response.status_code == 400
        assert response.json() == {"errors": {name: [NUL]}}
    _nothing_written()


@pytest.mark.parametrize("url", ["/api/v1/buyers?company=%00", "/api/v1/contracts?vertical=a%00",
                                 "/api/v1/sources?name=%00", "/api/v1/reports/kpis?tz=UTC%00",
                                 "/api/v1/verticals?page_size=1%00"])
def test_a_nul_in_a_query_parameter_of_the_staff_api_is_a_400(am_client, url):
    response = am_client.get(url)

    assert response.status_code == 400
    name = url.split("?")[1].split("=")[0]
    assert response.json() == {"errors": {name: [NUL]}}


@pytest.mark.parametrize("url", ["/admin/leads/lead/?q=%00", "/admin/sources/source/?q=a%00",
                                 "/dashboard/?vertical=%00"])
def test_a_nul_in_a_query_parameter_of_a_page_is_a_400(admin_client, url):
    response = admin_client.get(url)

    assert response.status_code == 400
    name = url.split("?")[1].split("=")[0]
    assert response.content.decode() == f"Bad request: {name}: {NUL}"


def test_a_nul_in_a_cookie_is_a_400_not_a_session_lookup(client):
    client.cookies["sessionid"] = "abcdefgh\x00"

    response = client.get("/admin/")

    assert response.status_code == 400
    assert response.content.decode() == f"Bad request: Cookie: {NUL}"


# --- staff API writes: sources, buyers, verticals, contracts and their nested rules ---------

def _contract(buyer_id: int) -> dict:
    return contract_payload(buyer_id, SIM)


@pytest.fixture
def buyer(db):
    return BuyerFactory()


def _bad(payload: dict, path: list, value) -> dict:
    payload = copy.deepcopy(payload)
    node = payload
    for name in path[:-1]:
        node = node[name]
    node[path[-1]] = value
    return payload


STAFF_CASES = [
    ("/api/v1/sources", lambda b: {"name": "A\x00", "verticals": ["auto-insurance"]}, "name"),
    ("/api/v1/sources", lambda b: {"name": "A", "verticals": ["auto-insurance"],
                                   "ip_allowlist": ["10.0.0.0/8\x00"]}, "ip_allowlist.0"),
    ("/api/v1/buyers", lambda b: {"company": "Acme\x00", "timezone": "UTC"}, "company"),
    ("/api/v1/verticals", lambda b: vertical_payload("pets", name="Pets\ud800"), "name"),
    ("/api/v1/verticals",
     lambda b: _bad(vertical_payload("pets"), ["fields", 11, "choices", 0], "ok\x00"),
     "fields.11.choices.0"),
    ("/api/v1/contracts", lambda b: _bad(_contract(b), ["name"], "offer\x00"), "name"),
    ("/api/v1/contracts", lambda b: _bad(_contract(b), ["filters", 0, "value", 1], "N\x00J"),
     "filters.0.value.1"),
    ("/api/v1/contracts", lambda b: _bad(_contract(b), ["caps", 0, "limit"], "1\x00"),
     "caps.0.limit"),
    ("/api/v1/contracts",
     lambda b: _bad(_contract(b), ["endpoints", "ping", "mappings", 0, "target"], "z\x00"),
     "endpoints.ping.mappings.0.target"),
    ("/api/v1/contracts",
     lambda b: _bad(_contract(b), ["endpoints", "post", "headers"], {"X-K\x00": "v"}),
     "endpoints.post.headers.X-K\\u0000"),
    ("/api/v1/contracts",
     lambda b: _bad(_contract(b), ["endpoints", "post", "response", "success_values"],
                    ["ok\ud800"]),
     "endpoints.post.response.success_values.0"),
]


@pytest.mark.parametrize(("url", "payload", "path"), STAFF_CASES)
def test_a_staff_write_with_unstorable_text_is_a_400_naming_it(am_client, vertical, buyer, url,
                                                               payload, path):
    counts = _counts()
    body = json.dumps(payload(buyer.pk))  # ensure_ascii: NUL and lone surrogates as \u escapes

    response = am_client.post(url, data=body, content_type="application/json")

    assert response.status_code == 400
    message = NUL if "\\u0000" in body else SURROGATE.format(0xD800)
    assert response.json() == {"errors": {path: [message]}}
    assert _counts() == counts


def test_an_undeclared_member_is_ignored_whatever_it_holds(am_client, vertical):
    """The schema lets a body carry members an operation does not declare, and the API
    ignores them (DRF): one holding a NUL deep inside is ignored too, not a 400 (schemathesis
    sent such a body to ``POST /sources/{id}/keys``)."""
    source, _ = source_with_key(vertical)
    body = {"name": "partner", "extra": {"\x06\x00 UV": {}}, "nil": [{"\x13": "\x00"}]}

    response = am_client.post(f"/api/v1/sources/{source.pk}/keys", data=json.dumps(body),
                              content_type="application/json")

    assert response.status_code == 201, response.json()
    assert response.json()["key"]["name"] == "partner"


def test_a_staff_patch_with_a_nul_is_a_400_and_changes_nothing(am_client, vertical, buyer):
    created = am_client.post("/api/v1/contracts", data=json.dumps(_contract(buyer.pk)),
                             content_type="application/json")
    assert created.status_code == 201, created.json()
    url = f"/api/v1/contracts/{created.json()['id']}"

    response = am_client.patch(url, data=json.dumps({"name": "x\x00", "filters": []}),
                               content_type="application/json")

    assert response.status_code == 400
    assert response.json() == {"errors": {"name": [NUL]}}
    assert am_client.get(url).json() == created.json()


def test_a_staff_form_encoded_write_is_refused_before_its_nul_is_read(am_client):
    """Staff writes are JSON only: a form body — NUL or not — is a 415, nothing written."""
    response = am_client.post("/api/v1/buyers", data=urlencode({"company": "Acme\x00"}),
                              content_type="application/x-www-form-urlencoded")

    assert response.status_code == 415
    assert response.json()["code"] == "unsupported_media_type"
    assert not Buyer.objects.exists()


def _counts() -> tuple[int, ...]:
    return (Source.objects.count(), Buyer.objects.count(), Vertical.objects.count(),
            Contract.objects.count(), ContractFilter.objects.count(), Endpoint.objects.count(),
            get_user_model().objects.count())


# --- admin forms: JSON text areas carry escapes the form's own NUL check cannot see ---------

def test_an_admin_json_field_with_a_nul_escape_is_a_form_error(admin_client, vertical):
    form = {"slug": "pets", "name": "Pets", "description": "", "default_floor": "1.00",
            "dedupe_fields": '["email\\u0000"]', "dedupe_match": "any",
            "dedupe_window_days": "30", "is_active": "on",
            "fields-TOTAL_FORMS": "0", "fields-INITIAL_FORMS": "0"}

    response = admin_client.post("/admin/sources/vertical/add/", form)

    assert response.status_code == 200  # the form again, with the error on the field
    assert response.context["adminform"].form.errors == {"dedupe_fields": [NUL]}
    assert not Vertical.objects.filter(slug="pets").exists()
