"""Wire formats and auth: every encoding decoded back and compared (no network, no DB)."""

from __future__ import annotations

import base64
import json
import subprocess
import sys
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from urllib.parse import parse_qs, unquote_plus, urlsplit
from uuid import UUID

import pytest
from lxml import etree

from apps.buyers.transports import (
    DEFAULT_EXPIRES_IN,
    AuthSpec,
    EndpointSpec,
    SecretMask,
    TransportError,
    basic_authorization,
    form_key,
    is_credential_param,
    oauth_token_parse,
    oauth_token_request,
    request_build,
)

P = pytest.param
URL = "https://buyer.example/api/leads"
PAYLOAD = {
    "lead": {"first_name": "José", "last_name": "O'Neil & <Sons>", "homeowner": True,
             "renter": False, "income": None},
    "drivers": [{"age": 41, "dob": date(1984, 4, 12)}, {"age": 39}],
    "phones": ["2125550147", None, "2125550148"],
    "bid": Decimal("12.50"),
    "year": Decimal("2019"),
    "lead_id": UUID(int=5),
    "sent_at": datetime(2025, 6, 1, 12, 0, tzinfo=UTC),
}


def endpoint(**overrides) -> EndpointSpec:
    return EndpointSpec(url=overrides.pop("url", URL), **overrides)


# --- json -----------------------------------------------------------------------------------


def test_json_body_decodes_back_to_the_payload_with_decimals_and_dates_as_json():
    request = request_build(endpoint(), PAYLOAD)
    assert request.method == "POST"
    assert request.headers == {"Content-Type": "application/json"}
    assert json.loads(request.body) == {
        "lead": {"first_name": "José", "last_name": "O'Neil & <Sons>", "homeowner": True,
                 "renter": False, "income": None},
        "drivers": [{"age": 41, "dob": "1984-04-12"}, {"age": 39}],
        "phones": ["2125550147", None, "2125550148"],
        "bid": 12.5, "year": 2019, "lead_id": str(UUID(int=5)),
        "sent_at": "2025-06-01T12:00:00+00:00",
    }


def test_json_body_is_compact_utf8():
    body = request_build(endpoint(), {"name": "José", "n": [1, 2]}).body
    assert body == '{"name":"José","n":[1,2]}'.encode()


@pytest.mark.parametrize(
    "value",
    [P(float("nan"), id="float-nan"), P(Decimal("NaN"), id="decimal-nan"),
     P(Decimal("Infinity"), id="decimal-infinity"), P(object(), id="unknown-type"),
     P(b"raw", id="bytes")],
)
def test_json_refuses_unencodable_values_permanently(value):
    with pytest.raises(TransportError) as excinfo:
        request_build(endpoint(), {"x": value})
    assert excinfo.value.permanent


# --- form and query -------------------------------------------------------------------------

FLAT = {
    "lead[first_name]": ["José"], "lead[last_name]": ["O'Neil & <Sons>"],
    "lead[homeowner]": ["true"], "lead[renter]": ["false"],
    "drivers[0][age]": ["41"], "drivers[0][dob]": ["1984-04-12"], "drivers[1][age]": ["39"],
    "phones[0]": ["2125550147"], "phones[2]": ["2125550148"],
    "bid": ["12.50"], "year": ["2019"], "lead_id": [str(UUID(int=5))],
    "sent_at": ["2025-06-01T12:00:00+00:00"],
}


def test_form_body_flattens_nesting_php_style_and_skips_none():
    request = request_build(endpoint(body_format="form"), PAYLOAD)
    assert request.headers == {"Content-Type": "application/x-www-form-urlencoded"}
    assert parse_qs(request.body.decode(), keep_blank_values=True, strict_parsing=True) == FLAT


def test_form_key_order_follows_the_payload():
    body = request_build(endpoint(body_format="form"), {"b": 1, "a": {"y": 2, "x": 3}}).body
    assert unquote_plus(body.decode()) == "b=1&a[y]=2&a[x]=3"


DOTTED = {
    "lead.first_name": ["José"], "lead.last_name": ["O'Neil & <Sons>"],
    "lead.homeowner": ["true"], "lead.renter": ["false"],
    "drivers[0].age": ["41"], "drivers[0].dob": ["1984-04-12"], "drivers[1].age": ["39"],
    "phones[0]": ["2125550147"], "phones[2]": ["2125550148"],
    "bid": ["12.50"], "year": ["2019"], "lead_id": [str(UUID(int=5))],
    "sent_at": ["2025-06-01T12:00:00+00:00"],
}


