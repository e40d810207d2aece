"""Buyers integrated by configuration alone (issue 11): each buyer below is a local server
that checks what it gets the way its published spec says, and each contract is written
through the staff API only (``POST /api/v1/contracts`` with a staff token).

(a) wants an age and a birth year on the ping — derived from the PII birth date, which
    itself never leaves on a ping;
(b) takes a form post with literal dotted keys (``Lead.FirstName``);
(c) takes a credential in the body and one in the query string — neither ever appears in a
    stored row, a log line or an API answer;
(d) answers 401 / 422 to a bad ping: ``error`` with the buyer's own message, counted by the
    circuit breaker until it trips.
"""

from __future__ import annotations

import logging
from datetime import date

import pytest
from rest_framework.test import APIClient

from apps.auctions.models import Ping, Post, Sale
from apps.leads.models import Lead
from tests.api.conftest import ACCOUNT_MANAGERS, staff_token
from tests.factories import BuyerFactory, consumer_fields, lead_submit, source_with_key
from tests.integration.buyer_server import BuyerServer, Received, json_answer

pytestmark = pytest.mark.django_db

BIRTH = date(1985, 4, 12)


@pytest.fixture
def buyer_server():
    server = BuyerServer()
    yield server
    server.close()


@pytest.fixture
def staff_api() -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {staff_token('am', group=ACCOUNT_MANAGERS)}")
    return client


def _age(today: date) -> int:
    return today.year - BIRTH.year - ((today.month, today.day) < (BIRTH.month, BIRTH.day))


def contract_create(staff_api: APIClient, *, ping: dict | None, post: dict, **extra) -> dict:
    """Create a contract through the staff API and switch it live; return the creation's
    answer."""
    body = {"buyer": BuyerFactory().pk, "vertical": "auto-insurance", "name": "offer",
            "mode": "ping_post" if ping else "direct_post", "accepts_test_leads": True,
            "endpoints": {"post": post, **({"ping": ping} if ping else {})}, **extra}
    response = staff_api.post("/api/v1/contracts", body, format="json")
    assert response.status_code == 201, response.json()
    live = staff_api.post(f"/api/v1/contracts/{response.json()['id']}/go-live")
    assert live.status_code == 200, live.json()
    return response.json()


PING_RESPONSE = {"format": "json", "success_path": "status", "success_values": ["bid"],
                 "price_path": "price", "token_path": "token"}
POST_RESPONSE = {"format": "json", "success_path": "result", "success_values": ["accepted"],
                 "reason_path": "reason"}


def _bid(price: str, token: str = "tok-1"):  # noqa: S107 - a bid token
    return lambda request: json_answer(200, {"status": "bid", "price": price, "token": token})


def _accept(request: Received):
    return json_answer(200, {"result": "accepted"})


# --- (a) derived values on the ping ----------------------------------------------------------


