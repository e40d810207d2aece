"""The cost figure: CPU milliseconds per lead, by phase — steadier than any timing.

Wall-clock rows swing with whatever else the machine runs; the CPU a lead costs this process
barely does (it is what a core spends, not how long the lead waited for one). Two
measurements, in process, over ``leads`` leads of the ``cost`` market (50 buyers that all
answer at once, so an auction's wall time is mostly its own CPU):

- **capture** (an async lead): ``POST /api/v1/leads?mode=async`` through Django's test client
  — the whole Django + DRF stack, key authentication, validation and normalization, dedupe,
  the insert — without its auction, which ``task_enqueue`` would start on another thread
  (it is run next, here, instead);
- **auction** (a sold lead): ``auction_run`` of each captured lead on this thread: claim,
  set-ups, eligibility, 50 pings built, sent and parsed, ranking, the ping rows, the post
  and the sale with the lead's outcome. The HTTP loop thread's CPU (putting the requests on
  the wire and reading the answers) is counted apart, from the process total.

A sold sync lead costs the two together. Each phase is the CPU of the function named for it
(``time.thread_time``), less the phases nested inside it, so the phases add up to the total;
what no named function covers is the phase ``other``. The leads run in ``batches`` (the
spread is the range of the batch means) after a warm-up, so caches and connections are hot
as in a running server.
"""

from __future__ import annotations

import contextlib
import functools
import json
import statistics
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from bench.consumers import submission
from bench.setup import Market, World

# (phase, module, function): patched on the module that calls it, for this run only
CAPTURE_PHASES = (
    ("validation + normalization", "apps.leads.services", "envelope_validate"),
    ("validation + normalization", "apps.leads.services", "fields_validate"),
    ("enrichment", "apps.leads.services", "_enrich"),
    ("dedupe", "apps.leads.services", "dedupe_keys"),
    ("dedupe", "apps.leads.services", "dedupe_claim"),
    ("store", "apps.leads.services", "_store"),
    ("capture service", "apps.leads.api.views", "lead_capture"),
)
AUCTION_PHASES = (
    ("claim + load", "apps.auctions.services.run", "_claim"),
    ("set-ups", "apps.auctions.services.run", "contract_setups"),
    ("post context", "apps.auctions.services.run", "lead_context_build"),
    ("consumer purchases", "apps.auctions.services.run", "buyers_who_bought"),
    ("eligibility", "apps.auctions.services.run", "select_eligible"),
    ("ping build", "apps.auctions.services.pinging", "wire_build"),
    ("ping send (auction thread)", "apps.auctions.services.pinging", "http_send_many"),
    ("ping parse", "apps.auctions.services.pinging", "_interpret"),
    ("rank", "apps.auctions.services.run", "rank_bids"),
    ("ping rows", "apps.auctions.services.run", "pings_prepare"),
    ("ping rows", "apps.auctions.services.run", "pings_write"),
    ("post", "apps.auctions.services.run", "ranking_post"),
    ("sale + outcome writes", "apps.auctions.services.posting", "_sale_record"),
    ("sale + outcome writes", "apps.auctions.services.run", "lead_finalize"),
    ("bookkeeping (acceptance counts, breaker)", "apps.auctions.services.run",
     "auction_bookkeeping"),
)


