"""Where a source's webhooks go is now said by its WebhookEndpoint rows only: each source with a
``webhook_url`` gets one endpoint for every event, and ``sources.0003`` drops the two fields.

The old free-form ``webhook_secret`` stays the HMAC key: its bytes become the key of a
``whsec_`` secret (``whsec_`` + base64 of them), so a receiver that already verified with it
keeps verifying. A secret that was already ``whsec_…`` is kept as it is; none gets a new one.
"""

import base64
import binascii
import secrets

from django.db import migrations

EVENTS = ["lead.sold", "lead.unsold", "lead.returned", "lead.error"]


def _whsec(old: str) -> str:
    if old.startswith("whsec_"):
        try:
            if base64.b64decode(old[6:], validate=True):
                return old
        except (binascii.Error, ValueError):
            pass
    key = old.encode() if old else secrets.token_bytes(32)
    return "whsec_" + base64.b64encode(key).decode()


def endpoints_from_sources(apps, schema_editor):
    Source = apps.get_model("sources", "Source")
    WebhookEndpoint = apps.get_model("webhooks", "WebhookEndpoint")
    for source in Source.objects.exclude(webhook_url=""):
        WebhookEndpoint.objects.create(
            source=source, url=source.webhook_url, events=EVENTS, is_active=True,
            secret=_whsec(source.webhook_secret), description="moved from the source")


def endpoints_to_sources(apps, schema_editor):
    Source = apps.get_model("sources", "Source")
    WebhookEndpoint = apps.get_model("webhooks", "WebhookEndpoint")
    for endpoint in WebhookEndpoint.objects.order_by("source_id", "id"):
        Source.objects.filter(pk=endpoint.source_id, webhook_url="").update(
            webhook_url=endpoint.url, webhook_secret=endpoint.secret)


class Migration(migrations.Migration):

    dependencies = [
        ('webhooks', '0001_initial'),
        ('sources', '0002_source_account_manager_postback_check'),
    ]

    operations = [migrations.RunPython(endpoints_from_sources, endpoints_to_sources)]
