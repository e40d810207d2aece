"""Onboarding a buyer from its own documents (issue 11 item 7): staff paste the buyer's sample
ping and post requests and answers, ``POST /api/v1/contracts/draft`` drafts the contract,
and the draft — posted to ``/api/v1/contracts`` as it came, switched live — sells a lead to
a local buyer that checks every request the way its samples say, in each body format (JSON,
XML, form, query string). Samples the vertical cannot fill are listed, exactly."""

from __future__ import annotations

import json
from datetime import date
from decimal import Decimal

import pytest
from rest_framework.test import APIClient

from apps.auctions.models import Sale
from apps.buyers.drafting import TEMPLATES
from apps.buyers.models import Contract
from tests.api.conftest import ACCOUNT_MANAGERS, MANAGERS, staff_token
from tests.factories import (
    BuyerFactory,
    consumer_fields,
    examples_set,
    lead_submit,
    source_with_key,
)
from tests.integration.buyer_server import BuyerServer, Received, json_answer

pytestmark = pytest.mark.django_db

SECRET = "sk_live_abc123"


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


def _draft(staff_api: APIClient, **body) -> dict:
    response = staff_api.post("/api/v1/contracts/draft",
                              {"vertical": "auto-insurance", **body}, format="json")
    assert response.status_code == 200, response.json()
    return response.json()


def _sells(staff_api: APIClient, api_client: APIClient, document: dict, vertical,
           fields: dict) -> dict:
    """Create the drafted contract as it came, switch it live, sell it a lead."""
    created = staff_api.post("/api/v1/contracts", document, format="json")
    assert created.status_code == 201, created.json()
    assert created.json()["status"] == "testing"
    assert staff_api.post(f"/api/v1/contracts/{created.json()['id']}/go-live").status_code == 200
    _, key = source_with_key(vertical)
    answer = lead_submit(api_client, key, fields).json()
    assert answer["status"] == "sold", answer
    return created.json()


def _checked(checks: dict, answer):
    """A buyer script: answer ``answer`` when every check of the request holds, else 422
    naming the checks that failed."""
    def script(request: Received):
        failed = [name for name, check in checks.items() if not check(request)]
        if failed:
            return json_answer(422, {"message": f"bad request: {failed}"})
        return answer(request) if callable(answer) else answer
    return script


# --- JSON ------------------------------------------------------------------------------------

JSON_PING = {"zip": "10001", "State": "NY", "VehicleYear": 2019, "Age": 39, "credit": "Good",
             "Homeowner": "Y", "vendor_id": "ACME-77", "api_key": SECRET, "test": True}
JSON_POST = {"ping_id": "abc", "FirstName": "John", "LastName": "Smith", "Email": "j@x.com",
             "Phone": "5551234567", "DOB": "04/12/1985", "Address": "1 Elm St",
             "zip": "10001", "vendor_id": "ACME-77", "api_key": SECRET, "test": True}