class QueryCount:
    """Database statements this thread sends — reads, writes, and transaction control
    (savepoints) apart: counts that do not move with the machine's load
    (``connection.execute_wrapper``)."""

    def __init__(self) -> None:
        self.reads = self.writes = self.other = 0

    def __call__(self, execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
        verb = sql.lstrip()[:6].upper()
        if verb == "SELECT":
            self.reads += 1
        elif verb in ("INSERT", "UPDATE", "DELETE"):
            self.writes += 1
        else:
            self.other += 1
        return execute(sql, params, many, context)


class CpuPhases:
    """Exclusive CPU per phase: a phase's thread CPU less its nested phases'. Phases nest
    per thread; the totals add up every thread's (``bench.http_phases`` runs it in the
    web server's request and auction threads)."""

    def __init__(self) -> None:
        self.totals: dict[str, float] = {}
        self._local = threading.local()  # .stack: per open phase, [started, nested time]
        self._lock = threading.Lock()

    def wrap(self, phase: str, function: Any) -> Any:
        @functools.wraps(function)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            stack = self._local.__dict__.setdefault("stack", [])
            frame = [time.thread_time(), 0.0]
            stack.append(frame)
            try:
                return function(*args, **kwargs)
            finally:
                stack.pop()
                spent = time.thread_time() - frame[0]
                with self._lock:
                    self.totals[phase] = self.totals.get(phase, 0.0) + spent - frame[1]
                if stack:
                    stack[-1][1] += spent

        return wrapper

    def snapshot(self) -> dict[str, float]:
        """The totals so far (a copy)."""
        with self._lock:
            return dict(self.totals)

    @contextlib.contextmanager
    def patched(self, phases: Sequence[tuple[str, str, str]]) -> Iterator[CpuPhases]:
        with phases_wrapped(phases, self.wrap):
            yield self


@contextlib.contextmanager
def phases_wrapped(phases: Sequence[tuple[str, str, str]],
                   wrap: Callable[[str, Any], Any]) -> Iterator[None]:
    """Each ``(phase, module, function)`` of ``phases`` replaced on its module by
    ``wrap(phase, function)`` for the block, and put back after it. Shared with
    ``bench.instructions``."""
    import importlib

    originals = []
    for phase, module_name, name in phases:
        module = importlib.import_module(module_name)
        original = getattr(module, name)
        originals.append((module, name, original))
        setattr(module, name, wrap(phase, original))
    try:
        yield
    finally:
        for module, name, original in reversed(originals):
            setattr(module, name, original)


def cost_figures(world: World, market: Market, first_consumer: int, *, leads: int,
                 batches: int = 3, warmup: int = 20) -> dict[str, Any]:
    """CPU ms per captured async lead and per sold lead's auction, by phase, with the
    spread over ``batches``; see the module docstring."""
    client = api_client(world.source_key)
    consumer = first_consumer
    runs: dict[str, list[dict[str, float]]] = {"capture": [], "auction": []}
    per_batch = max(1, leads // batches)
    sold = unsold = 0
    for batch in range(batches + 1):  # batch 0 warms up and is not counted
        count = warmup if batch == 0 else per_batch
        captured, capture = _captures(client, market, consumer, count)
        consumer += count
        auction = _auctions(captured)
        if batch:
            runs["capture"].append(_per_lead(capture, count))
            runs["auction"].append(_per_lead(auction, count))
            were_sold = sold_count(captured)
            sold, unsold = sold + were_sold, unsold + count - were_sold
    return {"leads": per_batch * batches, "batches": batches, "buyers": len(
        market.latency_by_contract), "sold": sold, "not_sold": unsold,
            "capture_cpu_ms": _summary(runs["capture"]),
            "auction_cpu_ms": _summary(runs["auction"])}


def api_client(source_key: str) -> Any:
    """Django's test client, authenticated as the source with ``source_key``."""
    from django.test import Client

    # the host a local client would name (the settings allow it outside the tests too)
    return Client(HTTP_AUTHORIZATION=f"Bearer {source_key}", HTTP_HOST="127.0.0.1")


def captures_post(client: Any, slug: str, first: int, count: int) -> list[str]:
    """The capture loop: ``count`` async leads (consumers ``first`` …) posted to market
    ``slug`` through ``client``, their auctions not started (``task_enqueue`` would start
    each on another thread); their public ids. Shared with ``bench.instructions``."""
    with auctions_unstarted():
        return captures_send(client, slug, first, count)


@contextlib.contextmanager
def auctions_unstarted() -> Iterator[None]:
    """``task_enqueue`` patched out for the block: captured leads' auctions do not start."""
    from unittest import mock

    with mock.patch("apps.leads.services.task_enqueue"):
        yield


def captures_send(client: Any, slug: str, first: int, count: int) -> list[str]:
    """``captures_post`` inside ``auctions_unstarted``, which the caller holds."""
    ids: list[str] = []
    for n in range(first, first + count):
        response = client.post("/api/v1/leads?mode=async",
                               data=json.dumps(submission(slug, n)),
                               content_type="application/json")
        if response.status_code != 202:
            raise RuntimeError(f"cost lead {n}: {response.status_code} {response.content!r}")
        ids.append(response.json()["id"])
    return ids


def lead_pks(public_ids: list[str]) -> list[int]:
    """The leads' primary keys, in the order of ``public_ids``."""
    from apps.leads.models import Lead

    by_uuid = dict(Lead.objects.filter(uuid__in=public_ids).values_list("uuid", "pk"))
    return [by_uuid[_uuid(i)] for i in public_ids]


def auctions_run(lead_ids: list[int]) -> None:
    """The auction loop: ``auction_run`` of each lead, one after the other, on this thread.
    Shared with ``bench.instructions``."""
    from apps.auctions.services.run import auction_run

    for lead_id in lead_ids:
        auction_run(lead_id)


def sold_count(lead_ids: list[int]) -> int:
    """How many of the leads ``lead_ids`` are sold."""
    from apps.leads.models import Lead, LeadStatus

    return Lead.objects.filter(pk__in=lead_ids, status=LeadStatus.SOLD).count()


def _captures(client: Any, market: Market, first: int, count: int
              ) -> tuple[list[int], dict[str, float]]:
    from django.db import connection

    phases, queries = CpuPhases(), QueryCount()
    with phases.patched(CAPTURE_PHASES), connection.execute_wrapper(queries):
        started = time.thread_time()
        ids = captures_post(client, market.slug, first, count)
        total = time.thread_time() - started
    totals = _with_other(phases.totals, total, "request handling (Django, DRF)")
    return lead_pks(ids), {**totals, **_counted(queries)}


def _auctions(lead_ids: list[int]) -> dict[str, float]:
    from django.db import connection

    phases, queries = CpuPhases(), QueryCount()
    with phases.patched(AUCTION_PHASES), connection.execute_wrapper(queries):
        thread, process = time.thread_time(), time.process_time()
        auctions_run(lead_ids)
        thread, process = time.thread_time() - thread, time.process_time() - process
    totals = _with_other(phases.totals, thread, "other (auction thread)")
    totals["HTTP loop thread"] = max(0.0, process - thread)
    return {**totals, **_counted(queries)}


_READS, _WRITES, _OTHER = "#database reads", "#database writes", "#savepoints and such"


def _counted(queries: QueryCount) -> dict[str, float]:
    """The statement counts, under keys that ``_per_lead`` keeps out of the CPU total (it
    divides them by the leads like the seconds, without the ×1000)."""
    return {_READS: queries.reads / 1000, _WRITES: queries.writes / 1000,
            _OTHER: queries.other / 1000}


def _with_other(totals: dict[str, float], total: float, other: str) -> dict[str, float]:
    result = dict(totals)
    result[other] = max(0.0, total - sum(totals.values()))
    return result


def _per_lead(totals: dict[str, float], count: int) -> dict[str, float]:
    per_lead = {name: 1000 * seconds / count for name, seconds in totals.items()}
    per_lead["total"] = sum(v for name, v in per_lead.items() if not name.startswith("#"))
    return per_lead


def _summary(batches: list[dict[str, float]]) -> dict[str, dict[str, float]]:
    """Per phase: the mean over the batches of CPU ms per lead, and the range of the batch
    means (the spread a figure is quoted with)."""
    names = sorted({name for batch in batches for name in batch},
                   key=lambda n: (n.startswith("#"), n == "total", -statistics.fmean(
                       [b.get(n, 0.0) for b in batches])))
    return {name: {"mean": round(statistics.fmean(v := [b.get(name, 0.0) for b in batches]), 3),
                   "min": round(min(v), 3), "max": round(max(v), 3)} for name in names}


def _uuid(value: str) -> Any:
    import uuid

    return uuid.UUID(value)
