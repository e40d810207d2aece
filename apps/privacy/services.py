"""Erase a consumer on request (CCPA/GDPR): every lead of that e-mail and/or phone, across
sources and verticals, loses its personal data; the consumer goes on the suppression list.

``erasure_request`` records the request (digests only) and suppresses the consumer at once,
then runs the erasure — in a task, or inline for the command. ``erasure_run`` works in
batches of ``PRIVACY_ERASE_BATCH`` leads, one short transaction each, found through the leads'
indexed digest columns, so no volume holds a long transaction; a batch clears the digests of
the leads it scrubbed, so the loop ends, a re-run (a redelivered task) resumes where it
stopped, and a second request for the same consumer finds nothing and records 0.

What a batch scrubs is ``leads_scrub`` (apps.privacy.scrub), the one scrub the retention
purge uses too; the erasure adds the suppression, and takes the consumer's purchase records
whole.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from apps.core.dispatch import task_enqueue
from apps.core.logging import kv
from apps.leads.consumers import consumer_digests_parse, consumer_suppress
from apps.leads.models import Lead, SuppressionReason
from apps.privacy.models import ErasureRequest, ErasureStatus
from apps.privacy.scrub import Schemas, leads_scrub, scrub_batch_size

logger = logging.getLogger(__name__)


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
    schemas: Schemas = {}
    while True:
        with transaction.atomic():
            batch = list(Lead.objects.filter(match).select_for_update(skip_locked=True)
                         .order_by("pk")[:scrub_batch_size()])
            if not batch:
                break
            leads_scrub(batch, schemas, consumer_gone=True)
            ErasureRequest.objects.filter(pk=request_id).update(
                leads_erased=F("leads_erased") + len(batch), heartbeat_at=timezone.now())
    ErasureRequest.objects.filter(pk=request_id).update(status=ErasureStatus.DONE,
                                                        finished_at=timezone.now())
    request.refresh_from_db()
    logger.info(kv("privacy.erased", request=request.pk, leads=request.leads_erased))
    return request


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