def test_a_json_buyer_drafted_from_its_samples_buys_a_lead_without_edits(
        staff_api, api_client, vertical, server):
    lead = consumer_fields(1, first_name="Ann", last_name="Lee", credit_rating="Excellent",
                           homeowner="no", address="9 Oak Ave")
    today = date.today()
    ages = {today.year - 1985 - ((today.month, today.day) < (4, 12)) - lag for lag in (0, 1)}
    server.on("/ping", _checked({
        "the keys of the sample": lambda r: set(r.json()) == set(JSON_PING) - {"test"},
        "a number for VehicleYear": lambda r: r.json()["VehicleYear"] == 2019,
        "an age, never the birth date": lambda r: r.json()["Age"] in ages  # (UTC day)
        and "1985" not in r.body.decode(),
        "credit as Title": lambda r: r.json()["credit"] == "Excellent",
        "Y/N": lambda r: r.json()["Homeowner"] == "N",
        "the key": lambda r: r.json()["api_key"] == SECRET,
    }, json_answer(200, {"status": "accepted", "price": 12.5, "ping_id": "tok-1"})))
    server.on("/post", _checked({
        "the token": lambda r: r.json()["ping_id"] == "tok-1",
        "the lead": lambda r: (r.json()["FirstName"], r.json()["LastName"],
                               r.json()["Address"]) == ("Ann", "Lee", "9 Oak Ave"),
        "phone_10": lambda r: r.json()["Phone"] == "2125550001",
        "US date": lambda r: r.json()["DOB"] == "04/12/1985",
        "the constant": lambda r: r.json()["vendor_id"] == "ACME-77",
        "no test flag live": lambda r: "test" not in r.json(),
    }, json_answer(200, {"result": "success", "lead_id": "L1"})))

    drafted = _draft(staff_api, buyer=BuyerFactory().pk, ping={
        "url": f"{server.url}/ping", "request": json.dumps(JSON_PING),
        "answer": '{"status": "accepted", "price": 12.5, "ping_id": "abc"}',
        "refusal": '{"status": "rejected", "reason": "no coverage"}'},
        post={"url": f"{server.url}/post", "request": json.dumps(JSON_POST),
              "answer": '{"result": "success", "lead_id": "L1"}'})

    assert drafted["unmatched"] == []
    document = drafted["contract"]
    assert document["endpoints"]["ping"]["response"] == {
        "format": "json", "price_path": "price", "success_path": "status",
        "success_values": ["accepted"], "token_path": "ping_id", "reason_path": "reason"}
    assert (document["test_flag"], document["test_flag_key"], document["test_flag_value"],
            document["test_flag_type"]) == ("field", "test", "true", "boolean")
    assert document["secrets"] == {"api_key": SECRET}
    created = _sells(staff_api, api_client, document, vertical,
                     {**lead, "date_of_birth": "1985-04-12"})
    assert [len(server.received(p)) for p in ("/ping", "/post")] == [1, 1]
    assert Sale.objects.get().price == Decimal("12.50")
    assert SECRET not in json.dumps(created)  # written, never read back


def test_what_a_vertical_cannot_fill_is_listed_exactly_and_the_rest_still_sells(
        staff_api, api_client, vertical, server):
    server.on("/ping", lambda r: json_answer(200, {"status": "accepted", "price": 5,
                                                   "ping_id": "t"}))
    server.on("/post", lambda r: json_answer(200, {"result": "success"}))

    drafted = _draft(staff_api, buyer=BuyerFactory().pk, ping={
        "url": f"{server.url}/ping",
        "request": json.dumps({"zip": "10001", "DOB": "1985-04-12", "Gender": "F"}),
        "answer": '{"status": "accepted", "price": 5, "ping_id": "t1"}'},
        post={"url": f"{server.url}/post", "request": json.dumps({
            "ping_id": "t1", "email": "a@b.co", "MiddleName": "Q",
            "TrustedFormCertUrl": "https://cert.trustedform.com/abc",
            "contact": {"mobile": "5551234567", "fax": "5559876543"}}),
            "answer": '{"result": "success"}'})

    no_field = "no field of the vertical holds this"
    assert drafted["unmatched"] == [
        {"where": "endpoints.ping.mappings", "key": "DOB", "value": "1985-04-12",
         "reason": "'date_of_birth' is personal data, never sent on a ping (ask the buyer "
                   "for a value derived from it: an age, a ZIP3 …)"},
        {"where": "endpoints.ping.mappings", "key": "Gender", "value": "F",
         "reason": no_field},
        {"where": "endpoints.post.mappings", "key": "MiddleName", "value": "Q",
         "reason": no_field},
        {"where": "endpoints.post.mappings", "key": "TrustedFormCertUrl",
         "value": "https://cert.trustedform.com/abc", "reason": no_field},
        {"where": "endpoints.post.mappings", "key": "contact.fax", "value": "5559876543",
         "reason": no_field},
    ]
    assert drafted["contract"]["endpoints"]["post"]["mappings"] == [
        {"target": "ping_id", "source": "@ping.token"},
        {"target": "email", "source": "email"},
        {"target": "contact.mobile", "source": "phone", "transform": "phone_10"}]
    _sells(staff_api, api_client, drafted["contract"], vertical, consumer_fields(2))


# --- XML -------------------------------------------------------------------------------------