@pytest.mark.parametrize("body_format", ["form", "query"])
def test_dotted_key_style_sends_the_targets_spelling_as_literal_keys(body_format):
    request = request_build(endpoint(body_format=body_format, key_style="dotted"), PAYLOAD)
    sent = request.body.decode() if body_format == "form" else urlsplit(request.url).query
    assert parse_qs(sent, keep_blank_values=True, strict_parsing=True) == DOTTED


def test_flat_key_style_sends_single_keys_and_refuses_nesting_permanently():
    flat = {"Lead.FirstName": "Jane", "Lead[Zip]": "10001", "n": 1}
    body = request_build(endpoint(body_format="form", key_style="flat"), flat).body
    assert parse_qs(body.decode()) == {"Lead.FirstName": ["Jane"], "Lead[Zip]": ["10001"],
                                       "n": ["1"]}
    with pytest.raises(TransportError, match="flat sends single keys") as excinfo:
        request_build(endpoint(body_format="form", key_style="flat"), {"Lead": {"a": 1}})
    assert excinfo.value.permanent


def test_an_unknown_key_style_is_refused_permanently():
    with pytest.raises(TransportError, match="unknown key style") as excinfo:
        request_build(endpoint(body_format="form", key_style="colons"), {"a": 1})
    assert excinfo.value.permanent


@pytest.mark.parametrize(
    ("steps", "style", "key"),
    [P(("Lead", "FirstName"), "brackets", "Lead[FirstName]", id="brackets"),
     P(("Lead", "FirstName"), "dotted", "Lead.FirstName", id="dotted"),
     P(("drivers", 0, "age"), "brackets", "drivers[0][age]", id="brackets-list"),
     P(("drivers", 0, "age"), "dotted", "drivers[0].age", id="dotted-list"),
     P(("Lead.FirstName",), "flat", "Lead.FirstName", id="flat-literal")],
)
def test_form_key_is_the_wire_key_of_a_target(steps, style, key):
    assert form_key(steps, style) == key


def test_query_puts_the_payload_in_the_url_keeps_existing_params_and_sends_no_body():
    request = request_build(endpoint(url=URL + "?campaign=7&src=a%20b", body_format="query"),
                            PAYLOAD)
    parts = urlsplit(request.url)
    assert (request.method, request.body, request.headers) == ("GET", b"", {})
    assert parts.query.startswith("campaign=7&src=a%20b&")
    assert parse_qs(parts.query) == {"campaign": ["7"], "src": ["a b"], **FLAT}


@pytest.mark.parametrize(
    ("configured", "sent"),
    [P("POST", "GET", id="default-post-becomes-get"), P("GET", "GET", id="get"),
     P("put", "PUT", id="other-method-kept")],
)
def test_query_method_is_get_unless_the_endpoint_names_another(configured, sent):
    request = request_build(endpoint(method=configured, body_format="query"), {"a": 1})
    assert request.method == sent


def test_query_with_an_empty_payload_leaves_the_url_alone():
    request = request_build(endpoint(url=URL + "?k=1", body_format="query"), {"gone": None})
    assert request.url == URL + "?k=1"


# --- xml ------------------------------------------------------------------------------------


def test_xml_body_decodes_back_to_elements_attributes_and_repeated_lists():
    payload = {
        "@version": "2",
        "Contact": {"@type": "home", "FirstName": "José", "Note": "O'Neil & <Sons>",
                    "Skip": None},
        "Driver": [{"Age": 41}, None, {"Age": 39}],
        "Phone": {"@kind": "cell", "#text": "2125550147"},
        "Owner": True, "Bid": Decimal("12.50"),
    }
    request = request_build(endpoint(body_format="xml", xml_root="LeadData"), payload)
    assert request.headers == {"Content-Type": "application/xml"}
    assert request.body.startswith(b"<?xml version='1.0' encoding='UTF-8'?>")
    root = etree.fromstring(request.body)
    assert root.tag == "LeadData"
    assert root.attrib == {"version": "2"}
    assert root.find("Contact").attrib == {"type": "home"}
    assert root.findtext("Contact/FirstName") == "José"
    assert root.findtext("Contact/Note") == "O'Neil & <Sons>"
    assert root.find("Contact/Skip") is None
    assert [d.findtext("Age") for d in root.findall("Driver")] == ["41", "39"]
    assert (root.find("Phone").attrib, root.findtext("Phone")) == ({"kind": "cell"},
                                                                   "2125550147")
    assert (root.findtext("Owner"), root.findtext("Bid")) == ("true", "12.50")


