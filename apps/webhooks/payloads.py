"""What a delivery says: the webhook's JSON body and the postback's macro values.

Both carry only what the source may know of its lead — its id, sub ids, vertical, the
event's status and payout, timestamps — never the buyer or its price. Built once, at a
delivery's first attempt, and then re-sent as they are.
"""

from __future__ import annotations

import json
from datetime import datetime
from decimal import Decimal
from typing import Any

from apps.sources.postback import postback_url_render
from apps.webhooks.models import EVENT_STATUS, SourceEvent, WebhookDelivery

# The lead's own words for an outcome that is not a sale ("No buyer bid on this lead.").
_WITH_MESSAGE = frozenset({SourceEvent.LEAD_UNSOLD, SourceEvent.LEAD_ERROR})


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat().replace("+00:00", "Z") if moment is not None else None


def _money(amount: Decimal | None) -> str | None:
    return f"{amount:.2f}" if amount is not None else None


def payload_build(delivery: WebhookDelivery) -> str:
    """The JSON body of a webhook (Standard Webhooks' recommended shape):

    ``{"type": "lead.sold", "timestamp": "<when it happened>", "data": {"lead_id",
    "status", "payout", "vertical", "sub_id", "sub_ids", "test", "received_at",
    "completed_at"[, "message"]}}`` — ``payout`` a decimal string (negative for a return)
    or null, ``message`` (why) for ``lead.unsold`` and ``lead.error``. Compact, keys in a
    fixed order: the same delivery always builds the same bytes."""
    lead = delivery.lead
    data: dict[str, Any] = {
        "lead_id": str(lead.uuid),
        "status": EVENT_STATUS[delivery.event],
        "payout": _money(delivery.payout),
        "vertical": lead.vertical.slug if lead.vertical is not None else None,
        "sub_id": lead.sub_id,
        "sub_ids": lead.sub_ids,
        "test": lead.is_test,
        "received_at": _iso(lead.received_at),
        "completed_at": _iso(lead.completed_at),
    }
    if delivery.event in _WITH_MESSAGE:
        data["message"] = lead.message
    return json.dumps({"type": delivery.event, "timestamp": _iso(delivery.created_at),
                       "data": data}, separators=(",", ":"))


def postback_values(delivery: WebhookDelivery) -> dict[str, str]:
    """The macro values of a postback (``apps.sources.postback.POSTBACK_MACROS``)."""
    lead = delivery.lead
    sub_ids = lead.sub_ids if isinstance(lead.sub_ids, dict) else {}
    return {
        "lead_id": str(lead.uuid),
        "sub_id": lead.sub_id,
        **{f"sub_id{n}": str(sub_ids.get(f"sub_id{n}", "")) for n in range(2, 6)},
        "status": EVENT_STATUS[delivery.event],
        "payout": _money(delivery.payout) or "0.00",
        "vertical": lead.vertical.slug if lead.vertical is not None else "",
        "event": delivery.event,
    }


def postback_url(delivery: WebhookDelivery, template: str) -> str:
    """The URL a postback requests: ``template`` with this delivery's values, URL-encoded."""
    return postback_url_render(template, postback_values(delivery))
