"""Cap counters: read usage for eligibility, reserve before a post, release after a failure.

A reservation is exact under any number of concurrent auctions and processes: each counter
is moved by one conditional ``UPDATE … SET used = used + n WHERE used <= limit - n``, which the
database applies atomically (on PostgreSQL the row lock serializes racing updates and the
loser re-checks the condition). All caps of a contract are reserved in one transaction, in
cap-id order (a fixed lock order, so two auctions can never deadlock), and all or none stick.

Room held for a pinged lead (``cap_hold``) is one more column of the same counter row
(``held``), moved by the same kind of conditional UPDATE, so a held slot and a direct lead's
reservation serialize on one row lock and can never both take the last room. A hold expires
by time: it stops counting once ``expires_at`` is past, because whoever finds the counter
full while something is held first sweeps the window's expired holds (a conditional UPDATE
per hold, so each is given back once), and the eligibility read subtracts them.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from django.db import transaction
from django.db.models import F, QuerySet, Sum

from apps.auctions.engine import window_start
from apps.auctions.models import CapHold, CapHoldState
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
    """Used amount per cap id in its current window (0 where nothing was counted yet), room
    held for pinged leads included while their holds live. One query for any number of caps
    (two when something is held)."""
    windows = {cap.cap_id: cap.window(now) for cap in caps}
    if not windows:
        return {}
    pairs = " OR ".join(["(cap_id = %s AND window_start = %s)"] * len(windows))
    params = [p for cap_id, start in windows.items() for p in (cap_id, sql_datetime(start))]
    rows = sql_rows(
        f"SELECT cap_id, used, held FROM {CapCounter._meta.db_table} WHERE {pairs}",  # noqa: S608
        params)
    used = {cap_id: Decimal(str(value)) + Decimal(str(held)) for cap_id, value, held in rows}
    if any(Decimal(str(held)) for _, _, held in rows):
        for cap_id, expired in _expired_holds(windows, now).items():
            used[cap_id] -= expired
    return {cap_id: used.get(cap_id, Decimal(0)) for cap_id in windows}


def _expired_holds(windows: dict[int, datetime], now: datetime) -> dict[int, Decimal]:
    """Per cap: the amount of its window's holds that expired but were not swept yet."""
    totals: dict[int, Decimal] = {}
    rows = (CapHold.objects.filter(cap_id__in=list(windows), state=CapHoldState.HELD,
                                   expires_at__lte=now)
            .values("cap_id", "window_start").annotate(total=Sum("amount")))
    for row in rows:
        if windows.get(row["cap_id"]) == row["window_start"]:
            totals[row["cap_id"]] = totals.get(row["cap_id"], Decimal(0)) + row["total"]
    return totals


def cap_reserve(caps: Sequence[CapRule], *, price: Decimal, now: datetime,
                ping_id: int | None = None) -> list[Reservation] | None:
    """Reserve room for one lead at ``price`` in every cap; the reservations, or None (and
    nothing reserved) when any cap is full. Commits before returning, so the room is held
    while the post is in flight and visible to every other auction. With ``ping_id``, room
    that ping holds (``cap_hold``) in the same window becomes the reservation instead."""
    reservations: list[Reservation] = []
    if not caps:  # no transaction at all: on SQLite even an empty one takes the write lock
        return reservations
    with transaction.atomic():
        for cap in sorted(caps, key=lambda c: c.cap_id):
            start, amount = cap.window(now), cap.amount(price)
            if not ((ping_id is not None and _consume(ping_id, cap, start, amount, now))
                    or _take(cap, start, amount, now)):
                transaction.set_rollback(True)
                return None
            reservations.append(Reservation(cap.cap_id, start, amount))
    return reservations


def cap_hold(caps: Sequence[CapRule], *, price: Decimal, now: datetime, ping_id: int,
             contract_id: int, expires_at: datetime) -> bool:
    """Hold room for one lead at ``price`` in every cap until ``expires_at`` for ping
    ``ping_id``: True, or False and nothing held when any cap has no room. Commits before
    returning. Exact under concurrency like ``cap_reserve``."""
    if not caps:
        return True
    with transaction.atomic():
        for cap in sorted(caps, key=lambda c: c.cap_id):
            start, amount = cap.window(now), cap.amount(price)
            if not _take(cap, start, amount, now, column="held"):
                transaction.set_rollback(True)
                return False
            CapHold.objects.create(ping_id=ping_id, contract_id=contract_id, cap_id=cap.cap_id,
                                   window_start=start, amount=amount, expires_at=expires_at)
    return True


