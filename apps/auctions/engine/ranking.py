"""Ranking bids and planning the posts: who gets the lead first, and who next."""

from __future__ import annotations

import random
from collections.abc import Iterable, Mapping
from decimal import ROUND_HALF_UP, Decimal

from apps.auctions.engine.types import (
    Bid,
    ContractTerms,
    Exclusion,
    Offer,
    Outcome,
    RankedBid,
    Ranking,
)

CENT = Decimal("0.01")
MAX_SHARED = 10


def effective_bid(bid: Bid, terms: ContractTerms) -> Decimal:
    """What a bid is worth to us: price × contract multiplier × buyer quality × historical
    post acceptance − penalty. A bid that is likely to be rejected on post is worth less."""
    value = bid.amount * terms.bid_multiplier * terms.quality * terms.acceptance
    return (value - terms.bid_penalty).quantize(CENT, rounding=ROUND_HALF_UP)


def contract_floor(terms: ContractTerms, lead_floor: Decimal) -> Decimal:
    return max(lead_floor, terms.min_bid or Decimal(0))


def rank_bids(
    bids: Iterable[Bid],
    terms_by_id: Mapping[int, ContractTerms],
    *,
    floor: Decimal,
    rng: random.Random,
) -> Ranking:
    """Rank ``bids`` best first, dropping those under their floor (the lead's ``floor`` or
    the contract's ``min_bid``, whichever is higher) as ``below_floor`` exclusions.

    Order: effective bid (descending), then priority (descending), then a weighted random
    draw among equals (Efraimidis–Spirakis keys, so weight 200 wins twice as often as 100),
    then response time (faster first).
    """
    kept: list[tuple[tuple, RankedBid]] = []
    dropped: list[Exclusion] = []
    for bid in bids:
        terms = terms_by_id[bid.contract_id]
        minimum = contract_floor(terms, floor)
        if bid.amount < minimum or bid.amount <= 0:
            dropped.append(Exclusion(bid.contract_id, Outcome.BELOW_FLOOR,
                                     f"bid {bid.amount} < floor {minimum}"))
            continue
        ranked = RankedBid(bid=bid, terms=terms, effective=effective_bid(bid, terms))
        draw = rng.random() ** (1 / terms.weight) if terms.weight > 0 else 0.0
        kept.append(((-ranked.effective, -terms.priority, -draw, bid.latency_ms), ranked))
    kept.sort(key=lambda pair: pair[0])
    return Ranking(ranked=tuple(r for _, r in kept), below_floor=tuple(dropped))


def best_shared_group(ranked: tuple[RankedBid, ...]) -> Offer | None:
    """The most valuable set of shared bids: for each group size k, the k best shared bids
    among contracts that accept being one of k buyers; None when there are no shared bids."""
    shared = [r for r in ranked if not r.terms.exclusive]
    best: Offer | None = None
    for size in range(1, min(len(shared), MAX_SHARED) + 1):
        members = tuple(r for r in shared if r.terms.shared_max_sales >= size)[:size]
        if len(members) < size:
            continue
        offer = Offer(bids=members, shared=True)
        if best is None or offer.value > best.value:
            best = offer
    return best


def post_plan(ranking: Ranking) -> tuple[Offer, ...]:
    """The order in which the lead is offered on post: one exclusive bid per step, best
    first; the best shared group takes the first step only when it is worth more than the
    best exclusive bid, and otherwise comes after the exclusive bids as a fallback."""
    exclusives = [Offer(bids=(r,)) for r in ranking.ranked if r.terms.exclusive]
    group = best_shared_group(ranking.ranked)
    if group is None:
        return tuple(exclusives)
    if not exclusives or group.value > exclusives[0].value:
        return (group, *exclusives)
    return (*exclusives, group)
