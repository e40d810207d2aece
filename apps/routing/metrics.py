"""A window's metrics for every contract or every source at once, from the raw rows.

One grouped query per metric family (pings, posts, sales and their returns) per scope and
window, whatever the number of contracts, sources or rules: the evaluator asks for a family
once and every rule over the same scope and window reads the same result. Runs in the
periodic evaluator, never in an auction.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from django.db.models import Avg, Count, Q

from apps.auctions.engine.types import FAILED, OFFERED, PINGED, Outcome
from apps.auctions.models import Ping, Post, PostOutcome, Sale
from apps.billing.models import ReturnStatus
from apps.routing.models import Metric, Scope

_PLACES = Decimal("0.0001")


@dataclass(frozen=True, slots=True)
class Sample:
    """A metric's value over a window, and how many rows it stands on."""

    value: Decimal
    samples: int


FAMILY: dict[str, str] = {
    Metric.LATENCY: "pings", Metric.TIMEOUT_RATE: "pings", Metric.ERROR_RATE: "pings",
    Metric.BID_RATE: "pings", Metric.POST_REJECT_RATE: "posts",
    Metric.ACCEPTANCE_RATE: "posts", Metric.RETURN_RATE: "sales",
}
# how a ping, a post or a sale names its contract or its lead's source
_KEY: dict[tuple[str, str], str] = {
    ("pings", Scope.CONTRACT): "contract_id", ("pings", Scope.SOURCE): "auction__lead__source_id",
    ("posts", Scope.CONTRACT): "contract_id", ("posts", Scope.SOURCE): "auction__lead__source_id",
    ("sales", Scope.CONTRACT): "contract_id", ("sales", Scope.SOURCE): "lead__source_id",
}


def _rate(part: int, whole: int) -> Decimal:
    return (Decimal(part) / Decimal(whole)).quantize(_PLACES) if whole else Decimal(0)


def metrics_window(*, family: str, scope: str, since: datetime
                   ) -> dict[int, dict[str, Sample]]:
    """Every metric of ``family`` ("pings", "posts" or "sales") since ``since``, by
    contract id or source id (``scope``). A target with no row in the window is absent.

    - pings: the contracts that were asked (``PINGED``); latency is the average of those
      with a latency, the rates are over all of them;
    - posts: the answered ones (accepted or rejected; a timeout or an error is the ping
      metrics' business, and is retried);
    - sales: live sales made in the window; a return counts unless it was rejected.
    """
    key = _KEY[(family, scope)]
    result: dict[int, dict[str, Sample]] = {}
    if family == "pings":
        rows = (Ping.objects.filter(created_at__gte=since, outcome__in=PINGED)
                .values(key).annotate(
                    n=Count("pk"), latency=Avg("latency_ms"),
                    timeouts=Count("pk", filter=Q(outcome=Outcome.TIMEOUT)),
                    errors=Count("pk", filter=Q(outcome__in=FAILED - {Outcome.TIMEOUT})),
                    bids=Count("pk", filter=Q(outcome__in=OFFERED))))
        for row in rows:
            n = row["n"]
            result[row[key]] = {
                Metric.LATENCY: Sample(Decimal(str(round(row["latency"] or 0, 4))), n),
                Metric.TIMEOUT_RATE: Sample(_rate(row["timeouts"], n), n),
                Metric.ERROR_RATE: Sample(_rate(row["errors"], n), n),
                Metric.BID_RATE: Sample(_rate(row["bids"], n), n),
            }
    elif family == "posts":
        rows = (Post.objects.filter(created_at__gte=since,
                                    outcome__in=[PostOutcome.ACCEPTED, PostOutcome.REJECTED])
                .values(key).annotate(
                    n=Count("pk"), accepted=Count("pk", filter=Q(outcome=PostOutcome.ACCEPTED))))
        for row in rows:
            n = row["n"]
            result[row[key]] = {
                Metric.ACCEPTANCE_RATE: Sample(_rate(row["accepted"], n), n),
                Metric.POST_REJECT_RATE: Sample(_rate(n - row["accepted"], n), n),
            }
    else:
        rows = (Sale.objects.filter(created_at__gte=since, is_test=False)
                .values(key).annotate(
                    n=Count("pk"),
                    returned=Count("return_request", filter=~Q(
                        return_request__status=ReturnStatus.REJECTED))))
        for row in rows:
            result[row[key]] = {Metric.RETURN_RATE: Sample(_rate(row["returned"], row["n"]),
                                                           row["n"])}
    return result
