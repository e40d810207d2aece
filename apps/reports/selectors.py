"""KPIs over a date range, grouped by source, buyer, contract, vertical, day or hour.

Everything is read from the hourly rollups (``apps.reports.models``), then summed per group in
the manager's time zone — a day is the 23, 24 or 25 UTC hours between two local midnights —
so a day's overview costs a few small indexed queries whatever the number of leads.

Lead figures (received … margin) are attributed to the hour a lead was received; buyer
figures (pings … revenue by buyer) to the hour the ping, post or sale happened, and carry the
lead's source so a source filter narrows them too. The sources' own pings (source-side
ping-post: pings received, bid rate, average bid offered, ping→post rate, expired pings) are
attributed to the hour the ping was received, per source and vertical, like lead figures.
Lead and ping figures are not split by buyer: with a buyer filter, or grouped by buyer or
contract, only buyer figures are shown. Test leads and test pings are never counted.
``apps.reports.definitions`` says what every figure means; the dashboards and the API show it
next to the numbers.

After the sale (returns, conversions) is attributed to the hour the lead was RECEIVED — its
cohort, the row of its sale — in both the lead and the buyer rollups, so a return rate is
returned ÷ sold of the same leads and "net revenue of the leads received last week" is exact;
a return approved today changes last week's figures (the rollup refresh rewrites those hours).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from django.db.models import Model, QuerySet, Sum

from apps.buyers.models import Buyer, Contract
from apps.reports.histograms import percentile
from apps.reports.models import (
    DELIVER_BUCKETS,
    LATENCY_BUCKETS,
    ContractHour,
    LeadHour,
    PingHour,
    PostRejectHour,
    RejectionHour,
    ReturnHour,
)
from apps.sources.models import Source, Vertical

GROUPS = ("", "source", "buyer", "contract", "vertical", "day", "hour")
# Submissions rejected before their vertical was known (an unknown or missing slug) have no
# vertical: grouped by vertical they are one row with an empty key and this label.
UNKNOWN_VERTICAL = "unknown vertical"
LEAD_GROUPS = ("", "source", "vertical", "day", "hour")  # lead and source-ping figures
BUYER_GROUPS = ("", "buyer", "contract", "vertical", "day", "hour")  # buyer figures too



@dataclass(frozen=True)
class ReportFilter:
    """What to report on: [start, end) in ``tz``, optionally narrowed to some ids."""

    start: date
    end: date  # exclusive
    tz: str = "UTC"
    source_ids: tuple[int, ...] = ()
    buyer_ids: tuple[int, ...] = ()
    vertical_ids: tuple[int, ...] = ()

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.tz)

    def utc_bounds(self) -> tuple[datetime, datetime]:
        zone = self.zone
        return (datetime.combine(self.start, time(0), zone),
                datetime.combine(self.end, time(0), zone))


@dataclass
class KpiRow:
    """The figures of one group (``key``/``label``); None where a figure does not apply to
    that grouping (a source has no win rate, a buyer no payout). Rates (``*_rate``,
    ``sell_through``) are fractions 0–1 rounded to 4 places; ``*_pct`` figures are
    percentages 0–100 rounded to 2 places (the same precision). ``revenue`` is the one
    revenue figure of every grouping (see ``DEFINITIONS``)."""

    key: str
    label: str
    received: int | None = None
    accepted: int | None = None
    rejected: int | None = None
    rejection_rate: float | None = None
    duplicates: int | None = None
    sold: int | None = None
    unsold: int | None = None
    sell_through: float | None = None
    revenue: Decimal | None = None
    payouts: Decimal | None = None
    margin: Decimal | None = None
    revenue_per_lead: Decimal | None = None
    deliver_p50_ms: float | None = None
    deliver_p95_ms: float | None = None
    returns: int | None = None
    returns_pending: int | None = None
    returns_rejected: int | None = None
    return_rate: float | None = None
    credits: Decimal | None = None
    net_revenue: Decimal | None = None
    clawbacks: Decimal | None = None
    net_payout: Decimal | None = None
    net_margin: Decimal | None = None
    conversions: int | None = None
    converted_leads: int | None = None
    conversion_rate: float | None = None
    conversion_value: Decimal | None = None
    pings_received: int | None = None
    pings_bid: int | None = None
    ping_bid_rate: float | None = None
    avg_bid_offered: Decimal | None = None
    pings_posted: int | None = None
    ping_post_rate: float | None = None
    pings_expired: int | None = None
    pings_sold: int | None = None
    pings: int | None = None
    bids: int | None = None
    bids_below_floor: int | None = None
    bid_rate: float | None = None
    avg_bid: Decimal | None = None
    wins: int | None = None
    win_rate_pings: float | None = None
    win_rate_bids: float | None = None
    posts: int | None = None
    post_rejects: int | None = None
    post_reject_rate: float | None = None
    timeouts_pct: float | None = None
    latency_p50_ms: float | None = None
    latency_p95_ms: float | None = None
    auto_pauses: int | None = None
    _lead: dict = field(default_factory=dict, repr=False)
    _buyer: dict = field(default_factory=dict, repr=False)
    _ping: dict = field(default_factory=dict, repr=False)


def _money(value) -> Decimal:
    """A sum of money as the rollups give it (SQLite drops trailing zeros) with 2 places."""
    return Decimal(value or 0).quantize(Decimal("0.01"))


def _ratio(numerator, denominator) -> float | None:
    return round(float(numerator) / float(denominator), 4) if denominator else None


def _pct(numerator, denominator) -> float | None:
    """The same quotient as ``_ratio`` in percent: 0.1234 is 12.34."""
    return round(float(numerator) * 100 / float(denominator), 2) if denominator else None


Rollup = (LeadHour | PingHour | RejectionHour | ContractHour | PostRejectHour
          | ReturnHour)  # hourly


def _hours(model: type[Rollup], f: ReportFilter, *, buyer: str | None = None,
           vertical: str = "vertical_id") -> QuerySet:
    """``model``'s hourly rollup rows inside the filter's range, narrowed by its source,
    buyer and vertical lists (``buyer`` names the table's buyer column; None: it has none,
    so the buyer filter does not apply)."""
    start, end = f.utc_bounds()
    rows = model.objects.filter(hour__gte=start, hour__lt=end)
    if f.source_ids:
        rows = rows.filter(source_id__in=f.source_ids)
    if buyer and f.buyer_ids:
        rows = rows.filter(**{f"{buyer}__in": f.buyer_ids})
    if f.vertical_ids:
        rows = rows.filter(**{f"{vertical}__in": f.vertical_ids})
    return rows


def _lead_rows(f: ReportFilter) -> QuerySet:
    return _hours(LeadHour, f)


def _contract_rows(f: ReportFilter) -> QuerySet:
    return _hours(ContractHour, f, buyer="buyer_id")


_KEY_COLUMN = {"": None, "day": "hour", "hour": "hour", "source": "source_id",
               "buyer": "buyer_id", "contract": "contract_id", "vertical": "vertical_id"}
_AFTER_SALE_SUMS = ("returns", "returns_pending", "returns_rejected", "credits", "clawbacks",
                    "conversions", "converted", "conversion_value")
_LEAD_SUMS = ("received", "rejected", "duplicates", "sold", "unsold", "revenue", "payout",
              *DELIVER_BUCKETS, *_AFTER_SALE_SUMS)
_PING_SUMS = ("pings", "bids", "bid_sum", "posted", "expired", "sold")
_BUYER_SUMS = ("pings", "bids", "bids_below_floor", "bid_sum", "timeouts", "errors", "posts",
               "post_accepted", "post_rejected", "post_failed", "wins", "revenue",
               "auto_pauses", *LATENCY_BUCKETS, *_AFTER_SALE_SUMS)


def _sums(queryset: QuerySet, group_by: str, names: tuple[str, ...], zone: ZoneInfo
          ) -> dict[str, dict]:
    """Sum ``names`` over ``queryset`` in the database, per group key: one aggregate query
    whatever the number of hours. Day and hour groups are summed per UTC hour in SQL and
    then folded into the manager's local days (a DST day folds 23 or 25 hours)."""
    column = _KEY_COLUMN[group_by]
    aggregates = {f"s_{name}": Sum(name) for name in names}  # not the fields' own names
    rows = (queryset.values(column).annotate(**aggregates) if column
            else [queryset.aggregate(**aggregates)])
    groups: dict[str, dict] = {}
    for row in rows:
        if row.get("s_" + names[0]) is None:
            continue  # an empty aggregate
        value = None if column is None else row[column]  # an hour or an id
        if column is None:
            key = "all"
        elif value is None:
            key = ""  # no vertical: rejected before it was known
        elif group_by == "day":
            key = value.astimezone(zone).strftime("%Y-%m-%d")
        elif group_by == "hour":
            key = value.astimezone(zone).strftime("%Y-%m-%d %H:00")
        else:
            key = str(value)
        sums = groups.setdefault(key, dict.fromkeys(names, 0))
        for name in names:
            sums[name] += row[f"s_{name}"] or 0
    return groups