def test_a_buyer_wanting_an_age_and_a_birth_year_on_the_ping_buys_the_lead(
        staff_api, api_client, vertical, buyer_server):
    def ping(request: Received):
        sent = request.json()
        if not (isinstance(sent.get("age"), int) and sent.get("birth_year") == BIRTH.year):
            return json_answer(422, {"message": "age and birth_year are required"})
        return _bid("11.00")(request)

    buyer_server.on("/a/ping", ping)
    buyer_server.on("/a/post", _accept)
    contract = contract_create(staff_api, ping={
        "url": f"{buyer_server.url}/a/ping", "response": PING_RESPONSE,
        "mappings": [{"target": "zip", "source": "zip"},
                     {"target": "age", "source": "date_of_birth", "transform": "age"},
                     {"target": "birth_year", "source": "date_of_birth",
                      "transform": "birth_year"},
                     {"target": "band", "source": "date_of_birth", "transform": "age_band",
                      "arg": "18|25|35|45|55|65"}],
    }, post={"url": f"{buyer_server.url}/a/post", "response": POST_RESPONSE,
             "mappings": [{"target": "token", "source": "@ping.token"},
                          {"target": "dob", "source": "date_of_birth"},
                          {"target": "email", "source": "email"}]})
    _, key = source_with_key(vertical)

    answer = lead_submit(api_client, key, consumer_fields(1, date_of_birth=BIRTH.isoformat()))

    assert answer.json()["status"] == "sold", answer.json()
    [sent] = buyer_server.received("/a/ping")
    age = sent.json()["age"]
    assert age in (_age(date.today()), _age(date.today()) - 1)  # the UTC day may lag
    assert sent.json() == {"zip": "10001", "age": age, "birth_year": 1985,
                           "band": "35-44" if age < 45 else "45-54"}
    assert BIRTH.isoformat() not in sent.body.decode()
    ping_row = Ping.objects.get(contract_id=contract["id"])
    assert '"birth_year":1985' in ping_row.request_body
    assert BIRTH.isoformat() not in ping_row.request_body
    [post] = buyer_server.received("/a/post")
    assert post.json()["dob"] == BIRTH.isoformat()  # the post carries the PII itself
    assert BIRTH.isoformat() not in Post.objects.get(contract_id=contract["id"]).request_body
    assert Sale.objects.get(lead__uuid=answer.json()["id"]).contract_id == contract["id"]


def test_a_ping_row_reading_pii_without_a_deriving_transform_is_refused(staff_api, vertical):
    response = staff_api.post("/api/v1/contracts", {
        "buyer": BuyerFactory().pk, "vertical": "auto-insurance", "name": "offer",
        "endpoints": {
            "ping": {"url": "http://127.0.0.1:9/p", "response": PING_RESPONSE, "mappings": [
                {"target": "age", "source": "date_of_birth", "transform": "age"},
                {"target": "dob", "source": "date_of_birth", "transform": "date_format",
                 "arg": "%Y"}]},
            "post": {"url": "http://127.0.0.1:9/q", "response": POST_RESPONSE,
                     "mappings": [{"target": "token", "source": "@ping.token"}]}}},
        format="json")

    assert response.status_code == 400
    errors = response.json()["errors"]
    assert list(errors) == ["endpoints.ping.mappings.1.source"]
    assert "'date_of_birth' is personal data" in errors["endpoints.ping.mappings.1.source"][0]
    assert "age, age_band, birth_year" in errors["endpoints.ping.mappings.1.source"][0]


def test_a_raw_pii_value_never_reaches_a_ping_even_from_a_row_that_bypassed_the_check(
        api_client, vertical, buyer_server):
    """Defence in depth: a row saved before a field became PII (or written around the
    API) is skipped at run time; the derived rows next to it still go out."""
    from apps.buyers.models import FieldMapping
    from tests.factories import sim_contract

    contract = sim_contract(vertical, buyer_server.url, ping_mappings=[
        {"target": "zip", "source": "zip"},
        {"target": "area", "source": "phone", "transform": "phone_area_code"}],
        post_mappings=[{"target": "token", "source": "@ping.token"}])
    buyer_server.on(f"/b{contract.pk}/ping", _bid("9.00"))
    buyer_server.on(f"/b{contract.pk}/post", _accept)
    FieldMapping.objects.create(contract=contract, kind="ping", target="mail", source="email",
                                position=9)
    contract.save()
    _, key = source_with_key(vertical)

    answer = lead_submit(api_client, key, consumer_fields(3))

    assert answer.json()["status"] == "sold"
    [sent] = buyer_server.received(f"/b{contract.pk}/ping")
    assert sent.json() == {"zip": "10001", "area": "212"}
    lead = Lead.objects.get(uuid=answer.json()["id"])
    assert lead.fields["email"] not in Ping.objects.get(contract=contract).request_body


# --- (b) a form post with literal dotted keys ------------------------------------------------

