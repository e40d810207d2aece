"""The buyers' returns API (``Bearer lxb_…``), the conversion postback URL and the staff
returns, buyer-key and ledger endpoints."""

from __future__ import annotations

import csv
import io
import json
from decimal import Decimal

import pytest
from django.utils import timezone

from apps.billing.models import Conversion, Return
from apps.billing.services import return_submit, returns_decide
from apps.buyers.models import Contract
from tests.api.conftest import ACCOUNT_MANAGERS, MANAGERS
from tests.factories import source_with_key
from tests.factories.billing import Market, buyer_key, decided_at, utc

pytestmark = pytest.mark.django_db
D = Decimal


@pytest.fixture
def market() -> Market:
    return Market()


def _as(api_client, key: str):
    api_client.credentials(HTTP_AUTHORIZATION=f"Bearer {key}")
    return api_client


def _post(client, path: str, body: dict):
    return client.post(path, data=json.dumps(body), content_type="application/json")


# --- buyers: the returns API ------------------------------------------------------------------

def test_a_buyer_returns_a_lead_and_sees_it_without_the_sources_figures(api_client, market):
    lead = market.sold((market.c1, "24.00"), payout="18.00")
    client = _as(api_client, buyer_key(market.b1))

    response = _post(client, "/api/v1/returns", {"lead_id": str(lead.uuid),
                                                 "reason": "bad_contact",
                                                 "comment": "Disconnected"})

    assert response.status_code == 201
    body = response.json()
    assert set(body) == {"id", "lead_id", "reason", "comment", "status", "credit", "note",
                         "created_at", "decided_at"}
    assert (body["lead_id"], body["status"], body["credit"], body["decided_at"]) == (
        str(lead.uuid), "pending", "24.00", None)
    assert client.get(f"/api/v1/returns/{body['id']}").json() == body
    assert Return.objects.get().channel == "api"


@pytest.mark.parametrize(("setup", "status", "code"), [
    ("other_buyer", 404, "not_your_lead"),
    ("twice", 409, "already_returned"),
    ("window", 422, "return_window_closed"),
    ("cap", 422, "return_cap_reached"),
])
def test_each_return_rule_answers_its_status_and_code(api_client, market, setup, status, code):
    lead = market.sold((market.c2 if setup == "other_buyer" else market.c1, "24.00"),
                       payout="18.00")
    if setup == "twice":
        return_submit(buyer=market.b1, lead_uuid=lead.uuid, reason="fraud")
    if setup == "window":
        Contract.objects.filter(pk=market.c1.pk).update(return_window_days=0)
    if setup == "cap":
        Contract.objects.filter(pk=market.c1.pk).update(return_cap_pct=D("5"))
    client = _as(api_client, buyer_key(market.b1))

    response = _post(client, "/api/v1/returns", {"lead_id": str(lead.uuid), "reason": "fraud"})

    assert response.status_code == status
    assert response.json()["code"] == code


def test_an_unknown_reason_is_a_400_listing_the_codes(api_client, market):
    lead = market.sold((market.c1, "24.00"), payout="18.00")
    client = _as(api_client, buyer_key(market.b1))

    response = _post(client, "/api/v1/returns", {"lead_id": str(lead.uuid), "reason": "meh"})

    assert response.status_code == 400
    assert response.json() == {"errors": {"reason": [
        "Use one of: bad_contact, not_interested, duplicate, fraud, out_of_criteria, other."]}}


def test_bad_bodies_name_their_fields(api_client, market):
    client = _as(api_client, buyer_key(market.b1))

    response = _post(client, "/api/v1/returns", {"lead_id": "nope", "reason": 3})

    assert response.status_code == 400
    assert set(response.json()["errors"]) == {"lead_id", "reason"}