def kpis(f: ReportFilter, group_by: str = "") -> list[KpiRow]:
    """One row per group, ordered by label (``day``/``hour`` chronologically); with no
    grouping a single ``all`` row. ``group_by`` must be one of ``GROUPS``."""
    if group_by not in GROUPS:
        raise ValueError(f"group_by must be one of {', '.join(g or '(none)' for g in GROUPS)}")
    rows: dict[str, KpiRow] = {}
    lead_figures = group_by in LEAD_GROUPS and not f.buyer_ids
    if lead_figures:
        for key, sums in _sums(_lead_rows(f), group_by, _LEAD_SUMS, f.zone).items():
            rows.setdefault(key, KpiRow(key=key, label=key))._lead = sums
        for key, sums in _sums(_hours(PingHour, f), group_by, _PING_SUMS, f.zone).items():
            rows.setdefault(key, KpiRow(key=key, label=key))._ping = sums
    if group_by in BUYER_GROUPS:
        for key, sums in _sums(_contract_rows(f), group_by, _BUYER_SUMS, f.zone).items():
            rows.setdefault(key, KpiRow(key=key, label=key))._buyer = sums
    for row in rows.values():
        _finish(row, revenue_from_sales=not lead_figures)
    _label(rows.values(), group_by)
    if group_by in ("day", "hour"):
        return sorted(rows.values(), key=lambda r: r.key)
    return sorted(rows.values(), key=lambda r: (r.key == "", r.label.lower()))  # unknown last


