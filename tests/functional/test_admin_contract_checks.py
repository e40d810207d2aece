"""The contract admin and issue 11: secrets typed in but never shown back, and every save-time
check of item 4 refused with its message next to the field (the same checks as the API:
tests/api/test_contract_checks.py)."""

from __future__ import annotations

import html
import re

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group

from apps.buyers.models import Contract, ContractSecret, Endpoint, FieldMapping
from tests.factories import BuyerFactory, VerticalFactory
from tests.functional.test_admin_contracts import (
    ADD_URL,
    EXAMPLES,
    PING,
    POST,
    _errors,
    _form_of,
    _mapping,
    contract_form,
    form_values,
)

pytestmark = pytest.mark.django_db

TOKEN = "tok-Admin-5150"
AUTH = "bearer-Admin-7"


@pytest.fixture
def vertical():
    from apps.sources.models import VerticalField

    vertical = VerticalFactory(slug="auto-insurance")
    for key, example in EXAMPLES.items():
        VerticalField.objects.filter(vertical=vertical, key=key).update(example=example)
    return vertical


@pytest.fixture
def am_client(client):
    user = get_user_model().objects.create_user("alice", "alice@example.com", "pw",
                                                is_staff=True)
    user.groups.add(Group.objects.get(name="Account managers"))
    client.force_login(user)
    return client


def _secret(name: str, value: str) -> dict[str, str]:
    return {"id": "", "contract": "", "name": name, "value": value}


def test_secrets_typed_in_the_admin_are_never_shown_back_and_kept_when_left_empty(
        am_client, vertical):
    response = am_client.post(ADD_URL, contract_form(
        vertical, BuyerFactory(),
        post={**POST, "auth_type": "bearer", "auth_secret": AUTH},
        secrets=[_secret("api_token", TOKEN)],
        post_mappings=[_mapping(0, "ping_token", "@ping.token"),
                       _mapping(1, "auth.token", "@secret.api_token")]))
    assert response.status_code == 302, _errors(response)
    contract = Contract.objects.get()
    change = f"/admin/buyers/contract/{contract.pk}/change/"

    page = am_client.get(change)
    text = page.content.decode()
    assert TOKEN not in text and AUTH not in text
    assert 'name="secrets-0-value"' in text and 'type="password"' in text

    edit = form_values(page)  # what a browser sends back: the secret inputs empty
    assert edit["secrets-0-value"] == [""] and edit["endpoints-1-auth_secret"] == [""]
    edit.update({"priority": ["3"], "_save": ["Save"]})
    saved = am_client.post(change, edit)

    assert saved.status_code == 302, _errors(saved)
    assert ContractSecret.objects.get(contract=contract).value == TOKEN
    assert Endpoint.objects.get(contract=contract, kind="post").auth_secret == AUTH
    history = am_client.get(f"/admin/buyers/contract/{contract.pk}/history/").content.decode()
    assert TOKEN not in history and AUTH not in history


def test_a_new_secret_without_a_value_is_refused_by_the_field(am_client, vertical):
    response = am_client.post(ADD_URL, contract_form(
        vertical, BuyerFactory(), secrets=[_secret("api_token", "")]))

    assert response.status_code == 200
    form = _form_of(response, "secrets", 0)
    assert form.errors["value"] == ["Give the secret's value."]
    assert not Contract.objects.exists()


def test_a_row_reading_an_unknown_secret_is_refused_next_to_its_source(am_client, vertical):
    response = am_client.post(ADD_URL, contract_form(
        vertical, BuyerFactory(), post_mappings=[_mapping(0, "ping_token", "@ping.token"),
                                                 _mapping(1, "key", "@secret.api_key")]))

    assert response.status_code == 200
    form = _form_of(response, "mappings-post", 1)
    assert "No secret named 'api_key'" in form.errors["source"][0]
    assert not FieldMapping.objects.exists()


def _field_errors(response, prefix: str, index: int, field: str) -> str:
    page = response.content.decode()
    shown = re.search(rf'<ul class="errorlist" id="id_{prefix}-{index}-{field}_error">(.*?)</ul>',
                      page, re.S)
    return html.unescape(shown[1]) if shown else ""


# --- item 4 (and 2, 3): each bad case refused with the message next to its field -----------