DOTTED_KEYS = ["Lead.FirstName", "Lead.LastName", "Lead.Email", "Lead.Phone",
               "Lead.PingId", "Drivers[0].BirthDate"]


def test_a_buyer_taking_a_form_post_with_literal_dotted_keys_buys_the_lead(
        staff_api, api_client, vertical, buyer_server):
    def post(request: Received):
        sent = request.form()
        if sorted(sent) != sorted(DOTTED_KEYS) or sent["Lead.PingId"] != ["dk-7"]:
            return json_answer(200, {"result": "rejected", "reason": f"keys {sorted(sent)}"})
        return _accept(request)

    buyer_server.on("/b/ping", _bid("14.00", token="dk-7"))
    buyer_server.on("/b/post", post)
    contract = contract_create(staff_api, ping={
        "url": f"{buyer_server.url}/b/ping", "response": PING_RESPONSE,
        "mappings": [{"target": "zip", "source": "zip"}],
    }, post={
        "url": f"{buyer_server.url}/b/post", "body_format": "form", "key_style": "dotted",
        "response": POST_RESPONSE,
        "mappings": [{"target": "Lead.FirstName", "source": "first_name"},
                     {"target": "Lead.LastName", "source": "last_name"},
                     {"target": "Lead.Email", "source": "email"},
                     {"target": "Lead.Phone", "source": "phone", "transform": "phone_10"},
                     {"target": "Lead.PingId", "source": "@ping.token"},
                     {"target": "Drivers[0].BirthDate", "source": "date_of_birth",
                      "transform": "date_format", "arg": "%m/%d/%Y"}]})
    assert [row["wire_key"] for row in contract["endpoints"]["post"]["mappings"]] == DOTTED_KEYS
    _, key = source_with_key(vertical)

    answer = lead_submit(api_client, key, consumer_fields(4, date_of_birth="1985-04-12"))

    assert answer.json()["status"] == "sold", Post.objects.values_list("reason", flat=True)
    [sent] = buyer_server.received("/b/post")
    assert sent.headers["content-type"] == "application/x-www-form-urlencoded"
    assert sent.form()["Drivers[0].BirthDate"] == ["04/12/1985"]
    assert sent.form()["Lead.Phone"] == ["2125550004"]


# --- (c) credentials in the body and in the query string -----------------------------------

API_KEY = "qk-7f3/9+Z&x"  # the ping's key, in its query string
API_TOKEN = "tok_Secret-4242"  # a test credential, in both bodies
POST_KEY = "pk-99=aa"  # the post's query-string key (auth type query_key)
SECRETS = (API_KEY, API_TOKEN, POST_KEY)


def _traces(text: str) -> list[str]:
    """Every spelling of a test secret found in ``text``."""
    from urllib.parse import quote, quote_plus

    spellings = {s for secret in SECRETS for s in (secret, quote(secret, safe=""),
                                                   quote_plus(secret))}
    return sorted(s for s in spellings if s in text)


