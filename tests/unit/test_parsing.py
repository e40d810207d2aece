"""Reading buyers' answers by rules: every simulator answer in every format, prices, junk,
hostile XML, and rules refused at save time (no network, no DB)."""

from __future__ import annotations

import random
import subprocess
import sys
import time
from decimal import Decimal
from pathlib import Path

import pytest

from apps.buyers.parsing import (
    ParsedResponse,
    ResponseInvalid,
    ResponseRules,
    RulesInvalid,
    response_parse,
    rules_check,
)
from apps.buyers.parsing.values import message_excerpt
from apps.demo.simulator.config import BuyerConfig
from apps.demo.simulator.formats import (
    accepted_body,
    bid_body,
    garbage_body,
    no_bid_body,
    rejected_body,
)

P = pytest.param
R = ResponseRules

# The rules an account manager would configure for each simulator format.
PING_RULES = {
    "json": R("json", success_path="status", price_path="price", token_path="token"),
    "xml": R("xml", success_path="/response/status", price_path="/response/price",
             token_path="/response/token"),
    "xml_attr": R("xml", success_path="/response/@status", price_path="/response/@price",
                  token_path="/response/@token"),
    "form": R("form", success_path="status", price_path="price", token_path="token"),
    "text": R("text", price_path=r"^BID (\d+\.\d+)", token_path=r"^BID \S+ (\S+)"),
}
POST_RULES = {
    "json": R("json", success_path="result", success_values=("accepted",),
              reason_path="reason"),
    "xml": R("xml", success_path="/response/result", success_values=("accepted",),
             reason_path="/response/reason"),
    "xml_attr": R("xml", success_path="/response/@result", success_values=("accepted",),
                  reason_path="string(/response/@reason)"),
    "form": R("form", success_path="result", success_values=("accepted",),
              reason_path="reason"),
    "text": R("text", success_regex=r"^ACCEPTED\b", reason_path=r"^REJECTED (.+)"),
}
FORMATS = list(PING_RULES)


def accepted(price: str | None = None, token: str | None = None) -> ParsedResponse:
    return ParsedResponse(True, None if price is None else Decimal(price), token, None)


def declined(reason: str | None) -> ParsedResponse:
    return ParsedResponse(False, None, None, reason)


# --- every simulator answer -----------------------------------------------------------------


@pytest.mark.parametrize("fmt", FORMATS)
def test_simulator_bid_is_read_in_every_format(fmt):
    body = bid_body(BuyerConfig(format=fmt), Decimal("12.50"), "t-9f2")
    assert response_parse(PING_RULES[fmt], 200, body) == accepted("12.50", "t-9f2")


@pytest.mark.parametrize(
    ("fmt", "reason"),
    [P("json", "no_bid"), P("xml", "no_bid"), P("xml_attr", "no_bid"), P("form", "no_bid"),
     P("text", "no bid price in the answer")],
)
def test_simulator_no_bid_is_declined_in_every_format(fmt, reason):
    body = no_bid_body(BuyerConfig(format=fmt))
    assert response_parse(PING_RULES[fmt], 200, body) == declined(reason)


@pytest.mark.parametrize("fmt", FORMATS)
def test_simulator_post_acceptance_is_read_in_every_format(fmt):
    body = accepted_body(BuyerConfig(format=fmt), "buyer-lead-1")
    assert response_parse(POST_RULES[fmt], 200, body) == accepted()


@pytest.mark.parametrize("fmt", FORMATS)
def test_simulator_post_rejection_carries_its_reason_in_every_format(fmt):
    body = rejected_body(BuyerConfig(format=fmt), "Duplicate lead")
    assert response_parse(POST_RULES[fmt], 200, body) == declined("Duplicate lead")


