"""The exactness checks of ``python -m bench.scaleout``: caps, dedupe and health across
several web processes and Celery workers sharing one PostgreSQL and one Redis.

Each check has a small market of its own (a vertical of three simulated buyers, made before
the layout's processes start, so no process has a stale set-up cached), sends its leads
through the web processes' HTTP API, reads the rows back, and hands plain values to a pure
verdict function (``caps_verdict``, ``dedupe_verdict``, ``health_verdict``: unit-tested).

- **caps**: the top bidder has a daily cap of ``CAP`` leads; ``CAP_LEADS`` sync leads, 8 at
  a time, round-robin over the web processes. Exact: its sales == min(cap, leads offered
  to it), its cap counter's ``used`` == its sales, no lead sold twice.
- **dedupe**: ``DEDUPE_CONSUMERS`` consumers, each submitted ``DEDUPE_COPIES`` times at once,
  spread over every web process (``?mode=async``). Exact: per consumer one ``202`` and the
  rest ``409 duplicate``, and one stored lead that is not a duplicate.
- **health**: a buyer answers in 150 ms against a slow threshold of 60 ms and a limit of
  ``SLOW_LIMIT`` consecutive slow answers (it bids the least, so it is never posted to and
  nothing resets its streak); ``2 × SLOW_LIMIT`` sync leads one after another, alternating
  web processes. Exact: one pause, after exactly ``SLOW_LIMIT`` pings in all — the streak is
  shared through Redis, whichever worker ran the auction (the workers that ran them are
  read from their logs).
"""

from __future__ import annotations

import asyncio
import json
import re
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

from bench.consumers import submission
from bench.setup import Market, Scenario, World, market_create

CAP = 15
CAP_LEADS = 40
DEDUPE_CONSUMERS = 40
DEDUPE_COPIES = 4
SLOW_LIMIT = 6
SLOW_THRESHOLD_MS = 60
SLOW_LATENCY_MS = 150.0


@dataclass(frozen=True)
class Verdict:
    """One check's result: did it hold exactly, the figures it judged, and why not."""

    name: str
    ok: bool
    figures: dict[str, Any]
    problems: tuple[str, ...] = ()

    def as_json(self) -> dict[str, Any]:
        return {"ok": self.ok, **self.figures, "problems": list(self.problems)}


# --- the verdicts (pure) -------------------------------------------------------------------


def caps_verdict(*, cap: int, offered: int, capped_sales: int, counter_used: Decimal,
                 sales_per_lead: Sequence[int]) -> Verdict:
    """Caps held exactly: the capped contract sold min(cap, offered) — ``offered``: the
    leads it bid on or was left out of as full — its counter says so, and no lead was sold
    twice (``sales_per_lead``: one entry per lead sent). A lead nobody bought in time is
    counted, not failed: on an overloaded machine an auction may start too late for any
    answer, which says nothing about caps."""
    expected = min(cap, offered)
    problems = []
    if capped_sales != expected:
        problems.append(f"capped contract sold {capped_sales}, expected min({cap}, "
                        f"{offered}) = {expected}")
    if counter_used != capped_sales:
        problems.append(f"cap counter used {counter_used} != its sales {capped_sales}")
    if any(n > 1 for n in sales_per_lead):
        problems.append(f"sales per lead {dict(Counter(sales_per_lead))}: a lead sold twice")
    return Verdict("caps", not problems, {
        "cap": cap, "offered": offered, "capped_sales": capped_sales,
        "counter_used": float(counter_used), "leads": len(sales_per_lead),
        "unsold": sum(1 for n in sales_per_lead if n == 0)}, tuple(problems))


def dedupe_verdict(answers: Sequence[tuple[str, int, str | None]],
                   stored_originals: dict[str, int]) -> Verdict:
    """Dedupe held exactly: ``answers`` are (consumer, HTTP status, lead status) of every
    submission; each consumer got one ``202`` and only ``409 duplicate`` besides, and
    ``stored_originals`` (consumer → stored leads that are not duplicates) is 1 for each."""
    by_consumer: dict[str, Counter[tuple[int, str | None]]] = {}
    for consumer, status, lead_status in answers:
        by_consumer.setdefault(consumer, Counter())[(status, lead_status)] += 1
    problems = []
    for consumer, got in sorted(by_consumer.items()):
        accepted = got[(202, "received")]
        others = sum(got.values()) - accepted - got[(409, "duplicate")]
        if accepted != 1 or others:
            problems.append(f"{consumer}: {dict(got)}")
        if stored_originals.get(consumer, 0) != 1:
            problems.append(f"{consumer}: {stored_originals.get(consumer, 0)} stored "
                            "originals")
    return Verdict("dedupe", not problems, {
        "consumers": len(by_consumer), "submissions": len(answers),
        "accepted": sum(c[(202, "received")] for c in by_consumer.values()),
        "duplicates": sum(c[(409, "duplicate")] for c in by_consumer.values())},
        tuple(problems[:10]))


