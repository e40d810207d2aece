"""De-duplication claims and buyers' purchase records become keyed digests (HMAC-SHA256 under
``PII_DIGEST_KEY``, apps.leads.dedupe) instead of plain SHA-256. So that nothing slips past
de-duplication across the upgrade, the rows still running are re-keyed from their leads'
stored fields: each consumer claim (the vertical's rule) and each purchase record gets the
digest the new code computes from the same parts. Resubmission claims (minutes long) are
left to expire. Nothing to do on an empty database."""

import hashlib
import hmac
from datetime import timedelta

from django.conf import settings
from django.db import migrations
from django.db.models import Max
from django.utils import timezone


def _plain(*parts):
    return hashlib.sha256("\x1f".join(str(p) for p in parts).encode()).hexdigest()


def _keyed(*parts):
    message = "\x1f".join(str(p) for p in parts).encode()
    return hmac.new(settings.PII_DIGEST_KEY.encode(), message, hashlib.sha256).hexdigest()


def _consumer_parts(lead):
    """Every parts tuple a consumer claim of ``lead`` may have been made from."""
    vertical, fields = lead.vertical, lead.fields if isinstance(lead.fields, dict) else {}
    if vertical is None or not vertical.dedupe_fields:
        return []
    space = "test" if lead.is_test else "live"
    present = [(name, fields[name]) for name in vertical.dedupe_fields if name in fields]
    return [(space, "consumer", vertical.pk, present),
            *((space, "consumer", vertical.pk, name, value) for name, value in present)]


def rekey(apps, schema_editor):
    DedupeClaim = apps.get_model("leads", "DedupeClaim")
    ConsumerPurchase = apps.get_model("auctions", "ConsumerPurchase")
    Sale = apps.get_model("auctions", "Sale")
    Buyer = apps.get_model("buyers", "Buyer")
    now = timezone.now()
    claims = DedupeClaim.objects.filter(expires_at__gt=now).select_related("lead__vertical")
    for claim in claims.iterator(chunk_size=1000):
        for parts in _consumer_parts(claim.lead):
            if claim.key == _plain(*parts):
                DedupeClaim.objects.filter(pk=claim.pk).update(key=_keyed(*parts))
                break
    live = {(buyer, digest): pk for pk, buyer, digest in ConsumerPurchase.objects.filter(
        expires_at__gt=now).values_list("pk", "buyer_id", "digest")}
    if not live:
        return
    window = Buyer.objects.aggregate(days=Max("dedupe_window_days"))["days"] or 0
    sales = (Sale.objects.filter(created_at__gte=now - timedelta(days=window))
             .select_related("lead__vertical"))
    for sale in sales.iterator(chunk_size=1000):
        lead, vertical = sale.lead, sale.lead.vertical
        fields = lead.fields if isinstance(lead.fields, dict) else {}
        for name in (vertical.dedupe_fields if vertical else []):
            if name in fields:
                pk = live.get((sale.buyer_id, _plain("buyer", vertical.pk, name, fields[name])))
                if pk is not None:
                    ConsumerPurchase.objects.filter(pk=pk).update(
                        digest=_keyed("buyer", vertical.pk, name, fields[name]))


class Migration(migrations.Migration):
    dependencies = [
        ("auctions", "0006_sealed_at_rest"),
        ("leads", "0006_retention_days_help"),
        ("buyers", "0011_sealed_at_rest"),
    ]

    operations = [migrations.RunPython(rekey, migrations.RunPython.noop)]
