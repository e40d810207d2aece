"""After the sale in the synthetic history: buyers' returns and conversions, and the webhooks
and postbacks their sources received, so every figure of the dashboards has something to
show.

Drawn per sale after the auctions are written (deterministic for the seed): about 5 % of
the sales are returned (3–8 % by source), filed a day or so after the sale (at most ten) —
mostly approved, some rejected, the ones filed in the last day mostly still pending — for
one of the
default reasons; a return's credit is the sale price and its clawback the source's payout
(0 where the source absorbs returns). An approved return turns its lead ``returned`` (every
synthetic sale is exclusive). Kept sales are contacted, quoted and sold with falling odds,
a sold policy worth its yearly premium. Sources with webhook endpoints or a postback URL
(the demo sources) have a delivered ``lead.sold`` for each sale and ``lead.returned`` for
each approved return, one successful attempt each, as the live path writes them.
"""

from __future__ import annotations

import random
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from django.db import transaction
from django.db.models import Model

from apps.auctions.models import Sale
from apps.billing.models import Conversion, Return, ReturnStatus
from apps.leads.models import Lead, LeadStatus
from apps.sources.models import ReturnPolicy, Source
from apps.webhooks.models import (
    DeliveryKind,
    DeliveryStatus,
    SourceEvent,
    WebhookAttempt,
    WebhookDelivery,
    WebhookEndpoint,
)
from apps.webhooks.services.events import msg_id_new

# reason code → weight (apps.billing.models.DEFAULT_RETURN_REASONS)
REASONS = {"bad_contact": 40, "not_interested": 25, "duplicate": 15, "out_of_criteria": 10,
           "fraud": 6, "other": 4}
RATE_LOW, RATE_HIGH = 0.03, 0.08  # the return rate a source draws
FILED_DAYS, LATEST_DAYS = 1.2, 10  # a return is filed this long after the sale (mean, most)
PENDING_DAYS = 1  # returns filed this close to the end are mostly still pending
APPROVE_ODDS = 0.8  # of the decided ones
# (event, odds given the previous step, value range of the event or None)
FUNNEL = (("contacted", 0.6, None), ("quoted", 0.55, None),
          ("policy_sold", 0.3, (600, 2400)))
BATCH = 2000


def after_sale_write(start: datetime, end: datetime, seed: int, mark: str) -> dict[str, int]:
    """Write the returns, conversions and deliveries of the synthetic sales (leads with
    ``sub_id=mark``) received in [start, end); nothing dated after ``end``. Rows written per
    table."""
    rng = random.Random(f"{seed}-after-sale")
    sources = {s.pk: s for s in Source.objects.all()}
    rates = {pk: rng.uniform(RATE_LOW, RATE_HIGH) for pk in sorted(sources)}
    endpoints: dict[int, list[tuple[int, str]]] = {}
    for pk, source_id, url in WebhookEndpoint.objects.filter(is_active=True).values_list(
            "pk", "source_id", "url").order_by("pk"):
        endpoints.setdefault(source_id, []).append((pk, url))
    sales = (Sale.objects.filter(lead__sub_id=mark, lead__received_at__gte=start,
                                 lead__received_at__lt=end, is_test=False)
             .order_by("pk")
             .values_list("pk", "lead_id", "contract_id", "buyer_id", "price", "created_at",
                          "lead__source_id", "lead__vertical_id", "lead__payout"))
    returns: list[Return] = []
    rows: dict[type[Model], list[Any]] = {Return: returns, Conversion: [], WebhookDelivery: []}
    returned: list[int] = []
    counts = {"return": 0, "conversion": 0, "webhookdelivery": 0}
    for sale_id, lead_id, contract_id, buyer_id, price, sold, source_id, vertical_id, \
            payout in sales.iterator(chunk_size=BATCH):
        source = sources[source_id]
        copied = {"lead_id": lead_id, "contract_id": contract_id, "buyer_id": buyer_id,
                  "source_id": source_id, "vertical_id": vertical_id}
        deliveries = [(SourceEvent.LEAD_SOLD, payout, sold + timedelta(seconds=1))]
        filed = sold + timedelta(days=min(rng.expovariate(1 / FILED_DAYS), LATEST_DAYS))
        if rng.random() < rates[source_id] and filed < end:
            status, decided = _decision(rng, filed, end)
            clawback = Decimal(0) if source.return_policy == ReturnPolicy.ABSORB \
                else (payout or Decimal(0))
            returns.append(Return(
                sale_id=sale_id, **copied, credit=price, clawback=clawback,
                reason=rng.choices(list(REASONS), list(REASONS.values()))[0],
                status=status, created_at=filed, decided_at=decided))
            if status == ReturnStatus.APPROVED and decided is not None:
                returned.append(lead_id)
                deliveries.append((SourceEvent.LEAD_RETURNED, -clawback, decided))
        if _kept(returns, sale_id):
            at = sold
            for event, odds, values in FUNNEL:
                if rng.random() >= odds:
                    break
                at += timedelta(hours=rng.uniform(2, 72))
                if at >= end:
                    break
                value = Decimal(rng.randrange(*values)) if values else None
                rows[Conversion].append(Conversion(sale_id=sale_id, **copied, event=event,
                                                   value=value, created_at=at))
        for event, worth, at in deliveries:
            if at < end:
                rows[WebhookDelivery].extend(_delivered(source, endpoints.get(source_id, []),
                                                        lead_id, event, worth, at))
        if sum(len(batch) for batch in rows.values()) >= BATCH:
            _flush(rows, returned, counts)
    _flush(rows, returned, counts)
    return counts


