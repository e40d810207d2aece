"""Erase on request (issue 14 item 2): every lead of a consumer, across two sources and two
verticals, loses its PII — fields, ping/post bodies, nothing left in any table's raw text —
while the report rollups keep their counts; the request is recorded as digests only, and a
second request for the same consumer erases nothing and says so. Runs on SQLite and on
PostgreSQL (DATABASE_URL)."""

from __future__ import annotations

import json
from datetime import timedelta
from decimal import Decimal

import pytest
from django.core.management import CommandError, call_command
from django.db import connection
from django.utils import timezone

from apps.auctions.models import Auction, ConsumerPurchase, Ping, Post, Sale
from apps.core.pii import pii_digest
from apps.leads.dedupe import consumer_digests
from apps.leads.models import DedupeClaim, Lead, LeadStatus, SuppressedConsumer
from apps.privacy.models import ErasureRequest, ErasureStatus
from apps.privacy.scrub import ERASED
from apps.privacy.services import erasure_request
from apps.reports.models import LeadHour
from apps.reports.services import rollup_refresh
from apps.sources.models import FieldType
from apps.webhooks.models import DeliveryKind, SourceEvent, WebhookDelivery
from apps.webhooks.payloads import payload_build
from tests.factories import VerticalFactory, sim_contract, source_with_key, valid_fields

pytestmark = pytest.mark.django_db

CANARY_EMAIL = "Canary.Erase@Example.com"
CANARY_PHONE = "(212) 555-0188"
# every spelling of the canary a table could hold
CANARY_TEXTS = ("canary.erase", "2125550188", "555-0188", "Canary")
OTHER_EMAIL = "other.person@example.com"
CERTIFICATE = "https://cert.trustedform.com/" + "ab" * 20  # one-to-one consent evidence

HOME_FIELDS = [
    {"key": "contact_email", "type": FieldType.EMAIL, "pii": True, "required_for_post": True},
    {"key": "mobile", "type": FieldType.PHONE, "pii": True},
    {"key": "full_name", "type": FieldType.TEXT, "pii": True},
    {"key": "zip", "type": FieldType.ZIP, "required_for_ping": True},
    {"key": "home_value", "type": FieldType.INTEGER},
]
TABLES = ("leads_lead", "auctions_post", "auctions_ping", "webhooks_webhookdelivery",
          "leads_idempotencyrecord", "auctions_sourceping", "privacy_erasurerequest",
          "leads_suppressedconsumer", "billing_return")


@pytest.fixture
def world(settings):
    settings.PRIVACY_ERASE_BATCH = 2  # several batches for a handful of leads
    auto = VerticalFactory(slug="auto-insurance")
    home = VerticalFactory(slug="home-insurance", schema=HOME_FIELDS,
                           dedupe_fields=["contact_email", "mobile"])
    acme, acme_key = source_with_key(auto, home, default_mode="async")
    blue, blue_key = source_with_key(auto, home, default_mode="async")
    return {"auto": auto, "home": home, "acme": (acme, acme_key), "blue": (blue, blue_key)}


def submit(client, key, vertical, fields, **headers):
    return client.post("/api/v1/leads", data=json.dumps({"vertical": vertical, "fields": fields}),
                       content_type="application/json", HTTP_AUTHORIZATION=f"Bearer {key}",
                       **headers)


def table_text(table: str) -> str:
    """Every row of ``table`` as the database returns it, as one string."""
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT * FROM {table}")  # noqa: S608 - a fixed table name
        return repr(cursor.fetchall())


def canary_tables() -> list[str]:
    return [table for table in TABLES
            if any(text.lower() in table_text(table).lower() for text in CANARY_TEXTS)]


def auction_with_bodies(lead: Lead, contract, *, echo: str) -> None:
    """A sold auction of ``lead`` whose buyer echoed the consumer in its answers, and the
    source's webhook of the sale."""
    now = timezone.now()
    auction = Auction.objects.create(lead=lead, started_at=now, ping_deadline_at=now,
                                     outcome="sold")
    Ping.objects.create(auction=auction, contract=contract, outcome="bid", bid=Decimal(10),
                        request_body='{"zip": "10001"}',
                        response_body=json.dumps({"bid": 10, "echo": echo}))
    Post.objects.create(auction=auction, contract=contract, outcome="accepted",
                        price=Decimal(10), request_body=json.dumps({"email": "***"}),
                        response_body=json.dumps({"accepted": True, "email": echo}))
    Sale.objects.create(lead=lead, contract=contract, buyer=contract.buyer, price=Decimal(10),
                        consent={"brand": "Apex", "certificate_url": CERTIFICATE})
    Lead.objects.filter(pk=lead.pk).update(status=LeadStatus.SOLD, sale_price=Decimal(10),
                                           payout=Decimal(7), completed_at=now)
    for digest in consumer_digests(lead.vertical, lead.fields):
        ConsumerPurchase.objects.create(buyer=contract.buyer, digest=digest,
                                        expires_at=now + timedelta(days=30))
    delivery = WebhookDelivery(msg_id=f"msg_{lead.pk}", kind=DeliveryKind.WEBHOOK,
                               source=lead.source, lead=lead, event=SourceEvent.LEAD_SOLD,
                               payout=Decimal(7))
    delivery.body = payload_build(delivery)
    delivery.save()