def test_the_list_shows_only_the_buyers_own_returns_newest_first_and_filters(api_client,
                                                                            market):
    staff = _staff_user()
    mine = [return_submit(buyer=market.b1, reason="fraud", lead_uuid=market.sold(
        (market.c1, "10.00"), payout="7.00").uuid) for _ in range(3)]
    return_submit(buyer=market.b2, reason="fraud",
                  lead_uuid=market.sold((market.c2, "10.00"), payout="7.00").uuid)
    returns_decide([mine[0]], approve=True, by=staff)
    client = _as(api_client, buyer_key(market.b1))

    everything = client.get("/api/v1/returns").json()
    approved = client.get("/api/v1/returns?status=approved").json()
    today = timezone.now().date()
    none_later = client.get(f"/api/v1/returns?from={today.replace(year=today.year + 1)}")

    assert [row["id"] for row in everything["results"]] == [r.pk for r in reversed(mine)]
    assert [row["id"] for row in approved["results"]] == [mine[0].pk]
    assert none_later.json()["results"] == []


@pytest.mark.parametrize(("query", "errors"), [
    ("status=lost", {"status": ["Select a valid choice. lost is not one of the available "
                                "choices."]}),
    ("status=", {"status": ["Give a value or leave the parameter out."]}),
    ("from=yesterday", {"from": ["Enter a valid date."]}),
    ("from=2026-05-02&to=2026-05-01", {"to": ["Must not be before 'from'."]}),
    ("page_size=0", {"page_size": ["Enter a whole number from 1 to 500."]}),
])
def test_the_list_refuses_bad_filters_by_name(api_client, market, query, errors):
    client = _as(api_client, buyer_key(market.b1))

    response = client.get(f"/api/v1/returns?{query}")

    assert response.status_code == 400
    assert response.json() == {"errors": errors}


def test_another_buyers_return_is_a_404(api_client, market):
    theirs = return_submit(buyer=market.b2, reason="fraud",
                           lead_uuid=market.sold((market.c2, "10.00"), payout="7.00").uuid)
    client = _as(api_client, buyer_key(market.b1))

    assert client.get(f"/api/v1/returns/{theirs.pk}").status_code == 404


def test_only_a_live_buyer_key_opens_the_returns_api(api_client, market, vertical):
    from apps.billing.selectors import buyer_key_list
    from apps.billing.services import buyer_key_revoke
    from tests.api.conftest import staff_token

    _, source_key = source_with_key(vertical)
    revoked = buyer_key(market.b1)
    buyer_key_revoke(api_key=buyer_key_list(market.b1).get())
    answers = {}
    for name, header in [("none", None), ("source key", source_key),
                         ("staff token", staff_token("ops", superuser=True)),
                         ("revoked", revoked), ("garbage", "lxb_nothing")]:
        api_client.credentials(**({"HTTP_AUTHORIZATION": f"Bearer {header}"} if header
                                  else {}))
        answers[name] = api_client.get("/api/v1/returns").status_code

    assert answers == {"none": 401, "source key": 401, "staff token": 401, "revoked": 401,
                       "garbage": 401}


def test_a_buyer_key_opens_no_source_or_staff_endpoint(api_client, market):
    client = _as(api_client, buyer_key(market.b1))

    assert client.get("/api/v1/leads").status_code == 401
    assert client.get("/api/v1/staff/returns").status_code == 401


def test_a_buyer_key_is_rate_limited(api_client, market, settings):
    settings.BUYER_API_RATE_PER_MINUTE = 2
    client = _as(api_client, buyer_key(market.b1))

    statuses = [client.get("/api/v1/returns").status_code for _ in range(3)]

    assert statuses == [200, 200, 429]


# --- buyers: the conversion postback ----------------------------------------------------------

def test_the_postback_records_a_conversion_once(client, market):
    lead = market.sold((market.c1, "24.00"), payout="18.00")
    url = f"/postback/b/{market.b1.postback_token}"

    first = client.get(url, {"lead": str(lead.uuid), "event": "policy_sold", "value": "120"})
    again = client.post(url, {"lead": str(lead.uuid), "event": "policy_sold", "value": "1"})

    assert first.status_code == again.status_code == 200
    assert first.json()["recorded"] is True and again.json()["recorded"] is False
    assert (first.json()["value"], again.json()["value"]) == ("120.00", "120.00")
    assert Conversion.objects.get().value == D("120.00")


