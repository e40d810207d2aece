"""The buyer simulator's pure decision logic: URL configuration in, answer out."""

from __future__ import annotations

import json
import random
import xml.etree.ElementTree as ET
from decimal import Decimal
from urllib.parse import parse_qs, urlencode

import pytest

from apps.demo.simulator.behaviour import (
    Answer,
    Decision,
    Silence,
    SimRequest,
    Stream,
    classify,
    respond,
)
from apps.demo.simulator.http11 import HttpError, find_head_end, parse_head, response_head
from apps.demo.simulator.payload import find_field
from apps.demo.simulator.state import SimulatorState

TOKEN = object()  # stands for "a token issued by this state" in expected answers


def decide(
    query: str = "",
    kind: str = "ping",
    *,
    state: SimulatorState | None = None,
    headers: dict[str, str] | None = None,
    body: bytes = b"",
    path: str | None = None,
) -> Decision:
    request = SimRequest(kind, path or f"/acme/{kind}", query, headers or {}, body)  # type: ignore[arg-type]
    return respond(request, state or SimulatorState(seed=1))


def answer_of(decision: Decision) -> Answer:
    assert isinstance(decision.action, Answer), decision
    return decision.action


def parse_back(fmt: str, body: bytes) -> dict[str, object]:
    """Read an answer body the way a platform would, per format."""
    if fmt == "json":
        return json.loads(body)
    if fmt == "xml":
        return {child.tag: child.text for child in ET.fromstring(body)}
    if fmt == "xml_attr":
        root = ET.fromstring(body)
        assert root.tag == "response" and len(root) == 0
        return dict(root.attrib)
    if fmt == "form":
        return {key: values[0] for key, values in
                parse_qs(body.decode(), strict_parsing=True).items()}
    word, _, rest = body.decode().partition(" ")
    if word == "BID":
        price, token = rest.split(" ")
        return {"status": "bid", "price": price, "token": token}
    if word == "REJECTED":
        return {"result": "rejected", "reason": rest}
    return {"status" if word == "NO_BID" else "result": word.lower()}


def bid_price(decision: Decision) -> Decimal:
    return Decimal(str(json.loads(answer_of(decision).body)["price"]))


# ---------------------------------------------------------------- routing


@pytest.mark.parametrize(("path", "kind"), [
    ("/acme/ping", "ping"),
    ("/acme/post", "post"),
    ("/ping", "ping"),
    ("/a/b/c/post", "post"),
    ("/acme/ping/", None),
    ("/acme/pong", None),
    ("/acme/ping/extra", None),
    ("/", None),
])
def test_classify_by_last_path_segment(path: str, kind: str | None) -> None:
    assert classify(path) == kind


# ---------------------------------------------------------------- bids


@pytest.mark.parametrize(("query", "price"), [
    ("", Decimal("10.00")),
    ("bid=12.5", Decimal("12.50")),
    ("bid=0", Decimal("0.00")),
    ("bid=7.005", Decimal("7.01")),
])
def test_fixed_bid(query: str, price: Decimal) -> None:
    decision = decide(query)
    document = json.loads(answer_of(decision).body)
    assert document["status"] == "bid"
    assert Decimal(str(document["price"])) == price
    assert document["token"].startswith("t-")
    assert decision.latency_ms == 0


def test_bid_range_is_uniform_two_decimals_and_reproducible() -> None:
    def prices(server_seed: int, query: str) -> list[Decimal]:
        state = SimulatorState(server_seed)
        return [bid_price(decide(query, state=state)) for _ in range(200)]

    first = prices(1, "bid_min=5&bid_max=20")
    assert first == prices(1, "bid_min=5&bid_max=20")
    assert all(Decimal(5) <= p <= Decimal(20) and p == p.quantize(Decimal("0.01"))
               for p in first)
    assert len(set(first)) > 100  # really drawn, not one value
    assert first != prices(2, "bid_min=5&bid_max=20")  # the server seed matters
    assert first != prices(1, "bid_min=5&bid_max=20&seed=x")  # and the seed parameter


def test_buyers_draw_from_their_own_streams() -> None:
    alone = SimulatorState(1)
    expected = [bid_price(decide("bid_min=1&bid_max=99", state=alone)) for _ in range(5)]
    busy = SimulatorState(1)
    seen = []
    for _ in range(5):
        decide("bid_min=1&bid_max=99", state=busy, path="/other/ping")
        seen.append(bid_price(decide("bid_min=1&bid_max=99", state=busy)))
    assert seen == expected


