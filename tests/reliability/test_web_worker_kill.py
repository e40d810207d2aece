"""A gunicorn web worker killed (``kill -9``) while it holds sync leads mid-auction: the
master starts a new worker, which serves the next leads; the leads whose requests died were
stored before their auction, so they stay ``received`` / ``auctioning`` in the database and
the sweeper (``leads_redrive`` and the delivery retries, as beat runs them) finishes them —
every accepted lead decided, none sold twice, the daily cap exact.

gunicorn runs as README's production section runs it (gthread, ``bench.processes``), with 2
workers on the test database; the sweeper's auctions run in this process."""

from __future__ import annotations

import json
import os
import signal
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from http.client import HTTPException
from pathlib import Path

import pytest

from apps.auctions.models import Post, PostOutcome
from apps.leads.models import Lead
from bench.processes import Children, process_tree
from tests.factories import consumer_fields
from tests.reliability.market import (
    REDRIVE_AUCTIONING_S,
    REDRIVE_RECEIVED_S,
    Market,
    assert_market_settled,
    market_create,
    market_statuses,
    sweeper_run,
    undecided,
)
from tests.reliability.workers import database_url_of_tests, wait_for

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True), pytest.mark.slow]

BEFORE, AFTER = 10, 4  # sync leads sent before the kill (6 at a time), and after it
BUDGET_MS = 3000


def lead_send(url: str, market: Market, n: int) -> int | None:
    """One sync lead over HTTP; its answer's status, or None when the request died."""
    body = json.dumps({"vertical": "auto-insurance", "fields": consumer_fields(n)}).encode()
    request = urllib.request.Request(  # noqa: S310 - http://127.0.0.1
        f"{url}/api/v1/leads", data=body, method="POST",
        headers={"Content-Type": "application/json", "Authorization": f"Bearer {market.key}"})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310 - local
            return response.status
    except (ConnectionError, HTTPException, urllib.error.URLError):
        return None


def sockets_of(pid: int) -> set[str]:
    inodes = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            target = os.readlink(fd)
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(target[8:-1])
    return inodes


def requests_held(pid: int, port: int) -> int:
    """Client connections open on ``pid``'s side of port ``port``: requests it is serving."""
    mine = sockets_of(pid)
    held = 0
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            local_port = int(fields[1].rsplit(":", 1)[1], 16)
            if local_port == port and fields[3] == "01" and fields[9] in mine:  # ESTABLISHED
                held += 1
    return held


def test_a_web_worker_killed_mid_request_loses_no_lead_sells_none_twice_keeps_caps_exact(
        sim_url, settings, tmp_path):
    market = market_create(sim_url, time_budget_ms=BUDGET_MS)
    env = {**os.environ, "DATABASE_URL": database_url_of_tests(), "CELERY_BROKER_URL": "",
           "HTTP_ALLOWED_NETWORKS": "127.0.0.1/32"}
    with Children() as children, ThreadPoolExecutor(6) as clients:
        master, url = children.gunicorn(env=env, workers=2, threads=8,
                                        log_path=tmp_path / "gunicorn.log",
                                        ready_path="/api/v1/verticals/auto-insurance/spec")
        port = int(url.rsplit(":", 1)[1])
        before = [clients.submit(lead_send, url, market, n) for n in range(BEFORE)]
        # a post on the wire: an auction is mid-flight in some worker
        assert wait_for(lambda: Post.objects.filter(outcome=PostOutcome.SENDING).exists(),
                        30, every=0.02)
        workers = [pid for pid in process_tree(master.pid) if pid != master.pid]
        victim = max(workers, key=lambda pid: requests_held(pid, port))
        held = requests_held(victim, port)
        os.kill(victim, signal.SIGKILL)
        answers_before = [future.result() for future in before]
        # the master starts a new worker; the next leads are served
        assert wait_for(lambda: len(process_tree(master.pid)) == 3, 30)
        after = list(clients.map(lambda n: lead_send(url, market, n),
                                 range(BEFORE, BEFORE + AFTER)))
        assert master.poll() is None

    stored = [str(uuid) for uuid in Lead.objects.values_list("uuid", flat=True)]
    market.leads = stored
    settings.LEAD_REDRIVE_RECEIVED_S = REDRIVE_RECEIVED_S
    settings.LEAD_REDRIVE_AUCTIONING_S = REDRIVE_AUCTIONING_S
    stranded = undecided(stored)
    settled = wait_for(lambda: undecided(stored) == 0, 40, every=1.0, tick=sweeper_run)

    assert held >= 1  # the killed worker was serving requests
    died = answers_before.count(None)
    assert died >= 1, answers_before  # … which died with it
    assert set(answers_before) - {None} <= {200, 202}
    assert None not in after and set(after) <= {200, 202}, after  # the new worker serves
    assert stranded >= 1  # the dead requests' leads were left mid-way …
    assert settled, market_statuses(market)  # … and the sweeper finished them
    assert len(stored) == BEFORE + AFTER  # every lead was stored before its auction started
    assert_market_settled(market)