@pytest.mark.parametrize(("token", "params", "status", "body_part"), [
    ("nope", {"lead": "x", "event": "sold"}, 404, {"code": "not_found"}),
    (None, {"event": "sold"}, 400, {"errors": {"lead": ["This parameter is required."]}}),
    (None, {"lead": "OTHER", "event": "sold"}, 404, {"code": "not_your_lead"}),
    (None, {"lead": "LEAD", "event": "sold", "value": "-3"}, 400,
     {"errors": {"value": ["Enter an amount of 0 or more."]}}),
    (None, {"lead": "LEAD", "event": "bad event"}, 400, None),
])
def test_a_bad_postback_gets_a_clear_4xx(client, market, token, params, status, body_part):
    mine = market.sold((market.c1, "24.00"), payout="18.00")
    other = market.sold((market.c2, "24.00"), payout="18.00")
    params = {k: {"LEAD": str(mine.uuid), "OTHER": str(other.uuid)}.get(v, v)
              for k, v in params.items()}

    response = client.get(f"/postback/b/{token or market.b1.postback_token}", params)

    assert response.status_code == status
    if body_part is not None:
        assert body_part.items() <= response.json().items()
    assert not Conversion.objects.exists()


def test_the_postback_is_rate_limited_per_buyer(client, market, settings):
    settings.BUYER_POSTBACK_RATE_PER_MINUTE = 1
    lead = market.sold((market.c1, "24.00"), payout="18.00")
    url = f"/postback/b/{market.b1.postback_token}?lead={lead.uuid}&event=sold"

    statuses = [client.get(url).status_code for _ in range(2)]

    assert statuses == [200, 429]


# --- staff ------------------------------------------------------------------------------------

def _staff_user():
    from django.contrib.auth import get_user_model

    return get_user_model().objects.get_or_create(username="rita", is_staff=True)[0]


def test_an_account_manager_decides_returns_in_bulk(staff_client, market):
    leads = [market.sold((market.c1, "10.00"), payout="7.00") for _ in range(3)]
    rows = [return_submit(buyer=market.b1, lead_uuid=lead.uuid, reason="fraud")
            for lead in leads]
    am = staff_client("am", group=ACCOUNT_MANAGERS)

    approved = _post(am, "/api/v1/staff/returns/decide",
                     {"ids": [rows[0].pk, rows[1].pk], "decision": "approve", "note": "ok"})
    no_note = _post(am, "/api/v1/staff/returns/decide",
                    {"ids": [rows[2].pk], "decision": "reject"})
    again = _post(am, "/api/v1/staff/returns/decide",
                  {"ids": [rows[0].pk, rows[2].pk], "decision": "reject", "note": "bad"})

    assert approved.json() == {"decision": "approve", "decided": 2, "skipped": 0}
    assert no_note.status_code == 400
    assert no_note.json() == {"errors": {"note": ["Say why the returns are rejected."]}}
    assert again.json() == {"decision": "reject", "decided": 1, "skipped": 1}
    listed = am.get("/api/v1/staff/returns?status=approved").json()
    assert [row["id"] for row in listed["results"]] == [rows[1].pk, rows[0].pk]
    assert listed["results"][0]["clawback"] == "7.00"


def test_a_manager_reads_returns_but_may_not_decide(staff_client, market):
    row = return_submit(buyer=market.b1, reason="fraud",
                        lead_uuid=market.sold((market.c1, "10.00"), payout="7.00").uuid)
    manager = staff_client("mia", group=MANAGERS)

    assert manager.get(f"/api/v1/staff/returns?buyer={market.b1.pk}").json()["count"] == 1
    assert manager.get(f"/api/v1/staff/returns?buyer={market.b2.pk}").json()["count"] == 0
    decided = _post(manager, "/api/v1/staff/returns/decide",
                    {"ids": [row.pk], "decision": "approve"})
    assert decided.status_code == 403


