"""Contracts through the staff API: every misconfiguration refused by name with nothing
written (the checks the admin runs too), and the nested write semantics — PUT replaces the
rule sets, PATCH leaves out what it does not name — reaching the next auction."""

from __future__ import annotations

import copy
from collections.abc import Callable
from datetime import datetime, timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from apps.buyers.models import CapCounter, Contract, ContractFilter, Endpoint, FieldMapping
from tests.api.staff_payloads import contract_payload, sim_path
from tests.factories import (
    BuyerFactory,
    VerticalFactory,
    lead_submit,
    process_warm,
    sim_contract,
    source_with_key,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def buyer():
    return BuyerFactory(company="Acme")


def _ping(body: dict) -> dict:
    return body["endpoints"]["ping"]


def _post(body: dict) -> dict:
    return body["endpoints"]["post"]


def _direct_post_with_price_path(body: dict) -> None:
    body.update(mode="direct_post", fixed_price="15.00")
    del body["endpoints"]["ping"]
    _post(body)["response"]["price_path"] = "price"
    body["endpoints"]["post"]["mappings"] = [{"target": "email", "source": "email"}]


MISCONFIGURATIONS: list = [
    pytest.param(lambda b: _post(b)["mappings"].append({"target": "x", "source": "shoe_size"}),
                 "endpoints.post.mappings.2.source", "shoe_size", id="unknown-source-field"),
    pytest.param(lambda b: _ping(b)["mappings"].append({"target": "mail", "source": "email"}),
                 "endpoints.ping.mappings.1.source", "personal data", id="pii-in-ping"),
    pytest.param(lambda b: _ping(b)["mappings"].append({"target": "t", "source": "@ping.token"}),
                 "endpoints.ping.mappings.1.source", "no token", id="token-in-ping"),
    pytest.param(lambda b: _ping(b)["mappings"].append({"target": "z", "source": "zip",
                                                       "transform": "shout"}),
                 "endpoints.ping.mappings.1.transform", "shout", id="unknown-transform"),
    pytest.param(lambda b: _ping(b)["response"].update(price_path="price[[0"),
                 "endpoints.ping.response.price_path", "", id="invalid-json-path"),
    pytest.param(lambda b: _ping(b)["response"].update(
        format="xml", success_path="/response/status", price_path="/response/@@price",
        token_path="/response/token"),
                 "endpoints.ping.response.price_path", "", id="invalid-xpath"),
    pytest.param(lambda b: _post(b)["response"].update(format="text", success_path="",
                                                       success_regex="(ACCEPTED",
                                                       reason_path=""),
                 "endpoints.post.response.success_regex", "", id="invalid-response-regex"),
    pytest.param(lambda b: b["filters"].append({"field": "city", "operator": "regex",
                                                "value": "([a-z"}),
                 "filters.1.value", "regular expression", id="invalid-filter-regex"),
    pytest.param(lambda b: b["filters"].append({"field": "shoe_size", "operator": "eq",
                                                "value": "9"}),
                 "filters.1.field", "shoe_size", id="filter-on-unknown-field"),
    pytest.param(lambda b: _post(b).update(mappings=[{"target": "email", "source": "email"}]),
                 "endpoints.ping.response.token_path", "@ping.token", id="token-never-posted"),
    pytest.param(lambda b: _ping(b)["response"].update(price_path=""),
                 "endpoints.ping.response.price_path", "bid price", id="ping-without-price"),
    pytest.param(_direct_post_with_price_path,
                 "endpoints.post.response.price_path", "direct-post", id="price-on-direct-post"),
    pytest.param(lambda b: _ping(b).update(url="http://10.0.0.5/ping"),
                 "endpoints.ping.url", "refused", id="ssrf-private-address"),
    pytest.param(lambda b: _post(b).update(url="http://169.254.169.254/latest/meta-data/"),
                 "endpoints.post.url", "refused", id="ssrf-metadata-address"),
    pytest.param(lambda b: _post(b).update(auth_type="oauth2",
                                           oauth_token_url="http://192.168.1.1/token"),
                 "endpoints.post.oauth_token_url", "refused", id="ssrf-oauth-token-url"),
    pytest.param(lambda b: b["endpoints"].pop("post"),
                 "endpoints.post", "post endpoint", id="no-post-endpoint"),
    pytest.param(lambda b: b["endpoints"].update(pong={"url": "http://127.0.0.1:9/x"}),
                 "endpoints.pong", "ping or post", id="unknown-endpoint-kind"),
    pytest.param(lambda b: b["caps"].append({"period": "day", "limit": "5"}),
                 "caps.1.period", "day", id="duplicate-cap"),
    pytest.param(lambda b: b.update(mode="direct_post"),
                 "fixed_price", "fixed price", id="direct-post-without-price"),
    pytest.param(lambda b: _ping(b).update(headers={"X-Key": "a\r\nInjected: 1"}),
                 "endpoints.ping.headers", "line break", id="header-injection"),
    pytest.param(lambda b: _ping(b).update(body_format="yaml"),
                 "endpoints.ping.body_format", "yaml", id="unknown-body-format"),
]


@pytest.mark.parametrize(("breaks", "path", "says"), MISCONFIGURATIONS)
def test_a_misconfigured_contract_is_refused_by_field_and_nothing_is_written(
        am_client, vertical, buyer, sim_url, breaks: Callable[[dict], None], path, says):
    body = contract_payload(buyer.pk, sim_url)
    assert am_client.post("/api/v1/contracts", copy.deepcopy(body),
                          format="json").status_code == 201  # the payload is fine as it is
    before = (Contract.objects.count(), Endpoint.objects.count(), FieldMapping.objects.count(),
              ContractFilter.objects.count())
    breaks(body)

    response = am_client.post("/api/v1/contracts", body, format="json")

    assert response.status_code == 400, response.json()
    errors = response.json()["errors"]
    assert path in errors, errors
    assert says in " ".join(errors[path])
    assert (Contract.objects.count(), Endpoint.objects.count(), FieldMapping.objects.count(),
            ContractFilter.objects.count()) == before


def test_a_refused_patch_leaves_the_contract_as_it_was(am_client, vertical, buyer, sim_url):
    created = am_client.post("/api/v1/contracts", contract_payload(buyer.pk, sim_url),
                             format="json").json()
    endpoints = copy.deepcopy(created["endpoints"])
    endpoints["ping"]["mappings"] = [{"target": "zip", "source": "zip"},
                                     {"target": "phone", "source": "phone"}]

    response = am_client.patch(f"/api/v1/contracts/{created['id']}",
                               {"priority": 9, "filters": [], "endpoints": endpoints},
                               format="json")

    assert response.status_code == 400
    assert list(response.json()["errors"]) == ["endpoints.ping.mappings.1.source"]
    after = am_client.get(f"/api/v1/contracts/{created['id']}").json()
    assert after == created


def test_every_problem_is_listed_at_once(am_client, vertical, buyer, sim_url):
    body = contract_payload(buyer.pk, sim_url)
    _ping(body)["mappings"].append({"target": "mail", "source": "email"})
    _post(body)["url"] = "http://10.1.2.3/post"
    body["filters"].append({"field": "city", "operator": "regex", "value": "("})

    errors = am_client.post("/api/v1/contracts", body, format="json").json()["errors"]

    assert {"endpoints.ping.mappings.1.source", "endpoints.post.url",
            "filters.1.value"} <= set(errors)


def test_the_api_and_the_admin_share_one_validation(monkeypatch, am_client, vertical, buyer,
                                                    sim_url):
    import apps.buyers.api.serializers as api_serializers

    calls = []

    def spy(draft):
        calls.append(draft)
        return {"mappings.post.0.arg": ["from the shared check"]}

    monkeypatch.setattr(api_serializers, "contract_draft_errors", spy)

    response = am_client.post("/api/v1/contracts", contract_payload(buyer.pk, sim_url),
                              format="json")

    assert response.json() == {"errors": {"endpoints.post.mappings.0.arg": [
        "from the shared check"]}}
    [draft] = calls
    assert draft.pii_keys >= {"email", "phone"} and "zip" in draft.field_keys
    assert draft.mappings["ping"][0]["source"] == "zip"


# --- nested write semantics ---


def _moved(before: str, after: str) -> bool:
    return datetime.fromisoformat(after) > datetime.fromisoformat(before)


def _created(am_client, buyer, sim_url, **overrides) -> dict:
    response = am_client.post("/api/v1/contracts", contract_payload(buyer.pk, sim_url,
                                                                    **overrides), format="json")
    assert response.status_code == 201, response.json()
    return response.json()


def test_a_contract_reads_back_as_it_was_written(am_client, vertical, buyer, sim_url):
    body = contract_payload(buyer.pk, sim_url)
    _post(body).update(auth_type="bearer", auth_secret="s3cret-token",
                       headers={"X-Partner": "lx"})

    created = _created(am_client, buyer, sim_url, endpoints=body["endpoints"])

    assert created["filters"] == [{"field": "state", "operator": "in", "value": ["NY", "NJ"]}]
    assert created["caps"] == [{"period": "day", "metric": "leads", "limit": "100.00"}]
    assert created["schedule"] == [{"weekday": 0, "opens_at": "08:00:00",
                                    "closes_at": "20:00:00"}]
    post = created["endpoints"]["post"]
    assert post["mappings"] == [
        {"target": "ping_id", "source": "@ping.token", "constant": None, "transform": "",
         "arg": "", "constant_type": "string", "wire_key": None},
        {"target": "email", "source": "email", "constant": None, "transform": "", "arg": "",
         "constant_type": "string", "wire_key": None}]
    assert post["response"]["success_path"] == "result"
    assert post["auth_type"] == "bearer" and post["auth_secret_set"] is True
    assert "s3cret-token" not in str(created)
    assert Endpoint.objects.get(contract_id=created["id"], kind="post").auth_secret == \
        "s3cret-token"


def test_put_replaces_the_rule_sets_and_moves_updated_at(am_client, vertical, buyer, sim_url):
    created = _created(am_client, buyer, sim_url)
    body = contract_payload(buyer.pk, sim_url, name="offer v2",
                            filters=[{"field": "homeowner", "operator": "eq", "value": True}])
    del body["caps"], body["schedule"]  # PUT: a rule set left out is written empty

    response = am_client.put(f"/api/v1/contracts/{created['id']}", body, format="json")

    assert response.status_code == 200, response.json()
    updated = response.json()
    assert updated["name"] == "offer v2"
    assert updated["filters"] == [{"field": "homeowner", "operator": "eq", "value": True}]
    assert updated["caps"] == [] and updated["schedule"] == []
    assert _moved(created["updated_at"], updated["updated_at"])
    assert ContractFilter.objects.filter(contract_id=created["id"]).count() == 1


def test_patch_without_a_rule_set_keeps_it(am_client, vertical, buyer, sim_url):
    created = _created(am_client, buyer, sim_url)

    response = am_client.patch(f"/api/v1/contracts/{created['id']}", {"priority": 7},
                               format="json")

    assert response.status_code == 200, response.json()
    updated = response.json()
    assert updated["priority"] == 7
    for key in ("filters", "caps", "schedule", "endpoints", "allowed_sources", "name"):
        assert updated[key] == created[key], key
    assert _moved(created["updated_at"], updated["updated_at"])


def test_patch_with_a_rule_set_replaces_only_that_set(am_client, vertical, buyer, sim_url):
    created = _created(am_client, buyer, sim_url)

    response = am_client.patch(f"/api/v1/contracts/{created['id']}",
                               {"filters": [], "caps": [{"period": "hour", "limit": "3"}]},
                               format="json")

    updated = response.json()
    assert updated["filters"] == []
    assert updated["caps"] == [{"period": "hour", "metric": "leads", "limit": "3.00"}]
    assert updated["schedule"] == created["schedule"]
    assert updated["endpoints"] == created["endpoints"]


def test_patch_checks_the_contract_as_it_would_be_saved(am_client, vertical, buyer, sim_url):
    created = _created(am_client, buyer, sim_url)

    # switching to direct post with the ping endpoint still stored is refused
    response = am_client.patch(f"/api/v1/contracts/{created['id']}",
                               {"mode": "direct_post", "fixed_price": "12.00"}, format="json")

    assert response.status_code == 400
    assert "endpoints.ping" in response.json()["errors"]
    assert Contract.objects.get(pk=created["id"]).mode == "ping_post"


def test_a_get_put_round_trip_changes_nothing_and_keeps_the_secret(
        am_client, vertical, buyer, sim_url):
    body = contract_payload(buyer.pk, sim_url)
    _ping(body).update(auth_type="header", auth_name="X-Api-Key", auth_secret="k-123")
    created = _created(am_client, buyer, sim_url, endpoints=body["endpoints"])

    response = am_client.put(f"/api/v1/contracts/{created['id']}", created, format="json")

    assert response.status_code == 200, response.json()
    again = response.json()
    assert {k: v for k, v in again.items() if k != "updated_at"} == {
        k: v for k, v in created.items() if k != "updated_at"}
    assert Endpoint.objects.get(contract_id=created["id"], kind="ping").auth_secret == "k-123"


def test_replacing_the_caps_keeps_what_they_already_counted(am_client, vertical, buyer,
                                                             sim_url):
    created = _created(am_client, buyer, sim_url)
    cap = Contract.objects.get(pk=created["id"]).caps.get()
    CapCounter.objects.create(cap=cap, window_start=timezone.now() - timedelta(hours=1),
                              used=Decimal(40))

    response = am_client.patch(f"/api/v1/contracts/{created['id']}", {"caps": [
        {"period": "day", "metric": "leads", "limit": "50"},
        {"period": "month", "metric": "spend", "limit": "1000"}]}, format="json")

    assert response.status_code == 200
    kept = Contract.objects.get(pk=created["id"]).caps.get(period="day")
    assert kept.pk == cap.pk and kept.limit == Decimal(50)
    assert kept.counters.get().used == Decimal(40)


def test_a_change_through_the_api_reaches_the_next_auction(am_client, api_client, vertical,
                                                            buyer, sim_url):
    process_warm(sim_url)
    _, key = source_with_key(vertical)
    path = sim_path()
    created = _created(am_client, buyer, sim_url, path=path, query="bid=10", filters=[],
                       schedule=[])
    assert am_client.post(f"/api/v1/contracts/{created['id']}/go-live").status_code == 200
    assert lead_submit(api_client, key, _consumer(1)).json()["status"] == "sold"
    endpoints = copy.deepcopy(created["endpoints"])
    endpoints["ping"]["url"] = endpoints["ping"]["url"].replace("bid=10", "bid=0.50")

    patched = am_client.patch(f"/api/v1/contracts/{created['id']}",
                              {"endpoints": endpoints, "min_bid": "1.00"}, format="json")
    assert patched.status_code == 200, patched.json()

    # the cached set-up was rebuilt: the new URL bids 0.50, under the new minimum bid
    assert lead_submit(api_client, key, _consumer(2)).json()["status"] == "unsold"


def _consumer(n: int) -> dict:
    from tests.factories import consumer_fields

    return consumer_fields(n)


def test_a_contract_with_sales_cannot_be_deleted(am_client, api_client, vertical, sim_url):
    process_warm(sim_url)
    _, key = source_with_key(vertical)
    contract = sim_contract(vertical, sim_url)
    assert lead_submit(api_client, key).json()["status"] == "sold"

    response = am_client.delete(f"/api/v1/contracts/{contract.pk}")

    assert response.status_code == 409 and response.json()["code"] == "protected"
    assert Contract.objects.filter(pk=contract.pk).exists()
    assert am_client.delete(f"/api/v1/buyers/{contract.buyer_id}").status_code == 409


def test_a_contract_without_sales_is_deleted_with_its_rules(am_client, vertical, buyer,
                                                           sim_url):
    created = _created(am_client, buyer, sim_url)

    assert am_client.delete(f"/api/v1/contracts/{created['id']}").status_code == 204
    assert am_client.get(f"/api/v1/contracts/{created['id']}").status_code == 404
    assert not Endpoint.objects.filter(contract_id=created["id"]).exists()


def test_contracts_are_listed_by_buyer_vertical_and_status(am_client, vertical, buyer,
                                                           sim_url):
    other_vertical = VerticalFactory(slug="solar")
    mine = _created(am_client, buyer, sim_url)
    other = sim_contract(other_vertical, sim_url, status="paused")

    def ids(query: str) -> list[int]:
        response = am_client.get(f"/api/v1/contracts?{query}")
        assert response.status_code == 200, response.json()
        return [row["id"] for row in response.json()["results"]]

    assert ids(f"buyer={buyer.pk}") == [mine["id"]]
    assert ids("vertical=solar") == [other.pk]
    assert ids("status=paused") == [other.pk]
    assert sorted(ids("")) == sorted([mine["id"], other.pk])
    assert am_client.get("/api/v1/contracts?status=sleeping").status_code == 400


def test_an_unknown_buyer_or_vertical_is_named(am_client, vertical, sim_url):
    body = contract_payload(999999, sim_url, vertical="nope")

    errors = am_client.post("/api/v1/contracts", body, format="json").json()["errors"]

    assert {"buyer", "vertical"} <= set(errors)


GARBAGE = [
    [], "text", {"endpoints": "x"}, {"endpoints": []}, {"endpoints": {"ping": None}},
    {"endpoints": {"post": {"url": "http://127.0.0.1:9/p", "mappings": "x"}}},
    {"endpoints": {"post": {"url": "http://127.0.0.1:9/p", "response": "x"}}},
    {"endpoints": {"post": {"url": "http://127.0.0.1:9/p", "headers": ["a"]}}},
    {"endpoints": {"post": {"url": "http://127.0.0.1:9/p", "mappings": [None, 1]}}},
    {"filters": [1, None]}, {"caps": [{"period": "day", "limit": "abc"}]},
    {"schedule": [{"weekday": 9, "opens_at": "25:00", "closes_at": None}]},
    {"allowed_sources": [999999]}, {"buyer": None, "vertical": None},
    {"endpoints": {"post": {"url": "http://127.0.0.1:9/p", "timeout_ms": -1,
                            "response": {"success_statuses": ["x"]}}}},
]


@pytest.mark.parametrize("garbage", GARBAGE)
def test_garbage_is_a_400_never_a_500(am_client, vertical, buyer, sim_url, garbage):
    created = _created(am_client, buyer, sim_url)
    body = ({**contract_payload(buyer.pk, sim_url), **garbage} if isinstance(garbage, dict)
            else garbage)

    for method, url in ((am_client.post, "/api/v1/contracts"),
                        (am_client.put, f"/api/v1/contracts/{created['id']}"),
                        (am_client.patch, f"/api/v1/contracts/{created['id']}")):
        response = method(url, body, format="json")
        assert response.status_code == 400, (method, response.content)
        assert response.json()["errors"]
    assert Contract.objects.count() == 1


def test_patch_changes_one_endpoint_setting_without_resending_the_endpoint(
        am_client, vertical, buyer, sim_url):
    body = contract_payload(buyer.pk, sim_url)
    _ping(body).update(auth_type="header", auth_name="X-Api-Key", auth_secret="k-123",
                       headers={"X-Partner": "lx", "X-Old": "1"})
    created = _created(am_client, buyer, sim_url, endpoints=body["endpoints"])

    response = am_client.patch(f"/api/v1/contracts/{created['id']}", {"endpoints": {
        "ping": {"timeout_ms": 1500, "headers": {"X-Old": None, "X-New": "2"}}}},
        format="json")

    assert response.status_code == 200, response.json()
    ping, before = response.json()["endpoints"]["ping"], created["endpoints"]["ping"]
    assert ping["timeout_ms"] == 1500
    assert ping["headers"] == {"X-Partner": "lx", "X-New": "2"}
    assert {k: v for k, v in ping.items() if k not in ("timeout_ms", "headers")} == {
        k: v for k, v in before.items() if k not in ("timeout_ms", "headers")}
    assert response.json()["endpoints"]["post"] == created["endpoints"]["post"]
    assert Endpoint.objects.get(contract_id=created["id"], kind="ping").auth_secret == "k-123"


def test_patch_of_an_endpoint_is_checked_as_the_merged_contract(am_client, vertical, buyer,
                                                                 sim_url):
    created = _created(am_client, buyer, sim_url)

    removed = am_client.patch(f"/api/v1/contracts/{created['id']}",
                              {"endpoints": {"post": None}}, format="json")
    bad = am_client.patch(f"/api/v1/contracts/{created['id']}",
                          {"endpoints": {"ping": {"timeout_ms": 0}}}, format="json")

    assert removed.status_code == 400 and "endpoints.post" in str(removed.json()["errors"])
    assert bad.status_code == 400
    assert list(bad.json()["errors"]) == ["endpoints.ping.timeout_ms"]
    assert am_client.get(f"/api/v1/contracts/{created['id']}").json()["endpoints"] == \
        created["endpoints"]