@pytest.mark.parametrize(
    ("fmt", "rules"),
    [
        P("json", R("json", success_path="status", price_path="bid.amount",
                    token_path="bid.ref"), id="json-nested"),
        P("xml", R("xml", success_path="/response/status", price_path="//bid/amount",
                   token_path="string(//bid/ref)"), id="xml-nested"),
    ],
)
def test_simulator_bid_with_nested_keys_is_read(fmt, rules):
    config = BuyerConfig(format=fmt, price_key="bid.amount", token_key="bid.ref")
    body = bid_body(config, Decimal("7.05"), "t-1")
    assert response_parse(rules, 200, body) == accepted("7.05", "t-1")


@pytest.mark.parametrize("fmt", FORMATS)
def test_simulator_rules_pass_the_save_time_check(fmt):
    rules_check(PING_RULES[fmt])
    rules_check(POST_RULES[fmt])


# --- path languages -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("rules", "body", "expected"),
    [
        P(R(price_path="$.result.price"), b'{"result": {"price": 3.1}}', accepted("3.10"),
          id="json-dollar-dot"),
        P(R(price_path="result.bids[1].price"),
          b'{"result": {"bids": [{"price": 1}, {"price": 2.75}]}}', accepted("2.75"),
          id="json-list-index"),
        P(R(price_path="$[0].price"), b'[{"price": 4}]', accepted("4.00"), id="json-root-list"),
        P(R(price_path="$"), b"9.99", accepted("9.99"), id="json-root-scalar"),
        P(R(success_path="ok", success_values=("true",)), b'{"ok": true}', accepted(),
          id="json-boolean-status"),
        P(R(success_path="code", success_values=("1",)), b'{"code": 1}', accepted(),
          id="json-numeric-status"),
        P(R("xml", price_path="//Bid/@amount"), b'<r><Bid amount="5.5"/></r>', accepted("5.50"),
          id="xpath-attribute"),
        P(R("xml", price_path="string(/r/price)"), b"<r><price> 6 </price></r>",
          accepted("6.00"), id="xpath-string"),
        P(R("xml", price_path="number(/r/price)"), b"<r><price>6.25</price></r>",
          accepted("6.25"), id="xpath-number"),
        P(R("xml", success_path="boolean(/r/ok)"), b"<r><ok/></r>", accepted(),
          id="xpath-boolean"),
        P(R("xml", success_path="/Envelope/Body/Result/Status", price_path="//Price"),
          b'<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Body>'
          b'<Result xmlns="urn:buyer"><Status>BID</Status><Price>8</Price></Result>'
          b"</s:Body></s:Envelope>", accepted("8.00"), id="xpath-soap-namespaces-stripped"),
        P(R("xml", price_path="//Bid/@amount", token_path="//Bid/@ref"),
          b'<r xmlns:x="urn:x" xmlns="urn:d"><Bid x:amount="3.5" x:ref="t1"/></r>',
          accepted("3.50", "t1"), id="xpath-namespaced-attributes-stripped"),
        P(R("form", price_path="bid[price]"), b"bid%5Bprice%5D=2.5", accepted("2.50"),
          id="form-bracket-key"),
        P(R("text", price_path=r"price=(\d+)"), b"ok price=15", accepted("15.00"),
          id="text-first-group"),
        P(R("text", price_path=r"\d+\.\d\d"), b"BID 3.25", accepted("3.25"),
          id="text-whole-match"),
    ],
)
def test_paths_in_each_format_find_their_value(rules, body, expected):
    assert response_parse(rules, 200, body) == expected


def test_success_values_compare_case_insensitively():
    rules = R(success_path="status", success_values=("Accepted",))
    assert response_parse(rules, 200, b'{"status": " ACCEPTED "}').accepted


def test_empty_success_values_mean_the_usual_words():
    for word in ("bid", "Accepted", "SUCCESS", "true", "1"):
        assert response_parse(R(success_path="s"), 200, f'{{"s": "{word}"}}'.encode()).accepted
    assert not response_parse(R(success_path="s"), 200, b'{"s": "ok"}').accepted


