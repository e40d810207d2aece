"""A held ping reservation under concurrency, on PostgreSQL: direct leads racing for the
last cap slot never take the room a ping holds, the ping's post sells into it, and a process
started after the ping posts it as well as the one that answered it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from decimal import Decimal
from pathlib import Path

import pytest
from django.db import connection
from django.utils import timezone

from apps.auctions.caps import cap_hold, cap_reserve
from apps.auctions.models import Ping, Post, Sale, SourcePing
from apps.auctions.services import auction_run
from apps.auctions.setups import contract_setups
from apps.buyers.models import CapCounter
from apps.leads.models import Lead, LeadStatus
from tests.factories import VerticalFactory, sim_contract, source_with_key, valid_fields

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

PING_FIELDS = {"zip": "10001", "vehicle_year": 2019, "homeowner": "yes"}
REPO = Path(__file__).resolve().parents[2]


def test_direct_leads_racing_a_held_ping_for_the_last_slot_never_take_it(api_client, sim_url):
    vertical = VerticalFactory(slug="auto-insurance")
    _, key = source_with_key(vertical)
    capped = sim_contract(vertical, sim_url, query="bid=50", name="capped",
                          caps=[{"period": "day", "metric": "leads", "limit": 3}])
    fallback = sim_contract(vertical, sim_url, query="bid=5", name="fallback")
    answer = api_client.post("/api/v1/pings", data=json.dumps(
        {"vertical": "auto-insurance", "fields": PING_FIELDS}),
        content_type="application/json", HTTP_AUTHORIZATION=f"Bearer {key}").json()
    assert answer["status"] == "bid"
    source_id = SourcePing.objects.get().source_id
    leads = [Lead.objects.create(vertical=vertical, source_id=source_id,
                                 status=LeadStatus.RECEIVED,
                                 fields=valid_fields(email=f"r{i}@example.com",
                                                     phone=f"212555{i:04d}")).pk
             for i in range(12)]
    barrier = threading.Barrier(len(leads))

    def direct(lead_id):
        try:
            barrier.wait()
            auction_run(lead_id)
        finally:
            connection.close()

    threads = [threading.Thread(target=direct, args=(pk,)) for pk in leads]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    assert Sale.objects.filter(contract=capped).count() == 2  # 3 minus the held slot
    assert Sale.objects.filter(contract=fallback).count() == 10
    posted = api_client.post(f"/api/v1/pings/{answer['ping_id']}/post",
                             data=json.dumps({"fields": valid_fields()}),
                             content_type="application/json",
                             HTTP_AUTHORIZATION=f"Bearer {key}").json()
    assert posted["status"] == "sold"
    assert Sale.objects.get(lead__uuid=posted["id"]).contract == capped
    counter = CapCounter.objects.get(cap__contract=capped)
    assert (counter.used, counter.held) == (3, 0)


def test_holds_and_reservations_racing_for_one_slot_take_it_exactly_once(sim_url):
    vertical = VerticalFactory(slug="auto-insurance")
    source, _ = source_with_key(vertical)
    capped = sim_contract(vertical, sim_url, query="bid=50",
                          caps=[{"period": "day", "metric": "leads", "limit": 1}])
    setup = next(s for s in contract_setups(vertical.pk, timezone.now())
                 if s.terms.id == capped.pk)
    now = timezone.now()
    pings = [SourcePing.objects.create(
        uuid=f"00000000-0000-4000-8000-{i:012d}", source=source, vertical=vertical,
        status="bid", started_at=now, bids_at=now,
        expires_at=now + timezone.timedelta(seconds=60)) for i in range(10)]
    barrier = threading.Barrier(20)
    results: list[bool] = []

    def hold(ping):
        try:
            barrier.wait()
            results.append(cap_hold(setup.caps, price=Decimal(50), now=now, ping_id=ping.pk,
                                    contract_id=capped.pk, expires_at=ping.expires_at))
        finally:
            connection.close()

    def reserve(_):
        try:
            barrier.wait()
            results.append(cap_reserve(setup.caps, price=Decimal(50), now=now) is not None)
        finally:
            connection.close()

    threads = ([threading.Thread(target=hold, args=(p,)) for p in pings]
               + [threading.Thread(target=reserve, args=(i,)) for i in range(10)])
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    assert results.count(True) == 1
    counter = CapCounter.objects.get(cap__contract=capped)
    assert counter.used + counter.held == 1


def test_a_ping_held_by_one_process_is_posted_through_another(api_client, sim_url):
    """What a ping holds is database rows, not memory: a process started after the ping (a
    restarted web worker) posts it to the reserved winner, with its token, into its room."""
    vertical = VerticalFactory(slug="auto-insurance")
    source, key = source_with_key(vertical)
    capped = sim_contract(vertical, sim_url, query="bid=50", name="capped",
                          caps=[{"period": "day", "metric": "leads", "limit": 1}])
    sim_contract(vertical, sim_url, query="bid=5", name="fallback")
    answer = api_client.post("/api/v1/pings", data=json.dumps(
        {"vertical": "auto-insurance", "fields": PING_FIELDS}),
        content_type="application/json", HTTP_AUTHORIZATION=f"Bearer {key}").json()
    assert answer["status"] == "bid"
    db = connection.settings_dict
    script = (
        "import django, json, time; django.setup()\n"
        "from apps.auctions.services.pings import ping_post\n"
        "from apps.sources.models import Source\n"
        f"status, body = ping_post(source=Source.objects.get(pk={source.pk}), api_key=None, "
        f"ping_id={answer['ping_id']!r}, data={{'fields': {valid_fields()!r}}}, "
        "client_ip=None, deadline=time.monotonic() + 5)\n"
        "print(json.dumps([status, body], default=str))\n")
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "leadexchange.settings",
           "DATABASE_URL": f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}",
           "HTTP_ALLOWED_NETWORKS": "127.0.0.1/32"}

    done = subprocess.run([sys.executable, "-c", script], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=120, check=False)

    assert done.returncode == 0, done.stderr[-2000:]
    status, body = json.loads(done.stdout.strip().splitlines()[-1])
    assert (status, body["status"]) == (200, "sold")
    assert body["payout"] == answer["bid"]
    sale = Sale.objects.get(lead__uuid=body["id"])
    assert sale.contract == capped
    ping_row = Ping.objects.get(auction__lead__uuid=body["id"], contract=capped)
    assert Post.objects.get(auction__lead__uuid=body["id"]).token == ping_row.token != ""
    counter = CapCounter.objects.get(cap__contract=capped)
    assert (counter.used, counter.held) == (1, 0)
