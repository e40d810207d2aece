"""``manage.py consumer_digests_backfill``: give the leads captured before the digest
columns existed their consumer's keyed digests, so that an erasure finds them too.

Run it once after the migration that added the columns (leads captured since then get them
on insert). Safe to repeat and to interrupt: it only fills leads that have neither digest,
a batch per transaction, in primary-key order."""

from __future__ import annotations

from django.core.management.base import BaseCommand
from django.db import transaction

from apps.leads.consumers import consumer_keys
from apps.leads.models import Lead
from apps.sources.models import VerticalField


class Command(BaseCommand):
    help = "Fill the consumer digests of leads captured before they existed (run once)."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--batch", type=int, default=2000)

    def handle(self, *args, batch: int, **options) -> None:
        schemas: dict[int, list[VerticalField]] = {}
        last, filled = 0, 0
        while True:
            with transaction.atomic():
                rows = list(Lead.objects.filter(
                    pk__gt=last, email_digest__isnull=True, phone_digest__isnull=True,
                    erased_at__isnull=True, vertical__isnull=False,
                ).order_by("pk").only("pk", "vertical_id", "fields")[:batch])
                if not rows:
                    break
                last = rows[-1].pk
                changed = []
                for lead in rows:
                    assert lead.vertical_id is not None  # filtered above
                    if lead.vertical_id not in schemas:
                        schemas[lead.vertical_id] = list(
                            VerticalField.objects.filter(vertical_id=lead.vertical_id))
                    keys = consumer_keys(schemas[lead.vertical_id], lead.fields or {})
                    if keys.digests:
                        lead.email_digest, lead.phone_digest = keys.email, keys.phone
                        changed.append(lead)
                Lead.objects.bulk_update(changed, ["email_digest", "phone_digest"])
                filled += len(changed)
        self.stdout.write(f"{filled} lead(s) given their consumer digests")
