"""Sending deliveries: claim, build, sign, send, log each attempt, schedule the next one.

A delivery is claimed with a conditional UPDATE (``pending`` and due, or ``sending`` whose
lease ran out → ``sending`` until a new lease end, ``attempts`` + 1), so of several workers
and the due job exactly one sends each claim. A worker killed mid-send leaves its row
``sending``; when the lease ends the due job claims it again and the receiver gets the same
``webhook-id`` and body — at least once, never lost. A worker finishes only its own claim
(``attempts`` unchanged), so one that overran its lease cannot overwrite a later outcome.

Each round of attempts (the first, and each redelivery) follows ``WEBHOOK_RETRY_DELAYS_S``
(~24 h); then the delivery is ``failed``. An endpoint whose every attempt has failed for
``WEBHOOK_DISABLE_AFTER_S`` is switched off and the source's account manager told; its
deliveries then fail without being sent, until staff switch it on and redeliver.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import F, Q
from django.utils import timezone

from apps.core.dispatch import task_enqueue
from apps.core.http import OutboundRequest, OutboundResponse, http_send_many
from apps.core.logging import kv
from apps.webhooks.models import (
    DeliveryKind,
    DeliveryStatus,
    WebhookAttempt,
    WebhookDelivery,
    WebhookEndpoint,
)
from apps.webhooks.payloads import payload_build, postback_url
from apps.webhooks.selectors import endpoints_forget
from apps.webhooks.signing import signed_headers
from apps.webhooks.tasks import endpoint_disabled_alert_task

logger = logging.getLogger(__name__)

OPEN = (DeliveryStatus.PENDING, DeliveryStatus.SENDING)
_EXCERPT_CHARS = 1000
# An endpoint's last success is bookkeeping: written at most this often per endpoint.
_SUCCESS_RESOLUTION = timedelta(minutes=1)


@dataclass
class _Job:
    """One claimed delivery: the request to send, or why nothing is sent."""

    delivery: WebhookDelivery
    request: OutboundRequest | None
    refusal: str = ""


def deliveries_send(msg_ids: Iterable[str]) -> int:
    """Claim each named delivery that is due and send the claimed ones in parallel, each
    bounded by ``WEBHOOK_TIMEOUT_S``; log every attempt and set each delivery's next state.
    Returns how many were claimed. A delivery that is not due — waiting for its retry
    delay, claimed by another worker, finished — is left alone, so a task delivered twice
    sends nothing twice. Never raises for a receiver's fault."""
    now = timezone.now()
    lease = now + timedelta(seconds=max(settings.WEBHOOK_LEASE_S,
                                        settings.WEBHOOK_TIMEOUT_S + 5))
    claimed = [msg_id for msg_id in dict.fromkeys(msg_ids) if WebhookDelivery.objects.filter(
        msg_id=msg_id, status__in=OPEN, next_attempt_at__lte=now).update(
            status=DeliveryStatus.SENDING, next_attempt_at=lease,
            attempts=F("attempts") + 1, last_attempt_at=now)]
    if not claimed:
        return 0
    rows = (WebhookDelivery.objects.filter(msg_id__in=claimed)
            .select_related("endpoint", "source", "lead__vertical"))
    jobs = [_job_prepare_safely(row, now) for row in rows]
    sending = [job for job in jobs if job.request is not None]
    responses = http_send_many(job.request for job in sending if job.request is not None)
    answers = {id(job): response for job, response in zip(sending, responses, strict=True)}
    for job in jobs:
        _job_finish(job, answers.get(id(job)), started=now)
    return len(claimed)


def deliveries_send_due(limit: int | None = None) -> int:
    """The due job (beat, every few seconds): send up to ``limit`` (``WEBHOOK_BATCH``)
    deliveries whose time has come — retries whose delay passed, rows whose enqueue was
    lost, claims whose worker died. Returns how many were claimed."""
    due = (WebhookDelivery.objects.filter(status__in=OPEN, next_attempt_at__lte=timezone.now())
           .order_by("next_attempt_at").values_list("msg_id", flat=True)
           [:limit or settings.WEBHOOK_BATCH])
    return deliveries_send(list(due))


def _job_prepare_safely(row: WebhookDelivery, now: datetime) -> _Job:
    try:
        return _job_prepare(row, now)
    except Exception as error:  # one bad row (a corrupt secret) must not hold the batch
        logger.exception(kv("webhook.build_failed", delivery=row.msg_id))
        return _Job(row, None, f"the message could not be built ({type(error).__name__})")