XML_PING = ("<ping><zip>10001</zip><vehicle><year>2019</year></vehicle><state>NY</state>"
            "<source_id>LX-1</source_id></ping>")
XML_POST = ("<lead><ping_token>X1</ping_token><contact><first>John</first><last>Smith</last>"
            "<email>j@x.com</email><phone>+15551234567</phone></contact>"
            "<birth_date>1985-04-12</birth_date><zip>10001</zip></lead>")


def _xml(request: Received, path: str) -> str:
    from lxml import etree

    return etree.fromstring(request.body).findtext(path)


def test_an_xml_buyer_drafted_from_its_samples_buys_a_lead_without_edits(
        staff_api, api_client, vertical, server):
    answer = (200, "application/xml", "<response><result>bid</result><amount>11.00</amount>"
                                      "<token>X-77</token></response>")
    server.on("/ping", _checked({
        "the root": lambda r: r.body.startswith(b"<?xml") and b"<ping>" in r.body,
        "nested year": lambda r: _xml(r, "vehicle/year") == "2019",
        "zip": lambda r: _xml(r, "zip") == "10001",
        "the constant": lambda r: _xml(r, "source_id") == "LX-1",
    }, answer))
    server.on("/post", _checked({
        "the token": lambda r: _xml(r, "ping_token") == "X-77",
        "E.164": lambda r: _xml(r, "contact/phone") == "+12125550003",
        "names": lambda r: (_xml(r, "contact/first"), _xml(r, "contact/last")) == (
            "Jane", "Doe"),
        "ISO date": lambda r: _xml(r, "birth_date") == "1985-04-12",
    }, (200, "application/xml", "<response><status>accepted</status></response>")))

    drafted = _draft(staff_api, buyer=BuyerFactory().pk, ping={
        "url": f"{server.url}/ping", "request": XML_PING,
        "answer": "<response><result>bid</result><amount>11.00</amount>"
                  "<token>X1</token></response>",
        "refusal": "<response><result>no_bid</result><reason>full</reason></response>"},
        post={"url": f"{server.url}/post", "request": XML_POST,
              "answer": "<response><status>accepted</status></response>"})

    assert drafted["unmatched"] == []
    ping = drafted["contract"]["endpoints"]["ping"]
    assert (ping["body_format"], ping["xml_root"]) == ("xml", "ping")
    assert ping["response"] == {"format": "xml", "price_path": "/response/amount",
                                "success_path": "/response/result", "success_values": ["bid"],
                                "token_path": "/response/token",
                                "reason_path": "/response/reason"}
    # "vehicle.year" matched by its value: the sample lead's vehicle year
    assert {"target": "vehicle.year", "source": "vehicle_year"} in ping["mappings"]
    _sells(staff_api, api_client, drafted["contract"], vertical, consumer_fields(3))


# --- form ------------------------------------------------------------------------------------

FORM_PING = ("Lead[Zip]=10001&Lead[State]=NY&Lead[CreditRating]=GOOD&Lead[YearOfBirth]=1985"
             "&Partner=lx&Test_Lead=1")
FORM_POST = ("Lead[FirstName]=John&Lead[LastName]=Smith&Lead[Phone]=555-123-4567"
             "&Lead[Email]=j%40x.com&Lead[DOB]=1985/04/12&Lead[Zip]=10001&PingId=F-1"
             "&Partner=lx&Test_Lead=1")