def test_success_path_and_regex_must_both_hold():
    rules = R(success_path="status", success_regex='"tier": "A"')
    assert response_parse(rules, 200, b'{"status": "bid", "tier": "A"}').accepted
    assert response_parse(rules, 200, b'{"status": "bid", "tier": "B"}') == declined("bid")


# --- status, presence, emptiness ------------------------------------------------------------


def test_status_only_rules_accept_an_empty_2xx_without_parsing_it():
    assert response_parse(R("xml"), 201, b"") == accepted()


def test_status_outside_the_success_list_is_declined_with_the_status():
    assert response_parse(R(), 204, b"") == declined("HTTP 204")


def test_declined_status_carries_the_buyers_reason_when_the_body_has_one():
    rules = R(reason_path="error.message")
    body = b'{"error": {"message": "Missing zip"}}'
    assert response_parse(rules, 400, body) == declined("HTTP 400: Missing zip")


@pytest.mark.parametrize("fmt", ["json", "xml", "form", "text"])
def test_declined_status_with_garbage_body_never_raises(fmt):
    rules = R(fmt, success_path="s", price_path="p", reason_path="r")
    body = garbage_body(random.Random(7))
    assert response_parse(rules, 500, body) == declined("HTTP 500")


@pytest.mark.parametrize(
    ("body", "reason"),
    [P(b'{"price": 0}', "no bid price in the answer", id="zero-price"),
     P(b'{"price": ""}', "no bid price in the answer", id="blank-price"),
     P(b'{"other": 1}', "no bid price in the answer", id="no-price")],
)
def test_without_a_success_rule_a_ping_needs_a_positive_price(body, reason):
    assert response_parse(R(price_path="price"), 200, body) == declined(reason)


def test_a_declined_answer_with_a_junk_price_is_a_decline_not_an_error():
    rules = R(success_path="status", price_path="price")
    assert response_parse(rules, 200, b'{"status": "no_bid", "price": "n/a"}') == declined(
        "no_bid")


def test_an_accepted_answer_without_a_price_is_returned_for_the_caller_to_judge():
    rules = R(success_path="status", price_path="price", token_path="token")
    assert response_parse(rules, 200, b'{"status": "bid"}') == accepted()


# --- prices and tokens ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "price"),
    [
        P('"12.50"', "12.50", id="text"), P('"$12.50"', "12.50", id="dollar-sign"),
        P("12.505", "12.50", id="rounded-down-to-cents"), P("12.999", "12.99", id="never-up"),
        P("12", "12.00", id="integer"), P('"12."', "12.00", id="trailing-dot"),
        P('".5"', "0.50", id="leading-dot"), P("100000", "100000.00", id="maximum"),
        P("0.1", "0.10", id="no-float-error"),
    ],
)
def test_price_is_a_decimal_in_cents(raw, price):
    rules = R(success_path="s", price_path="p")
    parsed = response_parse(rules, 200, f'{{"s": "bid", "p": {raw}}}'.encode())
    assert parsed.price == Decimal(price)
    assert parsed.price.as_tuple().exponent == -2


@pytest.mark.parametrize(
    "raw",
    [
        P('"abc"', id="words"), P("-1", id="negative"), P('"-0.01"', id="negative-text"),
        P("NaN", id="json-nan"), P("Infinity", id="json-infinity"), P('"NaN"', id="nan-text"),
        P("100000.01", id="above-maximum"), P("true", id="boolean"),
        P('{"amount": 1}', id="object"), P("[1]", id="list"), P('"1e3"', id="exponent"),
        P('"12,50"', id="decimal-comma"), P('"1_000"', id="underscore"),
    ],
)
def test_junk_price_in_an_accepted_answer_is_invalid(raw):
    rules = R(success_path="s", price_path="p")
    with pytest.raises(ResponseInvalid, match="price_path"):
        response_parse(rules, 200, f'{{"s": "bid", "p": {raw}}}'.encode())


