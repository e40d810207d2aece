"""Conversions: what became of a lead a buyer bought, reported by the buyer's postback."""

from __future__ import annotations

import re
import uuid
from decimal import Decimal, InvalidOperation

from django.db import IntegrityError, transaction

from apps.billing.models import Conversion
from apps.billing.services.returns import not_your_lead, sale_for_buyer
from apps.buyers.models import Buyer
from apps.core.exceptions import FieldErrors

EVENT_PATTERN = re.compile(r"^[-a-zA-Z0-9_]{1,64}$")
# Conversion.value holds 12 digits with 2 decimals; past a billion is a typo, not a sale.
MAX_VALUE = Decimal("999999999.99")


def conversion_value_parse(raw: str | Decimal | None) -> Decimal | None:
    """A conversion's value: empty or absent → None; else a non-negative amount with at most
    2 decimals and at most ``MAX_VALUE``. Raises ``FieldErrors`` on ``value`` otherwise."""
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        return None
    try:
        value = raw if isinstance(raw, Decimal) else Decimal(str(raw).strip())
    except InvalidOperation:
        raise FieldErrors({"value": ["Enter an amount such as 125.00."]}) from None
    if not value.is_finite():
        raise FieldErrors({"value": ["Enter an amount such as 125.00."]})
    if value < 0:
        raise FieldErrors({"value": ["Enter an amount of 0 or more."]})
    exponent = value.as_tuple().exponent  # an int for a finite number
    if isinstance(exponent, int) and exponent < -2:
        raise FieldErrors({"value": ["Enter an amount with at most 2 decimals."]})
    if value > MAX_VALUE:
        raise FieldErrors({"value": [f"Enter an amount of at most {MAX_VALUE}."]})
    return value.quantize(Decimal("0.01"))


def conversion_record(*, buyer: Buyer, lead_uuid: uuid.UUID | str, event: str,
                      value: str | Decimal | None = None) -> tuple[Conversion, bool]:
    """Record that ``event`` (a slug of up to 64 letters, digits, ``-`` and ``_``,
    e.g. ``policy_sold``) happened to the lead ``lead_uuid`` that ``buyer`` bought, worth
    ``value``. Returns the conversion and whether it is new: once per (lead, buyer, event),
    a repeat (even a concurrent one) returns the first unchanged.

    Raises ``ApplicationError`` ``not_your_lead`` (404) for an unknown lead or one the
    buyer never bought, and ``FieldErrors`` (400) on ``event`` or ``value``."""
    errors: dict[str, list[str]] = {}
    event = (event or "").strip()
    if not EVENT_PATTERN.match(event):
        errors["event"] = ["Enter an event name of 1 to 64 letters, digits, '-' or "
                           "'_' (e.g. policy_sold)."]
    try:
        amount = conversion_value_parse(value)
    except FieldErrors as error:
        errors.update(error.errors)
    if errors:
        raise FieldErrors(errors)
    sale = sale_for_buyer(buyer, lead_uuid)
    lead = sale.lead
    vertical_id = lead.vertical_id
    if vertical_id is None:  # a lead with no vertical was never sold
        raise not_your_lead()
    found = Conversion.objects.filter(lead=lead, buyer=buyer, event=event).first()
    if found is not None:
        return found, False
    try:
        with transaction.atomic():
            return Conversion.objects.create(
                lead=lead, sale=sale, contract_id=sale.contract_id, buyer=buyer,
                source_id=lead.source_id, vertical_id=vertical_id, event=event,
                value=amount), True
    except IntegrityError:  # a concurrent twin won the race
        return Conversion.objects.get(lead=lead, buyer=buyer, event=event), False