def test_a_form_buyer_drafted_from_its_samples_buys_a_lead_without_edits(
        staff_api, api_client, vertical, server):
    server.on("/ping", _checked({
        "bracket keys": lambda r: r.form() == {"Lead[Zip]": ["10001"], "Lead[State]": ["NY"],
                                               "Lead[CreditRating]": ["FAIR"],
                                               "Lead[YearOfBirth]": ["1985"],
                                               "Partner": ["lx"]},
    }, (200, "application/x-www-form-urlencoded", "status=ok&price=9.75&id=F-9")))
    server.on("/post", _checked({
        "the token": lambda r: r.form()["PingId"] == ["F-9"],
        "dashed phone": lambda r: r.form()["Lead[Phone]"] == ["212-555-0004"],
        "the date": lambda r: r.form()["Lead[DOB]"] == ["1985/04/12"],
        "no test flag live": lambda r: "Test_Lead" not in r.form(),
    }, (200, "application/x-www-form-urlencoded", "status=ok")))

    drafted = _draft(staff_api, buyer=BuyerFactory().pk, ping={
        "url": f"{server.url}/ping", "request": FORM_PING,
        "answer": "status=ok&price=9.75&id=F-1", "refusal": "status=no&reason=full"},
        post={"url": f"{server.url}/post", "request": FORM_POST, "answer": "status=ok",
              "refusal": "status=rejected&reason=dupe"})

    assert drafted["unmatched"] == []
    document = drafted["contract"]
    assert document["endpoints"]["post"]["key_style"] == "brackets"
    assert document["endpoints"]["ping"]["mappings"][2:4] == [
        {"target": "Lead.CreditRating", "source": "credit_rating", "transform": "upper"},
        {"target": "Lead.YearOfBirth", "source": "date_of_birth", "transform": "birth_year"}]
    assert (document["test_flag_key"], document["test_flag_value"]) == ("Test_Lead", "1")
    _sells(staff_api, api_client, document, vertical,
           consumer_fields(4, credit_rating="fair"))


# --- query string ----------------------------------------------------------------------------


def test_a_query_string_buyer_drafted_from_its_samples_buys_a_lead_without_edits(
        staff_api, api_client, vertical, server):
    def query(request: Received) -> dict:
        return {key: values[0] for key, values in request.query.items()}

    server.on("/ping", _checked({
        "a GET": lambda r: r.method == "GET" and not r.body,
        "the parameters": lambda r: query(r) == {"zip": "10001", "st": "NY",
                                                 "homeowner": "1", "key": "QK-1",
                                                 "zip3": "100"},
    }, json_answer(200, {"success": True, "bid": "8.40", "token": "Q-9"})))
    server.on("/post", _checked({
        "the token": lambda r: query(r)["token"] == "Q-9",
        "the date": lambda r: query(r)["dob"] == "04-12-1985",
        "the key": lambda r: query(r)["key"] == "QK-1",
    }, (200, "text/plain", "ACCEPTED lead 5")))

    drafted = _draft(staff_api, buyer=BuyerFactory().pk, ping={
        "url": f"{server.url}/ping",
        "request": "https://buyer.example.com/ping?zip=10001&st=NY&homeowner=1&key=QK-1"
                   "&zip3=100",
        "answer": '{"success": true, "bid": "8.40", "token": "Q-1"}'},
        post={"url": f"{server.url}/post",
              "request": "https://buyer.example.com/post?token=Q-1&first_name=John"
                         "&phone=5551234567&email=j@x.com&dob=04-12-1985&zip=10001"
                         "&key=QK-1",
              "answer": "ACCEPTED lead 5", "refusal": "REJECTED duplicate"})

    assert drafted["unmatched"] == []
    document = drafted["contract"]
    assert document["endpoints"]["ping"]["method"] == "GET"
    assert document["endpoints"]["post"]["response"] == {"format": "text",
                                                          "success_regex": "^\\s*ACCEPTED"}
    assert document["secrets"] == {"key": "QK-1"}
    _sells(staff_api, api_client, document, vertical,
           consumer_fields(5, homeowner="yes", date_of_birth="1985-04-12"))
    assert len(server.received("/post")) == 1


# --- templates, errors, permissions ----------------------------------------------------------


@pytest.mark.parametrize("slug", sorted(TEMPLATES))
def test_every_template_drafts_a_contract_the_api_accepts(staff_api, slug):
    drafted = _draft(staff_api, buyer=BuyerFactory().pk, template=slug)

    document = drafted["contract"]
    assert drafted["unmatched"] == []
    assert document["test_flag"] == "field"  # each format says how it flags a test
    assert any(row.get("source") == "@ping.token"
               for row in document["endpoints"]["post"]["mappings"])
    assert all(row.get("source", "").startswith("@secret.")
               for endpoint in document["endpoints"].values() for row in endpoint["mappings"]
               if "REPLACE-WITH-BUYER-KEY" in str(row))
    created = staff_api.post("/api/v1/contracts", document, format="json")
    assert created.status_code == 201, created.json()
    assert Contract.objects.get(pk=created.json()["id"]).status == "testing"