@pytest.mark.parametrize(
    ("raw", "token"),
    [P('"  t-1 "', "t-1", id="stripped"), P("12345", "12345", id="number"),
     P('""', None, id="blank")],
)
def test_token_is_text(raw, token):
    rules = R(success_path="s", token_path="t")
    assert response_parse(rules, 200, f'{{"s": "bid", "t": {raw}}}'.encode()).token == token


@pytest.mark.parametrize(
    "raw", [P('{"id": 1}', id="object"), P('["a"]', id="list"), P('"' + "x" * 1025 + '"',
                                                                    id="too-long")],
)
def test_junk_token_in_an_accepted_answer_is_invalid(raw):
    rules = R(success_path="s", token_path="t")
    with pytest.raises(ResponseInvalid, match="token_path"):
        response_parse(rules, 200, f'{{"s": "bid", "t": {raw}}}'.encode())


def test_status_word_that_is_an_object_is_invalid():
    with pytest.raises(ResponseInvalid, match="success_path"):
        response_parse(R(success_path="s"), 200, b'{"s": {"code": "bid"}}')


def test_reason_is_one_line_and_cut_short():
    rules = R(success_path="s", reason_path="r")
    body = ('{"s": "rejected", "r": "line one\\n  line two ' + "x" * 600 + '"}').encode()
    reason = response_parse(rules, 200, body).reason
    assert reason.startswith("line one line two x")
    assert len(reason) == 500


# --- garbage and hostile bodies -------------------------------------------------------------

FULL_RULES = {
    "json": R("json", success_path="s", price_path="p", token_path="t", reason_path="r"),
    "xml": R("xml", success_path="//s", price_path="//p", token_path="//t", reason_path="//r"),
    "form": R("form", success_path="s", price_path="p", token_path="t", reason_path="r"),
    "text": R("text", success_path=r"^(\w+)", price_path=r"(\d+\.\d+)", token_path=r"t=(\S+)",
              reason_path=r"REJECTED (.*)"),
    "json-status-only": R("json"),
    "json-price-only": R("json", price_path="p"),
    "xml-regex": R("xml", success_regex="BID", reason_path="//r"),
}
GARBAGE_BODIES = [
    P(b"", id="empty"),
    P(b"   \n", id="whitespace"),
    P(b'{"s": "bid", "p": 12.5', id="truncated-json"),
    P(b"<html><head><title>502 Bad Gateway</title></head><body><hr><center>nginx</center>"
      b"</body></html>", id="html-error-page"),
    P(b"<html><body><p>Service Unavailable</p></body></html>", id="well-formed-html"),
    P(b"\x00\xff\xfe garbage", id="binary"),
    P(b"\xef\xbb\xbf{\"s\": \"bid\"}", id="utf8-bom-json"),
    P("{\"s\": \"bid\"}".encode("utf-16"), id="utf16-json"),
    P(b"[" * 100_000 + b"]" * 100_000, id="deeply-nested-json"),
    P(b"<a>" * 300 + b"</a>" * 300, id="deeply-nested-xml"),
    P(b"s=bid&p=%ZZ&%E0%A4%A", id="bad-percent-escapes"),
    P(b"s=bid&p=" + b"9" * 5000, id="huge-number"),
    P(b'{"p": 1' + b"0" * 5000 + b"}", id="huge-json-int"),
    P(b"null", id="json-null"),
    P(b'"just a string"', id="json-string"),
    P(b"<?xml version='1.0'?>", id="xml-declaration-only"),
]


@pytest.mark.parametrize("rules", [P(rules, id=name) for name, rules in FULL_RULES.items()])
@pytest.mark.parametrize("body", GARBAGE_BODIES)
def test_garbage_body_is_invalid_or_declined_never_another_error(rules, body):
    try:
        parsed = response_parse(rules, 200, body)
    except ResponseInvalid:
        return
    assert isinstance(parsed, ParsedResponse)


# What 300 random bodies (seeded) are to each rule set — one answer for all of them, never
# another error and never a price: rules that read a structured body find none in random
# bytes; a regex success rule finds no success word; status-only rules accept on the 200.
RANDOM_BYTES_OUTCOME = {"json": "invalid", "xml": "invalid", "form": "invalid",
                        "text": "declined", "json-status-only": "accepted without a price",
                        "json-price-only": "invalid", "xml-regex": "declined"}


