"""PII retention (issue 14 item 4): per vertical, the final leads received more than
``retention_days`` ago lose their PII — the erasure's scrub — while statuses, prices, sales
and the report rollups stay; young leads, leads still in their auction and verticals
without retention keep everything; the consumer is not suppressed; runs are bounded and
idempotent; the ``pii-retention`` beat job runs it. SQLite and PostgreSQL (DATABASE_URL)."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from celery import current_app
from django.conf import settings as django_settings
from django.utils import timezone

from apps.auctions.models import ConsumerPurchase, Ping, Post, Sale
from apps.leads.models import DedupeClaim, Lead, LeadStatus, SuppressedConsumer, VerticalPrivacy
from apps.privacy.models import RetentionMark
from apps.privacy.retention import retention_purge
from apps.privacy.scrub import ERASED
from apps.privacy.services import erasure_request
from tests.factories import VerticalFactory, sim_contract, source_with_key, valid_fields
from tests.integration.test_consumer_erase import CERTIFICATE, auction_with_bodies, lead_hours

pytestmark = pytest.mark.django_db

OLD_EMAIL, OLD_PHONE = "old.timer@example.com", "(212) 555-0140"
PII = ("email", "phone", "first_name", "last_name")


@pytest.fixture
def world(settings):
    settings.PRIVACY_ERASE_BATCH = 2  # several batches for a handful of leads
    auto = VerticalFactory(slug="auto-insurance")
    home = VerticalFactory(slug="home-insurance")  # no retention: kept forever
    VerticalPrivacy.objects.create(vertical=auto, retention_days=30)
    _, key = source_with_key(auto, home, default_mode="async")
    return {"auto": auto, "home": home, "key": key}


def lead_at(client, world, *, days: int, email: str, phone: str, status=LeadStatus.UNSOLD,
            vertical: str = "auto-insurance") -> Lead:
    """A lead captured through the API, then aged ``days`` and given ``status``."""
    answer = client.post("/api/v1/leads", data=json.dumps(
        {"vertical": vertical, "fields": valid_fields(email=email, phone=phone)}),
        content_type="application/json", HTTP_AUTHORIZATION=f"Bearer {world['key']}")
    assert answer.status_code == 202, answer.json()
    lead = Lead.objects.get(uuid=answer.json()["id"])
    Lead.objects.filter(pk=lead.pk).update(status=status,
                                           received_at=timezone.now() - timedelta(days=days))
    return lead


def test_the_purge_scrubs_old_final_leads_of_a_vertical_with_retention_only(api_client, world):
    old = lead_at(api_client, world, days=40, email=OLD_EMAIL, phone=OLD_PHONE)
    auction_with_bodies(old, sim_contract(world["auto"], "http://127.0.0.1:9"),
                        echo=OLD_EMAIL)  # sold, with the consumer in the buyer's answers
    old_unsold = lead_at(api_client, world, days=35, email="b@example.com",
                         phone="(212) 555-0141")
    young = lead_at(api_client, world, days=10, email="young@example.com",
                    phone="(212) 555-0142")
    bidding = lead_at(api_client, world, days=40, email="bidding@example.com",
                      phone="(212) 555-0143", status=LeadStatus.AUCTIONING)
    elsewhere = lead_at(api_client, world, days=400, email="home@example.com",
                        phone="(212) 555-0144", vertical="home-insurance")
    kept = {lead.pk: Lead.objects.get(pk=lead.pk).fields for lead in (young, bidding, elsewhere)}
    assert DedupeClaim.objects.filter(lead=old).exists()
    before = lead_hours()

    run = retention_purge()

    assert (run.purged, run.finished) == ({"auto-insurance": 2}, True)
    for lead in (Lead.objects.get(pk=old.pk), Lead.objects.get(pk=old_unsold.pk)):
        assert all(lead.fields[key] == ERASED for key in PII), lead.fields
        assert lead.fields["vehicle_year"] == 2019 and lead.fields["zip"] == "10001"
        assert lead.erased_at is not None
        assert (lead.email_digest, lead.phone_digest, lead.consumer_ip) == (None, None, None)
    purged = Lead.objects.get(pk=old.pk)
    assert (purged.status, purged.sale_price, purged.payout) == (LeadStatus.SOLD, 10, 7)
    assert Post.objects.get(auction__lead=old).response_body == ERASED
    assert Ping.objects.get(auction__lead=old).response_body == ERASED
    assert Sale.objects.get(lead=old).consent == {"brand": "Apex"}
    assert CERTIFICATE not in str(Sale.objects.values_list("consent", flat=True))
    assert not DedupeClaim.objects.filter(lead__in=[old, old_unsold]).exists()
    for pk, fields in kept.items():
        lead = Lead.objects.get(pk=pk)
        assert (lead.fields, lead.erased_at) == (fields, None)
        assert lead.email_digest is not None
    assert lead_hours() == before  # the reports keep every count and sum

    assert retention_purge().purged == {"auto-insurance": 0}  # idempotent


def test_a_purged_consumer_is_not_suppressed_and_no_erasure_counts_its_leads_again(
        api_client, world):
    lead_at(api_client, world, days=40, email=OLD_EMAIL, phone=OLD_PHONE)
    assert retention_purge().purged == {"auto-insurance": 1}

    erased = erasure_request(email=OLD_EMAIL, phone=None, requested_by=None,
                             channel="command", run_inline=True)
    assert erased.leads_erased == 0  # the purged lead holds nothing left to erase
    SuppressedConsumer.objects.all().delete()  # that request suppressed the consumer itself

    retention_only = lead_at(api_client, world, days=0, email=OLD_EMAIL, phone=OLD_PHONE)
    assert retention_only.fields["email"] == OLD_EMAIL  # accepted, not a duplicate either


def test_the_consumer_of_a_purged_lead_may_send_a_new_lead(api_client, world):
    lead_at(api_client, world, days=40, email=OLD_EMAIL, phone=OLD_PHONE)

    retention_purge()

    assert not SuppressedConsumer.objects.exists()
    answer = api_client.post("/api/v1/leads", data=json.dumps(
        {"vertical": "auto-insurance", "fields": valid_fields(email=OLD_EMAIL,
                                                              phone=OLD_PHONE)}),
        content_type="application/json", HTTP_AUTHORIZATION=f"Bearer {world['key']}")
    assert answer.status_code == 202, answer.json()
    assert answer.json()["status"] != "suppressed"


def test_purchase_records_still_running_stay_and_expired_ones_go(api_client, world):
    old = lead_at(api_client, world, days=40, email=OLD_EMAIL, phone=OLD_PHONE)
    auction_with_bodies(old, sim_contract(world["auto"], "http://127.0.0.1:9"), echo="x")
    running, expired = ConsumerPurchase.objects.order_by("pk")[:2]
    ConsumerPurchase.objects.filter(pk=expired.pk).update(
        expires_at=timezone.now() - timedelta(days=1))

    retention_purge()

    # a running record may stand for a newer sale of the consumer: the buyer stays excluded
    assert list(ConsumerPurchase.objects.values_list("pk", flat=True)) == [running.pk]


def test_a_run_is_bounded_and_the_next_one_continues(api_client, world, settings):
    settings.RETENTION_MAX_BATCHES = 1  # one batch of two leads per run
    for n in range(3):
        lead_at(api_client, world, days=40 + n, email=f"c{n}@example.com",
                phone=f"(212) 555-01{50 + n}")

    first, second, third = retention_purge(), retention_purge(), retention_purge()

    assert (first.purged, first.finished) == ({"auto-insurance": 2}, False)
    assert (second.purged, second.finished) == ({"auto-insurance": 1}, True)
    assert third.purged == {"auto-insurance": 0}
    assert not Lead.objects.filter(erased_at__isnull=True).exists()


def test_a_lead_still_in_its_auction_holds_the_mark_and_is_purged_once_final(
        api_client, world):
    bidding = lead_at(api_client, world, days=50, email="bidding@example.com",
                      phone="(212) 555-0143", status=LeadStatus.AUCTIONING)
    lead_at(api_client, world, days=40, email=OLD_EMAIL, phone=OLD_PHONE)

    assert retention_purge().purged == {"auto-insurance": 1}
    bidding.refresh_from_db()
    assert RetentionMark.objects.get().scanned_before == bidding.received_at
    Lead.objects.filter(pk=bidding.pk).update(status=LeadStatus.UNSOLD)

    assert retention_purge().purged == {"auto-insurance": 1}
    assert Lead.objects.get(pk=bidding.pk).fields["email"] == ERASED
    assert RetentionMark.objects.get().scanned_before > bidding.received_at


def test_the_beat_schedule_runs_the_purge_task(api_client, world):
    lead_at(api_client, world, days=40, email=OLD_EMAIL, phone=OLD_PHONE)
    entry = django_settings.CELERY_BEAT_SCHEDULE["pii-retention"]
    current_app.loader.import_default_modules()

    task = current_app.tasks[entry["task"]]  # a registered task, as run_periodic finds it

    assert task() == {"auto-insurance": 1}
    assert Lead.objects.get().fields["email"] == ERASED
