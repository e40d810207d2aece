"""The test round trip (issue 11 item 6): a test ping, then the test post carrying the real
token the ping's answer gave, both marked as tests the way the buyer wants — a field, a
header or sandbox URLs — shown whole (requests with secrets masked, raw answers, parsed
results) and never stored."""

from __future__ import annotations

import json

import pytest
from django.contrib.admin.models import LogEntry
from rest_framework.test import APIClient

from apps.auctions.models import Ping, Post
from tests.api.conftest import ACCOUNT_MANAGERS, staff_token
from tests.factories import BuyerFactory, examples_set
from tests.integration.buyer_server import BuyerServer, Received, json_answer

pytestmark = pytest.mark.django_db

API_KEY = "k-9f8e7d6c5b4a"  # a secret the post carries in its body


@pytest.fixture
def server():
    server = BuyerServer()
    yield server
    server.close()


@pytest.fixture
def staff_api(vertical) -> APIClient:
    examples_set(vertical)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {staff_token('am', group=ACCOUNT_MANAGERS)}")
    return client


def _bid(request: Received):
    return json_answer(200, {"status": "bid", "price": 14.25, "ping_id": "tok-77"})


def _accept_if_token(request: Received):
    sent = request.json() if request.body else {}
    if sent.get("ping_id") != "tok-77":
        return json_answer(200, {"result": "rejected", "reason": "unknown ping_id"})
    return json_answer(200, {"result": "accepted"})


def _contract(staff_api: APIClient, server: BuyerServer, *, mode: str = "ping_post",
              ping_mappings: list | None = None, **extra) -> dict:
    endpoints = {"post": {
        "url": f"{server.url}/post", "sandbox_url": f"{server.url}/sandbox/post",
        "response": {"success_path": "result", "success_values": ["accepted"],
                     "reason_path": "reason"},
        "mappings": [{"target": "ping_id", "source": "@ping.token"},
                     {"target": "api_key", "source": "@secret.api_key"},
                     {"target": "email", "source": "email"}]}}
    if mode == "ping_post":
        endpoints["ping"] = {
            "url": f"{server.url}/ping", "sandbox_url": f"{server.url}/sandbox/ping",
            "response": {"success_path": "status", "success_values": ["bid"],
                         "price_path": "price", "token_path": "ping_id"},
            "mappings": [{"target": "zip", "source": "zip"}] if ping_mappings is None
            else ping_mappings}
    else:
        endpoints["post"]["mappings"] = endpoints["post"]["mappings"][1:]
    response = staff_api.post("/api/v1/contracts", {
        "buyer": BuyerFactory().pk, "vertical": "auto-insurance", "name": "onboarding",
        "mode": mode, "fixed_price": "20.00" if mode == "direct_post" else None,
        "endpoints": endpoints, "secrets": {"api_key": API_KEY}, **extra}, format="json")
    assert response.status_code == 201, response.json()
    return response.json()


def _round_trip(staff_api: APIClient, contract: dict) -> dict:
    response = staff_api.post(f"/api/v1/contracts/{contract['id']}/test-round-trip", {},
                              format="json")
    assert response.status_code == 200, response.json()
    return response.json()


def test_the_round_trip_carries_the_real_token_into_the_post_flagged_by_a_field(
        staff_api, server):
    server.on("/ping", _bid)
    server.on("/post", _accept_if_token)
    contract = _contract(staff_api, server, test_flag="field", test_flag_key="test",
                         test_flag_value="true", test_flag_type="boolean")

    result = _round_trip(staff_api, contract)

    assert (result["outcome"], result["flagged_as"]) == ("accepted", "field test = true")
    [ping] = server.received("/ping")
    [post] = server.received("/post")
    assert ping.json() == {"zip": "10001", "test": True}
    assert post.json()["ping_id"] == "tok-77" and post.json()["test"] is True
    assert post.json()["api_key"] == API_KEY  # the buyer gets the secret ...
    assert result["ping"]["outcome"] == "bid"
    assert result["ping"]["parsed"] == {"accepted": True, "price": "14.25", "token": "tok-77",
                                        "reason": None}
    assert '"ping_id": "tok-77"' in result["ping"]["response"]["body"]
    assert result["post"]["outcome"] == "accepted"
    assert json.loads(result["post"]["request"]["body"])["ping_id"] == "tok-77"
    assert API_KEY not in str(result)  # ... the staff see it masked
    assert json.loads(result["post"]["request"]["body"])["api_key"] == "***"
    assert result["post"]["request"]["headers"]["Idempotency-Key"].startswith("test-")
    assert not Ping.objects.exists() and not Post.objects.exists()  # nothing stored
    assert LogEntry.objects.filter(object_id=str(contract["id"])).latest(
        "action_time").change_message == "Ran a test round trip through the API: accepted."


