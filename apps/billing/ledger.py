"""The ledger: what each buyer owes and what is owed to each source, derived — never stored —
from the ``Sale`` rows and the approved ``Return`` rows, so it cannot disagree with them.

Entries (test sales and their returns left out):
- a buyer's ``charge``: a sale's price, at the sale's time; its ``credit``: an approved
  return's credit, when it was approved (``decided_at``);
- a source's ``payout``: the lead's payout (for all its sales), at the lead's first sale; its
  ``clawback``: an approved return's clawback, when it was approved.

A buyer's balance is what it owes (charges − credits), a source's what it is owed (payouts −
clawbacks). ``ledger_build`` gives, for a date range cut in days or months (UTC), each
period's opening balance, the two movements and the closing balance. Every figure is one
aggregate query per movement (grouped by period), never a loop over sales.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal

from django.db.models import DateField, Exists, OuterRef, Q, QuerySet, Sum
from django.db.models.functions import TruncDay, TruncMonth

from apps.auctions.models import Sale
from apps.billing.models import Return, ReturnStatus

BUYER, SOURCE = "buyer", "source"
DAY, MONTH = "day", "month"
ZERO = Decimal("0.00")
CENT = Decimal("0.01")
# the names of the two movements, by party: (what raises the balance, what lowers it)
MOVEMENTS = {BUYER: ("charges", "credits"), SOURCE: ("payouts", "clawbacks")}


@dataclass(frozen=True)
class LedgerPeriod:
    start: date
    opening: Decimal
    raised: Decimal  # charges (buyer) or payouts (source)
    lowered: Decimal  # credits (buyer) or clawbacks (source)
    closing: Decimal


@dataclass(frozen=True)
class Ledger:
    party: str
    party_id: int
    start: date
    end: date  # inclusive
    period: str
    opening: Decimal
    periods: list[LedgerPeriod]

    @property
    def closing(self) -> Decimal:
        return self.periods[-1].closing if self.periods else self.opening

    @property
    def raised(self) -> Decimal:
        return sum((p.raised for p in self.periods), ZERO)

    @property
    def lowered(self) -> Decimal:
        return sum((p.lowered for p in self.periods), ZERO)


def period_starts(start: date, end: date, period: str) -> list[date]:
    """The first day of each period that meets ``[start, end]`` (the first one is
    ``start`` itself when it falls mid-month)."""
    starts: list[date] = []
    current = start
    while current <= end:
        starts.append(current)
        if period == DAY:
            current += timedelta(days=1)
        else:
            current = date(current.year + current.month // 12, current.month % 12 + 1, 1)
    return starts


def _moment(day: date) -> datetime:
    return datetime.combine(day, time.min, tzinfo=UTC)


# the column that names the party, by party and movement (raised, lowered)
_PARTY_KEYS = {BUYER: ("buyer_id", "buyer_id"), SOURCE: ("lead__source_id", "source_id")}


def _raised_rows(party: str, party_id: int | None) -> tuple[QuerySet, str, str]:
    """(rows, their time field, their amount) of the movement that raises the balance of
    ``party_id`` (of every party of its kind when None)."""
    key = {_PARTY_KEYS[party][0]: party_id} if party_id is not None else {}
    if party == BUYER:
        return Sale.objects.filter(is_test=False, **key), "created_at", "price"
    earlier = Sale.objects.filter(lead=OuterRef("lead"), is_test=False).filter(
        Q(created_at__lt=OuterRef("created_at"))
        | Q(created_at=OuterRef("created_at"), pk__lt=OuterRef("pk")))
    first_sales = Sale.objects.filter(is_test=False, **key).filter(~Exists(earlier))
    return first_sales, "created_at", "lead__payout"


def _lowered_rows(party: str, party_id: int | None) -> tuple[QuerySet, str, str]:
    approved = Return.objects.filter(status=ReturnStatus.APPROVED, sale__is_test=False)
    if party_id is not None:
        approved = approved.filter(**{_PARTY_KEYS[party][1]: party_id})
    return approved, "decided_at", "credit" if party == BUYER else "clawback"


def _sum_before(rows: QuerySet, when: str, amount: str, moment: datetime) -> Decimal:
    total = rows.filter(**{f"{when}__lt": moment}).aggregate(total=Sum(amount))["total"]
    return _cents(total)


def _cents(total: Decimal | None) -> Decimal:
    # SQLite's sums come back as "36" where PostgreSQL gives "36.00"
    return ZERO if total is None else Decimal(total).quantize(CENT)


def _sums_by_period(rows: QuerySet, when: str, amount: str, start: datetime, end: datetime,
                    period: str) -> dict[date, Decimal]:
    trunc = TruncDay if period == DAY else TruncMonth
    grouped = (rows.filter(**{f"{when}__gte": start, f"{when}__lt": end})
               .annotate(bucket=trunc(when, output_field=DateField(), tzinfo=UTC))
               .values("bucket").annotate(total=Sum(amount)).order_by("bucket"))
    return {row["bucket"]: _cents(row["total"]) for row in grouped}


def ledger_build(party: str, party_id: int, *, start: date, end: date,
                 period: str = DAY) -> Ledger:
    """The ledger of buyer or source ``party_id`` from ``start`` to ``end`` (inclusive, UTC
    days), cut into ``period``s (``day`` or ``month``). Raises ``ValueError`` for an
    unknown party or period or ``end`` before ``start``."""
    if party not in MOVEMENTS or period not in (DAY, MONTH) or end < start:
        raise ValueError("bad ledger request")
    low, high = _moment(start), _moment(end + timedelta(days=1))
    sources = (_raised_rows(party, party_id), _lowered_rows(party, party_id))
    opening = (_sum_before(*sources[0], low) - _sum_before(*sources[1], low))
    raised, lowered = (_sums_by_period(*rows, low, high, period) for rows in sources)
    periods: list[LedgerPeriod] = []
    balance = opening
    for first in period_starts(start, end, period):
        bucket = first if period == DAY else first.replace(day=1)
        up, down = raised.get(bucket, ZERO), lowered.get(bucket, ZERO)
        closing = balance + up - down
        periods.append(LedgerPeriod(first, balance, up, down, closing))
        balance = closing
    return Ledger(party, party_id, start, end, period, opening, periods)


@dataclass(frozen=True)
class PartyBalance:
    """One party's line of ``ledger_summary``: its balance over the whole range."""

    party_id: int
    opening: Decimal
    raised: Decimal
    lowered: Decimal
    closing: Decimal