def _finish(row: KpiRow, *, revenue_from_sales: bool) -> None:
    """Derive the figures from the sums. ``revenue`` comes from the lead rollups (by
    receipt) unless lead figures do not apply to the grouping (by buyer or contract, or a
    buyer filter): then from the buyers' sales (by sale), never both in one report, so a
    column of revenue always adds up."""
    lead, buyer, ping = row._lead, row._buyer, row._ping
    if lead:
        row.received, row.rejected = lead["received"], lead["rejected"]
        row.duplicates, row.sold, row.unsold = lead["duplicates"], lead["sold"], lead["unsold"]
        row.accepted = row.received - row.rejected - row.duplicates
        row.rejection_rate = _ratio(row.rejected, row.received)
        row.sell_through = _ratio(row.sold, row.accepted)
        row.revenue, row.payouts = Decimal(lead["revenue"]), Decimal(lead["payout"])
        row.margin = row.revenue - row.payouts
        row.revenue_per_lead = (row.revenue / row.accepted).quantize(Decimal("0.01")) \
            if row.accepted else None
        deliver = [lead[name] for name in DELIVER_BUCKETS]
        row.deliver_p50_ms = percentile(deliver, 0.5)
        row.deliver_p95_ms = percentile(deliver, 0.95)
        net_revenue = _after_sale(row, lead, row.sold)
        row.net_payout = row.payouts - Decimal(lead["clawbacks"])
        row.net_margin = net_revenue - row.net_payout
    if ping:
        row.pings_received, row.pings_bid = ping["pings"], ping["bids"]
        row.ping_bid_rate = _ratio(row.pings_bid, row.pings_received)
        row.avg_bid_offered = (Decimal(ping["bid_sum"]) / row.pings_bid).quantize(
            Decimal("0.01")) if row.pings_bid else None
        row.pings_posted, row.pings_expired = ping["posted"], ping["expired"]
        row.ping_post_rate = _ratio(row.pings_posted, row.pings_bid)
        row.pings_sold = ping["sold"]
    if buyer:
        row.pings, row.bids, row.wins = buyer["pings"], buyer["bids"], buyer["wins"]
        row.bids_below_floor = buyer["bids_below_floor"]
        row.bid_rate = _ratio(row.bids, row.pings)
        row.avg_bid = (Decimal(buyer["bid_sum"]) / row.bids).quantize(Decimal("0.01")) \
            if row.bids else None
        row.win_rate_pings = _ratio(row.wins, row.pings)
        row.win_rate_bids = _ratio(row.wins, row.bids)
        row.posts, row.post_rejects = buyer["posts"], buyer["post_rejected"]
        row.post_reject_rate = _ratio(row.post_rejects,
                                      buyer["post_accepted"] + buyer["post_rejected"])
        row.timeouts_pct = _pct(buyer["timeouts"], row.pings)
        latency = [buyer[name] for name in LATENCY_BUCKETS]
        row.latency_p50_ms = percentile(latency, 0.5)
        row.latency_p95_ms = percentile(latency, 0.95)
        row.auto_pauses = buyer["auto_pauses"]
        if revenue_from_sales:
            row.revenue = Decimal(buyer["revenue"])
            _after_sale(row, buyer, row.wins)