def _outcome(rules, body: bytes) -> str:
    try:
        parsed = response_parse(rules, 200, body)
    except ResponseInvalid:
        return "invalid"
    if parsed.price is not None:
        return f"a price of {parsed.price}"
    return "accepted without a price" if parsed.accepted else "declined"


@pytest.mark.parametrize(("rules", "outcome"), [
    P(FULL_RULES[name], outcome, id=name) for name, outcome in RANDOM_BYTES_OUTCOME.items()])
def test_random_bytes_have_one_outcome_per_rule_set_and_never_a_price(rules, outcome):
    rng = random.Random(20250601)
    bodies = [rng.randbytes(rng.randint(0, 300)) for _ in range(300)]

    assert {_outcome(rules, body) for body in bodies} == {outcome}


def _laughs(levels: int) -> bytes:
    entities = '<!ENTITY lol0 "lol">' + "".join(
        f'<!ENTITY lol{i} "{f"&lol{i - 1};" * 10}">' for i in range(1, levels + 1))
    return (f'<?xml version="1.0"?><!DOCTYPE r [{entities}]>'
            f"<response><status>bid</status><price>1.00</price>"
            f"<reason>&lol{levels};</reason></response>").encode()


@pytest.mark.parametrize("levels", [P(3, id="small-bomb"), P(5, id="100k-bomb"),
                                    P(9, id="billion-laughs")])
def test_entity_bombs_are_refused_without_expanding(levels):
    rules = R("xml", success_path="/response/status", price_path="/response/price",
              reason_path="string(/response/reason)")
    started = time.perf_counter()
    with pytest.raises(ResponseInvalid):
        response_parse(rules, 200, _laughs(levels))
    assert time.perf_counter() - started < 0.5


def test_bomb_on_a_declined_status_is_ignored_not_expanded():
    rules = R("xml", reason_path="string(/response/reason)")
    assert response_parse(rules, 400, _laughs(5)) == declined("HTTP 400")


@pytest.mark.parametrize(
    "body",
    [
        P(b'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>'
          b"<r><status>bid</status><reason>&xxe;</reason></r>", id="external-file-entity"),
        P(b'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY % p SYSTEM "http://127.0.0.1:1/x.dtd">'
          b"%p;]><r><status>bid</status></r>", id="external-parameter-entity"),
    ],
)
def test_external_entities_are_never_resolved(body):
    rules = R("xml", success_path="/r/status", reason_path="string(/r/reason)")
    with pytest.raises(ResponseInvalid) as excinfo:
        response_parse(rules, 200, body)
    assert "root:" not in str(excinfo.value)


def test_external_dtd_reference_is_not_fetched_and_the_answer_still_reads():
    body = (b'<?xml version="1.0"?><!DOCTYPE r SYSTEM "http://127.0.0.1:1/r.dtd">'
            b"<r><status>bid</status><price>2</price></r>")
    rules = R("xml", success_path="/r/status", price_path="/r/price")
    assert response_parse(rules, 200, body) == accepted("2.00")


# --- rules checked at save time -------------------------------------------------------------

BAD_RULES = [
    P(R("yaml"), "format", id="unknown-format"),
    P(R(success_statuses=()), "success_statuses", id="no-statuses"),
    P(R(success_statuses=(99,)), "success_statuses", id="status-too-low"),
    P(R(success_statuses=("200",)), "success_statuses", id="status-as-text"),
    P(R(success_statuses=(True,)), "success_statuses", id="status-as-bool"),
    P(R(success_values=("",)), "success_values", id="blank-success-value"),
    P(R(success_regex="(unclosed"), "success_regex", id="bad-success-regex"),
    P(R("json", price_path="a..b"), "price_path", id="json-empty-key"),
    P(R("json", token_path="bids[x]"), "token_path", id="json-bad-index"),
    P(R("xml", price_path="//price["), "price_path", id="xpath-syntax"),
    P(R("xml", success_path="//ns:status"), "success_path", id="xpath-namespace-prefix"),
    P(R("xml", reason_path="nosuch(/r)"), "reason_path", id="xpath-unknown-function"),
    P(R("xml", price_path="$amount"), "price_path", id="xpath-unknown-variable"),
    P(R("form", token_path=" token"), "token_path", id="form-padded-key"),
    P(R("text", price_path=r"BID (\d+"), "price_path", id="text-bad-regex"),
]


