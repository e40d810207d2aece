"""One-to-one consent ("ping, pick, post"): the ping lists the bidders' brands, the post
names the ones the consumer picked, only those can buy, and the consent evidence is stored
with the sale and reaches the buyer through its post mapping."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest

from apps.auctions.models import CapHold, Ping, Post, Sale, SourcePing
from apps.auctions.services.run import auction_run
from apps.leads.models import Lead, LeadStatus
from tests.factories import sim_contract, source_with_key, valid_fields

pytestmark = pytest.mark.django_db

PING_FIELDS = {k: v for k, v in valid_fields().items()
               if k in ("zip", "vehicle_year", "homeowner", "credit_rating", "income")}
CERT = "https://cert.trustedform.com/2a5f8c3e9b1d4f6a8c0e2b4d6f8a0c2e4b6d8f0a"
EVIDENCE_MAPPING = [
    {"target": "email", "source": "email"},
    {"target": "consent.brand", "source": "@consent.brand"},
    {"target": "consent.text", "source": "@consent.text"},
    {"target": "consent.picked", "source": "@consent.picked"},
    {"target": "consent.certificate", "source": "@consent.certificate_url"},
    {"target": "consent.at", "source": "@consent.consented_at"},
]


def call(api_client, key, path, body):
    return api_client.post(path, data=json.dumps(body), content_type="application/json",
                           HTTP_AUTHORIZATION=f"Bearer {key}")


def ping(api_client, key, **extra):
    return call(api_client, key, "/api/v1/pings",
                {"vertical": "auto-insurance", "fields": PING_FIELDS, **extra})


def post(api_client, key, ping_id, picks, **consent):
    return call(api_client, key, f"/api/v1/pings/{ping_id}/post", {
        "fields": valid_fields(),
        "consent": {"trustedform_cert_url": CERT, **consent,
                    "one_to_one": [{"brand": b, "text": f"I agree that {b} may call me."}
                                   for b in picks]}})


@pytest.fixture
def brands(vertical, sim_url):
    """Three buyers that take part (Apex bids most), and a higher bidder that does not."""
    return {
        "apex": sim_contract(vertical, sim_url, query="bid=15", consent_brand="Apex Insurance",
                             post_mappings=EVIDENCE_MAPPING,
                             caps=[{"period": "day", "metric": "leads", "limit": 5}]),
        "bolt": sim_contract(vertical, sim_url, query="bid=12", consent_brand="Bolt Auto",
                             post_mappings=EVIDENCE_MAPPING),
        "cove": sim_contract(vertical, sim_url, query="bid=10", consent_brand="Cove Direct",
                             post_mappings=EVIDENCE_MAPPING),
        "silent": sim_contract(vertical, sim_url, query="bid=40"),
    }


def test_the_ping_lists_three_brands_and_the_lead_sells_only_to_a_picked_one_with_its_evidence(
        api_client, vertical, brands):
    _, key = source_with_key(vertical)

    answer = ping(api_client, key, one_to_one=True).json()

    assert answer["status"] == "bid"
    assert answer["brands"] == [{"brand": "apex-insurance", "name": "Apex Insurance"},
                                {"brand": "bolt-auto", "name": "Bolt Auto"},
                                {"brand": "cove-direct", "name": "Cove Direct"}]
    assert "15" not in json.dumps(answer["brands"])  # no prices
    # the buyer without a brand was not even pinged
    stored = SourcePing.objects.get(uuid=answer["ping_id"])
    silent = next(e for e in stored.round["excluded"] if e["contract"] == brands["silent"].pk)
    assert silent["reason"] == "not_picked"

    sold = post(api_client, key, answer["ping_id"], ["bolt-auto", "cove-direct"],
                consented_at="2026-05-01T12:00:40Z")

    assert sold.status_code == 200, sold.json()
    lead = Lead.objects.get(uuid=sold.json()["id"])
    assert sold.json()["status"] == "sold"
    sale = Sale.objects.get(lead=lead)
    assert sale.contract == brands["bolt"]  # Apex bid more but was not picked
    assert sale.consent == {
        "brand": "Bolt Auto", "brand_key": "bolt-auto",
        "text": "I agree that bolt-auto may call me.",
        "picked": ["Bolt Auto", "Cove Direct"], "consented_at": "2026-05-01T12:00:40+00:00",
        "certificate_url": CERT}
    assert list(Post.objects.filter(auction__lead=lead).values_list("contract", flat=True)) == [
        brands["bolt"].pk]
    sent = json.loads(Post.objects.get(auction__lead=lead).request_body)
    assert sent["consent"] == {"brand": "Bolt Auto", "text": "I agree that bolt-auto may call me.",
                               "picked": "Bolt Auto, Cove Direct", "certificate": CERT,
                               "at": "2026-05-01T12:00:40+00:00"}
    # Apex's held room went back: it was reserved but not picked
    assert set(CapHold.objects.values_list("state", flat=True)) == {"released"}


def test_a_rejecting_pick_falls_back_only_to_the_other_picks(api_client, vertical, sim_url):
    _, key = source_with_key(vertical)
    sim_contract(vertical, sim_url, query="bid=30", consent_brand="Apex Insurance")
    rejecting = sim_contract(vertical, sim_url, query="bid=20&accept=0",
                             consent_brand="Bolt Auto")
    sim_contract(vertical, sim_url, query="bid=50")  # takes no part
    answer = ping(api_client, key, one_to_one=True).json()

    sold = post(api_client, key, answer["ping_id"], ["bolt-auto"])

    lead = Lead.objects.get(uuid=sold.json()["id"])
    assert sold.json()["status"] == "unsold"
    assert list(Post.objects.filter(auction__lead=lead).values_list("contract", "outcome")) == [
        (rejecting.pk, "rejected")]
    assert not Sale.objects.filter(lead=lead).exists()


def test_picks_the_ping_did_not_list_are_400_and_the_ping_stays_good(api_client, vertical,
                                                                    brands):
    _, key = source_with_key(vertical)
    answer = ping(api_client, key, one_to_one=True).json()

    unlisted = post(api_client, key, answer["ping_id"], ["bolt-auto", "acme-leads"])
    none = call(api_client, key, f"/api/v1/pings/{answer['ping_id']}/post",
                {"fields": valid_fields()})
    twice = post(api_client, key, answer["ping_id"], ["bolt-auto", "bolt-auto"])

    assert unlisted.status_code == 400
    assert unlisted.json()["errors"] == {"consent.one_to_one.1.brand": [
        "'acme-leads' was not listed by this ping "
        "(listed: apex-insurance, bolt-auto, cove-direct)."]}
    assert none.status_code == 400
    assert list(none.json()["errors"]) == ["consent.one_to_one"]
    assert twice.status_code == 400
    assert twice.json()["errors"] == {"consent.one_to_one": ["bolt-auto is picked twice."]}
    assert not Lead.objects.exists()
    assert post(api_client, key, answer["ping_id"], ["cove-direct"]).json()["status"] == "sold"


def test_a_plain_ping_lists_no_brands_and_pings_every_buyer(api_client, vertical, brands):
    _, key = source_with_key(vertical, payout_model="revshare", payout_value=Decimal("50"))

    answer = ping(api_client, key).json()

    assert "brands" not in answer
    assert answer["bid"] == "20.00"  # half the 40 of the buyer that takes no part


def test_a_direct_lead_with_one_to_one_consent_reaches_only_its_picks(
        api_client, vertical, brands):
    _, key = source_with_key(vertical)

    answer = call(api_client, key, "/api/v1/leads", {
        "vertical": "auto-insurance", "fields": valid_fields(),
        "consent": {"one_to_one": [{"brand": "cove-direct", "text": "Cove may call."}]}})

    lead = Lead.objects.get(uuid=answer.json()["id"])
    assert Sale.objects.get(lead=lead).contract == brands["cove"]
    assert lead.consent["one_to_one"] == [{"brand": "cove-direct", "text": "Cove may call."}]
    assert lead.consent["consented_at"]  # the capture time when the source gave none
    outcomes = dict(Ping.objects.filter(auction__lead=lead)
                    .values_list("contract", "outcome"))
    assert outcomes == {brands["apex"].pk: "not_picked", brands["bolt"].pk: "not_picked",
                        brands["silent"].pk: "not_picked", brands["cove"].pk: "bid"}


def test_a_re_driven_lead_keeps_its_picks(vertical, brands):
    """The picks travel with the lead: an auction run again (a re-drive after a crash)
    still offers it only to the picked brands."""
    source, _ = source_with_key(vertical)
    lead = Lead.objects.create(
        source=source, vertical=vertical, fields=valid_fields(), status=LeadStatus.RECEIVED,
        consent={"one_to_one": [{"brand": "apex-insurance", "text": "Apex may call."}],
                 "consented_at": "2026-05-01T12:00:00+00:00"})

    decided = auction_run(lead.pk)

    assert decided.status == LeadStatus.SOLD
    sale = Sale.objects.get(lead=lead)
    assert sale.contract == brands["apex"] and sale.price == Decimal("15.00")
    assert sale.consent["text"] == "Apex may call."