M = _mapping
CHECKS = {
    "date_format in a foreign spelling": (
        {"post_mappings": [M(0, "ping_token", "@ping.token"),
                           {**M(1, "dob", "date_of_birth", "date_format"),
                            "arg": "MM/DD/YYYY"}]},
        "mappings-post", 1, "arg", "'MM/DD/YYYY' is written '%m/%d/%Y'"),
    "date_format with an unknown directive": (
        {"post_mappings": [M(0, "ping_token", "@ping.token"),
                           {**M(1, "dob", "date_of_birth", "date_format"), "arg": "%d.%K"}]},
        "mappings-post", 1, "arg", "'%K' in '%d.%K' is not a strftime directive"),
    "an XPath under a json response": (
        {"ping": {**PING, "price_path": "/response/price"}},
        "endpoints", 0, "price_path", "is an XPath, but the response format is json"),
    "a JSON path under an xml response": (
        {"post": {**POST, "response_format": "xml", "success_path": "response.result",
                  "reason_path": "/response/reason"}},
        "endpoints", 1, "success_path", "is a JSON path, but the response format is xml: "
                                        "write an XPath such as '/response/result'"),
    "an XPath position 0": (
        {"post": {**POST, "response_format": "xml", "success_path": "/r/result[0]",
                  "reason_path": "/r/reason"}},
        "endpoints", 1, "success_path", "XPath positions start at 1"),
    "a transform argument against its grammar": (
        {"post_mappings": [M(0, "ping_token", "@ping.token"),
                           {**M(1, "first", "first_name", "split"), "arg": "first"}]},
        "mappings-post", 1, "arg", "<separator>|<index>"),
    "an age band argument": (
        {"ping_mappings": [{**M(0, "band", "date_of_birth", "age_band"), "arg": "30|20"}]},
        "mappings-ping", 0, "arg", "ascending ages"),
    "the ping token through a transform that changes it": (
        {"post_mappings": [M(0, "ping_token", "@ping.token", "lower")]},
        "mappings-post", 0, "transform", "'lower' would change the buyer's ping token"),
    "PII on a ping without a deriving transform": (
        {"ping_mappings": [M(0, "dob", "date_of_birth", "date_format") | {"arg": "%Y"}]},
        "mappings-ping", 0, "source", "age, age_band, birth_year"),
    "a nested target under the flat key style": (
        {"post": {**POST, "body_format": "form", "key_style": "flat"},
         "post_mappings": [M(0, "Lead.PingId", "@ping.token")]},
        "mappings-post", 0, "target", r"Write 'Lead\.PingId' to send the key 'Lead.PingId'"),
    "a key style on a json body": (
        {"post": {**POST, "key_style": "dotted"}},
        "endpoints", 1, "key_style", "applies to form and query bodies"),
    "a typed constant that is not its type": (
        {"post_mappings": [M(0, "ping_token", "@ping.token"),
                           {**M(1, "vendor_id"), "constant": "7a", "constant_type": "integer"}]},
        "mappings-post", 1, "constant", "'7a' is not an integer"),
    "a null constant in a form body": (
        {"post": {**POST, "body_format": "form"},
         "post_mappings": [M(0, "ping_token", "@ping.token"),
                           {**M(1, "note"), "constant_type": "null"}]},
        "mappings-post", 1, "constant_type", "Only a json body has null"),
    "a credential in clear in the URL": (
        {"ping": {**PING, "url": "http://127.0.0.1:9/acme/ping?apikey=abc123"}},
        "endpoints", 0, "url", "'apikey' holds a credential in clear"),
}


@pytest.mark.parametrize(("overrides", "prefix", "index", "field", "message"),
                         list(CHECKS.values()), ids=list(CHECKS))
def test_a_contract_that_would_send_wrong_data_is_refused_next_to_the_field(
        am_client, vertical, overrides, prefix, index, field, message):
    response = am_client.post(ADD_URL, contract_form(vertical, BuyerFactory(), **overrides))

    assert response.status_code == 200, "saved"  # the form again, not a redirect
    form = _form_of(response, prefix, index)
    assert any(message in error for error in form.errors.get(field, [])), form.errors
    page = response.content.decode()
    shown = re.search(rf'<ul class="errorlist" id="id_{prefix}-{index}-{field}_error">(.*?)</ul>',
                      page, re.S)
    assert shown and message in html.unescape(shown[1])
    assert not Contract.objects.exists()


def test_the_preview_flags_a_row_that_comes_out_empty(am_client, vertical):
    response = am_client.post(ADD_URL, contract_form(
        vertical, BuyerFactory(),
        ping_mappings=[M(0, "zip", "zip"), M(1, "income", "income")],  # no example
        post_mappings=[M(0, "ping_token", "@ping.token"),
                       M(1, "phone", "city", "phone_10")]))
    assert response.status_code == 302, _errors(response)
    contract = Contract.objects.get()

    page = am_client.get(f"/admin/buyers/contract/{contract.pk}/preview/").content.decode()

    flagged = [html.unescape(item) for item in re.findall(r'<li class="warning">(.*?)</li>',
                                                          page, re.S)]
    assert flagged == [
        "Sends nothing for this lead — row 2 'income': no value for 'income'",
        "Sends nothing for this lead — row 2 'phone': 'phone_10' cannot use the value of "
        "'city'"]


def test_each_mapping_row_shows_the_exact_key_it_is_sent_under(am_client, vertical):
    response = am_client.post(ADD_URL, contract_form(
        vertical, BuyerFactory(), post={**POST, "body_format": "form", "key_style": "dotted"},
        post_mappings=[M(0, "Lead.PingId", "@ping.token"), M(1, r"Lead\.Zip", "zip")]))
    assert response.status_code == 302, _errors(response)

    page = am_client.get(f"/admin/buyers/contract/{Contract.objects.get().pk}/change/")

    cells = re.findall(r'<td class="field-wire_key">\s*<p>(.*?)</p>', page.content.decode())
    assert [cell for cell in cells if cell] == ["Lead.PingId", "Lead.Zip"]  # + blank templates
