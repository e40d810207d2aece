"""Returns: a buyer files one for a lead it bought (``return_submit``), staff decide them in
bulk (``returns_decide``).

The rules of a return, each refused with its own code and the numbers behind it:
``not_your_lead`` (404: the lead is unknown or was never sold to this buyer — one answer for
both, so no buyer can probe another's leads), a ``reason`` field error (400, listing the
valid codes), ``already_returned`` (409: one return per sale, whatever became of it),
``return_window_closed`` (422) and ``return_cap_reached`` (422).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal

from django.db import IntegrityError, transaction
from django.db.models import Exists, OuterRef
from django.utils import timezone
from rest_framework import status

from apps.auctions.models import Sale
from apps.billing.models import Return, ReturnChannel, ReturnStatus
from apps.billing.selectors import return_reason_codes
from apps.buyers.models import Buyer, Contract
from apps.core.audit import audit_record
from apps.core.exceptions import ApplicationError, FieldErrors
from apps.leads.models import Lead, LeadStatus
from apps.sources.models import ReturnPolicy
from apps.webhooks.services import source_event_record

CENT = Decimal("0.01")
# Returns that count against a contract's cap: those not turned down.
CAP_COUNTED = (ReturnStatus.PENDING, ReturnStatus.APPROVED)


def not_your_lead() -> ApplicationError:
    return ApplicationError("No lead with this id was sold to you.",
                            status_code=status.HTTP_404_NOT_FOUND, code="not_your_lead")


def sale_for_buyer(buyer: Buyer, lead_uuid: uuid.UUID | str) -> Sale:
    """The sale of lead ``lead_uuid`` to ``buyer`` (with its lead, source and contract):
    the first not yet returned when the buyer bought it more than once (several contracts
    of a shared lead). Raises ``not_your_lead`` for an unknown lead, a malformed id and a
    lead the buyer never bought alike."""
    try:
        key = lead_uuid if isinstance(lead_uuid, uuid.UUID) else uuid.UUID(str(lead_uuid))
    except ValueError:
        raise not_your_lead() from None
    sales = list(Sale.objects.filter(lead__uuid=key, buyer=buyer)
                 .select_related("lead__source", "lead__vertical", "contract")
                 .annotate(returned=Exists(Return.objects.filter(sale=OuterRef("pk"))))
                 .order_by("created_at", "pk"))
    if not sales:
        raise not_your_lead()
    return next((sale for sale in sales if not _has_return(sale)), sales[0])


def _has_return(sale: Sale) -> bool:
    # the ``returned`` annotation of ``sale_for_buyer``
    return bool(getattr(sale, "returned", False))


def return_clawback(sale: Sale, lead: Lead) -> Decimal:
    """What the source gives back when this sale is returned: its payout's share for the
    sale (``payout × price / sale_price``; the whole payout for an exclusive lead), 0 when
    the source's policy is to absorb returns."""
    payout = lead.payout or Decimal(0)
    if lead.source.return_policy == ReturnPolicy.ABSORB or not payout:
        return Decimal("0.00")
    if sale.exclusive or not lead.sale_price:
        return payout
    return (payout * sale.price / lead.sale_price).quantize(CENT, rounding=ROUND_HALF_UP)


def return_submit(*, buyer: Buyer, lead_uuid: uuid.UUID | str, reason: str, comment: str = "",
                  channel: str = ReturnChannel.API, entered_by=None) -> Return:
    """File ``buyer``'s return of the lead ``lead_uuid`` → a pending ``Return`` whose
    ``credit`` (the sale's price) and ``clawback`` (``return_clawback``) are fixed now.

    Raises ``ApplicationError`` ``not_your_lead`` (404), ``already_returned`` (409),
    ``return_window_closed`` / ``return_cap_reached`` (422), and ``FieldErrors`` on
    ``reason`` (400) — see the module docstring. The contract's row is locked while the cap
    is counted and the return written, so concurrent returns cannot overrun the cap; two
    returns of one sale race into the one-per-sale constraint and the loser gets
    ``already_returned``."""
    sale = sale_for_buyer(buyer, lead_uuid)
    lead = sale.lead
    codes = return_reason_codes(lead.vertical)
    if reason not in codes:
        raise FieldErrors({"reason": [f"Use one of: {', '.join(codes)}." if codes else
                                      "This vertical accepts no return reasons."]})
    vertical_id = lead.vertical_id
    if vertical_id is None:  # a lead with no vertical was never sold
        raise not_your_lead()
    now = timezone.now()
    if _has_return(sale):
        raise _already_returned(sale)
    _window_check(sale.contract, sale, now)
    try:
        with transaction.atomic():
            contract = Contract.objects.select_for_update().get(pk=sale.contract_id)
            if not sale.is_test:
                _cap_check(contract, now)
            return Return.objects.create(
                sale=sale, lead=lead, contract_id=sale.contract_id, buyer=buyer,
                source_id=lead.source_id, vertical_id=vertical_id, reason=reason,
                comment=comment, channel=channel, credit=sale.price,
                clawback=return_clawback(sale, lead), entered_by=entered_by)
    except IntegrityError:
        raise _already_returned(sale) from None


