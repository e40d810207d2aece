"""Buyers speaking JSON, XML (elements and attributes), form and plain text, integrated by
configuration only (SPEC §2: mapping rows and response rules): each one's bid token comes
back in the post under the key that buyer's spec names, never the key the ping answered."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from collections.abc import Callable
from urllib.parse import parse_qs

import pytest

from apps.auctions.models import Ping, Post, Sale
from apps.leads.models import Lead
from tests.factories import (
    lead_submit,
    sim_contract,
    sim_requests,
    source_with_key,
    valid_fields,
)

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("fresh_simulator")]


def _json(path: str) -> Callable[[str], str | None]:
    def read(body: str) -> str | None:
        node = json.loads(body)
        for part in path.split("."):
            node = node.get(part) if isinstance(node, dict) else None
        return node
    return read


def _xml_element(path: str) -> Callable[[str], str | None]:
    def read(body: str) -> str | None:
        found = ET.fromstring(body.encode()).find(path)
        return None if found is None else found.text
    return read


def _xml_root_attribute(name: str) -> Callable[[str], str | None]:
    return lambda body: ET.fromstring(body.encode()).get(name)


def _form(name: str) -> Callable[[str], str | None]:
    return lambda body: parse_qs(body).get(name, [None])[0]


FORMATS = [
    # (answer format, the buyer's post key for the token (simulator post_token_key),
    #  our mapping target for it, prefix of the field targets, reads the token back from
    #  the post body as the buyer's own parser would, reads the zip back)
    pytest.param("json", "meta.ping_id", "meta.ping_id", "",
                 _json("meta.ping_id"), _json("zip"), id="json"),
    pytest.param("xml", "Lead.PingRef", "Lead.PingRef", "Lead.",
                 _xml_element("Lead/PingRef"), _xml_element("Lead/zip"), id="xml"),
    pytest.param("xml_attr", "ref", "@ref", "",
                 _xml_root_attribute("ref"), _xml_element("zip"), id="xml_attr"),
    pytest.param("form", "lead.ref", "lead.ref", "lead.",
                 _form("lead[ref]"), _form("lead[zip]"), id="form"),
    pytest.param("text", "ping_id", "ping_id", "",
                 _form("ping_id"), _form("zip"), id="text"),
]


def field_rows(prefix: str) -> list[dict]:
    return [{"target": f"{prefix}{key}", "source": key}
            for key in ("first_name", "email", "phone", "zip")]


@pytest.mark.parametrize(("fmt", "post_key", "target", "prefix", "token_in", "zip_in"),
                         FORMATS)
def test_a_buyer_gets_its_bid_token_back_under_its_own_post_key(
        api_client, vertical, sim_url, fmt, post_key, target, prefix, token_in, zip_in):
    _, key = source_with_key(vertical)
    contract = sim_contract(
        vertical, sim_url, query=f"bid=14.25&post_token_key={post_key}", ping_format=fmt,
        post_mappings=[{"target": target, "source": "@ping.token"}, *field_rows(prefix)])

    response = lead_submit(api_client, key, valid_fields(zip="10001"))

    assert response.status_code == 200, response.json()
    assert response.json()["status"] == "sold"
    lead = Lead.objects.get(uuid=response.json()["id"])
    ping = Ping.objects.get(auction__lead=lead, contract=contract)
    assert ping.outcome == "bid" and ping.bid == lead.sale_price
    assert str(ping.bid) == "14.25" and ping.token.startswith("t-")
    [post] = sim_requests(sim_url, f"/b{contract.pk}/post")
    assert token_in(post["body"]) == ping.token
    assert zip_in(post["body"]) == "10001"
    assert Post.objects.get(auction__lead=lead).token == ping.token
    assert Sale.objects.get(lead=lead).contract == contract


def test_a_post_without_the_token_is_refused_and_the_lead_falls_back(
        api_client, vertical, sim_url):
    _, key = source_with_key(vertical)
    forgetful = sim_contract(vertical, sim_url, query="bid=30&post_token_key=ping_ref",
                             post_mappings=field_rows(""))  # no "@ping.token" row
    fallback = sim_contract(vertical, sim_url, query="bid=9")

    body = lead_submit(api_client, key).json()

    assert body["status"] == "sold"
    [sent] = sim_requests(sim_url, f"/b{forgetful.pk}/post")
    assert "ping_ref" not in json.loads(sent["body"])
    post = Post.objects.get(auction__lead__uuid=body["id"], contract=forgetful)
    assert (post.outcome, post.reason) == ("rejected", "unknown token")
    assert Sale.objects.get(lead__uuid=body["id"]).contract == fallback


def test_a_post_without_the_token_leaves_a_lone_bidders_lead_unsold(
        api_client, vertical, sim_url):
    _, key = source_with_key(vertical)
    contract = sim_contract(vertical, sim_url, query="bid=30&post_token_key=Lead.PingRef",
                            ping_format="xml", post_mappings=field_rows("Lead."))

    body = lead_submit(api_client, key).json()

    assert body["status"] == "unsold"
    post = Post.objects.get(auction__lead__uuid=body["id"], contract=contract)
    assert (post.outcome, post.reason) == ("rejected", "unknown token")
    assert not Sale.objects.filter(lead__uuid=body["id"]).exists()
