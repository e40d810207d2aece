"""Builders for the returns, conversions and ledger tests: sold leads with exact sale times,
buyer keys, and the review roles."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from django.utils import timezone

from apps.auctions.models import Sale
from apps.billing.models import Return, ReturnStatus
from apps.billing.services import buyer_key_create
from apps.buyers.models import Buyer, Contract
from apps.leads.models import Lead, LeadStatus
from apps.sources.models import Source, Vertical
from tests.factories import BuyerFactory, SourceFactory, VerticalFactory


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


class Market:
    """One vertical, a source, two buyers with a contract each; ``sold`` makes sold leads."""

    def __init__(self, *, return_policy: str = "clawback") -> None:
        self.vertical: Vertical = VerticalFactory(slug="auto-insurance", schema=[])
        self.source: Source = SourceFactory(name="S1", return_policy=return_policy)
        self.b1: Buyer = BuyerFactory(company="B1")
        self.b2: Buyer = BuyerFactory(company="B2")
        self.c1 = Contract.objects.create(buyer=self.b1, vertical=self.vertical, name="c1")
        self.c2 = Contract.objects.create(buyer=self.b2, vertical=self.vertical, name="c2")

    def sold(self, *sales: tuple[Contract, str], payout: str, at: datetime | None = None,
             test: bool = False, source: Source | None = None) -> Lead:
        """A lead sold to each (contract, price) of ``sales`` at ``at`` (default now),
        shared when more than one, with ``payout`` for the source."""
        at = at or timezone.now()
        total = sum((Decimal(price) for _, price in sales), Decimal(0))
        lead = Lead.objects.create(source=source or self.source, vertical=self.vertical,
                                   status=LeadStatus.SOLD, is_test=test, sale_price=total,
                                   payout=Decimal(payout), margin=total - Decimal(payout))
        Lead.objects.filter(pk=lead.pk).update(received_at=at)
        for offset, (contract, price) in enumerate(sales):
            row = Sale.objects.create(lead=lead, contract=contract, buyer=contract.buyer,
                                      price=Decimal(price), exclusive=len(sales) == 1,
                                      is_test=test)
            Sale.objects.filter(pk=row.pk).update(created_at=at + timedelta(seconds=offset))
        return lead


def buyer_key(buyer: Buyer) -> str:
    _, key = buyer_key_create(buyer=buyer)
    return key


def decided_at(row: Return, when: datetime) -> None:
    """Pretend ``row`` was decided at ``when`` (the ledger books a return then)."""
    Return.objects.filter(pk=row.pk).update(decided_at=when)


def approved(row: Return) -> bool:
    row.refresh_from_db()
    return row.status == ReturnStatus.APPROVED