def test_tokens_are_unique() -> None:
    state = SimulatorState(1)
    tokens = {json.loads(answer_of(decide(state=state)).body)["token"] for _ in range(500)}
    assert len(tokens) == 500


@pytest.mark.parametrize(("query", "low", "high"), [
    ("no_bid=1", 1.0, 1.0),
    ("no_bid=true", 1.0, 1.0),
    ("no_bid=0", 0.0, 0.0),
    ("no_bid_rate=0.25", 0.21, 0.29),
    ("no_bid_rate=0", 0.0, 0.0),
])
def test_no_bid_rate(query: str, low: float, high: float) -> None:
    state = SimulatorState(1)
    outcomes = [json.loads(answer_of(decide(query, state=state)).body) for _ in range(2000)]
    no_bids = [o for o in outcomes if o["status"] == "no_bid"]
    assert all(o == {"status": "no_bid"} for o in no_bids)
    assert low <= len(no_bids) / len(outcomes) <= high


# ---------------------------------------------------------------- posts


@pytest.mark.parametrize(("query", "reason", "low", "high"), [
    ("", None, 0.0, 0.0),
    ("accept=0", "Rejected by buyer", 1.0, 1.0),
    ("accept=0&reject_reason=Duplicate", "Duplicate", 1.0, 1.0),
    ("reject_rate=0.3", "Rejected by buyer", 0.26, 0.34),
    ("reject_rate=1&reject_reason=Out+of+area", "Out of area", 1.0, 1.0),
])
def test_post_acceptance(query: str, reason: str | None, low: float, high: float) -> None:
    state = SimulatorState(1)
    outcomes = [json.loads(answer_of(decide(query, "post", state=state)).body)
                for _ in range(1000)]
    rejected = [o for o in outcomes if o["result"] == "rejected"]
    assert low <= len(rejected) / len(outcomes) <= high
    assert all(o == {"result": "rejected", "reason": reason} for o in rejected)
    accepted = [o for o in outcomes if o["result"] == "accepted"]
    assert all(o["buyer_lead_id"] for o in accepted)
    assert len({o["buyer_lead_id"] for o in accepted}) == len(accepted)


# ---------------------------------------------------------------- formats


@pytest.mark.parametrize(("query", "kind", "content_type", "expected"), [
    ("bid=12.5", "ping", "application/json",
     {"status": "bid", "price": 12.5, "token": TOKEN}),
    ("no_bid=1", "ping", "application/json", {"status": "no_bid"}),
    ("", "post", "application/json", {"result": "accepted", "buyer_lead_id": "L-1"}),
    ("accept=0&reject_reason=Duplicate", "post", "application/json",
     {"result": "rejected", "reason": "Duplicate"}),
    ("format=xml&bid=12.5", "ping", "application/xml",
     {"status": "bid", "price": "12.50", "token": TOKEN}),
    ("format=xml&no_bid=1", "ping", "application/xml", {"status": "no_bid"}),
    ("format=xml", "post", "application/xml", {"result": "accepted"}),
    ("format=xml&accept=0&reject_reason=%3CDup+%26+co%3E", "post", "application/xml",
     {"result": "rejected", "reason": "<Dup & co>"}),
    ("format=xml_attr&bid=12.5", "ping", "application/xml",
     {"status": "bid", "price": "12.50", "token": TOKEN}),
    ("format=xml_attr&no_bid=1", "ping", "application/xml", {"status": "no_bid"}),
    ("format=xml_attr", "post", "application/xml", {"result": "accepted"}),
    ("format=xml_attr&accept=0", "post", "application/xml",
     {"result": "rejected", "reason": "Rejected by buyer"}),
    ("format=form&bid=12.5", "ping", "application/x-www-form-urlencoded",
     {"status": "bid", "price": "12.50", "token": TOKEN}),
    ("format=form&no_bid=1", "ping", "application/x-www-form-urlencoded",
     {"status": "no_bid"}),
    ("format=form", "post", "application/x-www-form-urlencoded", {"result": "accepted"}),
    ("format=form&accept=0&reject_reason=a%26b%3Dc", "post",
     "application/x-www-form-urlencoded", {"result": "rejected", "reason": "a&b=c"}),
    ("format=text&bid=12.5", "ping", "text/plain",
     {"status": "bid", "price": "12.50", "token": TOKEN}),
    ("format=text&no_bid=1", "ping", "text/plain", {"status": "no_bid"}),
    ("format=text", "post", "text/plain", {"result": "accepted"}),
    ("format=text&accept=0&reject_reason=Bad+zip", "post", "text/plain",
     {"result": "rejected", "reason": "Bad zip"}),
])
def test_every_format_parses_back(
    query: str, kind: str, content_type: str, expected: dict[str, object]
) -> None:
    state = SimulatorState(1)
    answer = answer_of(decide(query, kind, state=state))
    assert answer.status == 200
    assert answer.content_type == content_type
    document = parse_back(query.partition("format=")[2].partition("&")[0] or "json",
                          answer.body)
    if "token" in document and expected.get("token") is TOKEN:
        assert document["token"] in state.tokens
        expected = {**expected, "token": document["token"]}
    assert document == expected