def lead_hours() -> list[tuple]:
    rollup_refresh(timezone.now() - timedelta(hours=2), timezone.now() + timedelta(hours=1))
    return sorted(LeadHour.objects.values_list(
        "source_id", "vertical_id", "received", "rejected", "duplicates", "sold", "unsold",
        "revenue", "payout"))


def test_an_erasure_scrubs_every_lead_of_the_consumer_across_sources_and_verticals(
        api_client, world):
    (acme, acme_key), (blue, blue_key) = world["acme"], world["blue"]
    canary = valid_fields(email=CANARY_EMAIL, phone=CANARY_PHONE, first_name="Canary")
    answers = [
        submit(api_client, acme_key, "auto-insurance", canary),  # received
        submit(api_client, blue_key, "auto-insurance", canary),  # a duplicate: stored too
        submit(api_client, blue_key, "home-insurance",  # by e-mail, another phone
               {"contact_email": CANARY_EMAIL, "mobile": "(212) 555-0101",
                "full_name": "Canary Bird", "zip": "10001", "home_value": 300000}),
        submit(api_client, acme_key, "home-insurance",  # by phone, another e-mail
               {"contact_email": "c.b@example.net", "mobile": CANARY_PHONE, "zip": "10001"}),
        submit(api_client, acme_key, "auto-insurance",  # rejected, keeps its valid fields
               valid_fields(email=CANARY_EMAIL, phone="12", first_name="Canary")),
    ]
    assert [a.status_code for a in answers] == [202, 409, 202, 202, 400]
    other = submit(api_client, acme_key, "auto-insurance",
                   valid_fields(email=OTHER_EMAIL, phone="(212) 555-0177"))
    assert other.status_code == 202
    contract = sim_contract(world["auto"], "http://127.0.0.1:9")
    first, other_lead = (Lead.objects.get(uuid=answers[0].json()["id"]),
                         Lead.objects.get(uuid=other.json()["id"]))
    auction_with_bodies(first, contract, echo=CANARY_EMAIL.lower())
    auction_with_bodies(other_lead, contract, echo=OTHER_EMAIL)
    # lead fields and post bodies are sealed at rest (test_sealed_at_rest): the canary is in
    # clear only in the ping answer this test stored, and the models read the rest
    assert canary_tables() == ["auctions_ping"]
    assert Lead.objects.get(pk=first.pk).fields["email"] == CANARY_EMAIL.lower()
    assert CANARY_EMAIL.lower() in Post.objects.get(auction__lead=first).response_body
    before = lead_hours()

    done = erasure_request(email=CANARY_EMAIL, phone=CANARY_PHONE, requested_by=None,
                           channel="command", run_inline=True)

    assert (done.status, done.leads_erased) == (ErasureStatus.DONE, 5)
    assert canary_tables() == []
    erased = Lead.objects.exclude(pk=other_lead.pk)
    assert {(lead.source_id, lead.vertical.slug) for lead in erased} == {
        (acme.pk, "auto-insurance"), (blue.pk, "auto-insurance"), (blue.pk, "home-insurance"),
        (acme.pk, "home-insurance")}
    assert all(lead.erased_at is not None and lead.email_digest is None
               and lead.phone_digest is None for lead in erased)
    assert Lead.objects.get(pk=first.pk).fields["email"] == ERASED
    assert Lead.objects.get(pk=first.pk).fields["vehicle_year"] == 2019  # not PII: kept
    assert Lead.objects.get(pk=first.pk).status == LeadStatus.SOLD
    assert Post.objects.get(auction__lead=first).response_body == ERASED
    assert Sale.objects.get(lead=first).consent == {"brand": "Apex"}
    assert not DedupeClaim.objects.filter(lead__in=erased).exists()
    # the other consumer keeps everything, its buyer's purchase record included
    kept = Lead.objects.get(pk=other_lead.pk)
    assert kept.fields["email"] == OTHER_EMAIL and kept.erased_at is None
    assert OTHER_EMAIL in Post.objects.get(auction__lead=kept).response_body
    assert Sale.objects.get(lead=kept).consent["certificate_url"] == CERTIFICATE
    assert ConsumerPurchase.objects.count() == len(consumer_digests(kept.vertical, kept.fields))
    assert lead_hours() == before  # reports keep their counts
    # the request is recorded without the e-mail or phone: digests only
    row = ErasureRequest.objects.get(pk=done.pk)
    assert row.email_digest == pii_digest("email", "canary.erase@example.com")
    assert row.phone_digest == pii_digest("phone", "+12125550188")
    assert set(SuppressedConsumer.objects.values_list("digest", "reason")) == {
        (row.email_digest, "erased"), (row.phone_digest, "erased")}


