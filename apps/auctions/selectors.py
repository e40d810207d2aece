"""Reads about contracts for staff: cap usage per period and health."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from django.db.models import Prefetch
from django.utils import timezone

from apps.auctions.caps import CapRule, cap_usage
from apps.auctions.engine import FAILED
from apps.auctions.models import Auction, Ping, Post, Sale
from apps.buyers.models import Contract
from apps.leads.models import Lead

_FAILURES = sorted(FAILED)


@dataclass(frozen=True)
class CapUsage:
    period: str
    metric: str
    used: Decimal
    limit: Decimal
    window_start: datetime

    @property
    def percent(self) -> int:
        return int(self.used * 100 / self.limit) if self.limit else 100


@dataclass(frozen=True)
class Health:
    switched_on: bool
    auto_paused_at: datetime | None
    auto_pause_reason: str
    last_latency_ms: float | None
    last_ping_at: datetime | None
    last_error: str
    last_error_at: datetime | None


def contract_cap_usage(contract: Contract) -> list[CapUsage]:
    """Used / limit of every cap in its current window (buyer's time zone)."""
    now = timezone.now()
    rules = [CapRule(c.pk, c.period, c.metric, c.limit, contract.buyer.timezone)
             for c in contract.caps.all()]
    used = cap_usage(rules, now)
    return [CapUsage(r.period, r.metric, used[r.cap_id], r.limit, r.window(now))
            for r in rules]


def contract_health(contract: Contract) -> Health:
    """Switched on or off, breaker state, and the newest latency and error (read from the
    Ping rows, newest first through the (contract, created_at) index)."""
    pings = Ping.objects.filter(contract=contract, latency_ms__isnull=False).order_by(
        "-created_at")
    last = pings.only("latency_ms", "created_at").first()
    error = pings.filter(outcome__in=_FAILURES).only("outcome", "detail", "created_at").first()
    return Health(
        switched_on=contract.status == "active",
        auto_paused_at=contract.auto_paused_at, auto_pause_reason=contract.auto_pause_reason,
        last_latency_ms=last.latency_ms if last else None,
        last_ping_at=last.created_at if last else None,
        last_error=f"{error.outcome}: {error.detail}" if error else "",
        last_error_at=error.created_at if error else None,
    )


def contract_sample_lead(contract: Contract, lead_id: str) -> Lead | None:
    """A lead of the contract's vertical to test or preview it with, or None (unknown id,
    another vertical, or not a UUID)."""
    try:
        uuid.UUID(str(lead_id))
    except ValueError:
        return None
    return Lead.objects.filter(uuid=lead_id, vertical_id=contract.vertical_id).first()


def lead_auctions_get(public_id: uuid.UUID) -> Lead | None:
    """The lead with the public id ``public_id`` and its whole record — every auction with
    its pings and posts (contracts and buyers joined), and its sales — in five queries; None
    when there is no such lead."""
    pings = Ping.objects.select_related("contract__buyer").order_by("round", "id")
    posts = Post.objects.select_related("contract__buyer").order_by("created_at", "id")
    auctions = Auction.objects.order_by("started_at").prefetch_related(
        Prefetch("pings", queryset=pings), Prefetch("posts", queryset=posts))
    return (Lead.objects.select_related("source", "vertical")
            .prefetch_related(Prefetch("auctions", queryset=auctions),
                              Prefetch("sales", queryset=Sale.objects.select_related(
                                  "contract__buyer")))
            .filter(uuid=public_id).first())
