"""The post plan: exclusive bids one by one, and the best shared group first only when it
earns more than the best exclusive bid (no database). Plans are written as contract ids."""

from __future__ import annotations

import random
from decimal import Decimal

import pytest

from apps.auctions.engine import (
    Bid,
    ContractTerms,
    Offer,
    RankedBid,
    Ranking,
    best_shared_group,
    post_plan,
    rank_bids,
)
from apps.auctions.engine.ranking import MAX_SHARED

P = pytest.param


def ex(contract_id: int, value: str) -> RankedBid:
    """An exclusive bid worth ``value``."""
    return ranked(contract_id, value, exclusive=True, max_sales=1)


def sh(contract_id: int, value: str, max_sales: int = 3) -> RankedBid:
    """A shared bid worth ``value`` from a contract that accepts up to ``max_sales`` buyers."""
    return ranked(contract_id, value, exclusive=False, max_sales=max_sales)


def ranked(contract_id: int, value: str, *, exclusive: bool, max_sales: int) -> RankedBid:
    terms = ContractTerms(id=contract_id, buyer_id=contract_id, exclusive=exclusive,
                          shared_max_sales=max_sales)
    return RankedBid(bid=Bid(contract_id, Decimal(value)), terms=terms,
                     effective=Decimal(value))


def plan_ids(ranked_bids: list[RankedBid]) -> list[list[int]]:
    plan = post_plan(Ranking(ranked=tuple(ranked_bids)))
    return [[b.bid.contract_id for b in offer.bids] for offer in plan]


@pytest.mark.parametrize(("ranked_bids", "expected"), [
    P([], [], id="no-bids-no-plan"),
    # exclusive only: one offer per bid, in rank order
    P([ex(1, "10")], [[1]], id="one-exclusive"),
    P([ex(1, "10"), ex(2, "8"), ex(3, "5")], [[1], [2], [3]], id="exclusives-in-order"),
    # shared only: the best group, respecting each member's shared_max_sales
    P([sh(1, "10"), sh(2, "8"), sh(3, "5")], [[1, 2, 3]], id="shared-all-three"),
    P([sh(1, "6", 2), sh(2, "5", 2), sh(3, "5", 2), sh(4, "5", 2)], [[1, 2]],
      id="shared-group-capped-at-two-buyers"),
    P([sh(1, "10", 1), sh(2, "8"), sh(3, "5")], [[2, 3]],
      id="shared-sole-buyer-contract-left-out-of-a-richer-pair"),
    P([sh(1, "10", 1), sh(2, "4", 2), sh(3, "3", 2)], [[1]],
      id="shared-sole-buyer-richer-than-the-pair"),
    P([sh(1, "9", 3), sh(2, "8", 2), sh(3, "7", 3)], [[1, 2]],
      id="shared-third-member-would-break-a-max-of-two"),
    P([sh(1, "9", 3), sh(2, "8", 2), sh(3, "7", 3), sh(4, "7", 3)], [[1, 3, 4]],
      id="shared-trio-without-the-two-max-member"),
    P([sh(1, "5"), sh(2, "-1")], [[1]], id="shared-negative-value-not-added"),
    # mixed: the group goes first only when it beats the best exclusive
    P([ex(1, "10"), sh(2, "6"), sh(3, "6")], [[2, 3], [1]], id="group-beats-exclusive"),
    P([ex(1, "15"), sh(2, "6"), sh(3, "6")], [[1], [2, 3]], id="exclusive-beats-group"),
    P([ex(1, "12"), sh(2, "6"), sh(3, "6")], [[1], [2, 3]],
      id="tie-goes-to-the-exclusive"),
    P([ex(1, "12.00"), sh(2, "6.01"), sh(3, "6")], [[2, 3], [1]],
      id="group-one-cent-ahead-goes-first"),
    P([ex(1, "10"), ex(4, "9"), sh(2, "6"), sh(3, "5")], [[2, 3], [1], [4]],
      id="group-first-then-every-exclusive"),
    P([ex(1, "20"), ex(4, "5"), sh(2, "6"), sh(3, "6")], [[1], [4], [2, 3]],
      id="group-after-all-exclusives-when-the-best-exclusive-wins"),
    P([sh(2, "9"), ex(1, "8"), sh(3, "1")], [[2, 3], [1]],
      id="shared-ranked-above-the-exclusive"),
    P([ex(1, "10"), sh(2, "9", 1), sh(3, "8", 1)], [[1], [2]],
      id="only-the-best-single-shared-bid-is-a-fallback"),
    P([ex(1, "10"), sh(2, "4", 1), sh(3, "4", 2), sh(4, "4", 2)], [[1], [3, 4]],
      id="group-that-cannot-beat-exclusive-still-follows"),
])
def test_post_plan(ranked_bids: list[RankedBid], expected: list[list[int]]) -> None:
    assert plan_ids(ranked_bids) == expected