def test_a_second_erasure_of_the_same_consumer_finds_nothing_and_records_it(api_client, world):
    _, key = world["acme"]
    assert submit(api_client, key, "auto-insurance",
                  valid_fields(email=CANARY_EMAIL, phone=CANARY_PHONE)).status_code == 202
    first = erasure_request(email=CANARY_EMAIL, phone=None, requested_by=None,
                            channel="command", run_inline=True)
    fields_after_first = Lead.objects.get().fields

    second = erasure_request(email=CANARY_EMAIL.upper(), phone=None, requested_by=None,
                             channel="command", run_inline=True)

    assert (first.leads_erased, second.leads_erased) == (1, 0)
    assert second.status == ErasureStatus.DONE and second.finished_at is not None
    assert ErasureRequest.objects.count() == 2
    assert Lead.objects.get().fields == fields_after_first
    assert SuppressedConsumer.objects.count() == 1


def test_the_consumer_erase_command_erases_and_suppresses(api_client, world, capsys):
    _, key = world["blue"]
    submit(api_client, key, "home-insurance",
           {"contact_email": OTHER_EMAIL, "mobile": CANARY_PHONE, "zip": "10001"})

    call_command("consumer_erase", "--phone", "+1 212 555 0188")

    assert capsys.readouterr().out.strip().endswith(
        "1 lead(s) erased, consumer suppressed")
    assert Lead.objects.get().fields["mobile"] == ERASED
    assert ErasureRequest.objects.get().channel == "command"
    assert SuppressedConsumer.objects.filter(
        digest=pii_digest("phone", "+12125550188")).exists()


@pytest.mark.parametrize(("args", "message"), [
    ((), "--email: Give the consumer's e-mail, phone, or both."),
    (("--email", "not-an-address"), "--email: Enter a valid email address."),
])
def test_the_command_names_what_is_wrong(args, message):
    with pytest.raises(CommandError, match=message):
        call_command("consumer_erase", *args)
    assert not ErasureRequest.objects.exists()


def test_the_backfill_gives_older_leads_their_digests_so_an_erasure_finds_them(
        api_client, world):
    _, key = world["acme"]
    submit(api_client, key, "auto-insurance", valid_fields(email=CANARY_EMAIL))
    Lead.objects.update(email_digest=None, phone_digest=None)  # as before the migration

    call_command("consumer_digests_backfill", "--batch", "1")

    assert Lead.objects.get().email_digest == pii_digest("email", "canary.erase@example.com")
    done = erasure_request(email=CANARY_EMAIL, phone=None, requested_by=None,
                           channel="command", run_inline=True)
    assert done.leads_erased == 1


def test_an_erasure_whose_run_was_lost_is_run_again_by_the_sweep(
        api_client, world, settings, django_capture_on_commit_callbacks):
    from apps.privacy.services import erasures_redrive

    _, key = world["acme"]
    submit(api_client, key, "auto-insurance", valid_fields(email=CANARY_EMAIL))
    with django_capture_on_commit_callbacks(execute=False):  # the task never ran
        lost = erasure_request(email=CANARY_EMAIL, phone=None, requested_by=None,
                               channel="api")
    assert erasures_redrive() == 0  # not stale yet
    ErasureRequest.objects.filter(pk=lost.pk).update(
        requested_at=timezone.now() - timedelta(seconds=settings.ERASURE_STALE_SECONDS + 1))

    with django_capture_on_commit_callbacks(execute=True):
        assert erasures_redrive() == 1

    lost.refresh_from_db()
    assert (lost.status, lost.leads_erased) == (ErasureStatus.DONE, 1)
    assert erasures_redrive() == 0
