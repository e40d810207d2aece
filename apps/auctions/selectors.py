"""Reads about contracts for staff: cap usage per period, health, the floors that apply,
recent leads to test with."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from django.db.models import Prefetch
from django.utils import timezone

from apps.auctions.caps import CapRule, cap_usage
from apps.auctions.engine import FAILED, ContractTerms, contract_floor
from apps.auctions.models import Auction, Ping, Post, Sale
from apps.buyers.models import Contract
from apps.leads.models import Lead
from apps.sources.models import Source

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


def contract_recent_leads(contract: Contract, limit: int = 20) -> list[Lead]:
    """The newest leads of the contract's vertical, to preview or test it with (through the
    (vertical, received_at) index)."""
    return list(Lead.objects.filter(vertical_id=contract.vertical_id)
                .order_by("-received_at").only("uuid", "received_at", "status")[:limit])


@dataclass(frozen=True)
class Floors:
    """The floor a bid of this contract must reach: the vertical's default floor, each
    source's own minimum (its floor, or its fixed payout) where it is higher, and the
    contract's minimum bid — the highest applies (``apps.auctions.engine.contract_floor``)."""

    vertical: Decimal
    min_bid: Decimal | None
    base: Decimal  # for a source with no floor of its own
    by_source: list[tuple[str, Decimal]]  # sources whose leads need more than ``base``


def contract_floors(contract: Contract) -> Floors:
    """The floors that apply to ``contract`` per source of its vertical (the sources it
    takes: its allow-list, else every source of the vertical, minus its block-list)."""
    vertical_floor = contract.vertical.default_floor
    terms = ContractTerms(id=contract.pk or 0, buyer_id=contract.buyer_id or 0,
                          min_bid=contract.min_bid)
    base = contract_floor(terms, vertical_floor)
    sources = (contract.allowed_sources.all() if contract.pk and contract.allowed_sources.exists()
               else Source.objects.filter(verticals=contract.vertical_id))
    blocked = set(contract.blocked_sources.values_list("pk", flat=True)) if contract.pk else set()
    by_source = []
    for source in sources.order_by("name"):
        floor = contract_floor(terms, max(vertical_floor, source.minimum_sale_price()))
        if source.pk not in blocked and floor > base:
            by_source.append((source.name, floor))
    return Floors(vertical_floor, contract.min_bid, base, by_source)


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
