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
