"""Save-time checks of issue 11 through the staff API: configurations that would save and then
send the buyer wrong data are refused with a 400 naming the field, and nothing is written.
(The admin runs the very same checks: tests/functional/test_admin_contract_checks.py.)"""

from __future__ import annotations

import copy
from collections.abc import Callable

import pytest

from apps.buyers.models import Contract
from tests.factories import BuyerFactory

pytestmark = pytest.mark.django_db

URL = "http://127.0.0.1:9"


def base_contract(buyer_id: int) -> dict:
    """A valid ping-post contract: JSON ping, form post."""
    return {
        "buyer": buyer_id, "vertical": "auto-insurance", "name": "offer", "mode": "ping_post",
        "endpoints": {
            "ping": {"url": f"{URL}/ping",
                     "response": {"format": "json", "success_path": "status",
                                  "price_path": "price", "token_path": "token"},
                     "mappings": [{"target": "zip", "source": "zip"},
                                  {"target": "age", "source": "date_of_birth",
                                   "transform": "age"}]},
            "post": {"url": f"{URL}/post", "body_format": "form",
                     "response": {"format": "json", "success_path": "result",
                                  "reason_path": "reason"},
                     "mappings": [{"target": "Lead.PingId", "source": "@ping.token"},
                                  {"target": "Lead.Email", "source": "email"}]},
        },
    }


def _ping(body: dict) -> dict:
    return body["endpoints"]["ping"]


def _post(body: dict) -> dict:
    return body["endpoints"]["post"]


def _post_row(**row) -> Callable[[dict], None]:
    return lambda body: _post(body)["mappings"].append(row)


def _ping_row(**row) -> Callable[[dict], None]:
    return lambda body: _ping(body)["mappings"].append(row)


P = pytest.param
CHECKS = [
    # item 2: key styles
    P(lambda b: _post(b).update(key_style="flat"), "endpoints.post.mappings.0.target",
      r"Write 'Lead\.PingId' to send the key 'Lead.PingId'", id="flat-style-nested-target"),
    P(_post_row(target=r"Lead[Email]", source="email", transform="lower"),
      "endpoints.post.mappings.2.target", "", id="escape-needed-for-a-bracket"),
    P(_post_row(target=r"Lead\[Email\]", source="email", transform="lower"),
      "endpoints.post.mappings.2.target",
      "Sent as the key 'Lead[Email]', which row 2 sends too.", id="two-rows-one-wire-key"),
    P(lambda b: _ping(b).update(key_style="dotted"), "endpoints.ping.key_style",
      r"escape the dot in the target: 'Lead\.FirstName'", id="key-style-on-a-json-body"),
    P(lambda b: _post(b).update(key_style="colons"), "endpoints.post.key_style", "colons",
      id="unknown-key-style"),
]


CHECKS += [
    # item 3: typed and secret constants
    P(_post_row(target="n", constant="12.5", constant_type="integer"),
      "endpoints.post.mappings.2.constant", "'12.5' is not an integer", id="integer-constant"),
    P(_post_row(target="n", constant="yes", constant_type="boolean"),
      "endpoints.post.mappings.2.constant", "is not a boolean", id="boolean-constant"),
    P(_post_row(target="n", constant="", constant_type="null"),
      "endpoints.post.mappings.2.constant_type", "Only a json body has null",
      id="null-constant-in-a-form-body"),
    P(_post_row(target="n", constant="x", constant_type="text"),
      "endpoints.post.mappings.2.constant_type", "text", id="unknown-constant-type"),
    P(_post_row(target="key", source="@secret.api_key"), "endpoints.post.mappings.2.source",
      "No secret named 'api_key' (stored: none yet)", id="unknown-secret-in-a-row"),
    P(lambda b: _ping(b).update(url=f"{URL}/ping?k={{secret.vendor}}"), "endpoints.ping.url",
      "No secret named 'vendor'", id="unknown-secret-in-a-url"),
    P(lambda b: _ping(b).update(headers={"X-Key": "{secret.vendor}"}),
      "endpoints.ping.headers", "Header X-Key: no secret named 'vendor'",
      id="unknown-secret-in-a-header"),
    P(lambda b: b.update(secrets={"1st-key": "v"}), "secrets.1st-key", "letters, digits and _",
      id="secret-name-not-an-identifier"),
    P(lambda b: _ping(b).update(url=f"{URL}/ping?token=abc123"), "endpoints.ping.url",
      "'token' holds a credential in clear", id="credential-in-a-query-string"),
    P(lambda b: _ping(b).update(url="http://user:pw@127.0.0.1:9/ping"), "endpoints.ping.url",
      "user name or password", id="credential-in-the-userinfo"),
]


