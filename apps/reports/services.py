"""The rollup job: hourly sums rebuilt from the raw rows (leads, sources' pings, buyer pings,
posts, sales, health events, returns, conversions). Test leads and test pings are left out, as
SPEC §3 says. Running it again for the same hours gives the same rows, so the periodic refresh
simply rewrites the last few hours — and, because returns and conversions are counted in the
hour their lead was received and arrive days later, and a source's ping is posted or expires
after its hour, the older hours of the leads and pings they concern (``rollup_recent``)."""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Mapping
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from django.db import transaction
from django.db.models import Count, DurationField, ExpressionWrapper, F, Q, Sum
from django.db.models.functions import TruncHour
from django.utils import timezone

from apps.auctions import engine
from apps.auctions.engine import Outcome
from apps.auctions.models import (
    HealthEvent,
    HealthEventKind,
    Ping,
    Post,
    PostOutcome,
    Sale,
    SourcePing,
    SourcePingStatus,
)
from apps.billing.models import Conversion, Return, ReturnStatus
from apps.buyers.models import Contract
from apps.leads.models import REFUSED_STATUSES, SOLD_STATUSES, Lead, LeadStatus
from apps.reports.histograms import BOUNDS_MS
from apps.reports.models import (
    DELIVER_BUCKETS,
    LATENCY_BUCKETS,
    ContractHour,
    LeadHour,
    PingHour,
    PostRejectHour,
    RejectionHour,
    ReturnHour,
    RollupMark,
)

PINGED = sorted(engine.PINGED)
BID = sorted(engine.OFFERED)  # a price was offered, whether or not it cleared the floor
ERRORS = sorted(engine.FAILED - {Outcome.TIMEOUT})
FAILED_POST = [PostOutcome.ERROR, PostOutcome.TIMEOUT]
ANSWERED_POST = [PostOutcome.ACCEPTED, PostOutcome.REJECTED, *FAILED_POST]
_GROUP_KEYS = {"hour", "contract_id", "source_id"}  # what the contract aggregates group by
_BUCKET_COUNTS = {f"b{i}" for i in range(len(BOUNDS_MS) + 1)}  # what _buckets annotates
_APPROVED = Q(status=ReturnStatus.APPROVED)
_RETURN_SUMS = {
    "returns": Count("pk", filter=_APPROVED),
    "returns_pending": Count("pk", filter=Q(status=ReturnStatus.PENDING)),
    "returns_rejected": Count("pk", filter=Q(status=ReturnStatus.REJECTED)),
    "credits": Sum("credit", filter=_APPROVED),
    "clawbacks": Sum("clawback", filter=_APPROVED),
}
_CONVERSION_SUMS = {
    "conversions": Count("pk"),
    "converted": Count("lead_id", distinct=True),
    "conversion_value": Sum("value"),
}
MARK = "rollup_recent"
# A return written in a transaction that commits after a run read the table still has a
# created_at before that run: the next run looks this far before the previous one.
MARK_OVERLAP = timedelta(minutes=5)
# A posted lead is settled (sold or not) within this long after its ping expired: its post
# came before, and the post's retries and re-pings take minutes.
PING_SETTLE = timedelta(hours=1)


def _hour_floor(moment: datetime) -> datetime:
    return moment.replace(minute=0, second=0, microsecond=0)


def _buckets(expression, *, duration: bool = False) -> dict[str, Count]:
    """One COUNT per histogram bucket of ``expression`` (a number of ms, or a duration)."""
    annotations = {}
    low = None
    for index, bound in enumerate((*BOUNDS_MS, None)):
        def limit(ms):
            return timedelta(milliseconds=ms) if duration else ms
        condition = Q()
        if low is not None:
            condition &= Q(**{f"{expression}__gt": limit(low)})
        if bound is not None:
            condition &= Q(**{f"{expression}__lte": limit(bound)})
        annotations[f"b{index}"] = Count("pk", filter=condition)
        low = bound
    return annotations


def _histogram(row: Mapping[str, Any], names: tuple[str, ...]) -> dict[str, int]:
    """The ``b<i>`` counts of an aggregate row, renamed to the rollup's bucket columns."""
    return {name: row[f"b{i}"] for i, name in enumerate(names)}


def _key(row: Mapping[str, Any]) -> tuple[datetime, int, int | None]:
    """A contract aggregate row's hour, contract and source (None: a contract's own event)."""
    return row["hour"], row["contract_id"], row.get("source_id")


