"""The upgrade to keyed digests (auctions/0007_keyed_consumer_digests): claims and purchase
records made with plain SHA-256 before it are re-keyed, so a consumer seen before the
upgrade is still a duplicate after it, and a buyer who bought them still does not see them."""

from __future__ import annotations

import hashlib
import importlib
import json
from datetime import timedelta
from decimal import Decimal

import pytest
from django.apps import apps
from django.utils import timezone

from apps.auctions.models import ConsumerPurchase, Sale
from apps.leads.dedupe import consumer_digests
from apps.leads.models import DedupeClaim, Lead
from tests.factories import sim_contract, source_with_key, valid_fields

pytestmark = pytest.mark.django_db

upgrade = importlib.import_module("apps.auctions.migrations.0007_keyed_consumer_digests")


def plain(*parts) -> str:
    return hashlib.sha256("\x1f".join(str(p) for p in parts).encode()).hexdigest()


def submit(api_client, key, vertical, fields):
    return api_client.post("/api/v1/leads", HTTP_AUTHORIZATION=f"Bearer {key}",
                           content_type="application/json",
                           data=json.dumps({"vertical": vertical.slug, "fields": fields}))


def test_claims_and_purchases_from_before_the_upgrade_still_match(api_client, vertical):
    vertical.dedupe_fields, vertical.dedupe_window_days = ["email", "phone"], 30
    vertical.save()
    _, first_key = source_with_key(vertical, default_mode="async")
    _, other_key = source_with_key(vertical, default_mode="async")
    assert submit(api_client, first_key, vertical, valid_fields()).status_code == 202
    lead = Lead.objects.get()
    # what the previous release stored: plain SHA-256 of the same parts
    email, phone = lead.fields["email"], lead.fields["phone"]
    for claim in DedupeClaim.objects.filter(lead=lead):
        claim.delete()
    for name, value in (("email", email), ("phone", phone)):
        DedupeClaim.objects.create(lead=lead, key=plain("live", "consumer", vertical.pk, name,
                                                        value),
                                   expires_at=timezone.now() + timedelta(days=30))
    contract = sim_contract(vertical, "http://127.0.0.1:9")
    Sale.objects.create(lead=lead, contract=contract, buyer=contract.buyer, price=Decimal(5))
    ConsumerPurchase.objects.create(buyer=contract.buyer,
                                    digest=plain("buyer", vertical.pk, "email", email),
                                    expires_at=timezone.now() + timedelta(days=30))
    # before the re-keying the new code does not recognise the consumer
    assert submit(api_client, other_key, vertical,
                  valid_fields(phone="(212) 555-0100")).status_code == 202
    Lead.objects.exclude(pk=lead.pk).delete()

    upgrade.rekey(apps, None)

    assert submit(api_client, other_key, vertical,
                  valid_fields(phone="(212) 555-0100")).status_code == 409
    assert list(ConsumerPurchase.objects.values_list("digest", flat=True)) == [
        consumer_digests(vertical, lead.fields)[0]]