def cap_holds_release(ping_id: int) -> None:
    """Give back the room ping ``ping_id`` still holds (its post went elsewhere, failed, or
    expired). Each hold is given back once, whoever else releases or sweeps it."""
    _give_back(CapHold.objects.filter(ping_id=ping_id, state=CapHoldState.HELD))


def cap_holds_purge(*, now: datetime, keep: timedelta = timedelta(hours=1)) -> int:
    """The periodic cleanup: give back every expired hold nobody released (its counter stops
    carrying it) and delete the hold rows that ended more than ``keep`` ago. A live hold is
    never touched. Returns the number of rows deleted."""
    _give_back(CapHold.objects.filter(state=CapHoldState.HELD, expires_at__lte=now))
    deleted, _ = (CapHold.objects.filter(expires_at__lt=now - keep)
                  .exclude(state=CapHoldState.HELD).delete())
    return deleted


def _give_back(holds: QuerySet[CapHold]) -> None:
    """Release ``holds`` and take their room off their counters; each hold once, whoever
    else releases or sweeps it at the same time."""
    rows = list(holds.order_by("cap_id").values_list("pk", "cap_id", "window_start", "amount"))
    if not rows:
        return
    with transaction.atomic():
        for pk, cap_id, start, amount in rows:
            if CapHold.objects.filter(pk=pk, state=CapHoldState.HELD).update(
                    state=CapHoldState.RELEASED):
                CapCounter.objects.filter(cap_id=cap_id, window_start=start).update(
                    held=F("held") - amount)


def _consume(ping_id: int, cap: CapRule, start: datetime, amount: Decimal,
             now: datetime) -> bool:
    """Turn the ping's live hold of exactly this room into used room (no condition: the room
    was already counted); False when there is none (expired, another window, other price)."""
    if not CapHold.objects.filter(ping_id=ping_id, cap_id=cap.cap_id, window_start=start,
                                  amount=amount, state=CapHoldState.HELD,
                                  expires_at__gt=now).update(state=CapHoldState.CONSUMED):
        return False
    CapCounter.objects.filter(cap_id=cap.cap_id, window_start=start).update(
        used=F("used") + amount, held=F("held") - amount)
    return True


def _take(cap: CapRule, start: datetime, amount: Decimal, now: datetime,
          column: str = "used") -> bool:
    """Add ``amount`` to ``column`` (``used`` or ``held``) of the window's counter if used
    and held room leave space for it; one conditional UPDATE, so it is exact."""
    room = CapCounter.objects.filter(cap_id=cap.cap_id, window_start=start,
                                     used__lte=cap.limit - amount - F("held"))
    if room.update(**{column: F(column) + amount}):
        return True
    counter = CapCounter.objects.filter(cap_id=cap.cap_id, window_start=start).values_list(
        "held", flat=True).first()
    if counter is None:
        CapCounter.objects.bulk_create(
            [CapCounter(cap_id=cap.cap_id, window_start=start, used=0)], ignore_conflicts=True)
    elif not counter or not _sweep(cap.cap_id, start, now):
        return False  # the window is counted and full, and none of its room is held-expired
    return bool(room.update(**{column: F(column) + amount}))


def _sweep(cap_id: int, start: datetime, now: datetime) -> bool:
    """Give back the window's expired holds; True when any was given back."""
    freed = Decimal(0)
    for pk, amount in CapHold.objects.filter(cap_id=cap_id, window_start=start,
                                             state=CapHoldState.HELD,
                                             expires_at__lte=now).values_list("pk", "amount"):
        if CapHold.objects.filter(pk=pk, state=CapHoldState.HELD).update(
                state=CapHoldState.RELEASED):
            freed += amount
    if freed:
        CapCounter.objects.filter(cap_id=cap_id, window_start=start).update(
            held=F("held") - freed)
    return bool(freed)


def cap_release(reservations: Iterable[Reservation]) -> None:
    """Give back what a failed post reserved. Idempotent per call site (call once)."""
    reservations = list(reservations)
    if not reservations:
        return
    with transaction.atomic():
        for r in sorted(reservations, key=lambda r: r.cap_id):
            CapCounter.objects.filter(cap_id=r.cap_id, window_start=r.window_start).update(
                used=F("used") - r.amount)
