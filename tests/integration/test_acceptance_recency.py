"""The post-acceptance estimate reacts to a run of rejects (issue: a buyer that rejected 40
posts in a row kept winning, its estimate only down to 19/60 under a prior of 20 posts)."""

from __future__ import annotations

import random
from decimal import Decimal

import pytest

from apps.auctions.engine import Bid, ContractTerms, rank_bids
from apps.auctions.services.posting import acceptance_count
from apps.auctions.setups import acceptance_rate, contract_setups
from apps.buyers.models import Contract, ContractStatus
from tests.factories import BuyerFactory, VerticalFactory

pytestmark = pytest.mark.django_db
D = Decimal


@pytest.fixture
def contract() -> Contract:
    return Contract.objects.create(buyer=BuyerFactory(), name="c", status=ContractStatus.ACTIVE,
                                   vertical=VerticalFactory(slug="auto-insurance", schema=[]))


def answers(contract: Contract, pattern: str) -> Decimal:
    """Count ``pattern`` ("a" accepted, "r" rejected) as the post path does; the estimate."""
    for answer in pattern:
        acceptance_count(contract.pk, accepted=answer == "a")
    contract.refresh_from_db()
    return acceptance_rate(contract.posts_recent, contract.accepted_recent,
                           contract.posts_decayed, contract.accepted_decayed)


def test_forty_rejects_in_a_row_pull_the_estimate_below_a_fifth(contract):
    answers(contract, "aaaaaaaaar" * 10)  # a good history: 90 of 100 accepted
    estimate = answers(contract, "r" * 40)

    assert estimate == D("0.1688")
    # the long run alone (the old estimate) stays far above
    assert acceptance_rate(contract.posts_recent, contract.accepted_recent) == D("0.6812")


def test_a_new_buyer_rejecting_forty_posts_falls_as_fast(contract):
    assert answers(contract, "") == D("0.9500")  # the prior's mean
    assert answers(contract, "r" * 40) == D("0.1603")


def test_an_honest_buyer_keeps_its_estimate(contract):
    """Steady at 90 % (the last answer a reject): the recent estimate stays near the long
    run, (90 + 19) / (100 + 20) = 0.908."""
    assert answers(contract, "aaaaaaaaar" * 10) == D("0.8637")


def test_the_rejecting_buyer_loses_the_ranking_to_an_honest_lower_bidder(contract):
    honest = Contract.objects.create(buyer=BuyerFactory(), name="honest",
                                     status=ContractStatus.ACTIVE, vertical=contract.vertical)
    answers(contract, "aaaaaaaaar" * 10 + "r" * 40)
    answers(honest, "aaaaaaaaar" * 10)
    from django.utils import timezone

    terms = {s.terms.id: s.terms for s in contract_setups(contract.vertical_id, timezone.now())}
    bids = [Bid(contract.pk, D("20.00")), Bid(honest.pk, D("8.00"))]

    ranked = rank_bids(bids, terms, floor=D(0), rng=random.Random(0)).ranked
    assert [r.bid.contract_id for r in ranked] == [honest.pk, contract.pk]
    assert isinstance(terms[contract.pk], ContractTerms)
    assert terms[contract.pk].acceptance == D("0.1688")
