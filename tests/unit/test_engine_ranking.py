"""Ranking bids: the effective bid, floors, and the tie-breaks (no database)."""

from __future__ import annotations

import random
from decimal import Decimal

import pytest

from apps.auctions.engine import (
    Bid,
    ContractTerms,
    Outcome,
    contract_floor,
    effective_bid,
    rank_bids,
)

P = pytest.param
D = Decimal


def terms(contract_id: int, **changes: object) -> ContractTerms:
    return ContractTerms(id=contract_id, buyer_id=contract_id, **changes)


def rank(offers: list[tuple[Bid, ContractTerms]], *, floor: str = "0", seed: int = 0):
    return rank_bids([bid for bid, _ in offers], {t.id: t for _, t in offers},
                     floor=D(floor), rng=random.Random(seed))


def order(offers: list[tuple[Bid, ContractTerms]], **kwargs: object) -> list[int]:
    return [r.bid.contract_id for r in rank(offers, **kwargs).ranked]


# -- effective bid ----------------------------------------------------------------------

@pytest.mark.parametrize(("amount", "multiplier", "quality", "acceptance", "penalty", "expected"), [
    P("10", "1", "1", "1", "0", "10.00", id="plain-bid-in-cents"),
    P("10", "1.2", "1", "1", "0", "12.00", id="contract-multiplier"),
    P("10", "1", "0.9", "1", "0", "9.00", id="buyer-quality"),
    P("10", "1", "1", "0.5", "0", "5.00", id="post-acceptance"),
    P("10", "1", "1", "1", "1.5", "8.50", id="penalty-subtracted"),
    P("10", "1.2", "0.9", "0.5", "1", "4.40", id="all-together-penalty-after-product"),
    P("12.34", "1.1", "0.95", "0.87", "0.25", "10.97", id="rounds-to-cents"),
    P("3.333", "1", "1", "1", "0", "3.33", id="rounds-down-below-half-cent"),
    P("3.336", "1", "1", "1", "0", "3.34", id="rounds-up-above-half-cent"),
    P("0.004", "1", "1", "1", "0", "0.00", id="fraction-of-a-cent-is-zero"),
    P("1", "1", "1", "1", "1.5", "-0.50", id="penalty-over-the-bid-goes-negative"),
    P("25", "1", "1", "0", "0", "0.00", id="never-accepted-is-worth-nothing"),
])
def test_effective_bid_is_price_times_adjustments_minus_penalty(
    amount: str, multiplier: str, quality: str, acceptance: str, penalty: str, expected: str,
) -> None:
    contract = terms(1, bid_multiplier=D(multiplier), quality=D(quality),
                     acceptance=D(acceptance), bid_penalty=D(penalty))
    value = effective_bid(Bid(1, D(amount)), contract)
    assert value == D(expected)
    assert value.as_tuple().exponent == -2, "always exactly two decimal places"


def test_ranked_bids_carry_their_effective_value() -> None:
    contract = terms(1, quality=D("0.8"))
    [ranked] = rank([(Bid(1, D("20")), contract)]).ranked
    assert ranked.effective == D("16.00")
    assert ranked.terms is contract


def test_it_ranks_by_effective_bid_not_by_price() -> None:
    likely_rejected = (Bid(1, D("10")), terms(1, acceptance=D("0.5")))  # 5.00
    reliable = (Bid(2, D("8")), terms(2))  # 8.00
    penalised = (Bid(3, D("9")), terms(3, bid_penalty=D("2")))  # 7.00
    boosted = (Bid(4, D("6")), terms(4, bid_multiplier=D("1.5")))  # 9.00
    assert order([likely_rejected, reliable, penalised, boosted]) == [4, 2, 3, 1]


# -- floors -----------------------------------------------------------------------------

@pytest.mark.parametrize(("lead_floor", "min_bid", "expected"), [
    P("5", None, "5", id="lead-floor-only"),
    P("0", "3", "3", id="contract-minimum-only"),
    P("5", "8", "8", id="contract-minimum-higher"),
    P("8", "5", "8", id="lead-floor-higher"),
    P("0", None, "0", id="no-floor"),
    P("4", "0", "4", id="zero-contract-minimum"),
])
def test_contract_floor_is_the_higher_of_lead_floor_and_contract_minimum(
    lead_floor: str, min_bid: str | None, expected: str,
) -> None:
    contract = terms(1, min_bid=None if min_bid is None else D(min_bid))
    assert contract_floor(contract, D(lead_floor)) == D(expected)


