"""Returns and conversions under concurrency, on PostgreSQL (SQLite serializes writers and
would prove nothing): one return per sale, the contract's return cap held, one conversion per
event — decided by the database, with a negative control showing the cap race is real."""

from __future__ import annotations

import time
from decimal import Decimal

import pytest
from django.db.models import QuerySet

from apps.billing.models import Conversion, Return
from apps.billing.services import conversion_record, return_submit
from apps.billing.services import returns as returns_module
from apps.buyers.models import Contract
from apps.core.exceptions import ApplicationError
from tests.factories.billing import Market
from tests.reliability.test_capture_concurrency import concurrently

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def _try_return(buyer, lead) -> str:
    try:
        return_submit(buyer=buyer, lead_uuid=lead.uuid, reason="fraud")
    except ApplicationError as error:
        return error.code
    return "filed"


def _slow_cap_check(monkeypatch) -> None:
    """Widen the gap between counting the returns and writing the new one."""
    counted = returns_module._cap_check

    def slow(contract, now):
        counted(contract, now)
        time.sleep(0.1)

    monkeypatch.setattr(returns_module, "_cap_check", slow)


def test_two_returns_of_one_sale_at_the_same_moment_make_one_return():
    market = Market()
    for round_ in range(10):
        lead = market.sold((market.c1, "10.00"), payout="7.00")

        outcomes = concurrently(2, lambda i, lead=lead: _try_return(market.b1, lead))

        assert sorted(outcomes) == ["already_returned", "filed"], f"round {round_}"
    assert Return.objects.count() == 10


def test_concurrent_returns_never_overrun_the_contracts_cap(monkeypatch):
    market = Market()
    Contract.objects.filter(pk=market.c1.pk).update(return_cap_pct=Decimal("20"))
    leads = [market.sold((market.c1, "10.00"), payout="7.00") for _ in range(10)]
    _slow_cap_check(monkeypatch)

    outcomes = concurrently(5, lambda i: _try_return(market.b1, leads[i]))

    assert sorted(outcomes) == ["filed", "filed", "return_cap_reached",
                                "return_cap_reached", "return_cap_reached"]
    assert Return.objects.count() == 2


def test_without_the_contract_lock_the_cap_would_be_overrun(monkeypatch):
    """Negative control: the race is real, so the row lock is what holds the cap."""
    market = Market()
    Contract.objects.filter(pk=market.c1.pk).update(return_cap_pct=Decimal("20"))
    leads = [market.sold((market.c1, "10.00"), payout="7.00") for _ in range(10)]
    _slow_cap_check(monkeypatch)

    class Unlocked:
        class objects:
            @staticmethod
            def select_for_update() -> QuerySet[Contract]:
                return Contract.objects.all()

    monkeypatch.setattr(returns_module, "Contract", Unlocked)

    outcomes = concurrently(5, lambda i: _try_return(market.b1, leads[i]))

    assert outcomes.count("filed") > 2


def test_the_same_conversion_twice_at_once_is_recorded_once():
    market = Market()
    for round_ in range(10):
        lead = market.sold((market.c1, "10.00"), payout="7.00")

        created = concurrently(2, lambda i, lead=lead: conversion_record(
            buyer=market.b1, lead_uuid=lead.uuid, event="policy_sold", value="50")[1])

        assert sorted(created) == [False, True], f"round {round_}"
    assert Conversion.objects.count() == 10
