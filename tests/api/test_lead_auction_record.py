"""``GET /api/v1/staff/leads/{uuid}/auction``: one lead's whole auction for staff (issue 11,
item 9) — every contract's outcome with its request and answer, every post, the sale; PII
masked in the post body as stored."""

from __future__ import annotations

import uuid

import pytest

from apps.leads.models import Lead
from tests.api.conftest import MANAGERS
from tests.factories import lead_submit, sim_contract, source_with_key, valid_fields

pytestmark = pytest.mark.django_db


@pytest.fixture
def sold(api_client, vertical, sim_url):
    winner = sim_contract(vertical, sim_url, query="bid=12")
    loser = sim_contract(vertical, sim_url, query="no_bid=1")
    filtered = sim_contract(vertical, sim_url, query="bid=30",
                            filters=[{"field": "state", "operator": "eq", "value": "TX"}])
    _, key = source_with_key(vertical)
    body = lead_submit(api_client, key, valid_fields()).json()
    assert body["status"] == "sold"
    return Lead.objects.get(uuid=body["id"]), winner, loser, filtered, key


def test_staff_read_a_leads_whole_auction(staff_client, sold):
    lead, winner, loser, filtered, _ = sold

    response = staff_client(group=MANAGERS).get(f"/api/v1/staff/leads/{lead.uuid}/auction")

    assert response.status_code == 200, response.json()
    record = response.json()
    assert (record["id"], record["status"], record["sale_price"]) == (
        str(lead.uuid), "sold", "12.00")
    [auction] = record["auctions"]
    assert auction["outcome"] == "sold" and auction["rounds"] == 1
    assert {p["contract"]: p["outcome"] for p in auction["pings"]} == {
        winner.pk: "bid", loser.pk: "no_bid", filtered.pk: "filtered"}
    [post] = auction["posts"]
    assert (post["contract"], post["outcome"], post["price"]) == (winner.pk, "accepted", "12.00")
    assert lead.fields["email"] not in post["request_body"]
    assert "***" in post["request_body"]
    assert [s["contract"] for s in record["sales"]] == [winner.pk]
    assert record["sales"][0]["buyer_company"] == winner.buyer.company


def test_an_unknown_lead_is_a_json_404(am_client):
    response = am_client.get(f"/api/v1/staff/leads/{uuid.uuid4()}/auction")

    assert response.status_code == 404
    assert response.json()["code"] == "not_found"


def test_a_source_key_cannot_read_it(api_client, sold):
    lead, *_, key = sold

    response = api_client.get(f"/api/v1/staff/leads/{lead.uuid}/auction",
                              HTTP_AUTHORIZATION=f"Bearer {key}")

    assert response.status_code == 401