def health_verdict(*, limit: int, pauses: int, pings: int, paused: bool,
                   pings_by_worker: dict[str, int], workers: int) -> Verdict:
    """The breaker held exactly: one pause, after exactly ``limit`` pings of the slow buyer
    in all (then no more), and — with several workers — those pings were run by more than
    one worker, so the streak that tripped was shared between processes."""
    problems = []
    if pauses != 1 or not paused:
        problems.append(f"{pauses} pause events (contract paused: {paused}); expected one")
    if pings != limit:
        problems.append(f"the slow buyer was pinged {pings} times; expected exactly {limit}")
    ran_on = sum(1 for n in pings_by_worker.values() if n)
    if workers > 1 and ran_on < 2:
        problems.append(f"its auctions ran on {ran_on} worker(s) of {workers}: the sharing "
                        "was not exercised")
    return Verdict("health", not problems, {
        "slow_limit": limit, "pauses": pauses, "pings": pings,
        "pings_by_worker": pings_by_worker}, tuple(problems))


# --- markets -------------------------------------------------------------------------------


def check_market(world: World, slug: str, sim_url: str, *, latencies_ms: Sequence[float],
                 bids: Sequence[tuple[float, float]]) -> Market:
    """A vertical ``bench-<slug>`` of len(latencies_ms) buyers that the bench source may
    post to; buyer i answers after latencies_ms[i] and bids within bids[i]."""
    from apps.buyers.models import Contract, Endpoint
    from apps.sources.models import Source

    market = market_create(Scenario(slug, tuple(latencies_ms)), sim_url)
    for contract_id, (low, high) in zip(market.latency_by_contract, bids, strict=True):
        ping = Endpoint.objects.get(contract_id=contract_id, kind="ping")
        ping.url = re.sub(r"bid_min=[\d.]+&bid_max=[\d.]+", f"bid_min={low:g}&bid_max={high:g}",
                          ping.url)
        ping.save(update_fields=["url"])
        Contract.objects.get(pk=contract_id).save()  # its cached set-up is rebuilt
    Source.objects.get(pk=world.source_id).verticals.add(market.vertical_id)
    return market


def caps_market(world: World, slug: str, sim_url: str) -> Market:
    """The top bidder (always 50) capped at ``CAP`` leads a day; two uncapped at 5–20."""
    from apps.buyers.models import Contract
    from apps.buyers.services import contract_rules_set

    market = check_market(world, slug, sim_url, latencies_ms=(10.0, 10.0, 10.0),
                          bids=((50, 50), (5, 20), (5, 20)))
    contract_rules_set(Contract.objects.get(pk=next(iter(market.latency_by_contract))),
                       caps=[{"period": "day", "metric": "leads", "limit": CAP}])
    return market


def health_market(world: World, slug: str, sim_url: str) -> Market:
    """Two healthy buyers and, last, the slow one (see the module docstring)."""
    from apps.buyers.models import Contract

    market = check_market(world, slug, sim_url,
                          latencies_ms=(10.0, 10.0, SLOW_LATENCY_MS),
                          bids=((5, 20), (5, 20), (1, 1)))
    Contract.objects.filter(pk=slow_contract(market)).update(
        slow_threshold_ms=SLOW_THRESHOLD_MS, slow_count=SLOW_LIMIT)
    return market


def slow_contract(market: Market) -> int:
    return list(market.latency_by_contract)[-1]


# --- sending -------------------------------------------------------------------------------