@pytest.mark.parametrize(("query", "path_to_price", "path_to_token"), [
    ("price_key=amount&token_key=ref", ["amount"], ["ref"]),
    ("price_key=bid.amount&token_key=bid.ref", ["bid", "amount"], ["bid", "ref"]),
])
def test_json_field_names(query: str, path_to_price: list[str], path_to_token: list[str]) -> None:
    document = json.loads(answer_of(decide(query + "&bid=3")).body)
    price, token = document, document
    for key in path_to_price:
        price = price[key]
    for key in path_to_token:
        token = token[key]
    assert price == 3.0
    assert token.startswith("t-")


def test_xml_field_names_nest_by_dots() -> None:
    body = answer_of(decide("format=xml&price_key=Bid.Amount&token_key=Bid.Ref&bid=3")).body
    root = ET.fromstring(body)
    assert root.findtext("status") == "bid"
    assert root.findtext("Bid/Amount") == "3.00"
    assert root.findtext("Bid/Ref", "").startswith("t-")


# ---------------------------------------------------------------- token round trip


def issue_token(state: SimulatorState) -> str:
    return json.loads(answer_of(decide(state=state)).body)["token"]


@pytest.mark.parametrize(("key", "content_type", "make_body"), [
    ("ping_ref", "application/json", lambda t: json.dumps({"ping_ref": t})),
    ("lead.ping_ref", "application/json; charset=utf-8",
     lambda t: json.dumps({"lead": {"ping_ref": t, "zip": "10001"}})),
    ("items.1.ref", "application/json", lambda t: json.dumps({"items": [{}, {"ref": t}]})),
    ("ping_ref", "application/x-www-form-urlencoded",
     lambda t: urlencode({"zip": "1", "ping_ref": t})),
    ("lead.ping_ref", "application/x-www-form-urlencoded",
     lambda t: urlencode({"lead[ping_ref]": t})),
    ("lead[ping_ref]", "application/x-www-form-urlencoded",
     lambda t: urlencode({"lead[ping_ref]": t})),
    ("Lead.PingRef", "application/xml",
     lambda t: f"<Lead><Zip>1</Zip><PingRef> {t} </PingRef></Lead>"),
    ("Lead.PingRef", "text/xml",
     lambda t: f"<Request><Lead><PingRef>{t}</PingRef></Lead></Request>"),
    ("Lead.ref", "application/xml", lambda t: f'<Lead ref="{t}"/>'),
    ("Lead.PingRef", "application/xml",
     lambda t: f'<Lead xmlns="urn:x"><PingRef>{t}</PingRef></Lead>'),
    ("ping_ref", "", lambda t: json.dumps({"ping_ref": t})),  # sniffed
    ("ping_ref", "", lambda t: f"<r><ping_ref>{t}</ping_ref></r>"),
])
def test_post_token_round_trip(key: str, content_type: str, make_body) -> None:
    state = SimulatorState(1)
    token = issue_token(state)
    query = urlencode({"post_token_key": key})
    headers = {"content-type": content_type}

    good = decide(query, "post", state=state, headers=headers, body=make_body(token).encode())
    assert json.loads(answer_of(good).body)["result"] == "accepted"

    forged = make_body("t-1-0000000000").encode()
    bad = decide(query, "post", state=state, headers=headers, body=forged)
    assert json.loads(answer_of(bad).body) == {"result": "rejected", "reason": "unknown token"}