def test_a_buyer_taking_credentials_in_the_body_and_the_query_string_buys_the_lead_and_no_secret_is_kept(  # noqa: E501
        staff_api, api_client, vertical, buyer_server, caplog):
    from django.contrib.admin.models import LogEntry

    from apps.buyers.models import ContractSecret, Endpoint

    caplog.set_level(logging.DEBUG)

    def ping(request: Received):
        sent = request.json()
        if (request.query.get("api_key") != [API_KEY] or sent["auth"] != {"token": API_TOKEN}
                or sent["vendor_id"] != 77 or sent["sandbox"] is not False):
            return json_answer(401, {"message": "bad credentials"})
        # a buyer echoing the credential back: it must not be stored either
        return json_answer(200, {"status": "bid", "price": "12.00", "token": "c-1",
                                 "echo": API_TOKEN})

    def post(request: Received):
        if request.query.get("key") != [POST_KEY] or request.form()["api_token"] != [API_TOKEN]:
            return json_answer(401, {"result": "rejected", "reason": "bad credentials"})
        return json_answer(200, {"result": "accepted", "reason": f"key {POST_KEY} ok"})

    buyer_server.on("/c/ping", ping)
    buyer_server.on("/c/post", post)
    created = contract_create(staff_api, secrets={"api_key": API_KEY, "api_token": API_TOKEN},
                              ping={
        "url": f"{buyer_server.url}/c/ping?campaign=9&api_key={{secret.api_key}}",
        "response": PING_RESPONSE,
        "mappings": [{"target": "zip", "source": "zip"},
                     {"target": "auth.token", "source": "@secret.api_token"},
                     {"target": "vendor_id", "constant": "77", "constant_type": "integer"},
                     {"target": "sandbox", "constant": "false", "constant_type": "boolean"}],
    }, post={
        "url": f"{buyer_server.url}/c/post", "body_format": "form",
        "auth_type": "query_key", "auth_name": "key", "auth_secret": POST_KEY,
        "response": POST_RESPONSE,
        "mappings": [{"target": "token", "source": "@ping.token"},
                     {"target": "api_token", "source": "@secret.api_token"},
                     {"target": "email", "source": "email"}]})
    _, key = source_with_key(vertical)

    answer = lead_submit(api_client, key, consumer_fields(5))

    assert answer.json()["status"] == "sold", answer.json()
    [sent] = buyer_server.received("/c/ping")
    assert sent.json()["vendor_id"] == 77 and sent.json()["sandbox"] is False
    assert sent.query["campaign"] == ["9"]
    # stored apart: the endpoint keeps the placeholder, the secret its own row
    assert Endpoint.objects.get(contract_id=created["id"], kind="ping").url.endswith(
        "api_key={secret.api_key}")
    assert dict(ContractSecret.objects.filter(contract_id=created["id"]).values_list(
        "name", "value")) == {"api_key": API_KEY, "api_token": API_TOKEN}
    ping_row = Ping.objects.get(contract_id=created["id"])
    assert '"auth":{"token":"***"}' in ping_row.request_body
    assert '"echo": "***"' in ping_row.response_body or '"echo":"***"' in ping_row.response_body

    # what the staff API answers about the contract and its tools
    contract_url = f"/api/v1/contracts/{created['id']}"
    answers = [created, staff_api.get(contract_url).json(),
               staff_api.get("/api/v1/contracts").json(),
               staff_api.post(f"{contract_url}/test-ping", {}, format="json").json(),
               staff_api.get(f"{contract_url}/preview").json()]
    assert answers[1]["secret_names"] == ["api_key", "api_token"]
    assert answers[3]["outcome"] == "bid", answers[3]
    assert "***" in answers[3]["request"]["url"]
    # every stored row, the audit log, every log line and every API answer: no secret
    stored = [*Ping.objects.values_list("request_body", "response_body", "detail", "token"),
              *Post.objects.values_list("request_body", "response_body", "reason", "token"),
              *LogEntry.objects.values_list("change_message", "object_repr")]
    assert _traces(repr(stored)) == []
    assert _traces(caplog.text) == []
    assert _traces(repr(answers)) == []


def test_a_credential_in_clear_in_an_endpoint_url_is_refused_and_not_echoed(staff_api,
                                                                            vertical):
    response = staff_api.post("/api/v1/contracts", {
        "buyer": BuyerFactory().pk, "vertical": "auto-insurance", "name": "offer",
        "mode": "direct_post", "fixed_price": "10.00",
        "endpoints": {"post": {"url": f"http://127.0.0.1:9/p?campaign=1&API-Key={API_KEY}",
                               "response": POST_RESPONSE}}}, format="json")

    assert response.status_code == 400
    [message] = response.json()["errors"]["endpoints.post.url"]
    assert "'API-Key' holds a credential in clear" in message
    assert "API-Key={secret.api_key}" in message
    assert _traces(response.content.decode()) == []


