"""The buyer-management API (SPEC §5): a buyer integrated end to end through the API alone,
who may do what, the contract tools (test ping, preview, pause/resume, health) and the
OpenAPI schema."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from urllib.parse import parse_qs

import pytest
from django.contrib.admin.models import LogEntry
from django.contrib.contenttypes.models import ContentType

from apps.auctions.models import Ping, Post, Sale
from apps.buyers.models import Buyer, Contract
from apps.leads.disclosure import HIDDEN_BODY
from apps.leads.models import Lead
from tests.api.staff_payloads import sim_path, vertical_payload
from tests.factories import (
    BuyerFactory,
    SourceFactory,
    VerticalFactory,
    lead_submit,
    process_warm,
    sim_contract,
    sim_requests,
    sim_reset,
    source_with_key,
    valid_fields,
)

pytestmark = pytest.mark.django_db

# (simulator answer format + where it puts the bid, the XPath rules that read it)
XML_ANSWERS = [
    pytest.param("format=xml&price_key=offer.amount&token_key=offer.ref",
                 {"format": "xml", "success_path": "/response/status", "success_values": ["bid"],
                  "price_path": "/response/offer/amount", "token_path": "/response/offer/ref"},
                 id="xml-child-nodes"),
    pytest.param("format=xml_attr&price_key=amount&token_key=ref",
                 {"format": "xml", "success_path": "/response/@status",
                  "success_values": ["bid"], "price_path": "/response/@amount",
                  "token_path": "/response/@ref"},
                 id="xml-attributes"),
]


@pytest.mark.parametrize(("answer", "rules"), XML_ANSWERS)
def test_a_buyer_integrated_through_the_api_alone_buys_a_lead(
        am_client, api_client, sim_url, answer, rules):
    process_warm(sim_url)
    path = sim_path()
    assert am_client.post("/api/v1/verticals", vertical_payload(),
                          format="json").status_code == 201
    created = am_client.post("/api/v1/sources", {"name": "Affiliate A",
                                                 "verticals": ["auto-insurance"]},
                             format="json")
    assert created.status_code == 201, created.json()
    source_key = created.json()["api_key"]
    buyer = am_client.post("/api/v1/buyers", {"company": "Acme Auto"}, format="json")
    assert buyer.status_code == 201, buyer.json()

    contract = am_client.post("/api/v1/contracts", {
        "buyer": buyer.json()["id"], "vertical": "auto-insurance", "name": "Acme form/xml/json",
        "endpoints": {
            "ping": {
                "url": f"{sim_url}{path}/ping?bid=12.50&{answer}", "body_format": "form",
                "response": rules,
                "mappings": [{"target": "lead.zip", "source": "zip"},
                             {"target": "lead.vehicle.year", "source": "vehicle_year"},
                             {"target": "lead.credit", "source": "credit_rating"}],
            },
            "post": {
                "url": f"{sim_url}{path}/post?format=json&post_token_key=bid_reference",
                "body_format": "json",
                "response": {"format": "json", "success_path": "result",
                             "success_values": ["accepted"], "reason_path": "reason"},
                "mappings": [{"target": "bid_reference", "source": "@ping.token"},
                             {"target": "contact.email", "source": "email"},
                             {"target": "contact.phone", "source": "phone"},
                             {"target": "zip", "source": "zip"}],
            },
        },
    }, format="json")
    assert contract.status_code == 201, contract.json()
    assert contract.json()["status"] == "testing"  # no live lead until switched live
    live = am_client.post(f"/api/v1/contracts/{contract.json()['id']}/go-live", {},
                          format="json")
    assert live.status_code == 200 and live.json()["status"] == "active", live.json()

    response = lead_submit(api_client, source_key, valid_fields(zip="10001", vehicle_year=2019))

    assert response.status_code == 200, response.json()
    assert response.json()["status"] == "sold"
    lead = Lead.objects.get(uuid=response.json()["id"])
    sale = Sale.objects.get(lead=lead)
    assert sale.contract_id == contract.json()["id"] and str(lead.sale_price) == "12.50"
    ping = Ping.objects.get(auction__lead=lead, contract_id=contract.json()["id"])
    assert ping.outcome == "bid" and ping.token

    [pinged] = sim_requests(sim_url, f"{path}/ping")
    assert pinged["headers"]["content-type"].startswith("application/x-www-form-urlencoded")
    assert parse_qs(pinged["body"]) == {"lead[zip]": ["10001"], "lead[vehicle][year]": ["2019"],
                                        "lead[credit]": ["good"]}
    [posted] = sim_requests(sim_url, f"{path}/post")
    assert posted["headers"]["content-type"].startswith("application/json")
    body = json.loads(posted["body"])
    assert body["bid_reference"] == ping.token
    assert body["contact"]["email"] == "jane.doe@example.com" and body["zip"] == "10001"
    assert Post.objects.get(auction__lead=lead).outcome == "accepted"


# --- permissions ---


def test_anonymous_callers_get_401(api_client):
    for path in ("/api/v1/buyers", "/api/v1/contracts", "/api/v1/sources", "/api/v1/verticals"):
        assert api_client.get(path).status_code == 401
        assert api_client.post(path, {}, format="json").status_code == 401


def test_a_source_api_key_opens_nothing_here(api_client):
    vertical = VerticalFactory(slug="auto-insurance")
    _, key = source_with_key(vertical)
    BuyerFactory(company="Secret buyer")
    api_client.credentials(HTTP_AUTHORIZATION=f"Bearer {key}")

    for path in ("/api/v1/buyers", "/api/v1/contracts", "/api/v1/sources",
                 "/api/v1/verticals", "/api/v1/verticals/auto-insurance"):
        response = api_client.get(path)
        assert response.status_code in (401, 403), path
        assert "Secret buyer" not in response.content.decode()
    assert api_client.post("/api/v1/buyers", {"company": "x"},
                           format="json").status_code in (401, 403)
    assert not Buyer.objects.filter(company="x").exists()


def test_a_revoked_or_unknown_staff_token_is_401(api_client):
    api_client.credentials(HTTP_AUTHORIZATION="Bearer lxs_abcdefgh_not-a-real-token")
    assert api_client.get("/api/v1/buyers").status_code == 401


def test_a_managers_member_reads_but_cannot_write(staff_client, sim_url):
    vertical = VerticalFactory(slug="auto-insurance")
    contract = sim_contract(vertical, sim_url)
    manager = staff_client("reader", group="Managers")

    assert manager.get("/api/v1/buyers").status_code == 200
    assert manager.get(f"/api/v1/contracts/{contract.pk}").status_code == 200
    assert manager.get("/api/v1/sources").status_code == 200
    assert manager.get("/api/v1/verticals/auto-insurance").status_code == 200
    assert manager.get(f"/api/v1/contracts/{contract.pk}/health").status_code == 200

    assert manager.post("/api/v1/buyers", {"company": "New"}, format="json").status_code == 403
    assert manager.patch(f"/api/v1/buyers/{contract.buyer_id}", {"notes": "x"},
                         format="json").status_code == 403
    assert manager.delete(f"/api/v1/contracts/{contract.pk}").status_code == 403
    assert manager.patch(f"/api/v1/contracts/{contract.pk}", {"priority": 5},
                         format="json").status_code == 403
    assert manager.post(f"/api/v1/contracts/{contract.pk}/pause").status_code == 403
    assert manager.post(f"/api/v1/contracts/{contract.pk}/test-ping").status_code == 403
    assert manager.post("/api/v1/sources", {"name": "S"}, format="json").status_code == 403
    contract.refresh_from_db()
    assert (contract.priority, contract.status) == (0, "active")
    assert Contract.objects.filter(pk=contract.pk).exists()
    assert not Buyer.objects.filter(company="New").exists()


def test_a_staff_session_works_like_a_token(client, django_user_model):
    BuyerFactory(company="Acme")
    admin = django_user_model.objects.create_superuser("boss", "boss@example.com", "pw")
    client.force_login(admin)

    response = client.get("/api/v1/buyers")

    assert response.status_code == 200
    assert [b["company"] for b in response.json()["results"]] == ["Acme"]


def test_a_staff_user_without_a_role_sees_nothing(staff_client):
    BuyerFactory()
    assert staff_client("nobody").get("/api/v1/buyers").status_code == 403


def test_an_account_manager_writes_and_the_change_is_in_the_audit_log(am_client):
    created = am_client.post("/api/v1/buyers", {"company": "Acme", "timezone": "America/Chicago"},
                             format="json")
    assert created.status_code == 201, created.json()
    buyer_id = created.json()["id"]

    changed = am_client.patch(f"/api/v1/buyers/{buyer_id}", {"quality_multiplier": "1.20"},
                              format="json")

    assert changed.status_code == 200 and changed.json()["quality_multiplier"] == "1.20"
    assert changed.json()["timezone"] == "America/Chicago"
    entries = LogEntry.objects.filter(content_type=ContentType.objects.get_for_model(Buyer),
                                      object_id=str(buyer_id)).order_by("action_time")
    assert [(e.user.username, e.action_flag) for e in entries] == [("am", 1), ("am", 2)]
    assert "quality_multiplier" in entries.last().change_message
    assert am_client.delete(f"/api/v1/buyers/{buyer_id}").status_code == 204
    assert not Buyer.objects.filter(pk=buyer_id).exists()


def test_a_buyer_with_bad_values_is_refused_by_field(am_client):
    response = am_client.post("/api/v1/buyers", {"company": "Acme", "timezone": "Mars/Base",
                                                 "quality_multiplier": "9"}, format="json")

    assert response.status_code == 400
    assert set(response.json()["errors"]) == {"timezone", "quality_multiplier"}
    assert not Buyer.objects.exists()


def test_listing_contracts_costs_the_same_queries_for_one_or_many(
        am_client, sim_url, django_assert_max_num_queries):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    vertical = VerticalFactory(slug="auto-insurance")
    sim_contract(vertical, sim_url, filters=[{"field": "state", "operator": "eq",
                                              "value": "NY"}])
    with CaptureQueriesContext(connection) as one:
        assert am_client.get("/api/v1/contracts").status_code == 200
    for _ in range(5):
        sim_contract(vertical, sim_url, caps=[{"period": "day", "limit": 5}])

    with django_assert_max_num_queries(len(one.captured_queries)):
        response = am_client.get("/api/v1/contracts")

    assert response.json()["count"] == 6


# --- contract tools ---


def test_test_ping_returns_the_exact_request_the_raw_answer_and_the_parsed_bid(
        am_client, sim_url):
    sim_reset(sim_url)  # contract ids, hence simulator paths, repeat from test to test
    vertical = VerticalFactory(slug="auto-insurance")
    for spec in ({"zip": "10001"}, {"vehicle_year": "2019"}):
        [(key, example)] = spec.items()
        vertical.fields.filter(key=key).update(example=example)
    contract = sim_contract(vertical, sim_url, query="bid=17.25", ping_format="xml",
                            ping_mappings=[{"target": "Lead.Zip", "source": "zip"}])

    response = am_client.post(f"/api/v1/contracts/{contract.pk}/test-ping", {}, format="json")

    assert response.status_code == 200, response.json()
    result = response.json()
    assert (result["kind"], result["outcome"]) == ("ping", "bid")
    assert result["request"]["method"] == "POST"
    assert result["request"]["url"] == f"{sim_url}/b{contract.pk}/ping?bid=17.25&format=xml"
    assert ET.fromstring(result["request"]["body"]).findtext("Lead/Zip") == "10001"
    [received] = sim_requests(sim_url, f"/b{contract.pk}/ping")
    assert received["body"] == result["request"]["body"]
    assert result["response"]["status"] == 200
    token = ET.fromstring(result["response"]["body"]).findtext("token")
    assert result["parsed"] == {"accepted": True, "price": "17.25", "token": token,
                                "reason": None}
    assert LogEntry.objects.filter(object_id=str(contract.pk),
                                   change_message__contains="test ping").exists()


def test_test_ping_with_an_unknown_lead_is_a_400(am_client, sim_url):
    contract = sim_contract(VerticalFactory(slug="auto-insurance"), sim_url)
    response = am_client.post(f"/api/v1/contracts/{contract.pk}/test-ping",
                              {"lead": "00000000-0000-0000-0000-000000000000"}, format="json")
    assert response.status_code == 400 and "lead" in response.json()["errors"]


def test_the_preview_shows_both_requests_without_sending_them(am_client, sim_url):
    sim_reset(sim_url)
    vertical = VerticalFactory(slug="auto-insurance")
    vertical.fields.filter(key="email").update(example="jane@example.com")
    vertical.fields.filter(key="zip").update(example="10001")
    contract = sim_contract(vertical, sim_url,
                            post_mappings=[{"target": "ref", "source": "@ping.token"},
                                           {"target": "email", "source": "email"}])

    response = am_client.get(f"/api/v1/contracts/{contract.pk}/preview")

    assert response.status_code == 200, response.json()
    ping, post = response.json()["ping"], response.json()["post"]
    assert "email" not in json.loads(ping["request"]["body"])  # PII never in a ping
    assert json.loads(post["request"]["body"]) == {"ref": "sample-ping-token",
                                                   "email": "jane@example.com"}
    assert sim_requests(sim_url, f"/b{contract.pk}/ping") == []


@pytest.fixture
def real_lead_contract(sim_url):
    """A contract whose post sends the e-mail, and a real lead of its vertical."""
    sim_reset(sim_url)
    vertical = VerticalFactory(slug="auto-insurance")
    contract = sim_contract(vertical, sim_url, query="bid=12",
                            post_mappings=[{"target": "ref", "source": "@ping.token"},
                                           {"target": "email", "source": "email"}])
    lead = Lead.objects.create(source=SourceFactory(verticals=[vertical]), vertical=vertical,
                               fields=valid_fields(email="jane.doe@example.com"))
    return contract, lead


def test_the_tools_hide_a_real_leads_personal_data_in_the_post(am_client,
                                                               real_lead_contract):
    contract, lead = real_lead_contract

    preview = am_client.get(f"/api/v1/contracts/{contract.pk}/preview",
                            {"lead": str(lead.uuid)})
    trip = am_client.post(f"/api/v1/contracts/{contract.pk}/test-round-trip",
                          {"lead": str(lead.uuid)}, format="json")

    assert preview.status_code == 200 and trip.status_code == 200, trip.json()
    assert preview.json()["post"]["request"]["body"] == HIDDEN_BODY
    assert json.loads(preview.json()["ping"]["request"]["body"])["zip"] == "10001"
    assert trip.json()["outcome"] == "accepted"
    assert trip.json()["post"]["request"]["body"] == HIDDEN_BODY
    assert trip.json()["post"]["response"]["body"] == HIDDEN_BODY
    for response in (preview, trip):
        assert "jane.doe@example.com" not in response.content.decode()
    assert not LogEntry.objects.filter(content_type__model="lead").exists()


def test_a_tool_reveal_needs_the_permission_and_is_audited(am_client, staff_client,
                                                           real_lead_contract, sim_url):
    contract, lead = real_lead_contract
    root = staff_client("root", superuser=True)

    refused = am_client.post(f"/api/v1/contracts/{contract.pk}/test-ping",
                             {"lead": str(lead.uuid), "reveal": True}, format="json")
    preview = root.get(f"/api/v1/contracts/{contract.pk}/preview",
                       {"lead": str(lead.uuid), "reveal": "true"})

    assert refused.status_code == 403
    assert sim_requests(sim_url, f"/b{contract.pk}/ping") == []  # refused before sending
    assert preview.status_code == 200
    assert json.loads(preview.json()["post"]["request"]["body"])["email"] == \
        "jane.doe@example.com"
    [entry] = LogEntry.objects.filter(content_type__model="lead")
    assert (entry.object_id, entry.user.username) == (str(lead.pk), "root")
    assert entry.change_message == "Revealed the consumer's personal data (staff-api)."


def test_pause_and_resume_flip_the_contract_and_are_in_the_audit_log(am_client, sim_url):
    contract = sim_contract(VerticalFactory(slug="auto-insurance"), sim_url)

    paused = am_client.post(f"/api/v1/contracts/{contract.pk}/pause",
                            {"reason": "buyer asked"}, format="json")

    assert paused.status_code == 200 and paused.json()["status"] == "paused"
    contract.refresh_from_db()
    assert contract.status == "paused"
    health = am_client.get(f"/api/v1/contracts/{contract.pk}/health").json()
    assert health["health"]["switched_on"] is False

    resumed = am_client.post(f"/api/v1/contracts/{contract.pk}/resume")

    assert resumed.status_code == 200 and resumed.json()["status"] == "active"
    contract.refresh_from_db()
    assert contract.status == "active"
    messages = list(LogEntry.objects.filter(
        content_type=ContentType.objects.get_for_model(Contract), object_id=str(contract.pk),
        user__username="am").order_by("action_time").values_list("change_message", flat=True))
    assert messages == ["Paused through the API: buyer asked.", "Resumed through the API."]


def test_resume_closes_an_open_circuit_breaker(am_client, sim_url):
    from apps.auctions.health import contract_pause

    contract = sim_contract(VerticalFactory(slug="auto-insurance"), sim_url)
    contract_pause(contract.pk, "10 consecutive slow answers")
    assert am_client.get(f"/api/v1/contracts/{contract.pk}/health").json()["health"][
        "auto_pause_reason"] == "10 consecutive slow answers"

    resumed = am_client.post(f"/api/v1/contracts/{contract.pk}/resume")

    assert resumed.json()["auto_paused_at"] is None
    contract.refresh_from_db()
    assert contract.auto_paused_at is None


def test_health_reports_cap_usage(am_client, api_client, sim_url):
    process_warm(sim_url)
    vertical = VerticalFactory(slug="auto-insurance")
    _, key = source_with_key(vertical)
    contract = sim_contract(vertical, sim_url, caps=[{"period": "day", "limit": 5}])
    assert lead_submit(api_client, key).json()["status"] == "sold"

    response = am_client.get(f"/api/v1/contracts/{contract.pk}/health")

    assert response.status_code == 200
    [cap] = response.json()["caps"]
    assert (cap["period"], cap["metric"], cap["used"], cap["limit"], cap["percent"]) == (
        "day", "leads", "1.00", "5.00", 20)
    assert response.json()["health"]["last_latency_ms"] is not None


def test_the_contract_tools_answer_404_for_an_unknown_contract(am_client):
    for action in ("test-ping", "pause", "resume"):
        assert am_client.post(f"/api/v1/contracts/999999/{action}").status_code == 404
    for view in ("preview", "health"):
        assert am_client.get(f"/api/v1/contracts/999999/{view}").status_code == 404


# --- the schema ---


STAFF_PATHS = {
    "/api/v1/buyers": {"get", "post"},
    "/api/v1/buyers/{buyer_id}": {"get", "put", "patch", "delete"},
    "/api/v1/contracts": {"get", "post"},
    "/api/v1/contracts/{contract_id}": {"get", "put", "patch", "delete"},
    "/api/v1/contracts/{contract_id}/test-ping": {"post"},
    "/api/v1/contracts/{contract_id}/preview": {"get"},
    "/api/v1/contracts/{contract_id}/pause": {"post"},
    "/api/v1/contracts/{contract_id}/resume": {"post"},
    "/api/v1/contracts/{contract_id}/health": {"get"},
    "/api/v1/verticals": {"get", "post"},
    "/api/v1/verticals/{slug}": {"get", "put", "patch"},
    "/api/v1/verticals/{slug}/spec": {"get"},
    "/api/v1/sources": {"get", "post"},
    "/api/v1/sources/{source_id}": {"get", "put", "patch"},
    "/api/v1/sources/{source_id}/keys": {"post"},
    "/api/v1/sources/{source_id}/keys/{key_id}/rotate": {"post"},
    "/api/v1/sources/{source_id}/keys/{key_id}/revoke": {"post"},
}


def test_the_openapi_schema_documents_every_staff_endpoint(api_client):
    schema = api_client.get("/api/schema/", HTTP_ACCEPT="application/json").json()

    for path, methods in STAFF_PATHS.items():
        assert path in schema["paths"], path
        assert methods <= set(schema["paths"][path]), path
    create = schema["paths"]["/api/v1/contracts"]["post"]
    assert {"staffToken": []} in create["security"]
    assert {"201", "400", "401", "403"} <= set(create["responses"])
    components = schema["components"]["schemas"]
    endpoint = components["EndpointInputRequest"]["properties"]
    assert {"url", "body_format", "response", "mappings", "auth_secret"} <= set(endpoint)
    assert "auth_secret" not in components["EndpointOutput"]["properties"]
    assert "digest" not in components["SourceKey"]["properties"]
    assert "api_key" in components["SourceCreated"]["properties"]