def test_staff_issue_list_and_revoke_buyer_keys(staff_client, market, api_client):
    am = staff_client("am", group=ACCOUNT_MANAGERS)

    issued = _post(am, f"/api/v1/staff/buyers/{market.b1.pk}/keys", {"name": "crm"})
    key, row = issued.json()["api_key"], issued.json()["key"]
    works = _as(api_client, key).get("/api/v1/returns").status_code
    listed = am.get(f"/api/v1/staff/buyers/{market.b1.pk}/keys").json()
    revoked = am.delete(f"/api/v1/staff/buyers/{market.b1.pk}/keys/{row['id']}")
    elsewhere = am.delete(f"/api/v1/staff/buyers/{market.b2.pk}/keys/{row['id']}")

    assert issued.status_code == 201 and key.startswith(f"lxb_{row['prefix']}_")
    assert works == 200
    assert [k["id"] for k in listed["results"]] == [row["id"]]
    assert "api_key" not in json.dumps(listed)
    assert revoked.status_code == 200 and revoked.json()["revoked_at"] is not None
    assert elsewhere.status_code == 404
    assert _as(api_client, key).get("/api/v1/returns").status_code == 401


@pytest.fixture
def booked(market):
    Contract.objects.update(return_window_days=3650)
    market.sold((market.c1, "10.00"), payout="7.00", at=utc("2026-03-01T12:00:00"))
    lead = market.sold((market.c1, "30.00"), payout="21.00", at=utc("2026-03-02T12:00:00"))
    row = return_submit(buyer=market.b1, lead_uuid=lead.uuid, reason="fraud")
    returns_decide([row], approve=True, by=_staff_user())
    decided_at(row, utc("2026-03-03T09:00:00"))
    return market


def test_the_ledger_api_answers_the_same_figures_as_json_and_csv(staff_client, booked):
    manager = staff_client("mia", group=MANAGERS)
    base = (f"/api/v1/staff/ledger?party=source&id={booked.source.pk}"
            "&from=2026-03-01&to=2026-03-03")

    body = manager.get(base).json()
    as_csv = manager.get(base + "&format=csv")
    accepted = manager.get(base, HTTP_ACCEPT="text/csv")

    assert (body["opening"], body["closing"]) == ("0.00", "7.00")
    assert [(p["start"], p["opening"], p["payouts"], p["clawbacks"], p["closing"],
             p["charges"]) for p in body["periods"]] == [
        ("2026-03-01", "0.00", "7.00", "0.00", "7.00", None),
        ("2026-03-02", "7.00", "21.00", "0.00", "28.00", None),
        ("2026-03-03", "28.00", "0.00", "21.00", "7.00", None)]
    assert as_csv["Content-Type"].startswith("text/csv")
    assert as_csv.content == accepted.content
    table = list(csv.DictReader(io.StringIO(as_csv.content.decode())))
    assert [(r["start"], r["opening"], r["payouts"], r["clawbacks"], r["closing"])
            for r in table] == [(p["start"], p["opening"], p["payouts"], p["clawbacks"],
                                 p["closing"]) for p in body["periods"]]


@pytest.mark.parametrize("wanted", ["xml", ""])
def test_the_ledger_api_refuses_an_unknown_format_with_a_400(staff_client, booked, wanted):
    manager = staff_client("mia", group=MANAGERS)

    response = manager.get(f"/api/v1/staff/ledger?party=buyer&id={booked.b1.pk}"
                           f"&format={wanted}")

    assert response.status_code == 400
    assert list(response.json()["errors"]) == ["format"]


@pytest.mark.parametrize(("query", "errors"), [
    ("party=shop&id=1", {"party": ['"shop" is not a valid choice.']}),
    ("party=buyer", {"id": ["This field is required."]}),
    ("party=buyer&id=999999", {"id": ["No buyer has this id."]}),
    ("party=buyer&id=1&from=2026-03-02&to=2026-03-01", {"to": ["Must not be before 'from'."]}),
    ("party=buyer&id=1&from=2024-01-01&to=2026-03-01",
     {"to": ["At most 400 days after 'from' by day."]}),
])
def test_the_ledger_api_refuses_bad_queries_in_json_even_for_csv(staff_client, booked, query,
                                                                 errors):
    manager = staff_client("mia", group=MANAGERS)
    query = query.replace("id=1", f"id={booked.b1.pk}")

    response = manager.get(f"/api/v1/staff/ledger?{query}&format=csv")

    assert response.status_code == 400
    assert response["Content-Type"] == "application/json"
    assert response.json() == {"errors": errors}