def test_post_token_from_query_string_of_a_bodyless_post() -> None:
    state = SimulatorState(1)
    token = issue_token(state)
    accepted = decide(f"post_token_key=ref&ref={token}", "post", state=state)
    assert json.loads(answer_of(accepted).body)["result"] == "accepted"
    missing = decide("post_token_key=ref", "post", state=state)
    assert json.loads(answer_of(missing).body)["reason"] == "unknown token"


def test_unknown_token_rejection_speaks_the_format() -> None:
    answer = answer_of(decide("format=text&post_token_key=ref", "post"))
    assert answer.body == b"REJECTED unknown token"


@pytest.mark.parametrize(("body", "content_type", "key", "expected"), [
    (b'{"a.b": "lit", "a": {"b": "nested"}}', "application/json", "a.b", "lit"),
    (b'{"a": {"b": 42}}', "application/json", "a.b", "42"),
    (b'{"a": {"b": true}}', "application/json", "a.b", None),
    (b'{"a": {"b": {"c": 1}}}', "application/json", "a.b", None),
    (b'{"a": [1]}', "application/json", "a.5", None),
    (b"{not json", "application/json", "a", None),
    (b"<a><b>x</b>", "application/xml", "a.b", None),
    (b"a=1&a=2", "application/x-www-form-urlencoded", "a", "1"),
    (b"a=", "application/x-www-form-urlencoded", "a", ""),
    (b"x=1", "text/plain", "x", "1"),
])
def test_find_field(body: bytes, content_type: str, key: str, expected: str | None) -> None:
    assert find_field(body, content_type, "", key) == expected


# ---------------------------------------------------------------- latency


@pytest.mark.parametrize(("query", "headers", "low", "high"), [
    ("", {}, 0, 0),
    ("latency_ms=80", {}, 80, 80),
    ("latency_ms=0.5", {}, 0.5, 0.5),
    ("latency=fixed:40", {}, 40, 40),
    ("latency=uniform:20,300", {}, 20, 300),
    ("latency=uniform:50,50", {}, 50, 50),
    ("latency=lognormal:4.4,0.5", {}, 1, 5000),
    ("latency=lognormal:1000,1", {}, 600_000, 600_000),  # clamped, no overflow
    ("latency_ms=80", {"x-sim-latency-ms": "123"}, 123, 123),
    ("latency=uniform:20,300", {"x-sim-latency-ms": "0"}, 0, 0),
    ("fail=5xx&latency_ms=30", {}, 30, 30),  # failures wait too
])
def test_latency(query: str, headers: dict[str, str], low: float, high: float) -> None:
    state = SimulatorState(1)
    samples = [decide(query, state=state, headers=headers).latency_ms for _ in range(300)]
    assert all(low <= sample <= high for sample in samples)


def test_random_latency_is_spread_and_reproducible() -> None:
    def samples(seed: int) -> list[float]:
        state = SimulatorState(seed)
        return [decide("latency=uniform:20,300", state=state).latency_ms for _ in range(300)]

    first = samples(1)
    assert first == samples(1)
    assert min(first) < 60 and max(first) > 260


# ---------------------------------------------------------------- failures


@pytest.mark.parametrize(("query", "kind", "expected"), [
    ("fail=hang", "ping", Silence.HANG),
    ("fail=close", "post", Silence.CLOSE),
    ("fail=drip", "ping", Stream("drip", "application/json")),
    ("fail=drip&format=xml", "ping", Stream("drip", "application/xml")),
    ("fail=huge&format=text", "post", Stream("huge", "application/json")),
    ("fail=5xx", "ping", Answer(503, "text/plain", b"simulated failure 503")),
    ("fail=5xx&status=500", "post", Answer(500, "text/plain", b"simulated failure 500")),
    ("fail=redirect", "ping",
     Answer(302, None, headers=(("Location", "http://169.254.169.254/latest/meta-data/"),))),
    ("fail=redirect&location=http%3A%2F%2Fevil.test%2F", "ping",
     Answer(302, None, headers=(("Location", "http://evil.test/"),))),
])
def test_failure_actions(query: str, kind: str, expected: object) -> None:
    assert decide(query, kind).action == expected