def _after_sale(row: KpiRow, sums: dict, sold: int) -> Decimal:
    """Returns and conversions from the same rollup as the row's revenue; ``sold`` is what
    the rates divide by (sold leads, or a buyer's wins). Gives the net revenue."""
    row.returns, row.returns_pending = sums["returns"], sums["returns_pending"]
    row.returns_rejected = sums["returns_rejected"]
    row.return_rate = _ratio(row.returns, sold)
    row.credits, row.clawbacks = _money(sums["credits"]), _money(sums["clawbacks"])
    row.net_revenue = (row.revenue or Decimal(0)) - row.credits
    row.conversions, row.converted_leads = sums["conversions"], sums["converted"]
    row.conversion_rate = _ratio(row.converted_leads, sold)
    row.conversion_value = _money(sums["conversion_value"])
    return row.net_revenue


def _label(rows: Iterable[KpiRow], group_by: str) -> None:
    models: dict[str, type[Source] | type[Buyer] | type[Contract] | type[Vertical]] = {
        "source": Source, "buyer": Buyer, "contract": Contract, "vertical": Vertical}
    model = models.get(group_by)
    if model is None:
        return
    rows = list(rows)
    ids = [int(r.key) for r in rows if r.key.isdigit()]
    found: QuerySet[Model] = (  # a contract's name includes its buyer's
        Contract.objects.select_related("buyer").filter(pk__in=ids) if model is Contract
        else model.objects.filter(pk__in=ids))
    names = {str(obj.pk): str(obj) for obj in found}
    if model is Vertical:
        names[""] = UNKNOWN_VERTICAL
    for row in rows:
        row.label = names.get(row.key, row.key)


def kpi_totals(f: ReportFilter) -> KpiRow:
    """The whole range as one row."""
    rows = kpis(f)
    return rows[0] if rows else KpiRow(key="all", label="all")


def rejection_reasons(f: ReportFilter, limit: int = 20) -> list[tuple[str, int]]:
    """The most frequent invalid keys of rejected submissions."""
    rows = _hours(RejectionHour, f)
    counts: dict[str, int] = defaultdict(int)
    for reason, count in rows.values_list("reason", "count"):
        counts[reason] += count
    return sorted(counts.items(), key=lambda kv: -kv[1])[:limit]


def post_reject_reasons(f: ReportFilter, limit: int = 20) -> list[tuple[str, str, int]]:
    """Post rejections by buyer and reason, most frequent first: the post-reject analysis."""
    rows = _hours(PostRejectHour, f, buyer="contract__buyer_id",
                  vertical="contract__vertical_id")
    counts: dict[tuple[str, str], int] = defaultdict(int)
    for company, reason, count in rows.values_list("contract__buyer__company", "reason",
                                                   "count"):
        counts[(company, reason)] += count
    ranked = sorted(counts.items(), key=lambda kv: -kv[1])[:limit]
    return [(company, reason, count) for (company, reason), count in ranked]


@dataclass(frozen=True)
class ReturnReasonRow:
    """Returns of one buyer or source for one reason."""

    key: str  # the buyer's or source's id
    label: str
    reason: str
    approved: int
    pending: int
    rejected: int
    credits: Decimal
    clawbacks: Decimal


def return_reasons(f: ReportFilter, by: str) -> list[ReturnReasonRow]:
    """Returns per reason and ``by`` ("buyer" or "source"), most approved first, in the
    hours their leads were received: one aggregate query."""
    if by not in ("buyer", "source"):
        raise ValueError("by must be buyer or source")
    name = "buyer__company" if by == "buyer" else "source__name"
    rows = (_hours(ReturnHour, f, buyer="buyer_id")
            .values(f"{by}_id", name, "reason")
            .annotate(s_approved=Sum("approved"), s_pending=Sum("pending"),
                      s_rejected=Sum("rejected"), s_credits=Sum("credits"),
                      s_clawbacks=Sum("clawbacks")))
    found = [ReturnReasonRow(key=str(r[f"{by}_id"]), label=r[name], reason=r["reason"],
                             approved=r["s_approved"], pending=r["s_pending"],
                             rejected=r["s_rejected"], credits=_money(r["s_credits"]),
                             clawbacks=_money(r["s_clawbacks"]))
             for r in rows]
    return sorted(found, key=lambda r: (-r.approved, -r.pending, r.label.lower(), r.reason))


def day_range(days: int, tz: str, today: date | None = None) -> tuple[date, date]:
    """The last ``days`` local days up to and including today: (start, end exclusive)."""
    today = today or datetime.now(ZoneInfo(tz)).date()
    return today - timedelta(days=days - 1), today + timedelta(days=1)