def test_exclusive_offers_are_single_and_not_shared_and_the_group_is_shared() -> None:
    plan = post_plan(Ranking(ranked=(ex(1, "10"), ex(2, "9"), sh(3, "4"), sh(4, "4"))))
    assert [(len(o.bids), o.shared) for o in plan] == [(1, False), (1, False), (2, True)]
    assert [o.value for o in plan] == [Decimal("10"), Decimal("9"), Decimal("8")]


def test_an_offers_value_is_the_sum_of_its_effective_bids() -> None:
    assert Offer(bids=(sh(1, "3.10"), sh(2, "2.25"), sh(3, "0.65")), shared=True).value == (
        Decimal("6.00"))
    assert Offer(bids=()).value == Decimal(0)


@pytest.mark.parametrize(("ranked_bids", "expected"), [
    P([], None, id="no-bids"),
    P([ex(1, "10"), ex(2, "9")], None, id="no-shared-bids"),
    P([ex(1, "10"), sh(2, "3")], [2], id="single-shared-bid"),
    P([sh(1, "5", 1), sh(2, "5", 1)], [1], id="two-sole-buyers-cannot-share"),
])
def test_best_shared_group(ranked_bids: list[RankedBid], expected: list[int] | None) -> None:
    group = best_shared_group(tuple(ranked_bids))
    assert (None if group is None else [b.bid.contract_id for b in group.bids]) == expected
    if group is not None:
        assert group.shared


def test_a_shared_group_has_at_most_max_shared_members() -> None:
    bids = [sh(i, "5", max_sales=50) for i in range(1, MAX_SHARED + 6)]
    group = best_shared_group(tuple(bids))
    assert group is not None
    assert [b.bid.contract_id for b in group.bids] == list(range(1, MAX_SHARED + 1))


def test_ranked_bids_flow_into_a_plan() -> None:
    contracts = {
        1: ContractTerms(id=1, buyer_id=1),
        2: ContractTerms(id=2, buyer_id=2, exclusive=False, shared_max_sales=2),
        3: ContractTerms(id=3, buyer_id=3, exclusive=False, shared_max_sales=2,
                         acceptance=Decimal("0.5")),
        4: ContractTerms(id=4, buyer_id=4, min_bid=Decimal("5")),
        5: ContractTerms(id=5, buyer_id=5),
    }
    bids = [Bid(1, Decimal("15")), Bid(2, Decimal("9")), Bid(3, Decimal("14")),
            Bid(4, Decimal("4")), Bid(5, Decimal("11"))]
    ranking = rank_bids(bids, contracts, floor=Decimal("2"), rng=random.Random(0))
    # shared 9.00 + 7.00 = 16.00 beats the best exclusive 15.00; contract 4 is under its floor
    assert [[b.bid.contract_id for b in o.bids] for o in post_plan(ranking)] == [
        [2, 3], [1], [5]]
    assert [e.contract_id for e in ranking.below_floor] == [4]