def test_a_header_flag_reaches_both_requests(staff_api, server):
    server.on("/ping", _bid)
    server.on("/post", _accept_if_token)
    contract = _contract(staff_api, server, test_flag="header", test_flag_key="X-Test-Lead",
                         test_flag_value="1")

    result = _round_trip(staff_api, contract)

    assert (result["outcome"], result["flagged_as"]) == ("accepted", "header X-Test-Lead: 1")
    for path in ("/ping", "/post"):
        [received] = server.received(path)
        assert received.headers["x-test-lead"] == "1"
        assert "test" not in received.json()


def test_sandbox_urls_take_the_round_trip_and_the_live_urls_see_nothing(staff_api, server):
    server.on("/sandbox/ping", _bid)
    server.on("/sandbox/post", _accept_if_token)
    contract = _contract(staff_api, server, test_flag="sandbox")

    result = _round_trip(staff_api, contract)

    assert (result["outcome"], result["flagged_as"]) == ("accepted", "sent to the sandbox URLs")
    assert result["ping"]["request"]["url"] == f"{server.url}/sandbox/ping"
    assert server.received("/ping") == [] and server.received("/post") == []
    assert len(server.received("/sandbox/post")) == 1


def test_a_field_flag_joins_a_payload_that_has_no_mapping_rows(staff_api, server):
    """Without rows every (non-PII) field goes under its own name; the flag is added to
    them, not put in their place."""
    server.on("/ping", lambda request: json_answer(200, {"status": "no_bid"}))
    contract = _contract(staff_api, server, ping_mappings=[], test_flag="field",
                         test_flag_key="is_test", test_flag_value="1",
                         test_flag_type="integer")

    result = _round_trip(staff_api, contract)

    [ping] = server.received("/ping")
    assert ping.json()["is_test"] == 1 and ping.json()["zip"] == "10001"
    assert "email" not in ping.json()  # PII stays out of a ping
    assert (result["outcome"], result["post"]) == ("no_bid", None)
    assert result["detail"] == "No post sent: no_bid."
    assert server.received("/post") == []


def test_an_unflagged_round_trip_says_the_buyer_was_not_told(staff_api, server):
    server.on("/ping", _bid)
    server.on("/post", _accept_if_token)
    contract = _contract(staff_api, server)

    result = _round_trip(staff_api, contract)

    assert (result["outcome"], result["flagged_as"]) == ("accepted", "")


def test_a_direct_post_contract_round_trips_its_post_alone(staff_api, server):
    server.on("/post", lambda request: json_answer(200, {"result": "accepted"}))
    contract = _contract(staff_api, server, mode="direct_post", test_flag="field",
                         test_flag_key="Lead.Test", test_flag_value="Yes")

    result = _round_trip(staff_api, contract)

    assert result["ping"] is None and result["outcome"] == "accepted"
    [post] = server.received("/post")
    assert post.json()["Lead"] == {"Test": "Yes"}


@pytest.mark.parametrize(("flag", "path", "message"), [
    pytest.param({"test_flag": "field", "test_flag_key": "zip", "test_flag_value": "1"},
                 "test_flag_key", "On the ping: 'zip' is written by two rules",
                 id="field-taking-a-mapped-key"),
    pytest.param({"test_flag": "field", "test_flag_key": "test", "test_flag_value": "yes",
                  "test_flag_type": "boolean"},
                 "test_flag_value", "'yes' is not a boolean", id="field-value-not-its-type"),
    pytest.param({"test_flag": "field", "test_flag_key": ""}, "test_flag_key",
                 "Say under which key", id="field-without-a-key"),
    pytest.param({"test_flag": "header", "test_flag_key": "X Test", "test_flag_value": "1"},
                 "test_flag_key", "'X Test' is not a header name", id="header-name-invalid"),
    pytest.param({"test_flag": "sandbox"}, "endpoints.ping.sandbox_url",
                 "give this endpoint's sandbox URL", id="sandbox-url-missing"),
])
def test_a_test_flag_that_cannot_be_sent_is_refused_naming_the_field(
        staff_api, server, flag, path, message):
    body = {"buyer": BuyerFactory().pk, "vertical": "auto-insurance", "name": "x",
            "endpoints": {
                "ping": {"url": f"{server.url}/ping", "response": {"price_path": "price"},
                         "mappings": [{"target": "zip", "source": "zip"}]},
                "post": {"url": f"{server.url}/post", "sandbox_url": f"{server.url}/sb"}},
            **flag}

    response = staff_api.post("/api/v1/contracts", body, format="json")

    assert response.status_code == 400
    errors = response.json()["errors"]
    assert list(errors) == [path], errors
    assert message in errors[path][0]
