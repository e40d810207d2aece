"""Erase a consumer on request (CCPA/GDPR): every lead of that e-mail and/or phone, across
sources and verticals, loses its personal data; the consumer goes on the suppression list.

``erasure_request`` records the request (digests only) and suppresses the consumer at once,
then runs the erasure — in a task, or inline for the command. ``erasure_run`` works in
batches of ``PRIVACY_ERASE_BATCH`` leads, one short transaction each, found through the leads'
indexed digest columns, so no volume holds a long transaction; a batch clears the digests of
the leads it scrubbed, so the loop ends, a re-run (a redelivered task) resumes where it
stopped, and a second request for the same consumer finds nothing and records 0.

What a batch scrubs, per lead: the vertical's PII fields (replaced by ``ERASED``), the
consumer's IP and browser, the consent tokens (TrustedForm, Jornaya; also the certificate URL
in its sales' one-to-one consent evidence); the request and response bodies of its pings and
posts; the comments of its returns; its de-duplication claims and the buyers' purchase
digests of it (plain SHA-256 of the e-mail or phone, which anyone holding the address could
confirm). Kept: status, prices, timestamps, sales, returns,
ledger — every count and sum the reports show. Webhook and postback bodies carry no lead
fields (apps.webhooks.payloads), SourcePing rows only non-PII fields: nothing to scrub there.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from apps.auctions.models import ConsumerPurchase, Ping, Post, Sale
from apps.billing.models import Return
from apps.core.dispatch import task_enqueue
from apps.core.logging import kv
from apps.leads.consumers import consumer_digests_parse, consumer_suppress
from apps.leads.dedupe import consumer_digests
from apps.leads.models import DedupeClaim, Lead, SuppressionReason
from apps.leads.services import pii_keys
from apps.privacy.models import ErasureRequest, ErasureStatus
from apps.sources.models import Vertical

logger = logging.getLogger(__name__)

ERASED = "[erased]"
# Consent keys that identify the consumer's session; the TCPA text and flag stay.
_CONSENT_TOKENS = ("trustedform_cert_url", "jornaya_leadid")


def _batch_size() -> int:
    return int(getattr(settings, "PRIVACY_ERASE_BATCH", 500))


def erasure_request(*, email: str | None, phone: str | None, requested_by: Any,
                    channel: str, run_inline: bool = False) -> ErasureRequest:
    """Record the erasure of one consumer, suppress it, and erase its leads: in the
    background (``erasure_run_task`` after the commit) or, with ``run_inline``, before
    returning. ``requested_by``: the staff user, or None (the command). Raises FieldErrors
    (400) for a missing or invalid e-mail/phone (``consumer_digests_parse``). Idempotent in
    effect: a repeated request erases nothing more and records ``leads_erased = 0``."""
    from apps.privacy.tasks import erasure_run_task

    email_hash, phone_hash = consumer_digests_parse(email=email, phone=phone)
    with transaction.atomic():
        request = ErasureRequest.objects.create(
            email_digest=email_hash, phone_digest=phone_hash, channel=channel,
            requested_by=requested_by if requested_by and requested_by.pk else None)
        consumer_suppress(digests=[d for d in (email_hash, phone_hash) if d],
                          reason=SuppressionReason.ERASED)
        if not run_inline:
            task_enqueue(erasure_run_task, request.pk, pool="privacy")
    logger.info(kv("privacy.erasure_requested", request=request.pk, channel=channel))
    if run_inline:
        return erasure_run(request_id=request.pk)
    return request


def erasure_run(*, request_id: int) -> ErasureRequest:
    """Erase every lead still carrying the request's digests, a batch per transaction, and
    mark the request done. Safe to run again or twice at once (PostgreSQL: a batch's rows are
    locked and skipped by the other run); returns the request as it ends."""
    request = ErasureRequest.objects.get(pk=request_id)
    match = Q(pk__in=[])
    if request.email_digest:
        match |= Q(email_digest=request.email_digest)
    if request.phone_digest:
        match |= Q(phone_digest=request.phone_digest)
    ErasureRequest.objects.filter(pk=request_id, status=ErasureStatus.PENDING).update(
        status=ErasureStatus.RUNNING, heartbeat_at=timezone.now())
    schemas: dict[int | None, tuple[Vertical | None, frozenset[str]]] = {}
    while True:
        with transaction.atomic():
            batch = list(Lead.objects.filter(match).select_for_update(skip_locked=True)
                         .order_by("pk")[:_batch_size()])
            if not batch:
                break
            _batch_erase(batch, schemas)
            ErasureRequest.objects.filter(pk=request_id).update(
                leads_erased=F("leads_erased") + len(batch), heartbeat_at=timezone.now())
    ErasureRequest.objects.filter(pk=request_id).update(status=ErasureStatus.DONE,
                                                        finished_at=timezone.now())
    request.refresh_from_db()
    logger.info(kv("privacy.erased", request=request.pk, leads=request.leads_erased))
    return request


def _schema(vertical_id: int | None,
            schemas: dict[int | None, tuple[Vertical | None, frozenset[str]]],
            ) -> tuple[Vertical | None, frozenset[str]]:
    if vertical_id not in schemas:
        vertical = (Vertical.objects.prefetch_related("fields").filter(pk=vertical_id).first()
                    if vertical_id is not None else None)
        schemas[vertical_id] = (vertical,
                                pii_keys(list(vertical.fields.all())) if vertical else frozenset())
    return schemas[vertical_id]


def _batch_erase(batch: list[Lead],
                 schemas: dict[int | None, tuple[Vertical | None, frozenset[str]]]) -> None:
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
        ConsumerPurchase.objects.filter(digest__in=purchases).delete()


def erasures_redrive() -> int:
    """Run again every erasure request that is not done and showed no sign of life for
    ``ERASURE_STALE_SECONDS`` (its worker was killed, or its task never reached a worker);
    returns how many were re-queued. A request still running is not touched, and a re-run
    only continues what is left."""
    from apps.privacy.tasks import erasure_run_task

    stale = timezone.now() - timedelta(seconds=settings.ERASURE_STALE_SECONDS)
    lost = list(ErasureRequest.objects.exclude(status=ErasureStatus.DONE).filter(
        Q(heartbeat_at__lt=stale) | Q(heartbeat_at__isnull=True, requested_at__lt=stale))
        .values_list("pk", flat=True))
    for pk in lost:
        # claimed first, so the next sweep does not queue it again while it waits
        if ErasureRequest.objects.filter(pk=pk).exclude(status=ErasureStatus.DONE).update(
                heartbeat_at=timezone.now()):
            task_enqueue(erasure_run_task, pk, pool="privacy")
    if lost:
        logger.info(kv("privacy.erasures_redriven", count=len(lost)))
    return len(lost)
