"""Writes for webhook endpoints (secret shown once, rotatable) and redeliveries."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone
from rest_framework import status

from apps.core.dispatch import task_enqueue
from apps.core.exceptions import ApplicationError
from apps.sources.models import Source
from apps.webhooks.models import (
    DeliveryKind,
    DeliveryStatus,
    WebhookDelivery,
    WebhookEndpoint,
    all_events,
)
from apps.webhooks.selectors import endpoints_forget
from apps.webhooks.signing import secret_generate
from apps.webhooks.tasks import webhook_deliver_task


def endpoint_create(*, source: Source, url: str, events: Sequence[str] | None = None,
                    description: str = "", is_active: bool = True
                    ) -> tuple[WebhookEndpoint, str]:
    """Create an endpoint for ``source`` with a new signing secret; returns the endpoint and
    the secret (``whsec_…``: show it this once). Raises ``ValidationError`` for a URL the
    SSRF guard refuses or an unknown event. ``events`` defaults to all four."""
    endpoint = WebhookEndpoint(source=source, url=url, description=description,
                               events=list(events) if events else all_events(),
                               is_active=is_active, secret=secret_generate())
    endpoint.full_clean()
    endpoint.save()
    endpoints_forget(source.pk)
    return endpoint, endpoint.secret


def endpoint_update(endpoint: WebhookEndpoint, **attributes: object) -> WebhookEndpoint:
    """Change ``url``, ``events``, ``description`` or ``is_active``. Switching an endpoint
    back on forgets why it was off and its failure streak (it then gets new events; what it
    missed comes back by a redelivery); switching it off records when."""
    was_active = endpoint.is_active
    for name, value in attributes.items():
        setattr(endpoint, name, value)
    if endpoint.is_active and not was_active:
        endpoint.disabled_at, endpoint.disabled_reason, endpoint.failing_since = None, "", None
    elif was_active and not endpoint.is_active:
        endpoint.disabled_at, endpoint.disabled_reason = timezone.now(), "switched off by staff"
    endpoint.full_clean()
    endpoint.save()
    endpoints_forget(endpoint.source_id)
    return endpoint


def endpoint_secret_rotate(endpoint: WebhookEndpoint) -> str:
    """Give ``endpoint`` a new signing secret and return it (show it this once). The old
    secret keeps signing too — a second signature in ``webhook-signature`` — for
    ``WEBHOOK_SECRET_GRACE_S``, so the receiver can switch without failing a message."""
    now = timezone.now()
    endpoint.previous_secret, endpoint.secret = endpoint.secret, secret_generate()
    endpoint.previous_secret_expires_at = now + timedelta(
        seconds=settings.WEBHOOK_SECRET_GRACE_S)
    endpoint.save(update_fields=["previous_secret", "secret", "previous_secret_expires_at",
                                 "updated_at"])
    return endpoint.secret


def endpoint_delete(endpoint: WebhookEndpoint) -> None:
    """Delete ``endpoint``. Its deliveries stay in the log; those still waiting fail at
    their next attempt without being sent."""
    source_id = endpoint.source_id
    endpoint.delete()
    endpoints_forget(source_id)


def delivery_redeliver(delivery: WebhookDelivery) -> WebhookDelivery:
    """Send ``delivery`` again now, as a new round of attempts (the retry schedule starts
    over), whatever became of it — with the same ``webhook-id`` and body, so the receiver
    can tell it is the same message. Raises ``ApplicationError``: 409 while it is being sent
    at this moment, 400 when its endpoint is deleted or disabled (switch it on first)."""
    _endpoint_usable(delivery)
    now = timezone.now()
    if not WebhookDelivery.objects.filter(pk=delivery.pk).exclude(
            status=DeliveryStatus.SENDING).update(
            status=DeliveryStatus.PENDING, next_attempt_at=now, round_start=F("attempts")):
        raise ApplicationError("This delivery is being sent right now; try again shortly.",
                               status_code=status.HTTP_409_CONFLICT, code="in_flight")
    task_enqueue(webhook_deliver_task, [delivery.msg_id], pool="webhook")
    delivery.refresh_from_db()
    return delivery


@transaction.atomic
def deliveries_redeliver(source: Source, *, since: datetime, until: datetime,
                         endpoint: WebhookEndpoint | None = None) -> int:
    """Redeliver, now, every delivery of ``source`` (of ``endpoint`` only, when given)
    created in ``[since, until)`` that has not succeeded — failed ones and those waiting for
    a retry — each as a new round. Deliveries to a deleted or disabled endpoint are left
    out (an ``endpoint`` given that is disabled: ``ApplicationError`` 400); ones being sent
    at this moment are left to finish. Returns how many were redelivered."""
    if endpoint is not None and not endpoint.is_active:
        raise ApplicationError("This endpoint is disabled; switch it on first.",
                               code="endpoint_disabled")
    rows = WebhookDelivery.objects.filter(
        source=source, created_at__gte=since, created_at__lt=until,
        status__in=[DeliveryStatus.PENDING, DeliveryStatus.FAILED])
    if endpoint is not None:
        rows = rows.filter(endpoint=endpoint)
    else:
        rows = rows.filter(Q(kind=DeliveryKind.POSTBACK) | Q(endpoint__is_active=True))
    msg_ids = list(rows.values_list("msg_id", flat=True))
    now = timezone.now()
    batch = settings.WEBHOOK_BATCH
    for start in range(0, len(msg_ids), batch):
        chunk = msg_ids[start:start + batch]
        WebhookDelivery.objects.filter(
            msg_id__in=chunk, status__in=[DeliveryStatus.PENDING, DeliveryStatus.FAILED]
        ).update(status=DeliveryStatus.PENDING, next_attempt_at=now, round_start=F("attempts"))
        task_enqueue(webhook_deliver_task, chunk, pool="webhook")
    return len(msg_ids)


def _endpoint_usable(delivery: WebhookDelivery) -> None:
    if delivery.kind != DeliveryKind.WEBHOOK:
        return
    endpoint = delivery.endpoint
    if endpoint is None:
        raise ApplicationError("This delivery's endpoint was deleted.", code="endpoint_deleted")
    if not endpoint.is_active:
        raise ApplicationError("This delivery's endpoint is disabled; switch it on first.",
                               code="endpoint_disabled")