@pytest.mark.parametrize("fmt", ["json", "xml", "xml_attr", "form", "text"])
def test_garbage_parses_as_nothing(fmt: str) -> None:
    answer = answer_of(decide(f"fail=garbage&format={fmt}"))
    assert answer.status == 200
    assert answer.content_type == answer_of(decide(f"format={fmt}")).content_type
    body = answer.body
    assert len(body) >= 64
    with pytest.raises(UnicodeDecodeError):
        body.decode()
    with pytest.raises(ValueError):
        json.loads(body)
    with pytest.raises(ET.ParseError):
        ET.fromstring(body)
    with pytest.raises(ValueError):
        parse_qs(body.decode("latin-1"), strict_parsing=True)


@pytest.mark.parametrize(("query", "kind", "fails"), [
    ("fail=5xx&fail_on=ping", "ping", True),
    ("fail=5xx&fail_on=ping", "post", False),
    ("fail=5xx&fail_on=post", "ping", False),
    ("fail=5xx&fail_on=post", "post", True),
    ("fail=5xx&fail_on=both", "post", True),
    ("fail=5xx&fail_rate=0", "ping", False),
])
def test_fail_on(query: str, kind: str, fails: bool) -> None:
    assert (answer_of(decide(query, kind)).status == 503) is fails


def test_fail_rate_is_a_probability() -> None:
    state = SimulatorState(1)
    statuses = [answer_of(decide("fail=5xx&fail_rate=0.5", state=state)).status
                for _ in range(1000)]
    assert 0.45 <= statuses.count(503) / 1000 <= 0.55
    assert set(statuses) == {200, 503}


# ---------------------------------------------------------------- bad configuration


@pytest.mark.parametrize(("query", "headers", "named"), [
    ("bid=abc", {}, "'bid'"),
    ("bid=-1", {}, "'bid'"),
    ("bid=NaN", {}, "'bid'"),
    ("bid=1&bid_min=1&bid_max=2", {}, "'bid'"),
    ("bid_min=5", {}, "'bid_min'"),
    ("bid_min=20&bid_max=5", {}, "'bid_min'"),
    ("no_bid=maybe", {}, "'no_bid'"),
    ("no_bid_rate=2", {}, "'no_bid_rate'"),
    ("reject_rate=-0.1", {}, "'reject_rate'"),
    ("accept=", {}, "'accept'"),
    ("format=yaml", {}, "'format'"),
    ("fail=explode", {}, "'fail'"),
    ("fail_rate=0.5", {}, "'fail_rate'"),
    ("fail=5xx&fail_on=never", {}, "'fail_on'"),
    ("fail=5xx&status=200", {}, "'status'"),
    ("fail=redirect&location=", {}, "'location'"),
    ("latency_ms=-1", {}, "'latency_ms'"),
    ("latency_ms=inf", {}, "'latency_ms'"),
    ("latency_ms=1&latency=uniform:1,2", {}, "'latency'"),
    ("latency=gamma:1,2", {}, "'latency'"),
    ("latency=uniform:300,20", {}, "'latency'"),
    ("latency=uniform:5", {}, "'latency'"),
    ("latency=lognormal:1,-1", {}, "'latency'"),
    ("price_key=status", {}, "'price_key'"),
    ("price_key=", {}, "'price_key'"),
    ("token_key=price", {}, "'token_key'"),
    ("format=xml&price_key=1bad", {}, "'price_key'"),
    ("price_key=bid&token_key=bid.ref", {}, "'token_key'"),
    ("post_token_key=", {}, "'post_token_key'"),
    ("", {"x-sim-latency-ms": "soon"}, "'X-Sim-Latency-Ms'"),
])
def test_bad_configuration_is_a_400_naming_it(
    query: str, headers: dict[str, str], named: str
) -> None:
    answer = answer_of(decide(query, headers=headers))
    assert answer.status == 400
    assert answer.content_type == "application/json"
    assert named in json.loads(answer.body)["error"]


def test_status_and_location_are_lead_fields_unless_their_failure_is_chosen() -> None:
    # A GET ping carries lead fields in the query string; "status" must not break it.
    assert answer_of(decide("status=active&location=Austin")).status == 200


