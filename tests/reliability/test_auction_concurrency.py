"""Auctions under concurrency, on PostgreSQL: caps are exact and an exclusive lead is never
sold twice, whatever number of auctions and processes race."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal

import pytest
from django.db import IntegrityError, connection

from apps.auctions import caps as caps_module
from apps.auctions.models import Auction, Sale
from apps.auctions.services import auction_run
from apps.buyers.models import CapCounter
from apps.leads.models import Lead, LeadStatus
from tests.factories import (
    BuyerFactory,
    VerticalFactory,
    sim_contract,
    source_with_key,
    valid_fields,
)

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def in_threads(n_threads: int, fn, items):
    def run(item):
        try:
            return fn(item)
        finally:
            connection.close()

    with ThreadPoolExecutor(max_workers=n_threads) as pool:
        return list(pool.map(run, items))


def received_leads(vertical, source, count: int) -> list[int]:
    return [Lead.objects.create(
        vertical=vertical, source=source, status=LeadStatus.RECEIVED,
        fields=valid_fields(email=f"cap{i}@example.com", phone=f"212555{i:04d}")).pk
        for i in range(count)]


@pytest.fixture
def market(sim_url):
    vertical = VerticalFactory(slug="auto-insurance")
    source, _ = source_with_key(vertical)
    capped = sim_contract(vertical, sim_url, query="bid=50", name="capped",
                          caps=[{"period": "day", "metric": "leads", "limit": 50}])
    fallback = sim_contract(vertical, sim_url, query="bid=5", name="fallback")
    return vertical, source, capped, fallback


def test_200_concurrent_auctions_sell_exactly_the_daily_cap_of_50(market):
    vertical, source, capped, fallback = market
    leads = received_leads(vertical, source, 200)

    in_threads(40, auction_run, leads)

    assert Sale.objects.filter(contract=capped).count() == 50
    assert Sale.objects.filter(contract=fallback).count() == 150
    assert CapCounter.objects.get(cap__contract=capped).used == 50
    assert Lead.objects.filter(status=LeadStatus.SOLD).count() == 200


def test_a_read_then_write_cap_check_would_oversell(market, monkeypatch):
    """Negative control: without the conditional UPDATE the cap is exceeded."""
    vertical, source, capped, _ = market
    capped.caps.update(limit=5)
    capped.save()
    leads = received_leads(vertical, source, 20)

    def naive_take(cap, start, amount, now=None, column="used"):
        CapCounter.objects.bulk_create([CapCounter(cap_id=cap.cap_id, window_start=start)],
                                       ignore_conflicts=True)
        row = CapCounter.objects.get(cap_id=cap.cap_id, window_start=start)
        time.sleep(0.05)  # the gap between a read and its write in real code
        if row.used + amount > cap.limit:
            return False
        CapCounter.objects.filter(pk=row.pk).update(used=row.used + amount)
        return True

    monkeypatch.setattr(caps_module, "_take", naive_take)
    in_threads(20, auction_run, leads)

    assert Sale.objects.filter(contract=capped).count() > 5


def test_concurrent_auction_attempts_never_sell_an_exclusive_lead_twice(sim_url):
    vertical = VerticalFactory(slug="auto-insurance")
    source, _ = source_with_key(vertical)
    for price in (20, 15, 10):
        sim_contract(vertical, sim_url, query=f"bid={price}")
    leads = received_leads(vertical, source, 100)

    in_threads(24, auction_run, [lead for lead in leads for _ in range(3)])

    assert Sale.objects.count() == 100
    assert Auction.objects.count() == 100  # one auction per lead: the claim is exclusive
    assert set(Sale.objects.values_list("lead", flat=True)) == set(leads)


def test_the_database_refuses_a_second_exclusive_sale_of_a_lead(sim_url):
    vertical = VerticalFactory(slug="auto-insurance")
    source, _ = source_with_key(vertical)
    contracts = [sim_contract(vertical, sim_url, buyer=BuyerFactory()) for _ in range(8)]
    lead = Lead.objects.create(vertical=vertical, source=source, fields={})
    barrier = threading.Barrier(len(contracts))

    def sell(contract):
        barrier.wait()
        try:
            Sale.objects.create(lead=lead, contract=contract, buyer=contract.buyer,
                                price=Decimal(10), exclusive=True)
            return True
        except IntegrityError:
            return False

    results = in_threads(len(contracts), sell, contracts)

    assert results.count(True) == 1
    assert Sale.objects.filter(lead=lead).count() == 1
