"""A new contract starts in testing (issue 11 item 6): no live lead reaches it — its buyer is
never pinged, the auction records it as left out, with the reason — until staff switch it
live through the staff API or the admin; pausing and resuming cannot bypass that."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from apps.auctions.models import Ping
from apps.buyers.models import Contract
from tests.api.conftest import ACCOUNT_MANAGERS, MANAGERS, staff_token
from tests.factories import BuyerFactory, consumer_fields, lead_submit, source_with_key
from tests.integration.buyer_server import BuyerServer, json_answer

pytestmark = pytest.mark.django_db


@pytest.fixture
def buyer_server():
    server = BuyerServer()
    server.on("/ping", lambda request: json_answer(200, {"status": "bid", "price": "9.00",
                                                         "token": "t-1"}))
    server.on("/post", lambda request: json_answer(200, {"result": "accepted"}))
    yield server
    server.close()


@pytest.fixture
def staff_api(vertical) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {staff_token('am', group=ACCOUNT_MANAGERS)}")
    return client


def _created(staff_api: APIClient, server: BuyerServer, **extra) -> dict:
    response = staff_api.post("/api/v1/contracts", {
        "buyer": BuyerFactory().pk, "vertical": "auto-insurance", "name": "new buyer",
        "accepts_test_leads": True,
        "endpoints": {
            "ping": {"url": f"{server.url}/ping",
                     "response": {"success_path": "status", "success_values": ["bid"],
                                  "price_path": "price", "token_path": "token"},
                     "mappings": [{"target": "zip", "source": "zip"}]},
            "post": {"url": f"{server.url}/post",
                     "response": {"success_path": "result", "success_values": ["accepted"]},
                     "mappings": [{"target": "token", "source": "@ping.token"},
                                  {"target": "email", "source": "email"}]}},
        **extra}, format="json")
    assert response.status_code == 201, response.json()
    return response.json()


def test_a_testing_contract_gets_no_live_lead_and_switched_live_it_does(
        staff_api, api_client, vertical, buyer_server):
    _, key = source_with_key(vertical)
    created = _created(staff_api, buyer_server)
    assert created["status"] == "testing"

    unsold = lead_submit(api_client, key, consumer_fields(1)).json()

    assert unsold["status"] == "unsold"
    assert buyer_server.received("/ping") == [] and buyer_server.received("/post") == []
    # one row per round of the auction (the second re-pings what has since cleared)
    assert set(Ping.objects.filter(contract_id=created["id"]).values_list(
        "outcome", "detail")) == {("paused", "testing: not switched live yet")}

    live = staff_api.post(f"/api/v1/contracts/{created['id']}/go-live",
                          {"reason": "round trip passed"}, format="json")
    assert live.status_code == 200 and live.json()["status"] == "active"

    sold = lead_submit(api_client, key, consumer_fields(2)).json()

    assert sold["status"] == "sold", sold
    [posted] = buyer_server.received("/post")
    assert posted.json()["token"] == "t-1"


def test_a_testing_contract_gets_no_test_lead_either(staff_api, api_client, vertical,
                                                     buyer_server):
    """Test leads from sources are traffic too: a contract being onboarded is reached by
    the staff's test tools only."""
    _, key = source_with_key(vertical)
    created = _created(staff_api, buyer_server)

    answer = lead_submit(api_client, key, consumer_fields(1), test=True).json()

    assert answer["status"] == "unsold"
    assert buyer_server.received("/ping") == []
    assert set(Ping.objects.filter(contract_id=created["id"]).values_list(
        "outcome", "detail")) == {("paused", "testing: not switched live yet")}


def test_pausing_or_resuming_a_testing_contract_is_refused_and_changes_nothing(
        staff_api, buyer_server):
    created = _created(staff_api, buyer_server)

    for action in ("resume", "pause"):
        response = staff_api.post(f"/api/v1/contracts/{created['id']}/{action}")

        assert response.status_code == 409, action
        assert response.json()["code"] == "testing"
        assert "switch it live (go-live)" in response.json()["detail"]
    assert Contract.objects.get(pk=created["id"]).status == "testing"


def test_going_live_is_idempotent_and_refused_for_a_paused_contract(staff_api, buyer_server):
    created = _created(staff_api, buyer_server)
    url = f"/api/v1/contracts/{created['id']}"

    assert staff_api.post(f"{url}/go-live").json()["status"] == "active"
    assert staff_api.post(f"{url}/go-live").json()["status"] == "active"
    assert staff_api.post(f"{url}/pause").json()["status"] == "paused"
    refused = staff_api.post(f"{url}/go-live")

    assert refused.status_code == 409 and refused.json()["code"] == "paused"
    assert Contract.objects.get(pk=created["id"]).status == "paused"


def test_a_contract_created_live_on_purpose_takes_leads_at_once(
        staff_api, api_client, vertical, buyer_server):
    """``status`` stays part of the contract document: a script moving live buyers from
    another platform says so explicitly."""
    _, key = source_with_key(vertical)
    _created(staff_api, buyer_server, status="active")

    assert lead_submit(api_client, key, consumer_fields(1)).json()["status"] == "sold"


def test_going_live_needs_the_change_permission(buyer_server, staff_api):
    created = _created(staff_api, buyer_server)
    reader = APIClient()
    reader.credentials(HTTP_AUTHORIZATION=f"Bearer {staff_token('mo', group=MANAGERS)}")

    assert reader.post(f"/api/v1/contracts/{created['id']}/go-live").status_code == 403
    assert Contract.objects.get(pk=created["id"]).status == "testing"


def test_a_new_contract_row_starts_in_testing(vertical):
    contract = Contract.objects.create(buyer=BuyerFactory(), vertical=vertical, name="x")

    assert contract.status == "testing"


def test_the_demo_buyers_are_created_live():
    from apps.demo.dataset import demo_data_load

    demo_data_load("http://127.0.0.1:8099")

    assert set(Contract.objects.values_list("status", flat=True)) == {"active"}