def test_the_boberdoo_style_template_drafts_its_known_shape(staff_api):
    drafted = _draft(staff_api, template="boberdoo",
                     post={"url": "https://leads.acme-insure.com/genericPostlead.php"})

    document = drafted["contract"]
    post = document["endpoints"]["post"]
    assert post["url"] == "https://leads.acme-insure.com/genericPostlead.php"
    assert (post["body_format"], document["endpoints"]["ping"]["response"]) == ("form", {
        "format": "xml", "price_path": "/response/price", "success_path": "/response/status",
        "success_values": ["Matched"], "token_path": "/response/lead_id",
        "reason_path": "/response/error"})
    rows = {row["target"]: row for row in post["mappings"]}
    assert rows["Lead_ID"] == {"target": "Lead_ID", "source": "@ping.token"}
    assert rows["Key"] == {"target": "Key", "source": "@secret.key"}
    assert rows["Sub_ID"] == {"target": "Sub_ID", "source": "@sub_id"}
    assert rows["Primary_Phone"] == {"target": "Primary_Phone", "source": "phone",
                                     "transform": "phone_10"}
    assert "Test_Lead" not in rows and document["test_flag_key"] == "Test_Lead"


def test_the_templates_are_listed(staff_api):
    listed = staff_api.get("/api/v1/contracts/templates").json()

    assert [t["slug"] for t in listed] == list(TEMPLATES)
    assert all(t["label"].endswith("-style ping/post") for t in listed)


@pytest.mark.parametrize(("body", "errors"), [
    pytest.param({"post": {"request": "{not json"}}, {"post.request"}, id="bad-json"),
    pytest.param({"post": {"request": "<lead><a></lead>"}}, {"post.request"}, id="bad-xml"),
    pytest.param({"post": {"request": "[1, 2]"}}, {"post.request"}, id="json-not-an-object"),
    pytest.param({"post": {"request": "a=1", "answer": "{"}}, {"post.answer"},
                 id="bad-answer"),
    pytest.param({"post": {"request": "a=1", "answer": '{"ok": 1}', "refusal": "{"}},
                 {"post.refusal"}, id="bad-refusal"),
    pytest.param({}, {"post.request"}, id="no-sample-no-template"),
    pytest.param({"post": {"request": "a=1"}, "template": "acme"}, {"template"},
                 id="unknown-template"),
    pytest.param({"post": {"request": "a=1", "format": "yaml"}}, {"post.format"},
                 id="unknown-format"),
])
def test_a_sample_that_cannot_be_read_is_a_400_naming_it(staff_api, body, errors):
    response = staff_api.post("/api/v1/contracts/draft", {"vertical": "auto-insurance",
                                                          **body}, format="json")

    assert response.status_code == 400
    assert set(response.json()["errors"]) == errors


def test_drafting_needs_the_add_permission(vertical):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {staff_token('mo', group=MANAGERS)}")

    response = client.post("/api/v1/contracts/draft", {
        "vertical": "auto-insurance", "template": "px"}, format="json")

    assert response.status_code == 403


def test_a_direct_post_draft_asks_for_its_fixed_price(staff_api):
    drafted = _draft(staff_api, post={"url": "https://b.example.com/p",
                                      "request": '{"email": "a@b.co"}',
                                      "answer": '{"ok": true}'})

    assert drafted["contract"]["mode"] == "direct_post"
    assert drafted["unmatched"] == [{"where": "fixed_price", "key": "fixed_price", "value": "",
                                     "reason": "A direct-post contract pays a fixed price: "
                                               "give it."}]


def test_query_parameters_are_form_pairs_too(staff_api):
    """A pasted form body with a leading ``?`` is read as a query string."""
    drafted = _draft(staff_api, post={"request": "?zip=10001&ZipCode=10001",
                                      "answer": "OK"})

    post = drafted["contract"]["endpoints"]["post"]
    assert post["body_format"] == "query"
    assert [row["source"] for row in post["mappings"]] == ["zip", "zip"]