def test_xml_escapes_markup_in_values_instead_of_injecting_it():
    request = request_build(endpoint(body_format="xml"), {"name": "</name><admin>1</admin>"})
    root = etree.fromstring(request.body)
    assert root.find("admin") is None
    assert root.findtext("name") == "</name><admin>1</admin>"


@pytest.mark.parametrize(
    ("payload", "root"),
    [
        P({"first name": "x"}, "lead", id="key-with-space"),
        P({"1st": "x"}, "lead", id="key-starting-with-digit"),
        P({"@bad attr": "x"}, "lead", id="attribute-with-space"),
        P({"@id": {"a": 1}}, "lead", id="attribute-holding-object"),
        P({"m": [[1, 2]]}, "lead", id="list-in-list"),
        P({"note": "bell\x07"}, "lead", id="control-character"),
        P({"a": "x"}, "bad root", id="invalid-root-name"),
    ],
)
def test_xml_refuses_what_xml_cannot_hold_permanently(payload, root):
    with pytest.raises(TransportError) as excinfo:
        request_build(endpoint(body_format="xml", xml_root=root), payload)
    assert excinfo.value.permanent


# --- headers --------------------------------------------------------------------------------


def test_endpoint_headers_are_kept_and_its_content_type_wins_case_insensitively():
    spec = endpoint(body_format="json", headers={"content-type": "application/vnd.buyer+json",
                                                 "X-Campaign": "42"})
    request = request_build(spec, {"a": 1}, extra_headers={"Idempotency-Key": "k1"})
    assert request.headers == {"content-type": "application/vnd.buyer+json",
                               "X-Campaign": "42", "Idempotency-Key": "k1"}


def test_auth_header_replaces_a_static_authorization_header():
    spec = endpoint(headers={"Authorization": "stale"}, auth=AuthSpec("bearer", secret="tok"))
    assert request_build(spec, {}).headers["Authorization"] == "Bearer tok"


@pytest.mark.parametrize(
    ("headers", "extra"),
    [
        P({"X-A": "v\r\nX-Injected: 1"}, None, id="crlf-in-value"),
        P({"X-A": "v\x00"}, None, id="nul-in-value"),
        P({"X A": "v"}, None, id="space-in-name"),
        P({"X-A:": "v"}, None, id="colon-in-name"),
        P({}, {"X-B": "v\n"}, id="newline-in-extra-header"),
        P({"X-Count": 3}, None, id="number-value"),
    ],
)
def test_header_that_is_not_one_clean_line_of_text_is_refused_permanently(headers, extra):
    with pytest.raises(TransportError) as excinfo:
        request_build(endpoint(headers=headers), {}, extra_headers=extra)
    assert excinfo.value.permanent


# --- auth -----------------------------------------------------------------------------------


def basic_credentials(header: str) -> str:
    scheme, _, encoded = header.partition(" ")
    assert scheme == "Basic"
    return base64.b64decode(encoded).decode()


@pytest.mark.parametrize(
    ("auth", "header", "value"),
    [
        P(AuthSpec("header", name="X-Api-Key", secret="s3cr3t"), "X-Api-Key", "s3cr3t",
          id="header"),
        P(AuthSpec("bearer", secret="tok"), "Authorization", "Bearer tok", id="bearer"),
    ],
)
def test_header_auth_variants(auth, header, value):
    request = request_build(endpoint(auth=auth), {"a": 1})
    assert request.headers[header] == value
    assert request.url == URL


def test_basic_auth_is_rfc7617_utf8():
    request = request_build(endpoint(auth=AuthSpec("basic", username="acmé", secret="p:w")),
                            {})
    assert basic_credentials(request.headers["Authorization"]) == "acmé:p:w"