@pytest.mark.parametrize(("rules", "field"), BAD_RULES)
def test_rules_check_refuses_unusable_rules_naming_the_field(rules, field):
    with pytest.raises(RulesInvalid) as excinfo:
        rules_check(rules)
    assert excinfo.value.field == field
    assert str(excinfo.value).startswith(f"{field}: ")


def test_rules_check_messages_say_what_is_wrong():
    with pytest.raises(ValueError, match=r"^price_path: invalid XPath '//price\['"):
        rules_check(R("xml", price_path="//price["))
    with pytest.raises(ValueError, match=r"^price_path: invalid regular expression"):
        rules_check(R("text", price_path=r"BID (\d+"))


@pytest.mark.parametrize(("rules", "field"), BAD_RULES)
def test_invalid_rules_reaching_the_parser_raise_response_invalid(rules, field):
    with pytest.raises(ResponseInvalid, match=field):
        response_parse(rules, 200, b'{"status": "bid"}')


def test_parsing_package_imports_without_django():
    code = ("import sys, apps.buyers.parsing; "
            "sys.exit(any(m.split('.')[0] == 'django' for m in sys.modules))")
    repo = Path(__file__).resolve().parents[2]
    assert subprocess.run([sys.executable, "-c", code], cwd=repo, check=False).returncode == 0


# --- the buyer's own words on a refused status ---------------------------------------------

P = pytest.param


@pytest.mark.parametrize(("body", "excerpt"), [
    P(b'{"message": "Invalid API key"}', "Invalid API key", id="json-message"),
    P(b'{"Error": "unauthorized", "code": 401}', "unauthorized", id="json-error-any-case"),
    P(b'{"error": {"code": 7, "message": "Bad vendor"}}', "Bad vendor", id="json-nested-error"),
    P(b'{"errors": [{"field": "zip", "message": "zip is required"}]}', "zip is required",
      id="json-errors-list"),
    P(b'{"error": "invalid_client", "error_description": "Unknown client"}', "Unknown client",
      id="oauth-style"),
    P(b'{"status": "fail"}', '{"status": "fail"}', id="json-without-a-message"),
    P(b"<html><body><h1>401</h1>\n<p>Authorization Required</p></body></html>",
      "401 Authorization Required", id="html-stripped"),
    P(b"<response><error>Duplicate lead</error></response>", "Duplicate lead", id="xml"),
    P(b"  Bad  request:\n missing zip ", "Bad request: missing zip", id="text-one-line"),
    P(b"x" * 5000, "x" * 200, id="long-text-cut"),
    P(b"", None, id="empty"),
    P(b"{not json", "{not json", id="broken-json-as-text"),
])
def test_message_excerpt_reads_the_buyers_words(body, excerpt):
    assert message_excerpt(body) == excerpt


def test_a_refused_status_without_a_reason_path_carries_an_excerpt_of_the_body():
    assert response_parse(R(price_path="price"), 401, b'{"message": "Invalid API key"}') == \
        declined("HTTP 401: Invalid API key")


def test_a_configured_reason_path_wins_over_the_excerpt():
    rules = R(reason_path="detail")
    assert response_parse(rules, 422, b'{"message": "x", "detail": "zip"}') == \
        declined("HTTP 422: zip")
    assert response_parse(rules, 422, b'{"message": "x"}') == declined("HTTP 422")