# --- (d) 401 / 422 to a bad ping ------------------------------------------------------------


@pytest.mark.parametrize(("status", "answer", "message"), [
    pytest.param(401, {"message": "Invalid API key"}, "HTTP 401: Invalid API key", id="401"),
    pytest.param(422, {"errors": [{"field": "zip", "message": "zip is required"}]},
                 "HTTP 422: zip is required", id="422"),
])
def test_a_ping_refused_with_a_4xx_is_an_error_with_the_buyers_message_and_trips_the_breaker(
        staff_api, api_client, vertical, buyer_server, status, answer, message):
    from datetime import timedelta

    from django.utils import timezone

    from apps.auctions.selectors import contract_health
    from apps.buyers.models import Contract
    from apps.reports.models import ContractHour
    from apps.reports.services import rollup_refresh

    buyer_server.on("/d/ping", lambda request: json_answer(status, answer))
    contract = contract_create(staff_api, error_count=2, ping={
        "url": f"{buyer_server.url}/d/ping", "response": PING_RESPONSE,
        "mappings": [{"target": "zip", "source": "zip"}],
    }, post={"url": f"{buyer_server.url}/d/post", "response": POST_RESPONSE,
             "mappings": [{"target": "token", "source": "@ping.token"}]})
    _, key = source_with_key(vertical)

    first = lead_submit(api_client, key, consumer_fields(6)).json()
    assert Contract.objects.get(pk=contract["id"]).auto_paused_at is None  # one failure
    second = lead_submit(api_client, key, consumer_fields(7)).json()

    assert (first["status"], second["status"]) == ("unsold", "unsold")
    pings = Ping.objects.filter(contract_id=contract["id"]).order_by("pk")
    assert [(p.outcome, p.http_status, p.detail) for p in pings] == [
        ("error", status, message)] * 2
    paused = Contract.objects.get(pk=contract["id"])
    assert paused.auto_paused_at is not None
    assert paused.auto_pause_reason == "2 consecutive failed requests"
    assert contract_health(paused).last_error == f"error: {message}"
    third = lead_submit(api_client, key, consumer_fields(8)).json()  # no longer pinged
    assert third["status"] == "unsold" and len(buyer_server.received("/d/ping")) == 2
    assert Ping.objects.filter(contract_id=contract["id"]).last().outcome == "paused"
    now = timezone.now()
    rollup_refresh(now - timedelta(hours=2), now + timedelta(hours=1))
    hours = ContractHour.objects.filter(contract_id=contract["id"])
    assert sum(h.errors for h in hours) == 2 and sum(h.pings for h in hours) == 2


def test_a_post_refused_with_a_4xx_is_rejected_with_the_buyers_message_not_retried(
        staff_api, api_client, vertical, buyer_server):
    buyer_server.on("/e/ping", _bid("8.00"))
    buyer_server.on("/e/post", lambda request: json_answer(
        422, {"error": {"message": "phone is not a mobile number"}}))
    contract = contract_create(staff_api, ping={
        "url": f"{buyer_server.url}/e/ping", "response": PING_RESPONSE,
        "mappings": [{"target": "zip", "source": "zip"}],
    }, post={"url": f"{buyer_server.url}/e/post",
             "response": {"format": "json", "success_path": "result",
                          "success_values": ["accepted"]},
             "mappings": [{"target": "token", "source": "@ping.token"}]})
    _, key = source_with_key(vertical)

    answer = lead_submit(api_client, key, consumer_fields(9)).json()

    assert answer["status"] == "unsold"
    [post] = Post.objects.filter(contract_id=contract["id"])
    assert (post.outcome, post.http_status, post.reason) == (
        "rejected", 422, "HTTP 422: phone is not a mobile number")
    assert len(buyer_server.received("/e/post")) == 1  # a refusal is not retried
    assert Ping.objects.get(contract_id=contract["id"]).outcome == "bid"
