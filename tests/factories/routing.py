"""Builders for the routing-rule tests: a live contract and its source, and the raw rows a
window's metrics are computed from (pings, posts, sales, returns), written ``ago`` before
now."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal

from django.utils import timezone

from apps.auctions.models import Auction, Ping, Post, Sale
from apps.buyers.models import Contract, ContractStatus
from apps.leads.models import Lead, LeadStatus
from apps.routing.models import RoutingRule
from apps.sources.models import Source
from tests.factories import BuyerFactory, SourceFactory, VerticalFactory
from tests.factories.after_sale import return_create


@dataclass
class Market:
    contract: Contract
    other: Contract
    source: Source

    def auction(self, *, source: Source | None = None, ago: timedelta = timedelta(minutes=5)
                ) -> Auction:
        at = timezone.now() - ago
        lead = Lead.objects.create(source=source or self.source,
                                   vertical=self.contract.vertical, status=LeadStatus.SOLD)
        return Auction.objects.create(lead=lead, started_at=at, ping_deadline_at=at)

    def pings(self, outcome: str, n: int, *, latency: float | None = 50.0,
              contract: Contract | None = None, ago: timedelta = timedelta(minutes=5)) -> None:
        auction = self.auction(ago=ago)
        rows = Ping.objects.bulk_create([
            Ping(auction=auction, contract=contract or self.contract, outcome=outcome,
                 latency_ms=latency) for _ in range(n)])
        Ping.objects.filter(pk__in=[r.pk for r in rows]).update(
            created_at=timezone.now() - ago)

    def posts(self, outcome: str, n: int, *, contract: Contract | None = None,
              source: Source | None = None, ago: timedelta = timedelta(minutes=5)) -> None:
        auction = self.auction(source=source, ago=ago)
        rows = Post.objects.bulk_create([
            Post(auction=auction, contract=contract or self.contract, outcome=outcome,
                 price=Decimal("10.00")) for _ in range(n)])
        Post.objects.filter(pk__in=[r.pk for r in rows]).update(
            created_at=timezone.now() - ago)

    def sales(self, n: int, *, returned: int = 0) -> None:
        for i in range(n):
            auction = self.auction()
            sale = Sale.objects.create(lead=auction.lead, contract=self.contract,
                                       buyer=self.contract.buyer, price=Decimal("10.00"))
            if i < returned:
                return_create(sale, "pending", "invalid", clawback=Decimal(0))


def market_create() -> Market:
    """Two live contracts of one buyer and a source; the default rules switched off (a test
    of them switches them on)."""
    RoutingRule.objects.update(enabled=False)
    vertical = VerticalFactory(slug="auto-insurance", schema=[])
    buyer = BuyerFactory()
    contract, other = (Contract.objects.create(
        buyer=buyer, vertical=vertical, name=name, status=ContractStatus.ACTIVE, priority=5,
        traffic_share_pct=100, min_bid=Decimal("4.00")) for name in ("watched", "other"))
    return Market(contract=contract, other=other, source=SourceFactory())


def rule_create(**fields) -> RoutingRule:
    defaults = {"name": "test rule", "metric": "post_reject_rate", "comparator": "gt",
                "threshold": Decimal("0.5"), "window_minutes": 60, "min_samples": 10,
                "action": "pause", "auto_undo": True}
    return RoutingRule.objects.create(**{**defaults, **fields})