def _job_prepare(row: WebhookDelivery, now: datetime) -> _Job:
    """The request for one claimed delivery. Its body (webhook) or URL (postback) is fixed
    at the first attempt and stored before anything is sent, so every later attempt sends
    the very same message."""
    timeout = settings.WEBHOOK_TIMEOUT_S
    if row.kind == DeliveryKind.POSTBACK:
        if not row.url:
            template = row.source.postback_url_template
            if not template:
                return _Job(row, None, "the source has no postback URL template any more")
            row.url = postback_url(row, template)
            WebhookDelivery.objects.filter(pk=row.pk, url="").update(url=row.url)
        return _Job(row, OutboundRequest("GET", row.url, timeout=timeout))
    endpoint = row.endpoint
    if endpoint is None:
        return _Job(row, None, "the endpoint was deleted")
    if not endpoint.is_active:
        return _Job(row, None, "the endpoint is disabled")
    if not row.body:
        row.body = payload_build(row)
        WebhookDelivery.objects.filter(pk=row.pk, body="").update(body=row.body)
    body = row.body.encode()
    headers = {"Content-Type": "application/json",
               **signed_headers(endpoint.signing_secrets(now), row.msg_id,
                                int(now.timestamp()), body)}
    return _Job(row, OutboundRequest("POST", endpoint.url, headers, body, timeout=timeout))


def _job_finish(job: _Job, response: OutboundResponse | None, *, started: datetime) -> None:
    """Log the attempt, then move the delivery on: ``succeeded``, ``pending`` until its next
    retry, or ``failed`` (schedule run out, or nothing could be sent)."""
    row, request = job.delivery, job.request
    now = timezone.now()
    url = request.url if request is not None else (row.endpoint.url if row.endpoint else row.url)
    attempt = WebhookAttempt(delivery=row, number=row.attempts, started_at=started, url=url)
    if response is None:
        attempt.error, attempt.detail = "disabled", job.refusal
        ok, retry_at = False, None
    else:
        ok = response.error is None and 200 <= (response.status or 0) < 300
        attempt.succeeded, attempt.http_status = ok, response.status
        attempt.latency_ms = round(response.latency_ms, 2)
        attempt.error = response.error or ("" if ok else "status")
        attempt.detail = (response.detail or ("" if ok else f"HTTP {response.status}"))[:255]
        attempt.response_excerpt = _excerpt(response.body)
        retry_at = None if ok else _retry_at(row, now)
    attempt.save()
    status = (DeliveryStatus.SUCCEEDED if ok
              else DeliveryStatus.PENDING if retry_at is not None else DeliveryStatus.FAILED)
    finished = WebhookDelivery.objects.filter(
        pk=row.pk, status=DeliveryStatus.SENDING, attempts=row.attempts).update(
            status=status, next_attempt_at=retry_at, url=url,
            delivered_at=now if ok else row.delivered_at,
            last_http_status=attempt.http_status, last_error=attempt.detail)
    logger.info(kv("webhook.attempt", delivery=row.msg_id, kind=row.kind, type=row.event,
                   attempt=row.attempts, status=status, http=attempt.http_status or "-",
                   error=attempt.error or "-", latency_ms=attempt.latency_ms or "-",
                   kept=bool(finished)))
    if response is not None and row.kind == DeliveryKind.WEBHOOK and row.endpoint is not None:
        _endpoint_observe(row.endpoint, ok=ok, now=now)


def _retry_at(row: WebhookDelivery, now: datetime) -> datetime | None:
    """When the next attempt of this round is due, or None when the round is over."""
    delays = settings.WEBHOOK_RETRY_DELAYS_S
    done = row.round_attempts
    if done > len(delays):
        return None
    return now + timedelta(seconds=delays[done - 1])


def _excerpt(body: bytes) -> str:
    # the receiver's bytes as storable text: bounded, invalid UTF-8 and NUL replaced
    return body[:_EXCERPT_CHARS * 4].decode("utf-8", "replace")[:_EXCERPT_CHARS].replace(
        "\x00", "\ufffd")


def _endpoint_observe(endpoint: WebhookEndpoint, *, ok: bool, now: datetime) -> None:
    """Track the endpoint's failure streak; switch it off once it has failed for
    ``WEBHOOK_DISABLE_AFTER_S`` with no success, and have its account manager told."""
    if ok:
        WebhookEndpoint.objects.filter(pk=endpoint.pk).filter(
            Q(failing_since__isnull=False) | Q(last_success_at__isnull=True)
            | Q(last_success_at__lt=now - _SUCCESS_RESOLUTION)).update(
                failing_since=None, last_success_at=now)
        return
    WebhookEndpoint.objects.filter(pk=endpoint.pk, failing_since__isnull=True).update(
        failing_since=now)
    since = endpoint.failing_since or now
    limit = now - timedelta(seconds=settings.WEBHOOK_DISABLE_AFTER_S)
    if since > limit:
        return
    reason = f"every attempt failed since {since:%Y-%m-%d %H:%M} UTC"
    if WebhookEndpoint.objects.filter(pk=endpoint.pk, is_active=True,
                                      failing_since__lte=limit).update(
            is_active=False, disabled_at=now, disabled_reason=reason):
        endpoints_forget(endpoint.source_id)
        logger.warning(kv("webhook.endpoint_disabled", endpoint=endpoint.pk,
                          source=endpoint.source_id, failing_since=since.isoformat()))
        task_enqueue(endpoint_disabled_alert_task, endpoint.pk)