def _figures(row: Mapping[str, Any]) -> dict[str, Any]:
    """An aggregate row's figures under their rollup column names: neither its group key
    nor its ``b<i>`` counts."""
    return {k: v for k, v in row.items() if k not in _GROUP_KEYS and k not in _BUCKET_COUNTS}


@transaction.atomic
def rollup_refresh(start: datetime, end: datetime) -> None:
    """Rewrite every rollup row of the UTC hours overlapping [start, end)."""
    first = _hour_floor(start)
    last = _hour_floor(end) + timedelta(hours=1)
    window = {"hour__gte": first, "hour__lt": last}
    for model in (LeadHour, PingHour, RejectionHour, ContractHour, PostRejectHour, ReturnHour):
        model.objects.filter(**window).delete()
    _leads(first, last)
    _source_pings(first, last, timezone.now())
    _contracts(first, last)
    _returns(first, last)


def _after_sale(first: datetime, last: datetime, keys: tuple[str, ...]
                ) -> dict[tuple, dict[str, Any]]:
    """Returns and conversions of the leads received in [first, last), summed per hour of
    receipt and ``keys`` (their copied source/vertical or contract/source columns)."""
    span = {"lead__received_at__gte": first, "lead__received_at__lt": last,
            "lead__is_test": False}
    sums: dict[tuple, dict[str, Any]] = defaultdict(dict)
    for model, aggregates in ((Return, _RETURN_SUMS), (Conversion, _CONVERSION_SUMS)):
        rows = (model.objects.filter(**span)
                .annotate(hour=TruncHour("lead__received_at")).values("hour", *keys)
                .annotate(**aggregates))
        for row in rows:
            sums[(row["hour"], *(row[k] for k in keys))].update(
                {k: v if v is not None else 0 for k, v in row.items()
                 if k != "hour" and k not in keys})
    return sums


def _leads(first: datetime, last: datetime) -> None:
    leads = Lead.objects.filter(received_at__gte=first, received_at__lt=last, is_test=False)
    sold = Q(status__in=SOLD_STATUSES)
    rows = (
        leads.annotate(hour=TruncHour("received_at"),
                       deliver=ExpressionWrapper(F("completed_at") - F("received_at"),
                                                 output_field=DurationField()))
        .values("hour", "source_id", "vertical_id")
        .annotate(
            received=Count("pk"),
            rejected=Count("pk", filter=Q(status__in=REFUSED_STATUSES)),
            duplicates=Count("pk", filter=Q(status=LeadStatus.DUPLICATE)),
            sold=Count("pk", filter=sold),
            unsold=Count("pk", filter=Q(status=LeadStatus.UNSOLD)),
            revenue=Sum("sale_price", filter=sold),
            payout_sum=Sum("payout", filter=sold),
            **{k: Count("pk", filter=sold & v.filter)
               for k, v in _buckets("deliver", duration=True).items()},
        )
    )
    after = _after_sale(first, last, ("source_id", "vertical_id"))
    LeadHour.objects.bulk_create([
        LeadHour(hour=row["hour"], source_id=row["source_id"], vertical_id=row["vertical_id"],
                 received=row["received"], rejected=row["rejected"],
                 duplicates=row["duplicates"], sold=row["sold"], unsold=row["unsold"],
                 revenue=row["revenue"] or 0, payout=row["payout_sum"] or 0,
                 **_histogram(row, DELIVER_BUCKETS),
                 **after.get((row["hour"], row["source_id"], row["vertical_id"]), {}))
        for row in rows])
    # Rejections by reason: every invalid key of a rejected lead counts once; a suppressed
    # lead's one key is ``suppressed`` (apps.leads.services).
    reasons: Counter = Counter()
    rejected = (leads.filter(status__in=REFUSED_STATUSES).annotate(hour=TruncHour("received_at"))
                .values_list("hour", "source_id", "vertical_id", "errors"))
    for hour, source_id, vertical_id, errors in rejected.iterator(chunk_size=2000):
        for key in (errors or {"unknown": []}):
            reasons[(hour, source_id, vertical_id, key[:128])] += 1
    RejectionHour.objects.bulk_create([
        RejectionHour(hour=h, source_id=s, vertical_id=v, reason=r, count=n)
        for (h, s, v, r), n in reasons.items()])


