"""Drafting from samples, without a database: a sample key and value -> the mapping row that
sends the lead's value the way the sample spells it; sample answers -> response rules;
sample requests in every body format -> endpoint settings and keyed values."""

from __future__ import annotations

from decimal import Decimal

import pytest

from apps.buyers.drafting.answers import answer_rules
from apps.buyers.drafting.matching import FieldSpec, key_match, secret_name
from apps.buyers.drafting.samples import SampleInvalid, request_parse

P = pytest.param
FIELDS = [
    FieldSpec("first_name", "text", True, "Jane"),
    FieldSpec("last_name", "text", True, "Doe"),
    FieldSpec("email", "email", True, "jane.doe@example.com"),
    FieldSpec("phone", "phone", True, "(212) 555-0147"),
    FieldSpec("city", "text", False, "New York"),
    FieldSpec("state", "state", False, "NY"),
    FieldSpec("zip", "zip", False, "10001"),
    FieldSpec("date_of_birth", "date", True, "1985-04-12"),
    FieldSpec("vehicle_year", "integer", False, "2019"),
    FieldSpec("homeowner", "boolean", False, "true"),
    FieldSpec("credit_rating", "choice", False, "good", ("excellent", "good", "fair", "poor")),
]


@pytest.mark.parametrize(("kind", "name", "value", "row"), [
    # by name, and the transform the sample's spelling asks for
    P("post", "FirstName", "John", {"source": "first_name"}, id="name-spelling"),
    P("post", "fname", "John", {"source": "first_name"}, id="name-short-spelling"),
    P("post", "ContactFirstName", "John", {"source": "first_name"}, id="name-ending-the-key"),
    P("post", "Phone", "5551234567", {"source": "phone", "transform": "phone_10"},
      id="phone-10-digits"),
    P("post", "PhoneNumber", "+15551234567", {"source": "phone", "transform": "phone_e164"},
      id="phone-e164"),
    P("post", "mobile", "555-123-4567", {"source": "phone", "transform": "phone_dashed"},
      id="phone-dashed"),
    P("post", "Primary_Phone", "15551234567", {"source": "phone", "transform": "digits_only"},
      id="phone-11-digits"),
    P("post", "DOB", "1985-04-12",
      {"source": "date_of_birth", "transform": "date_format", "arg": "%Y-%m-%d"},
      id="date-iso"),
    P("post", "BirthDate", "04/12/1985",
      {"source": "date_of_birth", "transform": "date_format", "arg": "%m/%d/%Y"},
      id="date-us"),
    P("post", "birthday", "25/12/1985",
      {"source": "date_of_birth", "transform": "date_format", "arg": "%d/%m/%Y"},
      id="date-day-first-when-it-must-be"),
    P("post", "DOB", "19850412",
      {"source": "date_of_birth", "transform": "date_format", "arg": "%Y%m%d"},
      id="date-compact"),
    P("ping", "Homeowner", "Y", {"source": "homeowner", "transform": "bool_yn"}, id="bool-yn"),
    P("ping", "homeowner", 1, {"source": "homeowner", "transform": "bool_10"}, id="bool-10"),
    P("ping", "OwnHome", "Yes", {"source": "homeowner", "transform": "bool_text",
                                  "arg": "Yes|No"}, id="bool-words"),
    P("ping", "homeowner", True, {"source": "homeowner"}, id="bool-json"),
    P("ping", "State", "ny", {"source": "state", "transform": "lower"}, id="state-lower"),
    P("ping", "credit", "GOOD", {"source": "credit_rating", "transform": "upper"},
      id="choice-upper"),
    P("ping", "credit", "Excellent", {"source": "credit_rating", "transform": "title"},
      id="choice-title-another-choice"),
    P("ping", "VehicleYear", "2019", {"source": "vehicle_year", "transform": "string"},
      id="number-as-json-text"),
    P("ping", "VehicleYear", 2019, {"source": "vehicle_year"}, id="number-as-json-number"),
    # by value alone: the sample lead's own value
    P("post", "x_given", "Jane", {"source": "first_name"}, id="value-first-name"),
    P("post", "c1", "(212) 555-0147", {"source": "phone", "transform": "phone_10"},
      id="value-phone-any-spelling"),
    # derived values a ping may carry
    P("ping", "Age", 39, {"source": "date_of_birth", "transform": "age"}, id="age"),
    P("ping", "YOB", "1985", {"source": "date_of_birth", "transform": "birth_year"},
      id="birth-year"),
    P("ping", "zip3", "100", {"source": "zip", "transform": "zip3"}, id="zip3"),
    P("ping", "AreaCode", "212", {"source": "phone", "transform": "phone_area_code"},
      id="area-code"),
    P("ping", "EmailDomain", "example.com", {"source": "email", "transform": "email_domain"},
      id="email-domain"),
    # context values, constants, secrets
    P("post", "lead_id", "abc", {"source": "@lead.id"}, id="our-lead-id"),
    P("post", "SubID", "aff-1", {"source": "@sub_id"}, id="sub-id"),
    P("post", "timestamp", "2024-01-01T00:00:00Z", {"source": "@now"}, id="now"),
    P("ping", "vendor_id", "ACME-77", {"constant": "ACME-77", "constant_type": "string"},
      id="literal-constant"),
    P("ping", "campaign", 17, {"constant": "17", "constant_type": "integer"},
      id="typed-integer"),
    P("ping", "exclusive", False, {"constant": "false", "constant_type": "boolean"},
      id="typed-boolean"),
    P("ping", "rate", Decimal("1.5"), {"constant": "1.5", "constant_type": "decimal"},
      id="typed-decimal"),
    P("ping", "extra", None, {"constant": None, "constant_type": "null"}, id="typed-null"),
    P("ping", "api_key", "sk_1", {"source": "@secret.api_key"}, id="secret-api-key"),
    P("ping", "AuthToken", "t", {"source": "@secret.auth_token"}, id="secret-token"),
    P("ping", "Password", "pw", {"source": "@secret.password"}, id="secret-password"),
    P("ping", "API_Action", "pingPostLead",
      {"constant": "pingPostLead", "constant_type": "string"}, id="api-action-is-no-secret"),
])
def test_a_sample_key_becomes_the_row_that_spells_the_value_like_the_sample(
        kind, name, value, row):
    match = key_match(name, name, value, FIELDS, kind=kind)

    assert match.row == {"target": name, **row}, match


