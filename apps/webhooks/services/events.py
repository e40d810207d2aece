"""Recording what happened to a lead for its source to hear: the outbox write."""

from __future__ import annotations

import uuid
from decimal import Decimal

from django.utils import timezone

from apps.core.cache import cached_row
from apps.core.dispatch import task_enqueue
from apps.leads.models import Lead
from apps.sources.models import Source
from apps.webhooks.models import (
    POSTBACK_EVENTS,
    DeliveryKind,
    DeliveryStatus,
    SourceEvent,
    WebhookDelivery,
)
from apps.webhooks.selectors import endpoints_subscribed
from apps.webhooks.tasks import webhook_deliver_task


def msg_id_new() -> str:
    """A delivery's ``webhook-id``: ``msg_`` + 32 hex digits, unique."""
    return f"msg_{uuid.uuid4().hex}"


def source_event_record(lead: Lead, event: str, *, payout: Decimal | None = None) -> None:
    """Record that ``event`` (a ``SourceEvent``: ``lead.sold``, ``lead.unsold``,
    ``lead.returned``, ``lead.error``) happened to ``lead``, for its source to hear.

    Call it inside the transaction that records the event: the rows commit or roll back with
    it. Writes one ``WebhookDelivery`` per active endpoint of the lead's source subscribed to
    ``event``, and one postback when the source has a postback URL template, the event is
    ``lead.sold`` or ``lead.returned`` and the lead is not a test lead. ``payout`` is what the
    event is worth to the source: for a sale what it earns (a shared lead's later sales:
    what each adds), for a return the clawback, negative.

    Cheap enough for the sale transaction: the source and its endpoint list come from
    per-process caches (seconds old at most), the rows are one INSERT, and nothing is sent
    here — the delivery is enqueued after the commit (in the embedded default on a pool
    apart from the auctions'), and the due job sends whatever that misses. The payload is
    built at the first attempt, from the lead, so the caller's ``lead`` needs only its
    ``pk``, ``source_id`` and ``is_test``. Raises ``ValueError`` for an unknown event.
    """
    if event not in SourceEvent.values:
        raise ValueError(f"unknown source event {event!r}")
    now = timezone.now()
    common = {"source_id": lead.source_id, "lead_id": lead.pk, "event": event,
              "payout": payout, "created_at": now, "next_attempt_at": now,
              "status": DeliveryStatus.PENDING}
    rows = [WebhookDelivery(msg_id=msg_id_new(), kind=DeliveryKind.WEBHOOK, endpoint_id=pk,
                            **common)
            for pk, events in endpoints_subscribed(lead.source_id) if event in events]
    if (event in POSTBACK_EVENTS and not lead.is_test
            and cached_row(Source, lead.source_id).postback_url_template):
        rows.append(WebhookDelivery(msg_id=msg_id_new(), kind=DeliveryKind.POSTBACK, **common))
    if not rows:
        return
    WebhookDelivery.objects.bulk_create(rows)
    task_enqueue(webhook_deliver_task, [row.msg_id for row in rows], pool="webhook")