def _source_pings(first: datetime, last: datetime, now: datetime) -> None:
    """The sources' pings received in [first, last) per hour, source and vertical: one
    grouped query. "Expired" is as of ``now``: a bid not posted whose ``expires_at`` passed
    (``ping_hours`` finds the hours to rewrite when that changes)."""
    bid = Q(status=SourcePingStatus.BID)
    rows = (SourcePing.objects.filter(created_at__gte=first, created_at__lt=last, is_test=False)
            .annotate(hour=TruncHour("created_at"))
            .values("hour", "source_id", "vertical_id")
            .annotate(pings=Count("pk"), bids=Count("pk", filter=bid),
                      bid_sum=Sum("bid", filter=bid),
                      posted=Count("pk", filter=bid & Q(posted_at__isnull=False)),
                      expired=Count("pk", filter=bid & Q(posted_at__isnull=True,
                                                         expires_at__lte=now)),
                      sold=Count("pk", filter=bid & Q(posted_at__isnull=False,
                                                      lead__status__in=SOLD_STATUSES))))
    PingHour.objects.bulk_create([
        PingHour(**{k: (v if v is not None else Decimal(0)) for k, v in row.items()})
        for row in rows])


def _contracts(first: datetime, last: datetime) -> None:
    span = {"created_at__gte": first, "created_at__lt": last}
    merged: dict[tuple[datetime, int, int | None], dict[str, Any]] = defaultdict(dict)

    pings = (Ping.objects.filter(**span, auction__lead__is_test=False)
             .annotate(hour=TruncHour("created_at"), source_id=F("auction__lead__source_id"))
             .values("hour", "contract_id", "source_id")
             .annotate(considered=Count("pk"),
                       pings=Count("pk", filter=Q(outcome__in=PINGED)),
                       bids=Count("pk", filter=Q(outcome__in=BID)),
                       bids_below_floor=Count("pk", filter=Q(outcome=Outcome.BELOW_FLOOR)),
                       bid_sum=Sum("bid", filter=Q(outcome__in=BID)),
                       timeouts=Count("pk", filter=Q(outcome=Outcome.TIMEOUT)),
                       errors=Count("pk", filter=Q(outcome__in=ERRORS)),
                       **{k: Count("pk", filter=Q(latency_ms__isnull=False) & v.filter)
                          for k, v in _buckets("latency_ms").items()}))
    for ping_sums in pings:
        merged[_key(ping_sums)].update(_histogram(ping_sums, LATENCY_BUCKETS))
        merged[_key(ping_sums)].update(_figures(ping_sums))

    posts = (Post.objects.filter(**span, auction__lead__is_test=False)
             .annotate(hour=TruncHour("created_at"), source_id=F("auction__lead__source_id"))
             .values("hour", "contract_id", "source_id")
             .annotate(posts=Count("pk", filter=Q(outcome__in=ANSWERED_POST)),
                       post_accepted=Count("pk", filter=Q(outcome=PostOutcome.ACCEPTED)),
                       post_rejected=Count("pk", filter=Q(outcome=PostOutcome.REJECTED)),
                       post_failed=Count("pk", filter=Q(outcome__in=FAILED_POST))))
    for post_sums in posts:
        merged[_key(post_sums)].update(_figures(post_sums))

    sales = (Sale.objects.filter(**span, is_test=False)
             .annotate(hour=TruncHour("created_at"), source_id=F("lead__source_id"))
             .values("hour", "contract_id", "source_id")
             .annotate(wins=Count("pk"), revenue=Sum("price")))
    for sale_sums in sales:
        merged[_key(sale_sums)].update(_figures(sale_sums))

    for (hour, cid, sid), after_sums in _after_sale(first, last,
                                                    ("contract_id", "source_id")).items():
        merged[(hour, cid, sid)].update(after_sums)

    pauses = (HealthEvent.objects.filter(**span, kind=HealthEventKind.PAUSED)
              .annotate(hour=TruncHour("created_at")).values("hour", "contract_id")
              .annotate(auto_pauses=Count("pk")))
    for pause_sums in pauses:
        merged[_key(pause_sums)].update(_figures(pause_sums))

    owners = {pk: (buyer, vertical) for pk, buyer, vertical in Contract.objects.filter(
        pk__in={cid for _, cid, _ in merged}).values_list("pk", "buyer_id", "vertical_id")}
    ContractHour.objects.bulk_create([
        ContractHour(hour=hour, contract_id=cid, source_id=sid, buyer_id=owners[cid][0],
                     vertical_id=owners[cid][1],
                     **{k: (v if v is not None else Decimal(0)) for k, v in values.items()})
        for (hour, cid, sid), values in merged.items()])

    reasons = (Post.objects.filter(**span, outcome=PostOutcome.REJECTED,
                                   auction__lead__is_test=False)
               .annotate(hour=TruncHour("created_at"), source_id=F("auction__lead__source_id"))
               .values("hour", "contract_id", "source_id", "reason")
               .annotate(count=Count("pk")))
    PostRejectHour.objects.bulk_create([
        PostRejectHour(hour=r["hour"], contract_id=r["contract_id"], source_id=r["source_id"],
                       reason=(r["reason"] or "no reason given")[:255], count=r["count"])
        for r in reasons])


