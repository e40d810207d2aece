"""The one scrub of a lead's personal data, shared by an erasure on request
(apps.privacy.services) and the retention purge (apps.privacy.retention).

What ``leads_scrub`` removes, per lead: the vertical's PII fields (replaced by ``ERASED``), the
consumer's IP and browser, the consent tokens (TrustedForm, Jornaya; also the certificate URL
in its sales' one-to-one consent evidence); the request and response bodies of its pings and
posts; the comments of its returns; its de-duplication claims and the buyers' purchase digests
of it (keyed digests of the e-mail or phone; see ``consumer_gone``); and its own keyed digests,
so that no erasure finds it again. Kept: status, prices, timestamps, sales, returns, ledger —
every count and sum the reports show. Webhook and postback bodies carry no lead fields
(apps.webhooks.payloads), SourcePing rows only non-PII fields: nothing to scrub there.

``erased_at`` marks a lead that no longer holds PII, whichever way it lost it: every reader
that asks "does this lead still hold PII?" (the erasure by its digests, the retention purge,
``consumer_digests_backfill``) asks that one column. Why the PII went is recorded elsewhere:
an erasure's request row counts its leads, the purge logs and returns its counts.

It does not suppress the consumer: that is the erasure's business (an opt-out), not the
purge's.
"""

from __future__ import annotations

from django.conf import settings
from django.utils import timezone

from apps.auctions.models import ConsumerPurchase, Ping, Post, Sale
from apps.billing.models import Return
from apps.leads.dedupe import consumer_digests
from apps.leads.models import DedupeClaim, Lead
from apps.leads.services import pii_keys
from apps.sources.models import Vertical

ERASED = "[erased]"
# Consent keys that identify the consumer's session; the TCPA text and flag stay.
_CONSENT_TOKENS = ("trustedform_cert_url", "jornaya_leadid")

# The vertical of each id met so far and the keys of its PII fields: one query per vertical
# for a whole run, however many batches it takes.
Schemas = dict[int | None, tuple[Vertical | None, frozenset[str]]]


def scrub_batch_size() -> int:
    """Leads scrubbed per transaction, by an erasure and by the purge alike."""
    return int(getattr(settings, "PRIVACY_ERASE_BATCH", 500))


def _schema(vertical_id: int | None, schemas: Schemas) -> tuple[Vertical | None, frozenset[str]]:
    if vertical_id not in schemas:
        vertical = (Vertical.objects.prefetch_related("fields").filter(pk=vertical_id).first()
                    if vertical_id is not None else None)
        schemas[vertical_id] = (vertical,
                                pii_keys(list(vertical.fields.all())) if vertical else frozenset())
    return schemas[vertical_id]


def leads_scrub(batch: list[Lead], schemas: Schemas, *, consumer_gone: bool) -> None:
    """Remove the personal data of every lead of ``batch`` and of the rows about it (the list
    in the module's docstring), and set its ``erased_at``. The caller holds the transaction
    and the leads' row locks, and chooses which leads to scrub; ``schemas`` is its cache
    (``{}`` to start). Scrubbing a lead twice changes nothing more than its ``erased_at``.

    A purchase record is not linked to a lead, only to the consumer's digest. With
    ``consumer_gone`` (an erasure: every lead of the consumer goes) each of them goes; without
    (retention: these leads only), only the expired ones: one still running may stand for a
    newer sale of the same consumer, and keeps that buyer from buying the consumer again
    until it expires."""
    now = timezone.now()
    purchases: list[str] = []
    for lead in batch:
        vertical, private = _schema(lead.vertical_id, schemas)
        fields = lead.fields if isinstance(lead.fields, dict) else {}
        if vertical is not None:
            purchases += consumer_digests(vertical, fields)
        lead.fields = {k: ERASED if k in private else v for k, v in fields.items()}
        consent = lead.consent if isinstance(lead.consent, dict) else {}
        lead.consent = {k: v for k, v in consent.items() if k not in _CONSENT_TOKENS}
        lead.consumer_ip, lead.user_agent = None, ""
        lead.email_digest = lead.phone_digest = None
        lead.erased_at = now
    Lead.objects.bulk_update(batch, ["fields", "consent", "consumer_ip", "user_agent",
                                     "email_digest", "phone_digest", "erased_at"])
    ids = [lead.pk for lead in batch]
    Post.objects.filter(auction__lead_id__in=ids).update(request_body=ERASED,
                                                         response_body=ERASED)
    Ping.objects.filter(auction__lead_id__in=ids).update(request_body=ERASED,
                                                         response_body=ERASED)
    Return.objects.filter(lead_id__in=ids).exclude(comment="").update(comment=ERASED)
    for sale in Sale.objects.filter(lead_id__in=ids, consent__isnull=False):
        # one-to-one consent evidence: brands and texts stay, the certificate URL (a
        # recording of the consumer's session) goes, as it goes from the lead's consent
        sale.consent = {k: v for k, v in (sale.consent or {}).items() if k != "certificate_url"}
        sale.save(update_fields=["consent"])
    DedupeClaim.objects.filter(lead_id__in=ids).delete()
    if purchases:
        bought = ConsumerPurchase.objects.filter(digest__in=purchases)
        (bought if consumer_gone else bought.filter(expires_at__lte=now)).delete()