@pytest.mark.parametrize("body_format", ["json", "query"])
def test_query_key_auth_is_appended_after_existing_params_and_payload(body_format):
    spec = endpoint(url=URL + "?campaign=7", body_format=body_format,
                    auth=AuthSpec("query_key", name="api_key", secret="a&b"))
    request = request_build(spec, {"zip": "10001"})
    query = parse_qs(urlsplit(request.url).query)
    assert query["api_key"] == ["a&b"]
    assert query["campaign"] == ["7"]
    assert urlsplit(request.url).query.startswith("campaign=7&")
    assert "Authorization" not in request.headers


def test_oauth2_sends_the_callers_token_as_bearer():
    spec = endpoint(auth=AuthSpec("oauth2", username="client", secret="secret"))
    request = request_build(spec, {}, oauth_token="access-1")
    assert request.headers["Authorization"] == "Bearer access-1"


def test_oauth2_without_a_token_is_a_passing_error():
    spec = endpoint(auth=AuthSpec("oauth2", username="client", secret="secret"))
    with pytest.raises(TransportError, match="no access token") as excinfo:
        request_build(spec, {})
    assert not excinfo.value.permanent


@pytest.mark.parametrize(
    ("auth", "message"),
    [
        P(AuthSpec("header", secret="s"), "needs a name", id="header-without-name"),
        P(AuthSpec("header", name="X-Key"), "needs a secret", id="header-without-secret"),
        P(AuthSpec("bearer"), "needs a secret", id="bearer-without-token"),
        P(AuthSpec("basic", secret="pw"), "user name", id="basic-without-user"),
        P(AuthSpec("basic", username="a:b", secret="pw"), "user name", id="basic-colon-user"),
        P(AuthSpec("query_key", secret="s"), "needs a name", id="query-key-without-name"),
        P(AuthSpec("kerberos", secret="s"), "unknown auth type", id="unknown-type"),
    ],
)
def test_incomplete_auth_settings_are_refused_permanently(auth, message):
    with pytest.raises(TransportError, match=message) as excinfo:
        request_build(endpoint(auth=auth), {})
    assert excinfo.value.permanent


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        P(endpoint(body_format="soap"), "unknown body format", id="unknown-format"),
        P(endpoint(url="ftp://buyer.example/x"), "not an http", id="ftp-url"),
        P(endpoint(url="buyer.example/x"), "not an http", id="relative-url"),
    ],
)
def test_unusable_endpoint_is_refused_permanently(spec, message):
    with pytest.raises(TransportError, match=message) as excinfo:
        request_build(spec, {})
    assert excinfo.value.permanent


# --- oauth2 token exchange ------------------------------------------------------------------


def test_oauth_token_request_is_a_client_credentials_grant_with_basic_auth():
    request = oauth_token_request(AuthSpec("oauth2", username="my client", secret="s&cr:t"),
                                  "https://auth.example/token")
    assert (request.method, request.url) == ("POST", "https://auth.example/token")
    assert parse_qs(request.body.decode()) == {"grant_type": ["client_credentials"]}
    assert request.headers["Content-Type"] == "application/x-www-form-urlencoded"
    # RFC 6749 §2.3.1: id and secret are form-encoded before going into basic auth.
    assert basic_credentials(request.headers["Authorization"]) == "my+client:s%26cr%3At"


@pytest.mark.parametrize("auth", [AuthSpec("oauth2", username="c"),
                                  AuthSpec("oauth2", secret="s")])
def test_oauth_token_request_needs_client_id_and_secret(auth):
    with pytest.raises(TransportError) as excinfo:
        oauth_token_request(auth, "https://auth.example/token")
    assert excinfo.value.permanent


@pytest.mark.parametrize(
    ("body", "token", "expires"),
    [
        P(b'{"access_token": "a1", "token_type": "Bearer", "expires_in": 3600}', "a1", 3600.0,
          id="standard"),
        P(b'{"access_token": "a1", "token_type": "bearer", "expires_in": "120"}', "a1", 120.0,
          id="expires-as-text"),
        P(b'{"access_token": "a1", "scope": "leads"}', "a1", DEFAULT_EXPIRES_IN,
          id="no-expiry-no-type"),
    ],
)
def test_oauth_token_parse_reads_token_and_lifetime(body, token, expires):
    assert oauth_token_parse(200, body) == (token, expires)