def test_random_queries_never_raise() -> None:
    rng = random.Random(7)
    names = ["bid", "bid_min", "bid_max", "no_bid", "no_bid_rate", "accept", "reject_rate",
             "latency", "latency_ms", "fail", "fail_rate", "fail_on", "status", "format",
             "price_key", "token_key", "post_token_key", "seed"]
    values = ["", "0", "1", "-1", "0.5", "1e309", "nan", "abc", "uniform:1,2", "lognormal:",
              "5xx", "xml", "a.b", "%00", "redirect", "garbage", "both"]
    state = SimulatorState(1)
    for _ in range(2000):
        query = "&".join(f"{rng.choice(names)}={rng.choice(values)}"
                         for _ in range(rng.randint(0, 4)))
        kind = rng.choice(["ping", "post"])
        decision = decide(query, kind, state=state, body=rng.randbytes(8))
        assert isinstance(decision.action, (Answer, Stream, Silence))


# ---------------------------------------------------------------- HTTP parsing


@pytest.mark.parametrize(("head", "status"), [
    (b"GET /a/ping\r\n\r\n", 400),
    (b"GET /a/ping HTTP/2.0\r\n\r\n", 505),
    (b"GET /a/ping FTP/1.1\r\n\r\n", 400),
    (b"G(T /a/ping HTTP/1.1\r\n\r\n", 400),
    (b"GET a/ping HTTP/1.1\r\n\r\n", 400),
    (b"GET /a/ping HTTP/1.1\r\nno colon\r\n\r\n", 400),
    (b"GET /a/ping HTTP/1.1\r\nHost : x\r\n\r\n", 400),
    (b"GET /a/ping HTTP/1.1\r\nHost: x\r\n folded\r\n\r\n", 400),
    (b"POST /a/post HTTP/1.1\r\nContent-Length: -1\r\n\r\n", 400),
    (b"POST /a/post HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n", 400),
    (b"POST /a/post HTTP/1.1\r\nContent-Length: 99999999999\r\n\r\n", 413),
    (b"POST /a/post HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n", 501),
])
def test_malformed_heads_are_refused(head: bytes, status: int) -> None:
    with pytest.raises(HttpError) as raised:
        parse_head(head)
    assert raised.value.status == status


@pytest.mark.parametrize(("head", "keep_alive"), [
    (b"GET /p HTTP/1.1\r\n\r\n", True),
    (b"GET /p HTTP/1.1\r\nConnection: close\r\n\r\n", False),
    (b"GET /p HTTP/1.1\r\nConnection: Upgrade, Close\r\n\r\n", False),
    (b"GET /p HTTP/1.0\r\n\r\n", False),
    (b"GET /p HTTP/1.0\r\nConnection: keep-alive\r\n\r\n", True),
])
def test_keep_alive(head: bytes, keep_alive: bool) -> None:
    assert parse_head(head).keep_alive is keep_alive


def test_parse_head_reads_target_headers_and_length() -> None:
    request = parse_head(b"POST /acme%20co/post?a=1&b=%20 HTTP/1.1\nHost: x\n"
                         b"X-A: 1\nx-a: 2\nContent-Length: 5\nExpect: 100-continue\n\n")
    assert (request.method, request.path, request.query) == ("POST", "/acme co/post",
                                                             "a=1&b=%20")
    assert request.headers == {"host": "x", "x-a": "1, 2", "content-length": "5",
                               "expect": "100-continue"}
    assert request.content_length == 5
    assert request.expect_continue


@pytest.mark.parametrize(("buffer", "end"), [
    (b"GET / HTTP/1.1\r\n\r\nbody", 18),
    (b"GET / HTTP/1.1\n\nbody", 16),
    (b"GET / HTTP/1.1\r\nHost: x\r\n", -1),
])
def test_find_head_end(buffer: bytes, end: int) -> None:
    assert find_head_end(buffer) == end


def test_response_head_always_has_a_length_and_says_close() -> None:
    head = response_head(200, [("Content-Type", "text/plain")], content_length=2,
                         keep_alive=False)
    assert head.startswith(b"HTTP/1.1 200 OK\r\n")
    assert b"\r\nContent-Length: 2\r\n" in head
    assert b"\r\nConnection: close\r\n" in head
    assert head.endswith(b"\r\n\r\n")