@pytest.mark.parametrize(("lead_floor", "min_bid", "amount", "kept", "detail"), [
    P("5", None, "5", True, "", id="bid-at-the-lead-floor-kept"),
    P("5", None, "4.99", False, "bid 4.99 < floor 5", id="bid-under-the-lead-floor"),
    P("5", "8", "7", False, "bid 7 < floor 8", id="bid-under-a-higher-contract-minimum"),
    P("8", "5", "7", False, "bid 7 < floor 8", id="bid-under-a-higher-lead-floor"),
    P("5", "8", "8.00", True, "", id="bid-at-the-contract-minimum-kept"),
    P("0", None, "0", False, "bid 0 < floor 0", id="zero-bid-dropped"),
    P("0", None, "-1", False, "bid -1 < floor 0", id="negative-bid-dropped"),
    P("0", "0", "0.01", True, "", id="one-cent-kept"),
])
def test_it_drops_a_bid_under_its_floor_as_below_floor(
    lead_floor: str, min_bid: str | None, amount: str, kept: bool, detail: str,
) -> None:
    contract = terms(1, min_bid=None if min_bid is None else D(min_bid))
    ranking = rank([(Bid(1, D(amount)), contract)], floor=lead_floor)
    assert [r.bid.contract_id for r in ranking.ranked] == ([1] if kept else [])
    if kept:
        assert ranking.below_floor == ()
    else:
        [exclusion] = ranking.below_floor
        assert (exclusion.contract_id, exclusion.reason) == (1, Outcome.BELOW_FLOOR)
        assert exclusion.detail == detail


def test_the_floor_applies_to_the_price_not_the_effective_bid() -> None:
    # The buyer pays the price; quality and acceptance only decide the order.
    discounted = (Bid(1, D("10")), terms(1, acceptance=D("0.1")))  # effective 1.00
    ranking = rank([discounted], floor="5")
    assert [r.effective for r in ranking.ranked] == [D("1.00")]


def test_it_keeps_the_bids_above_the_floor_and_reports_each_dropped_one() -> None:
    offers = [(Bid(i, D(amount)), terms(i)) for i, amount in
              [(1, "3"), (2, "12"), (3, "0"), (4, "7"), (5, "4.99")]]
    ranking = rank(offers, floor="5")
    assert [r.bid.contract_id for r in ranking.ranked] == [2, 4]
    assert [e.contract_id for e in ranking.below_floor] == [1, 3, 5]
    assert {e.reason for e in ranking.below_floor} == {Outcome.BELOW_FLOOR}


# -- ties -------------------------------------------------------------------------------

def test_it_breaks_a_tie_on_effective_bid_by_priority() -> None:
    # Priority wins even against a heavier weight and a faster answer.
    offers = [
        (Bid(1, D("10"), latency_ms=5), terms(1, priority=1, weight=1000)),
        (Bid(2, D("10"), latency_ms=300), terms(2, priority=3, weight=1)),
        (Bid(3, D("10"), latency_ms=50), terms(3, priority=2)),
        (Bid(4, D("11")), terms(4, priority=0)),
    ]
    for seed in range(50):
        assert order(offers, seed=seed) == [4, 2, 3, 1]


@pytest.mark.parametrize(("heavy", "light", "share"), [
    P(300, 100, 0.75, id="300-vs-100-wins-three-quarters"),
    P(100, 100, 0.5, id="equal-weights-win-half"),
    P(900, 100, 0.9, id="900-vs-100-wins-nine-tenths"),
])
def test_it_breaks_a_remaining_tie_by_weighted_random_draw(
    heavy: int, light: int, share: float,
) -> None:
    offers = [(Bid(1, D("10")), terms(1, weight=heavy)), (Bid(2, D("10")), terms(2, weight=light))]
    bids, by_id = [b for b, _ in offers], {t.id: t for _, t in offers}
    rng = random.Random(7)  # one generator across all draws, as across many auctions
    draws = 10_000
    wins = sum(
        rank_bids(bids, by_id, floor=D(0), rng=rng).ranked[0].bid.contract_id == 1
        for _ in range(draws)
    )
    assert wins / draws == pytest.approx(share, abs=0.015)


def test_a_zero_weight_loses_every_tie_to_a_positive_weight() -> None:
    offers = [(Bid(1, D("10")), terms(1, weight=0)), (Bid(2, D("10")), terms(2, weight=1))]
    assert {order(offers, seed=seed)[0] for seed in range(200)} == {2}


def test_it_breaks_a_tie_the_draw_cannot_break_by_latency() -> None:
    # With weight 0 every draw is equal, so response time decides: faster first.
    offers = [
        (Bid(1, D("10"), latency_ms=250.0), terms(1, weight=0)),
        (Bid(2, D("10"), latency_ms=40.5), terms(2, weight=0)),
        (Bid(3, D("10"), latency_ms=120.0), terms(3, weight=0)),
    ]
    assert order(offers) == [2, 3, 1]


def test_the_same_seed_gives_the_same_ranking() -> None:
    offers = [(Bid(i, D("10"), latency_ms=i), terms(i, weight=10 * i)) for i in range(1, 21)]
    assert order(offers, seed=42) == order(offers, seed=42)
    orders = {tuple(order(offers, seed=seed)) for seed in range(10)}
    assert len(orders) > 1, "the seed does matter among tied bids"


def test_a_ranking_does_not_depend_on_the_order_bids_arrive_in_when_there_is_no_tie() -> None:
    offers = [(Bid(i, D(str(i))), terms(i)) for i in range(1, 8)]
    shuffled = offers[:]
    random.Random(3).shuffle(shuffled)
    assert order(shuffled) == order(offers) == [7, 6, 5, 4, 3, 2, 1]