def _already_returned(sale: Sale) -> ApplicationError:
    found = Return.objects.filter(sale=sale).first()
    when = f" on {found.created_at:%Y-%m-%d} (now {found.status})" if found else ""
    return ApplicationError(f"This lead was already returned{when}; a sale is returned once.",
                            status_code=status.HTTP_409_CONFLICT, code="already_returned")


def _window_check(contract: Contract, sale: Sale, now: datetime) -> None:
    days = contract.return_window_days
    if days == 0:
        raise ApplicationError("This contract takes no returns (its return window is 0 days).",
                               status_code=status.HTTP_422_UNPROCESSABLE_ENTITY,
                               code="return_window_closed")
    closes = sale.created_at + timedelta(days=days)
    if now > closes:
        raise ApplicationError(
            f"The return window of {days} days closed on {closes:%Y-%m-%d}.",
            status_code=status.HTTP_422_UNPROCESSABLE_ENTITY, code="return_window_closed")


def _cap_check(contract: Contract, now: datetime) -> None:
    """Refuse one more return when the contract's returns (pending and approved) filed in
    its last ``return_cap_days`` would exceed ``return_cap_pct`` of its (non-test) sales in
    that period. The caller holds the contract's row lock."""
    pct = contract.return_cap_pct
    if pct is None:
        return
    since = now - timedelta(days=contract.return_cap_days)
    sales = Sale.objects.filter(contract=contract, is_test=False, created_at__gte=since).count()
    returns = Return.objects.filter(contract=contract, status__in=CAP_COUNTED,
                                    sale__is_test=False, created_at__gte=since).count()
    if (returns + 1) * 100 > pct * sales:
        allowed = int(pct * sales / 100)
        raise ApplicationError(
            f"The return cap of {pct.normalize():f}% of sales over "
            f"{contract.return_cap_days} days is reached: {returns} returns for {sales} "
            f"sales (at most {allowed}).",
            status_code=status.HTTP_422_UNPROCESSABLE_ENTITY, code="return_cap_reached",
            extra={"returns": returns, "sales": sales, "allowed": allowed})


@dataclass(frozen=True)
class Decided:
    """What ``returns_decide`` did: how many it decided, how many it left (not pending or
    not found)."""

    decided: int
    skipped: int


def returns_decide(returns_or_ids: Iterable[Return | int], *, approve: bool, by, note: str = ""
                   ) -> Decided:
    """Approve or reject the given returns that are still pending; the others are left as
    they are (counted in ``skipped``). Each return is decided in its own transaction with
    its row (and its lead's) locked.

    Approving records who and when, turns the lead ``returned`` once every sale of it
    (every non-test sale, unless all are tests) has an approved return, and records the
    ``lead.returned`` event for the source (webhooks and postback, ``payout`` = −clawback)
    in the same transaction. Rejecting needs a ``note`` (``FieldErrors`` otherwise) and
    moves no money. Each decision goes to the admin's history."""
    note = (note or "").strip()
    if not approve and not note:
        raise FieldErrors({"note": ["Say why the returns are rejected."]})
    ids = list(dict.fromkeys(item.pk if isinstance(item, Return) else int(item)
                             for item in returns_or_ids))
    decided = 0
    for pk in ids:
        with transaction.atomic():
            row = (Return.objects.select_for_update().select_related("lead")
                   .filter(pk=pk, status=ReturnStatus.PENDING).first())
            if row is None:
                continue
            row.status = ReturnStatus.APPROVED if approve else ReturnStatus.REJECTED
            row.decided_at, row.decided_by, row.note = timezone.now(), by, note[:255]
            row.save(update_fields=["status", "decided_at", "decided_by", "note"])
            if approve:
                _lead_returned_if_all(row.lead)
                source_event_record(row.lead, "lead.returned", payout=-row.clawback)
            audit_record(by, row, f"{'Approved' if approve else 'Rejected'}"
                                  f"{': ' + note if note else '.'}")
        decided += 1
    return Decided(decided=decided, skipped=len(ids) - decided)


def _lead_returned_if_all(lead: Lead) -> None:
    sales = Sale.objects.filter(lead=lead)
    if sales.filter(is_test=False).exists():
        sales = sales.filter(is_test=False)
    open_sales = sales.filter(~Exists(Return.objects.filter(
        sale=OuterRef("pk"), status=ReturnStatus.APPROVED)))
    if not open_sales.exists():
        Lead.objects.filter(pk=lead.pk, status=LeadStatus.SOLD).update(
            status=LeadStatus.RETURNED, updated_at=timezone.now())