CHECKS += [
    # item 4: what saves but sends wrong data
    P(_post_row(target="dob", source="date_of_birth", transform="date_format",
                arg="MM/DD/YYYY"), "endpoints.post.mappings.2.arg",
      "'MM/DD/YYYY' is written '%m/%d/%Y'", id="date-format-us-spelling"),
    P(_post_row(target="dob", source="date_of_birth", transform="date_format", arg="%Y-%Q"),
      "endpoints.post.mappings.2.arg", "'%Q' in '%Y-%Q' is not a strftime directive",
      id="date-format-unknown-directive"),
    P(lambda b: _ping(b)["response"].update(price_path="/response/price"),
      "endpoints.ping.response.price_path",
      "is an XPath, but the response format is json: write a JSON path such as "
      "'response.price'", id="xpath-under-json"),
    P(lambda b: _ping(b)["response"].update(format="xml", price_path="response.bid.price"),
      "endpoints.ping.response.price_path",
      "is a JSON path, but the response format is xml: write an XPath such as "
      "'/response/bid/price'", id="json-path-under-xml"),
    P(lambda b: _ping(b)["response"].update(format="xml", price_path="/r/bids/bid[0]/@price"),
      "endpoints.ping.response.price_path", "XPath positions start at 1",
      id="zero-position-under-xml"),
    P(lambda b: _post(b)["response"].update(format="form", reason_path="/response/reason"),
      "endpoints.post.response.reason_path", "is not a form key", id="xpath-under-form"),
    P(_post_row(target="first", source="first_name", transform="split", arg="first"),
      "endpoints.post.mappings.2.arg", "<separator>|<index>", id="split-argument"),
    P(_ping_row(target="band", source="date_of_birth", transform="age_band", arg="65|18"),
      "endpoints.ping.mappings.2.arg", "ascending ages", id="age-band-argument"),
    P(_post_row(target="short", source="first_name", transform="truncate", arg="0"),
      "endpoints.post.mappings.2.arg", "positive whole number", id="truncate-argument"),
    P(_post_row(target="own", source="homeowner", transform="value_map", arg="yes=Y"),
      "endpoints.post.mappings.2.arg", "JSON object", id="value-map-argument"),
    P(_post_row(target="own", source="homeowner", transform="upper", arg="x"),
      "endpoints.post.mappings.2.arg", "takes no argument", id="argument-for-no-argument"),
    P(lambda b: _post(b)["mappings"][0].update(transform="upper"),
      "endpoints.post.mappings.0.transform", "'upper' would change the buyer's ping token",
      id="ping-token-through-upper"),
    P(lambda b: _post(b)["mappings"][0].update(transform="digits_only"),
      "endpoints.post.mappings.0.transform", "post the token as it came",
      id="ping-token-through-digits-only"),
]


@pytest.mark.parametrize(("breaks", "path", "says"), CHECKS)
def test_a_contract_that_would_send_wrong_data_is_refused_by_field(
        am_client, vertical, breaks, path, says):
    body = base_contract(BuyerFactory().pk)
    assert am_client.post("/api/v1/contracts", copy.deepcopy(body),
                          format="json").status_code == 201  # the base is fine as it is
    breaks(body)

    response = am_client.post("/api/v1/contracts", body, format="json")

    assert response.status_code == 400, response.json()
    errors = response.json()["errors"]
    assert path in errors, errors
    assert says in " ".join(errors[path])
    assert Contract.objects.count() == 1