def batch_send(world: World, requests: Sequence[tuple[str, dict[str, Any]]], *,
               concurrency: int, mode: str = "sync") -> list[tuple[int, dict[str, Any]]]:
    """POST each (web base URL, submission) to ``/api/v1/leads?mode=…``, ``concurrency``
    at a time (all at once when it is len(requests)); the answers in the same order."""
    import aiohttp

    async def run() -> list[tuple[int, dict[str, Any]]]:
        headers = {"Authorization": f"Bearer {world.source_key}",
                   "Content-Type": "application/json"}
        gate = asyncio.Semaphore(concurrency)
        timeout = aiohttp.ClientTimeout(total=60)
        async with aiohttp.ClientSession(timeout=timeout,
                                         connector=aiohttp.TCPConnector(limit=0)) as session:
            async def one(base: str, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
                async with gate, session.post(f"{base}/api/v1/leads?mode={mode}",
                                              data=json.dumps(body), headers=headers) as answer:
                    payload = await answer.json(content_type=None)
                    return answer.status, payload if isinstance(payload, dict) else {}

            return list(await asyncio.gather(*(one(base, body) for base, body in requests)))

    return asyncio.run(run())


def decided_wait(vertical_id: int, timeout: float = 60.0) -> int:
    """Wait until no lead of the vertical is ``received`` or ``auctioning``; return how
    many still are when ``timeout`` ran out (0: all decided)."""
    from apps.leads.models import Lead

    give_up = time.monotonic() + timeout
    while True:
        left = Lead.objects.filter(vertical_id=vertical_id,
                                   status__in=["received", "auctioning"]).count()
        if not left or time.monotonic() > give_up:
            return left
        time.sleep(0.2)


# --- the checks ----------------------------------------------------------------------------


def caps_check(world: World, market: Market, urls: Sequence[str], first: int) -> Verdict:
    """See the module docstring."""
    from django.db.models import Sum

    from apps.auctions.engine.types import Outcome
    from apps.auctions.models import Ping, Sale
    from apps.buyers.models import CapCounter
    from apps.leads.models import Lead

    requests = [(urls[i % len(urls)], submission(market.slug, first + i, "bench-caps"))
                for i in range(CAP_LEADS)]
    answers = batch_send(world, requests, concurrency=8)
    left = decided_wait(market.vertical_id)
    accepted = [a["id"] for status, a in answers if status in (200, 202) and "id" in a]
    capped = next(iter(market.latency_by_contract))
    leads = Lead.objects.filter(uuid__in=accepted)
    per_lead = Counter(Sale.objects.filter(lead__in=leads).values_list("lead_id", flat=True))
    offered = (Ping.objects.filter(auction__lead__in=leads, contract_id=capped, round=1,
                                   outcome__in=[Outcome.BID, Outcome.CAPPED])
               .values("auction__lead").distinct().count())
    verdict = caps_verdict(
        cap=CAP, offered=offered,
        capped_sales=Sale.objects.filter(lead__in=leads, contract_id=capped).count(),
        counter_used=CapCounter.objects.filter(cap__contract_id=capped).aggregate(
            used=Sum("used"))["used"] or Decimal(0),
        sales_per_lead=[per_lead.get(pk, 0) for pk in leads.values_list("pk", flat=True)])
    verdict.figures["answers"] = dict(Counter(f"{s} {a.get('status')}" for s, a in answers))
    verdict.figures["undecided_after_60s"] = left
    return verdict


def dedupe_check(world: World, market: Market, urls: Sequence[str], first: int) -> Verdict:
    """See the module docstring."""
    from django.db.models import Count

    from apps.leads.models import Lead

    requests, consumers = [], []
    for n in range(first, first + DEDUPE_CONSUMERS):
        body = submission(market.slug, n, f"bench-dd-{n}")
        for copy in range(DEDUPE_COPIES):
            requests.append((urls[copy % len(urls)], body))
            consumers.append(body["sub_id"])
    answers = batch_send(world, requests, concurrency=len(requests), mode="async")
    stored = dict(Lead.objects.filter(vertical_id=market.vertical_id, sub_id__in=consumers)
                  .exclude(status="duplicate").values_list("sub_id").annotate(n=Count("pk")))
    decided_wait(market.vertical_id)
    return dedupe_verdict([(c, s, a.get("status")) for c, (s, a) in
                           zip(consumers, answers, strict=True)], stored)


def health_check(world: World, market: Market, urls: Sequence[str], first: int,
                 worker_logs: dict[str, Path]) -> Verdict:
    """See the module docstring."""
    from apps.auctions.engine.types import PINGED
    from apps.auctions.models import HealthEvent, Ping
    from apps.buyers.models import Contract

    slow = slow_contract(market)
    for i in range(2 * SLOW_LIMIT):  # one after another: the count is exact, not racy
        batch_send(world, [(urls[i % len(urls)],
                            submission(market.slug, first + i, "bench-health"))],
                   concurrency=1)
    decided_wait(market.vertical_id)
    pinged = Ping.objects.filter(contract_id=slow, outcome__in=[o.value for o in PINGED])
    uuids = {str(u) for u in pinged.values_list("auction__lead__uuid", flat=True)}
    return health_verdict(
        limit=SLOW_LIMIT,
        pauses=HealthEvent.objects.filter(contract_id=slow, kind="paused").count(),
        pings=pinged.count(),
        paused=Contract.objects.get(pk=slow).auto_paused_at is not None,
        pings_by_worker={name: leads_done_in(log, uuids) for name, log in worker_logs.items()},
        workers=len(worker_logs))


def leads_done_in(log: Path, uuids: set[str]) -> int:
    """How many of ``uuids`` a worker's log says it finished the auction of
    (``auction.done lead=<uuid>``)."""
    done = re.findall(r"auction\.done lead=([0-9a-f-]{36})", log.read_text(errors="replace"))
    return len(uuids & set(done))
