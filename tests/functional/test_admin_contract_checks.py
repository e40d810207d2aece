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
