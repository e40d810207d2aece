"""Reads for buyer keys, return reasons and returns."""

from __future__ import annotations

from datetime import timedelta

from django.db.models import Case, IntegerField, QuerySet, Value, When
from django.utils import timezone

from apps.billing.models import (
    DEFAULT_RETURN_REASONS,
    BuyerApiKey,
    Return,
    ReturnReason,
    ReturnStatus,
)
from apps.buyers.models import Buyer
from apps.core.keys import key_matches, key_prefix
from apps.sources.models import Vertical

BUYER_KEY_NAMESPACE = "lxb"
# last_used_at is bookkeeping, not a counter: refresh it at most this often per key.
_LAST_USED_RESOLUTION = timedelta(minutes=1)


def buyer_key_authenticate(key: str) -> BuyerApiKey | None:
    """The live key row (with its buyer) that ``key`` (``lxb_…``) proves, or None (another
    kind of key, unknown, wrong secret or revoked). Touches ``last_used_at`` at most once a
    minute."""
    if not key.startswith(f"{BUYER_KEY_NAMESPACE}_"):
        return None
    prefix = key_prefix(key)
    if prefix is None:
        return None
    row = (BuyerApiKey.objects.select_related("buyer")
           .filter(prefix=prefix, revoked_at__isnull=True).first())
    if row is None or not key_matches(key, row.digest):
        return None
    now = timezone.now()
    if row.last_used_at is None or now - row.last_used_at > _LAST_USED_RESOLUTION:
        BuyerApiKey.objects.filter(pk=row.pk).update(last_used_at=now)
    return row


def buyer_key_list(buyer: Buyer) -> QuerySet[BuyerApiKey]:
    return BuyerApiKey.objects.filter(buyer=buyer).order_by("-created_at", "-pk")


def buyer_key_get(buyer: Buyer, key_id: int) -> BuyerApiKey | None:
    return BuyerApiKey.objects.filter(buyer=buyer, pk=key_id).first()


def return_reason_codes(vertical: Vertical | None) -> list[str]:
    """The reason codes a return of a lead of ``vertical`` may give: the vertical's active
    ones when it has reasons of its own, else ``DEFAULT_RETURN_REASONS``."""
    if vertical is not None:
        rows = list(ReturnReason.objects.filter(vertical=vertical)
                    .values_list("code", "is_active"))
        if rows:
            return sorted(code for code, active in rows if active)
    return list(DEFAULT_RETURN_REASONS)


def return_list_for_buyer(buyer: Buyer) -> QuerySet[Return]:
    """The buyer's own returns (newest first), with their lead for its public id."""
    return Return.objects.filter(buyer=buyer).select_related("lead")


def return_get_for_buyer(buyer: Buyer, return_id: int) -> Return | None:
    return return_list_for_buyer(buyer).filter(pk=return_id).first()


def return_list() -> QuerySet[Return]:
    """Every return for staff, pending first, then newest first."""
    return (Return.objects.select_related("lead", "buyer", "source", "contract")
            .annotate(waiting=Case(When(status=ReturnStatus.PENDING, then=Value(0)),
                                   default=Value(1), output_field=IntegerField()))
            .order_by("waiting", "-created_at", "-id"))