def test_every_mapping_row_reads_back_with_the_exact_key_it_is_sent_under(am_client, vertical):
    body = base_contract(BuyerFactory().pk)
    _post(body)["mappings"].append({"target": r"Lead\.Zip", "source": "zip"})

    created = am_client.post("/api/v1/contracts", body, format="json").json()
    dotted = am_client.patch(f"/api/v1/contracts/{created['id']}", {"endpoints": {
        **created["endpoints"], "post": {**created["endpoints"]["post"],
                                         "key_style": "dotted"}}}, format="json").json()

    assert [r["wire_key"] for r in created["endpoints"]["post"]["mappings"]] == [
        "Lead[PingId]", "Lead[Email]", "Lead.Zip"]
    assert [r["wire_key"] for r in dotted["endpoints"]["post"]["mappings"]] == [
        "Lead.PingId", "Lead.Email", "Lead.Zip"]
    assert [r["wire_key"] for r in created["endpoints"]["ping"]["mappings"]] == [None, None]


def test_secrets_are_write_only_kept_when_left_out_and_deleted_with_null(am_client, vertical):
    from apps.buyers.models import ContractSecret

    body = base_contract(BuyerFactory().pk)
    body["secrets"] = {"api_key": "k-1", "vendor": "v-1"}
    _post(body)["mappings"].append({"target": "key", "source": "@secret.api_key"})

    created = am_client.post("/api/v1/contracts", body, format="json").json()
    url = f"/api/v1/contracts/{created['id']}"
    put = am_client.put(url, {**created, "secrets": {"vendor": "v-2"}}, format="json")
    dropped = am_client.patch(url, {"secrets": {"vendor": None}}, format="json")
    in_use = am_client.patch(url, {"secrets": {"api_key": None}}, format="json")

    assert created["secret_names"] == ["api_key", "vendor"]
    assert "k-1" not in str(created) and "secrets" not in created
    assert put.status_code == 200 and put.json()["secret_names"] == ["api_key", "vendor"]
    assert dropped.json()["secret_names"] == ["api_key"]
    assert in_use.status_code == 400  # a row still reads it
    assert "No secret named 'api_key'" in in_use.json()["errors"][
        "endpoints.post.mappings.2.source"][0]
    assert dict(ContractSecret.objects.values_list("name", "value")) == {"api_key": "k-1"}


def test_typed_constants_read_back_with_their_type(am_client, vertical):
    body = base_contract(BuyerFactory().pk)
    _ping(body)["mappings"] += [
        {"target": "vendor_id", "constant": "77", "constant_type": "integer"},
        {"target": "sandbox", "constant": "false", "constant_type": "boolean"},
        {"target": "note", "constant_type": "null"}]

    created = am_client.post("/api/v1/contracts", body, format="json")

    assert created.status_code == 201, created.json()
    rows = created.json()["endpoints"]["ping"]["mappings"][2:]
    assert [(r["constant"], r["constant_type"]) for r in rows] == [
        ("77", "integer"), ("false", "boolean"), (None, "null")]


def test_a_ping_token_through_a_transform_that_keeps_it_is_accepted(am_client, vertical):
    body = base_contract(BuyerFactory().pk)
    _post(body)["mappings"][0].update(transform="prefix", arg="LX-")

    assert am_client.post("/api/v1/contracts", body, format="json").status_code == 201


def test_the_preview_flags_every_row_that_comes_out_empty_for_the_lead(am_client, vertical):
    from apps.sources.models import VerticalField

    for key, example in {"zip": "10001", "date_of_birth": "1985-04-12", "state": "NY",
                         "email": "jane@example.com"}.items():
        VerticalField.objects.filter(vertical=vertical, key=key).update(example=example)
    body = base_contract(BuyerFactory().pk)
    _ping(body)["mappings"].append({"target": "city", "source": "city"})  # no example
    _post(body)["mappings"] += [
        {"target": "Lead.Phone10", "source": "state", "transform": "phone_10"},
        {"target": "Lead.Blank", "constant": ""}]
    created = am_client.post("/api/v1/contracts", body, format="json").json()

    preview = am_client.get(f"/api/v1/contracts/{created['id']}/preview").json()

    assert preview["ping"]["request"]["empty_rows"] == ["row 3 'city': no value for 'city'"]
    assert preview["post"]["request"]["empty_rows"] == [
        "row 3 'Lead.Phone10': 'phone_10' cannot use the value of 'state'",
        "row 4 'Lead.Blank': the constant is empty"]