def test_a_post_key_holding_the_pings_token_or_bid_carries_the_live_one():
    token = key_match("ref", "ref", "T-42", FIELDS, kind="post", ping_token="T-42")
    bid = key_match("amount", "amount", "12.50", FIELDS, kind="post",
                    ping_price=Decimal("12.5"))
    named = key_match("PingToken", "PingToken", "whatever", FIELDS, kind="post")

    assert token.row == {"target": "ref", "source": "@ping.token"}
    assert bid.row == {"target": "amount", "source": "@ping.bid"}
    assert named.row == {"target": "PingToken", "source": "@ping.token"}


@pytest.mark.parametrize(("name", "value", "reason"), [
    P("email", "a@b.co", "'email' is personal data, never sent on a ping", id="pii-on-ping"),
    P("MiddleName", "Q", "no field of the vertical holds this", id="lead-data-spelling"),
    P("cust_contact", "x@y.com", "no field of the vertical holds this",
      id="an-email-is-no-constant"),
    P("fax_number", "(555) 999-1234", "no field of the vertical holds this",
      id="a-phone-is-no-constant"),
])
def test_what_cannot_be_sent_stays_unmatched_with_the_reason(name, value, reason):
    match = key_match(name, name, value, FIELDS, kind="ping")

    assert match.row is None and match.reason.startswith(reason)


@pytest.mark.parametrize(("name", "value", "flagged"), [
    P("Test_Lead", "1", True, id="test-lead-1"), P("TestMode", True, True, id="json-true"),
    P("lp_action", "test", True, id="action-test"), P("test", "0", False, id="live-0"),
])
def test_a_key_flagging_a_test_becomes_the_test_flag_not_a_row(name, value, flagged):
    match = key_match(name, name, value, FIELDS, kind="ping")

    assert (match.test_flag == (name, value)) is flagged
    assert (match.row is None) is flagged


@pytest.mark.parametrize(("name", "secret"), [
    ("api_key", "api_key"), ("APIKey", "apikey"), ("lp_campaign_key", "lp_campaign_key"),
    ("Api-Token", "api_token"), ("ApiToken", "api_token"), ("1key", "_1key"),
])
def test_secret_names_are_identifiers(name, secret):
    assert secret_name(name) == secret


# --- requests ----------------------------------------------------------------------------------


