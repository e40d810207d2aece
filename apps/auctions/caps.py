"""Cap counters: read usage for eligibility, reserve before a post, release after a failure.

A reservation is exact under any number of concurrent auctions and processes: each counter
is moved by one conditional ``UPDATE … SET used = used + n WHERE used <= limit - n``, which the
database applies atomically (on PostgreSQL the row lock serializes racing updates and the
loser re-checks the condition). All caps of a contract are reserved in one transaction, in
cap-id order (a fixed lock order, so two auctions can never deadlock), and all or none stick.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from django.db import transaction
from django.db.models import F

from apps.auctions.engine import window_start
from apps.buyers.models import CapCounter, CapMetric
from apps.core.sql import sql_datetime, sql_rows


@dataclass(frozen=True, slots=True)
class CapRule:
    cap_id: int
    period: str
    metric: str
    limit: Decimal
    timezone: str

    def window(self, now: datetime) -> datetime:
        return window_start(self.period, self.timezone, now)

    def amount(self, price: Decimal) -> Decimal:
        return Decimal(1) if self.metric == CapMetric.LEADS else price


@dataclass(frozen=True, slots=True)
class Reservation:
    cap_id: int
    window_start: datetime
    amount: Decimal


def cap_usage(caps: Iterable[CapRule], now: datetime) -> dict[int, Decimal]:
    """Used amount per cap id in its current window (0 where nothing was counted yet).
    One query for any number of caps."""
    windows = {cap.cap_id: cap.window(now) for cap in caps}
    if not windows:
        return {}
    pairs = " OR ".join(["(cap_id = %s AND window_start = %s)"] * len(windows))
    params = [p for cap_id, start in windows.items() for p in (cap_id, sql_datetime(start))]
    used = {cap_id: Decimal(str(value)) for cap_id, value in sql_rows(
        f"SELECT cap_id, used FROM {CapCounter._meta.db_table} WHERE {pairs}",  # noqa: S608
        params)}
    return {cap_id: used.get(cap_id, Decimal(0)) for cap_id in windows}


def cap_reserve(caps: Sequence[CapRule], *, price: Decimal, now: datetime
                ) -> list[Reservation] | None:
    """Reserve room for one lead at ``price`` in every cap; the reservations, or None (and
    nothing reserved) when any cap is full. Commits before returning, so the room is held
    while the post is in flight and visible to every other auction."""
    reservations: list[Reservation] = []
    if not caps:  # no transaction at all: on SQLite even an empty one takes the write lock
        return reservations
    with transaction.atomic():
        for cap in sorted(caps, key=lambda c: c.cap_id):
            start, amount = cap.window(now), cap.amount(price)
            if not _take(cap, start, amount):
                transaction.set_rollback(True)
                return None
            reservations.append(Reservation(cap.cap_id, start, amount))
    return reservations


def _take(cap: CapRule, start: datetime, amount: Decimal) -> bool:
    room = CapCounter.objects.filter(cap_id=cap.cap_id, window_start=start,
                                     used__lte=cap.limit - amount)
    if room.update(used=F("used") + amount):
        return True
    if CapCounter.objects.filter(cap_id=cap.cap_id, window_start=start).exists():
        return False  # the window is counted and full
    CapCounter.objects.bulk_create([CapCounter(cap_id=cap.cap_id, window_start=start, used=0)],
                                   ignore_conflicts=True)
    return bool(room.update(used=F("used") + amount))


def cap_release(reservations: Iterable[Reservation]) -> None:
    """Give back what a failed post reserved. Idempotent per call site (call once)."""
    reservations = list(reservations)
    if not reservations:
        return
    with transaction.atomic():
        for r in sorted(reservations, key=lambda r: r.cap_id):
            CapCounter.objects.filter(cap_id=r.cap_id, window_start=r.window_start).update(
                used=F("used") - r.amount)