def _returns(first: datetime, last: datetime) -> None:
    """Returns by reason per contract and source, in the hour their lead was received."""
    rows = (Return.objects.filter(lead__received_at__gte=first, lead__received_at__lt=last,
                                  lead__is_test=False)
            .annotate(hour=TruncHour("lead__received_at"))
            .values("hour", "contract_id", "source_id", "buyer_id", "vertical_id", "reason")
            .annotate(approved=_RETURN_SUMS["returns"],
                      pending=_RETURN_SUMS["returns_pending"],
                      rejected=_RETURN_SUMS["returns_rejected"],
                      credits=_RETURN_SUMS["credits"], clawbacks=_RETURN_SUMS["clawbacks"]))
    ReturnHour.objects.bulk_create([
        ReturnHour(**{k: (v if v is not None else Decimal(0)) for k, v in row.items()})
        for row in rows])


def after_sale_hours(since: datetime) -> list[datetime]:
    """The UTC hours (of receipt) of the leads whose returns were filed or decided, or whose
    conversions were recorded, at or after ``since``: one query."""
    changed = (Q(returns__created_at__gte=since) | Q(returns__decided_at__gte=since)
               | Q(conversions__created_at__gte=since))
    return sorted(Lead.objects.filter(changed, is_test=False)
                  .annotate(hour=TruncHour("received_at"))
                  .values_list("hour", flat=True).distinct())


def ping_hours(since: datetime, now: datetime) -> list[datetime]:
    """The UTC hours (of receipt) of the sources' pings posted, expired, or whose lead was
    settled (sold or not) in [since, now]: what changed their hour's posted, expired and
    sold counts after the hour was rolled up. One query, over the ``expires_at`` index: a
    ping is posted before it expires, and its lead settles within ``PING_SETTLE`` after."""
    changed = (Q(posted_at__gte=since)
               | Q(status=SourcePingStatus.BID, posted_at__isnull=True,
                   expires_at__gte=since, expires_at__lte=now)
               | Q(lead__completed_at__gte=since))
    return sorted(SourcePing.objects.filter(changed, expires_at__gte=since - PING_SETTLE,
                                            is_test=False)
                  .annotate(hour=TruncHour("created_at"))
                  .values_list("hour", flat=True).distinct())


def _spans(hours: list[datetime]) -> list[tuple[datetime, datetime]]:
    """Sorted hours as [start, end) spans of consecutive hours."""
    spans: list[tuple[datetime, datetime]] = []
    for hour in hours:
        if spans and spans[-1][1] == hour:
            spans[-1] = (spans[-1][0], hour + timedelta(hours=1))
        else:
            spans.append((hour, hour + timedelta(hours=1)))
    return spans


def rollup_recent(hours: int = 2) -> None:
    """The periodic refresh: the current hour and the ones before it, then the older hours
    of the leads whose returns or conversions changed since the previous run (a return
    approved today changes the figures of the day its lead was received), and of the
    sources' pings posted, sold or expired since then (a long ``ping_ttl_seconds`` outlives
    the look-back)."""
    now = timezone.now()
    first = _hour_floor(now - timedelta(hours=hours))
    mark = RollupMark.objects.filter(name=MARK).values_list("ran_at", flat=True).first()
    since = (mark - MARK_OVERLAP) if mark else first
    rollup_refresh(first, now)
    late = set(after_sale_hours(since)) | set(ping_hours(since, now))
    for start, end in _spans(sorted(h for h in late if h < first)):
        rollup_refresh(start, end - timedelta(microseconds=1))
    RollupMark.objects.update_or_create(name=MARK, defaults={"ran_at": now})
