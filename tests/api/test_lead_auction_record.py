"""``GET /api/v1/staff/leads/{uuid}/auction``: one lead's whole auction for staff (issue 11,
item 9) — every contract's outcome with its request and answer, every post, the sale; the
lead's personal data masked and its posts' bodies hidden unless a user with ``leads.view_pii``
asks ``?reveal=true`` (issue 14: audited)."""

from __future__ import annotations

import uuid

import pytest
from django.contrib.admin.models import LogEntry
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission

from apps.leads.disclosure import HIDDEN_BODY, MASK
from apps.leads.models import Lead
from tests.api.conftest import ACCOUNT_MANAGERS, MANAGERS
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
    assert (post["request_body"], post["response_body"]) == (HIDDEN_BODY, HIDDEN_BODY)
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


def _granted(username: str) -> None:
    get_user_model().objects.get(username=username).user_permissions.add(
        Permission.objects.get(content_type__app_label="leads", codename="view_pii"))


@pytest.mark.parametrize("group", [MANAGERS, ACCOUNT_MANAGERS])
def test_roles_read_the_personal_data_masked(staff_client, sold, group):
    lead, *_ = sold

    response = staff_client(group=group).get(f"/api/v1/staff/leads/{lead.uuid}/auction")

    assert response.status_code == 200
    personal = response.json()["personal_data"]
    assert personal["revealed"] is False
    assert {k: personal["fields"][k] for k in ("first_name", "email", "phone", "zip")} == {
        "first_name": MASK, "email": MASK, "phone": MASK, "zip": "10001"}
    text = response.content.decode()
    assert lead.fields["email"] not in text and lead.fields["phone"] not in text
    assert LogEntry.objects.count() == 0


@pytest.mark.parametrize("group", [MANAGERS, ACCOUNT_MANAGERS])
def test_a_reveal_without_the_permission_is_a_403_and_writes_nothing(staff_client, sold,
                                                                     group):
    lead, *_ = sold

    response = staff_client(group=group).get(f"/api/v1/staff/leads/{lead.uuid}/auction",
                                             {"reveal": "true"})

    assert response.status_code == 403
    assert lead.fields["email"] not in response.content.decode()
    assert LogEntry.objects.count() == 0


def test_a_user_with_the_permission_reads_masks_until_it_asks_to_reveal(staff_client, sold):
    lead, *_ = sold
    client = staff_client("pat", group=MANAGERS)
    _granted("pat")
    url = f"/api/v1/staff/leads/{lead.uuid}/auction"

    masked = client.get(url)
    revealed = client.get(url, {"reveal": "true"})

    assert masked.json()["personal_data"]["fields"]["email"] == MASK
    assert lead.fields["email"] not in masked.content.decode()
    assert revealed.status_code == 200
    personal = revealed.json()["personal_data"]
    assert personal["revealed"] is True
    assert personal["fields"] == lead.fields
    [post] = revealed.json()["auctions"][0]["posts"]
    assert "***" in post["request_body"]  # as stored: the body keeps its PII values masked
    assert post["response_body"] != HIDDEN_BODY
    [entry] = LogEntry.objects.all()
    assert (entry.user.username, entry.content_type.model, entry.object_id) == (
        "pat", "lead", str(lead.pk))
    assert entry.change_message == "Revealed the consumer's personal data (staff-api)."


def test_a_superuser_can_reveal(staff_client, sold):
    lead, *_ = sold

    response = staff_client(superuser=True).get(f"/api/v1/staff/leads/{lead.uuid}/auction",
                                                 {"reveal": "true"})

    assert response.status_code == 200
    assert response.json()["personal_data"]["fields"]["email"] == lead.fields["email"]
    assert LogEntry.objects.filter(object_id=str(lead.pk)).count() == 1


def test_a_reveal_that_is_not_a_boolean_is_a_400(staff_client, sold):
    lead, *_ = sold

    response = staff_client(superuser=True).get(f"/api/v1/staff/leads/{lead.uuid}/auction",
                                                 {"reveal": "please"})

    assert response.status_code == 400
    assert "reveal" in response.json()["errors"]
    assert LogEntry.objects.count() == 0