@pytest.mark.parametrize(("text", "expected", "leaves"), [
    P('{"a": 1, "b": {"c": [true, null]}, "d.e": "x"}', {"body_format": "json"},
      [(("a",), 1), (("b", "c", 0), True), (("b", "c", 1), None), (("d.e",), "x")],
      id="json-nested"),
    P('<lead id="7"><Name>Jo</Name><car><year>2019</year></car><car><year>2020</year>'
      "</car></lead>", {"body_format": "xml", "xml_root": "lead"},
      [(("@id",), "7"), (("Name",), "Jo"), (("car", 0, "year"), "2019"),
       (("car", 1, "year"), "2020")], id="xml-attributes-and-repeats"),
    P("Lead[First]=Jo&drivers[0][age]=41&x=1", {"body_format": "form", "key_style": "brackets"},
      [(("Lead", "First"), "Jo"), (("drivers", 0, "age"), "41"), (("x",), "1")],
      id="form-brackets"),
    P("Lead.First=Jo&Lead.Last=Li", {"body_format": "form", "key_style": "dotted"},
      [(("Lead", "First"), "Jo"), (("Lead", "Last"), "Li")], id="form-dotted"),
    P("https://b.example.com/p?zip=1&key=k#frag",
      {"body_format": "query", "method": "GET", "url": "https://b.example.com/p"},
      [(("zip",), "1"), (("key",), "k")], id="query-url"),
    P("GET https://b.example.com/p?zip=1 HTTP/1.1",
      {"body_format": "query", "url": "https://b.example.com/p"}, [(("zip",), "1")],
      id="query-request-line"),
])
def test_a_sample_request_is_read_in_its_format(text, expected, leaves):
    sample = request_parse(text)

    assert sample.leaves == leaves
    for name, value in expected.items():
        assert getattr(sample, name) == value


@pytest.mark.parametrize(("text", "body_format", "message"), [
    P("", "", "empty", id="empty"), P("[1]", "", "object", id="json-list"),
    P("{", "", "not JSON", id="json-broken"), P("<a>", "", "not XML", id="xml-broken"),
    P('<!DOCTYPE a [<!ENTITY x "y">]><a>&x;</a>', "", "entities", id="xml-entities"),
    P("just words", "", "key=value", id="form-without-pairs"),
    P("a=1", "yaml", "unknown format", id="unknown-format"),
])
def test_a_sample_that_cannot_be_read_says_why(text, body_format, message):
    with pytest.raises(SampleInvalid, match=message):
        request_parse(text, body_format)


# --- answers -----------------------------------------------------------------------------------


@pytest.mark.parametrize(("answer", "refusal", "ping", "rules"), [
    P('{"status": "accepted", "price": 12.5, "ping_id": "abc"}',
      '{"status": "rejected", "reason": "no"}', True,
      {"format": "json", "price_path": "price", "success_path": "status",
       "success_values": ["accepted"], "token_path": "ping_id", "reason_path": "reason"},
      id="json-ping"),
    P('{"result": {"bid": {"amount": "7.10", "token": "t"}}, "ok": true}', "", True,
      {"format": "json", "price_path": "result.bid.amount", "success_path": "ok",
       "success_values": ["true"], "token_path": "result.bid.token"}, id="json-nested"),
    P('<r status="bid" amount="3.00" ref="q"/>', "", True,
      {"format": "xml", "price_path": "/r/@amount", "success_path": "/r/@status",
       "success_values": ["bid"], "token_path": "/r/@ref"}, id="xml-attributes"),
    P("<resp><bids><bid><price>4</price></bid><bid><price>5</price></bid></bids></resp>",
      "", True, {"format": "xml", "price_path": "/resp/bids/bid[1]/price"},
      id="xml-first-of-repeated"),
    P("result=success&lead_id=9", "result=failure&message=dupe", False,
      {"format": "form", "success_path": "result", "success_values": ["success"],
       "reason_path": "message"}, id="form-post"),
    P("BID 12.50", "", True, {"format": "text", "success_regex": "^\\s*BID",
                              "price_path": "(\\d+\\.\\d+)"}, id="text-ping"),
])
def test_sample_answers_become_response_rules(answer, refusal, ping, rules):
    assert answer_rules(answer, refusal=refusal, ping=ping).rules == rules


def test_a_refusal_saying_the_same_word_leaves_the_success_value_to_staff():
    drafted = answer_rules('{"status": "ok", "price": 2}', refusal='{"status": "ok"}',
                           ping=True)

    assert "success_path" not in drafted.rules
    assert [rule for rule, _ in drafted.missing] == ["success_values"]


def test_a_ping_answer_without_a_price_is_reported():
    drafted = answer_rules('{"status": "ok"}', ping=True)

    assert [rule for rule, _ in drafted.missing] == ["price_path"]


def test_a_sample_nested_past_the_limit_is_refused_not_a_crash():
    deep = "[" * 900 + "]" * 900
    with pytest.raises(SampleInvalid):
        request_parse('{"a": ' + deep + "}")
    with pytest.raises(SampleInvalid, match="deeper than 32"):
        request_parse('{"a": ' + '{"b": ' * 40 + "1" + "}" * 40 + "}")


def test_a_day_first_date_with_a_one_digit_day_reads():
    match = key_match("DOB", "DOB", "1/12/1985", FIELDS, kind="post")
    day_first = key_match("DOB", "DOB", "13/1/1985", FIELDS, kind="post")

    assert match.row["arg"] == "%m/%d/%Y"
    assert day_first.row["arg"] == "%d/%m/%Y"
