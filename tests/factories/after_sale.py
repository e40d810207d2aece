"""Returns and conversions on top of the hand-computed KPI fixture
(``tests.integration.test_kpis.World``, 2026-03-10 in New York), created with the ORM as the
billing services would leave them (an approved return turns its lead ``returned``).

``after_sale_day`` adds, on the fixture day (6 received, 3 sold, revenue 41.00, payouts 28.70):

- l1 (S1 → B1 at 10.00, payout 7.00): return APPROVED, ``bad_contact``, clawback 7.00;
- l2 (S1 → B2 at 20.00, payout 14.00): return PENDING, ``not_interested`` (counts no money),
  conversions ``contacted`` (no value) and ``quoted`` (450.00);
- l6 (S1 → B2 at 11.00, payout 7.70): return REJECTED, ``bad_contact``; conversion
  ``contacted``;
- l8, a new lead (S2 → B1 at 12.00, payout 8.40, S2 absorbs returns): return APPROVED,
  ``fraud``, clawback 0.

So the day has sold 4, revenue 53.00, payouts 37.10, returns 2 (1 pending, 1 rejected),
credits 22.00, net revenue 31.00, clawbacks 7.00, net payout 30.10, net margin 0.90,
return rate 0.5, conversions 3, converted leads 2, conversion rate 0.5, value 450.00.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

from apps.auctions.models import Sale
from apps.billing.models import Conversion, Return, ReturnStatus
from apps.leads.models import Lead, LeadStatus


def return_create(sale: Sale, status: str, reason: str, *, clawback: Decimal,
                  decided_at: datetime | None = None) -> Return:
    """A return of ``sale`` (credit: its price); approving it turns the lead ``returned``
    (its only sale here)."""
    lead = sale.lead
    row = Return.objects.create(
        sale=sale, lead=lead, contract=sale.contract, buyer=sale.buyer, source=lead.source,
        vertical=lead.vertical, reason=reason, status=status, credit=sale.price,
        clawback=clawback, decided_at=decided_at)
    if status == ReturnStatus.APPROVED:
        Lead.objects.filter(pk=lead.pk).update(status=LeadStatus.RETURNED)
    return row


def conversion_create(sale: Sale, event: str, value: Decimal | None = None) -> Conversion:
    lead = sale.lead
    return Conversion.objects.create(lead=lead, sale=sale, contract=sale.contract,
                                     buyer=sale.buyer, source=lead.source,
                                     vertical=lead.vertical, event=event, value=value)


def after_sale_day(world) -> dict[str, Sale]:
    """The returns and conversions of the module docstring; the sales by lead name. The
    caller refreshes the rollups."""
    d = Decimal
    l8 = world.lead(world.s2, "2026-03-10T14:00:00", LeadStatus.SOLD, price=d("12.00"),
                    payout=d("8.40"), deliver_ms=300)
    world.ping(l8, world.c1, "bid", bid=d("12.00"), latency=45)
    world.post(l8, world.c1, "accepted", d("12.00"))
    world.sale(l8, world.c1, d("12.00"))
    received = {"l1": "2026-03-10T05:00:00", "l2": "2026-03-10T06:00:00",
                "l6": "2026-03-11T03:30:00", "l8": "2026-03-10T14:00:00"}
    by_time = {sale.lead.received_at: sale for sale in Sale.objects.select_related(
        "lead__source", "lead__vertical", "contract", "buyer").filter(is_test=False)}
    sales = {name: by_time[datetime.fromisoformat(at).replace(tzinfo=UTC)]
             for name, at in received.items()}
    return_create(sales["l1"], ReturnStatus.APPROVED, "bad_contact", clawback=d("7.00"))
    return_create(sales["l2"], ReturnStatus.PENDING, "not_interested", clawback=d("14.00"))
    return_create(sales["l6"], ReturnStatus.REJECTED, "bad_contact", clawback=d("7.70"))
    return_create(sales["l8"], ReturnStatus.APPROVED, "fraud", clawback=d("0.00"))
    conversion_create(sales["l2"], "contacted")
    conversion_create(sales["l2"], "quoted", d("450.00"))
    conversion_create(sales["l6"], "contacted")
    return sales