def ledger_summary(party: str, *, start: date, end: date) -> dict[int, PartyBalance]:
    """Every buyer's (or source's) balance from ``start`` to ``end`` (inclusive, UTC days),
    by party id — the parties with any movement ever. The same figures as ``ledger_build``
    of each, in four grouped queries for them all."""
    if party not in MOVEMENTS or end < start:
        raise ValueError("bad ledger request")
    low, high = _moment(start), _moment(end + timedelta(days=1))
    keys = _PARTY_KEYS[party]
    (raised, r_when, r_amount), (lowered, l_when, l_amount) = (
        _raised_rows(party, None), _lowered_rows(party, None))

    def by_party(rows: QuerySet, key: str, amount: str, **span: datetime) -> dict[int, Decimal]:
        grouped = rows.filter(**span).values(key).annotate(total=Sum(amount)).order_by()
        return {row[key]: _cents(row["total"]) for row in grouped}

    before_up = by_party(raised, keys[0], r_amount, **{f"{r_when}__lt": low})
    before_down = by_party(lowered, keys[1], l_amount, **{f"{l_when}__lt": low})
    up = by_party(raised, keys[0], r_amount, **{f"{r_when}__gte": low, f"{r_when}__lt": high})
    down = by_party(lowered, keys[1], l_amount,
                    **{f"{l_when}__gte": low, f"{l_when}__lt": high})
    balances = {}
    for pk in sorted({*before_up, *before_down, *up, *down}):
        opening = before_up.get(pk, ZERO) - before_down.get(pk, ZERO)
        plus, minus = up.get(pk, ZERO), down.get(pk, ZERO)
        balances[pk] = PartyBalance(pk, opening, plus, minus, opening + plus - minus)
    return balances


def ledger_csv(ledger: Ledger) -> str:
    """The ledger as CSV: a header, then one line per period with the figures of
    ``ledger_build`` (money with two decimals)."""
    up, down = MOVEMENTS[ledger.party]
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(["party", "id", "period", "start", "opening", up, down, "closing"])
    for row in ledger.periods:
        writer.writerow([ledger.party, ledger.party_id, ledger.period, row.start.isoformat(),
                         f"{row.opening:.2f}", f"{row.raised:.2f}", f"{row.lowered:.2f}",
                         f"{row.closing:.2f}"])
    return out.getvalue()
