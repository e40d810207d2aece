"""A source ping's round as the database keeps it until its post: every contract's result,
the exclusions, the ranking and the reserved offer with the payout it promised.

The round is JSON on the ``SourcePing`` row (not process memory), so the post may reach any
web process, after any restart, within the ping's ``expires_at``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from apps.auctions.engine import Bid, ContractTerms, Exclusion, Outcome, RankedBid, Ranking
from apps.auctions.models import SourcePing
from apps.auctions.services.pinging import PingResult


@dataclass(frozen=True, slots=True)
class ReservedRound:
    started_at: datetime
    bids_at: datetime
    results: tuple[PingResult, ...]
    excluded: tuple[Exclusion, ...]
    ranking: Ranking  # terms are placeholders: the auction lays the current ones over them
    promised: dict[int, Decimal]  # reserved contract -> the source's payout it promised


def round_dump(results: list[PingResult], excluded: tuple[Exclusion, ...], ranking: Ranking,
               promised: dict[int, Decimal]) -> dict[str, Any]:
    """The JSON form of a ping round (no request or response bodies: the audit keeps the
    outcomes, prices, tokens and latencies)."""
    return {
        "results": [{"contract": r.contract_id, "outcome": str(r.outcome),
                     "bid": str(r.bid.amount) if r.bid else None,
                     "token": r.bid.token if r.bid else None,
                     "latency_ms": r.latency_ms, "http_status": r.http_status,
                     "detail": r.detail[:255]} for r in results],
        "excluded": [{"contract": e.contract_id, "reason": str(e.reason),
                      "detail": e.detail[:255]} for e in excluded],
        "ranked": [{"contract": r.bid.contract_id, "bid": str(r.bid.amount),
                    "token": r.bid.token, "latency_ms": r.bid.latency_ms,
                    "effective": str(r.effective), "buyer": r.terms.buyer_id}
                   for r in ranking.ranked],
        "below_floor": [{"contract": e.contract_id, "detail": e.detail}
                        for e in ranking.below_floor],
        "promised": {str(cid): str(amount) for cid, amount in promised.items()},
    }


def reserved_round_load(ping_id: int) -> ReservedRound | None:
    """The stored round of ping ``ping_id`` (None when there is no such ping)."""
    ping = SourcePing.objects.filter(pk=ping_id).only("round", "started_at", "bids_at").first()
    if ping is None:
        return None
    data = ping.round or {}
    results = tuple(
        PingResult(r["contract"], Outcome(r["outcome"]),
                   Bid(r["contract"], Decimal(r["bid"]), token=r["token"],
                       latency_ms=r["latency_ms"] or 0.0) if r["bid"] is not None else None,
                   latency_ms=r["latency_ms"], http_status=r["http_status"],
                   detail=r["detail"])
        for r in data.get("results", []))
    ranked = tuple(
        RankedBid(Bid(r["contract"], Decimal(r["bid"]), token=r["token"],
                      latency_ms=r["latency_ms"]),
                  ContractTerms(id=r["contract"], buyer_id=r["buyer"]), Decimal(r["effective"]))
        for r in data.get("ranked", []))
    return ReservedRound(
        started_at=ping.started_at, bids_at=ping.bids_at, results=results,
        excluded=tuple(Exclusion(e["contract"], Outcome(e["reason"]), e["detail"])
                       for e in data.get("excluded", [])),
        ranking=Ranking(ranked, tuple(Exclusion(e["contract"], Outcome.BELOW_FLOOR, e["detail"])
                                      for e in data.get("below_floor", []))),
        promised={int(cid): Decimal(v) for cid, v in data.get("promised", {}).items()},
    )
