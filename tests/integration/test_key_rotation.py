"""Key rotation (issue 14 item 1): with a new key first in PII_ENCRYPTION_KEYS, ``rotate_keys``
re-seals every sealed column — lead fields and consent, idempotency answers, post bodies, sale
consent, buyer credentials, webhook secrets, and a value stored in clear before sealing —
in batches; afterwards every row reads the same under the new key alone, the old key alone
opens nothing, and ``--check`` says the old key may go. Runs on SQLite and PostgreSQL."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest
from django.core.management import CommandError, call_command
from django.db import connection
from django.utils import timezone

from apps.auctions.models import Auction, Post, Sale
from apps.buyers.models import ContractSecret, Endpoint
from apps.core.rekeying import sealed_columns, stale_count
from apps.core.sealing import PREFIX, SealError
from apps.leads.models import IdempotencyRecord, Lead
from apps.webhooks.models import WebhookEndpoint
from tests.factories import sim_contract, source_with_key, valid_fields

pytestmark = pytest.mark.django_db

OLD = "old:" + "o" * 40
NEW = "new:" + "n" * 40
SEALED_MODELS = {"leads.Lead", "leads.IdempotencyRecord", "auctions.Post", "auctions.Sale",
                 "buyers.Endpoint", "buyers.ContractSecret", "webhooks.WebhookEndpoint"}


def raw_values(model, field: str) -> list:
    table, column = model._meta.db_table, model._meta.get_field(field).column
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {column} FROM {table} ORDER BY id")  # noqa: S608
        return [row[0] for row in cursor.fetchall()]


def snapshot() -> dict:
    return {
        "fields": sorted(json.dumps(lead.fields, sort_keys=True) for lead in Lead.objects.all()),
        "consent": sorted(json.dumps(lead.consent, sort_keys=True)
                          for lead in Lead.objects.all()),
        "answers": [r.response for r in IdempotencyRecord.objects.order_by("pk")],
        "posts": [(p.request_body, p.response_body) for p in Post.objects.order_by("pk")],
        "sales": [s.consent for s in Sale.objects.order_by("pk")],
        "auth": [e.auth_secret for e in Endpoint.objects.order_by("pk")],
        "constants": [c.value for c in ContractSecret.objects.order_by("pk")],
        "hooks": [(w.secret, w.previous_secret) for w in WebhookEndpoint.objects.order_by("pk")],
    }


@pytest.fixture
def world(settings, api_client, vertical):
    """Rows sealed under the old key, and one lead stored in clear (before sealing)."""
    settings.PII_ENCRYPTION_KEYS = [OLD]
    source, key = source_with_key(vertical, default_mode="async")
    for n in range(5):
        answer = api_client.post(
            "/api/v1/leads", HTTP_AUTHORIZATION=f"Bearer {key}",
            HTTP_IDEMPOTENCY_KEY=f"k{n}", content_type="application/json",
            data=json.dumps({"vertical": vertical.slug, "consent": {"tcpa_consent": True},
                             "fields": valid_fields(email=f"rot{n}@example.com",
                                                    phone=f"(212) 555-01{n:02d}")}))
        assert answer.status_code == 202
    contract = sim_contract(vertical, "http://127.0.0.1:9")
    Endpoint.objects.filter(contract=contract).update(auth_secret="s3cret-token-value")
    ContractSecret.objects.create(contract=contract, name="api_key", value="constant-value")
    WebhookEndpoint.objects.create(source=source, url="http://127.0.0.1:9/h",
                                   secret="whsec_" + "a" * 32, previous_secret="whsec_old")
    lead = Lead.objects.order_by("pk").first()
    auction = Auction.objects.create(lead=lead, started_at=timezone.now(),
                                     ping_deadline_at=timezone.now(), outcome="sold")
    Post.objects.create(auction=auction, contract=contract, outcome="accepted",
                        price=Decimal(7), request_body='{"email": "***"}',
                        response_body='{"ok": true, "email": "rot0@example.com"}')
    Sale.objects.create(lead=lead, contract=contract, buyer=contract.buyer, price=Decimal(7),
                        consent={"brand": "Apex", "certificate_url": "https://cert.example/1"})
    with connection.cursor() as cursor:  # a lead written before sealing existed
        cursor.execute(f"UPDATE {Lead._meta.db_table} SET fields = %s WHERE id = %s",  # noqa: S608
                       ['{"email": "legacy@example.com", "zip": "10001"}',
                        Lead.objects.order_by("pk").last().pk])
    return settings


def test_the_sealed_columns_are_the_ones_that_hold_personal_data_or_secrets():
    assert {model._meta.label for model, _ in sealed_columns()} == SEALED_MODELS


def test_rotation_reseals_every_row_and_the_old_key_can_go(world, capsys):
    before = snapshot()
    assert any(fields.startswith('{"email": "legacy') for fields in before["fields"])
    world.PII_ENCRYPTION_KEYS = [NEW, OLD]
    assert stale_count() == {  # the ping and the post endpoint hold the secret
        "auctions.Post": 1, "auctions.Sale": 1, "buyers.ContractSecret": 1,
        "buyers.Endpoint": 2, "leads.IdempotencyRecord": 5, "leads.Lead": 5,
        "webhooks.WebhookEndpoint": 1}
    with pytest.raises(CommandError):
        call_command("rotate_keys", "--check")

    call_command("rotate_keys", "--batch", "2")

    assert "leads.Lead: 5 rows re-sealed" in capsys.readouterr().out
    assert set(stale_count().values()) == {0}
    call_command("rotate_keys", "--check")  # exits 0 now
    for model, field in [(Lead, "fields"), (Lead, "consent"), (Post, "response_body"),
                         (Endpoint, "auth_secret"), (WebhookEndpoint, "secret")]:
        values = [v for v in raw_values(model, field) if v]
        assert values and all(PREFIX + "new:" in v for v in values), (model, field)
    # the new key alone reads every row as it was
    world.PII_ENCRYPTION_KEYS = [NEW]
    assert snapshot() == before
    # the old key alone opens nothing any more
    world.PII_ENCRYPTION_KEYS = [OLD]
    with pytest.raises(SealError, match="'new'"):
        list(Lead.objects.all())
    # a second run finds nothing to do
    world.PII_ENCRYPTION_KEYS = [NEW, OLD]
    call_command("rotate_keys")
    assert "0 rows now under key 'new'" in capsys.readouterr().out


def test_a_value_sealed_under_a_key_no_longer_listed_is_a_clear_error(world):
    world.PII_ENCRYPTION_KEYS = [NEW]
    with pytest.raises(CommandError, match="no longer lists"):
        call_command("rotate_keys")


def test_a_sealed_value_copied_into_another_column_does_not_open(world):
    token = raw_values(Endpoint, "auth_secret")[0]
    assert token.startswith(PREFIX + "old:")
    with connection.cursor() as cursor:
        cursor.execute(f"UPDATE {ContractSecret._meta.db_table} SET value = %s",  # noqa: S608
                       [token])
    with pytest.raises(SealError, match="copied from another column"):
        ContractSecret.objects.get()