def _kept(returns: list[Return], sale_id: int) -> bool:
    """The sale was not returned (or its return not approved): its buyer works the lead."""
    last = returns[-1] if returns else None
    return last is None or last.sale_id != sale_id or last.status != ReturnStatus.APPROVED


def _decision(rng: random.Random, filed: datetime, end: datetime
              ) -> tuple[str, datetime | None]:
    decided = filed + timedelta(hours=rng.uniform(1, 24))
    recent = filed > end - timedelta(days=PENDING_DAYS)
    if decided >= end or (recent and rng.random() < 0.6):
        return ReturnStatus.PENDING, None
    return (ReturnStatus.APPROVED if rng.random() < APPROVE_ODDS
            else ReturnStatus.REJECTED), decided


def _delivered(source: Source, endpoints: list[tuple[int, str]], lead_id: int, event: str,
               payout: Decimal | None, at: datetime) -> list[WebhookDelivery]:
    """The deliveries the live path writes for ``event``, already delivered at once (the
    postback's ``url`` is its template's address, the macros left unrendered)."""
    done: dict[str, Any] = {"source_id": source.pk, "lead_id": lead_id, "event": event,
                            "payout": payout, "created_at": at, "attempts": 1,
                            "status": DeliveryStatus.SUCCEEDED, "last_attempt_at": at,
                            "delivered_at": at + timedelta(milliseconds=40),
                            "last_http_status": 204}
    rows = []
    for pk, url in endpoints:
        row = WebhookDelivery(msg_id=msg_id_new(), kind=DeliveryKind.WEBHOOK, endpoint_id=pk,
                              **done)
        row.attempt_url = url  # type: ignore[attr-defined]  # its attempt's, not a column
        rows.append(row)
    if source.postback_url_template:
        row = WebhookDelivery(msg_id=msg_id_new(), kind=DeliveryKind.POSTBACK,
                              url=source.postback_url_template.split("?")[0], **done)
        row.attempt_url = row.url  # type: ignore[attr-defined]
        rows.append(row)
    return rows


def _flush(rows: dict[type[Model], list[Any]], returned: list[int],
           counts: dict[str, int]) -> None:
    with transaction.atomic(), CreatedAsGiven(Return, Conversion):
        for model, batch in rows.items():
            model._default_manager.bulk_create(batch, batch_size=BATCH)
            counts[model._meta.model_name or ""] += len(batch)
        deliveries: list[Any] = rows[WebhookDelivery]
        WebhookAttempt.objects.bulk_create([
            WebhookAttempt(delivery=d, number=1, started_at=d.last_attempt_at,
                           url=d.attempt_url,
                           succeeded=True, http_status=204, latency_ms=40.0)
            for d in deliveries], batch_size=BATCH)
        Lead.objects.filter(pk__in=returned).update(status=LeadStatus.RETURNED)
    for batch in rows.values():
        batch.clear()
    returned.clear()


class CreatedAsGiven:
    """Keeps the drawn ``created_at`` of ``models``' rows (``auto_now_add``) while open."""

    def __init__(self, *models: type[Model]) -> None:
        self.models = models

    def __enter__(self) -> None:
        self.saved = []
        for model in self.models:
            f: Any = model._meta.get_field("created_at")
            self.saved.append((f, f.auto_now_add))
            f.auto_now_add = False

    def __exit__(self, *exc) -> None:
        for f, auto_now_add in self.saved:
            f.auto_now_add = auto_now_add