@pytest.mark.parametrize(
    ("status", "body", "permanent", "message"),
    [
        P(401, b'{"error": "invalid_client"}', True, "invalid_client", id="bad-credentials"),
        P(400, b"<html>bad</html>", True, "HTTP 400", id="bad-request-html"),
        P(503, b"", False, "HTTP 503", id="unavailable"),
        P(200, b"not json", False, "unusable", id="garbage"),
        P(200, b'{"token_type": "bearer"}', False, "unusable", id="no-token"),
        P(200, b'{"access_token": ""}', False, "unusable", id="empty-token"),
        P(200, b'{"access_token": "a", "expires_in": -5}', False, "unusable",
          id="negative-expiry"),
        P(200, b'{"access_token": "a", "token_type": "mac"}', True, "token type",
          id="not-bearer"),
    ],
)
def test_oauth_token_parse_failures(status, body, permanent, message):
    with pytest.raises(TransportError, match=message) as excinfo:
        oauth_token_parse(status, body)
    assert excinfo.value.permanent is permanent


def test_transports_package_imports_without_django():
    code = ("import sys, apps.buyers.transports; "
            "sys.exit(any(m.split('.')[0] == 'django' for m in sys.modules))")
    repo = Path(__file__).resolve().parents[2]
    assert subprocess.run([sys.executable, "-c", code], cwd=repo, check=False).returncode == 0


# --- secrets --------------------------------------------------------------------------------


def test_secret_placeholders_are_filled_in_the_url_encoded_and_in_header_values():
    spec = endpoint(url=URL + "?campaign=7&key={secret.api_key}", body_format="json",
                    headers={"X-Vendor": "v={secret.vendor}"})
    request = request_build(spec, {"a": 1}, secrets={"api_key": "a/b+c&d", "vendor": "V 1"})
    assert parse_qs(urlsplit(request.url).query) == {"campaign": ["7"], "key": ["a/b+c&d"]}
    assert "a%2Fb%2Bc%26d" in request.url
    assert request.headers["X-Vendor"] == "v=V 1"


def test_a_placeholder_naming_no_secret_is_refused_permanently():
    with pytest.raises(TransportError, match="no secret named 'nope'") as excinfo:
        request_build(endpoint(url=URL + "?k={secret.nope}"), {}, secrets={})
    assert excinfo.value.permanent


def test_a_secret_that_would_split_a_header_is_refused():
    with pytest.raises(TransportError, match="line break"):
        request_build(endpoint(headers={"X-Key": "{secret.k}"}), {}, secrets={"k": "a\r\nB: 1"})


@pytest.mark.parametrize(
    ("text", "shown"),
    [P("key=s3c/r+t&x", "key=***&x", id="raw"),
     P("key=s3c%2Fr%2Bt", "key=***", id="percent-encoded"),
     P("key=s3c/r%2Bt", "key=***", id="url-path-encoded"),
     P('{"k":"s3c/r+t"}', '{"k":"***"}', id="json"),
     P("<k>s3c/r+t</k>", "<k>***</k>", id="xml"),
     P("nothing here", "nothing here", id="untouched")],
)
def test_secret_mask_hides_every_spelling_of_a_secret(text, shown):
    assert SecretMask(["s3c/r+t"])(text) == shown


def test_secret_mask_hides_auth_headers_whole_and_basic_credentials_in_text():
    mask = SecretMask(["pw"], auth_header="X-Api-Key", basic_user="user")
    basic = basic_authorization("user", "pw")
    assert mask.headers({"Authorization": basic, "x-api-key": "anything",
                         "X-Other": "pw-1"}) == {
        "Authorization": "Basic ***", "x-api-key": "***", "X-Other": "***-1"}
    assert mask(f"echo {basic.split()[1]}") == "echo ***"
    assert not SecretMask(["", ""]) and SecretMask([""])("a") == "a"


@pytest.mark.parametrize(("name", "credential"), [
    P("api_key", True, id="api_key"), P("API-Key", True, id="API-Key"),
    P("token", True, id="token"), P("access_token", True, id="access_token"),
    P("pwd", True, id="pwd"), P("post_token_key", False, id="simulator-parameter"),
    P("monkey", False, id="monkey"), P("campaign", False, id="campaign")])
def test_credential_query_parameters_are_recognised_by_name(name, credential):
    assert is_credential_param(name) is credential
