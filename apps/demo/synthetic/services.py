"""``synthetic_generate`` and ``synthetic_clear``: the entry points."""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import partial

from django.db import connection, transaction
from django.db.models import Max, Min, ProtectedError

from apps.auctions.models import Auction, HealthEvent, Ping, Post, Sale, SourcePing
from apps.billing.models import Conversion, Return
from apps.buyers.models import Buyer
from apps.demo.synthetic.after_sale import after_sale_write
from apps.demo.synthetic.pings import source_pings_write
from apps.demo.synthetic.simulation import _arrivals, _Simulator
from apps.demo.synthetic.world import HOME, MARK, SUFFIX, _markets, _world_prepare
from apps.demo.synthetic.writing import _copy_write, _ids, _orm_write, _superuser, _Writer
from apps.leads.models import DedupeClaim, Lead
from apps.reports.services import rollup_refresh
from apps.sources.models import Source, Vertical
from apps.webhooks.models import WebhookAttempt, WebhookDelivery

# --- the services -------------------------------------------------------------------------


@dataclass(frozen=True)
class GenerateResult:
    counts: dict[str, int]
    seconds: dict[str, float]  # setup, simulate, write, rollup, total
    start: datetime
    end: datetime
    method: str


def synthetic_generate(*, count: int, days: int = 30, seed: int = 1, buyers: int = 12,
                       batch: int = 10_000, rollup: bool = True, end: datetime | None = None,
                       method: str = "auto", after_sale: bool = True, pings: bool = True,
                       progress: Callable[[str], None] | None = None) -> GenerateResult:
    """Write ``count`` synthetic leads received over the ``days`` before ``end`` (default:
    now) with their auctions, then rebuild the rollups of that range (unless ``rollup`` is
    false). Same ``seed``, ``end`` and world → same rows (ids aside). ``method`` is ``copy``
    (PostgreSQL COPY from a writer thread, overlapping the simulation; not inside a
    transaction), ``orm`` (``bulk_create``) or ``auto`` (COPY when it can). Each batch is
    committed on its own: an interrupted run leaves whole leads, which ``synthetic_clear``
    removes. With ``after_sale`` the sales then get their returns, conversions and
    webhook deliveries (``apps.demo.synthetic.after_sale``); with ``pings`` the first demo
    source's pings (``apps.demo.synthetic.pings``). Raises ValueError when the seed's leads
    are already there."""
    seconds = dict.fromkeys(("setup", "simulate", "write", "after_sale", "pings", "rollup"),
                            0.0)
    began = time.perf_counter()
    end = (end or datetime.now(UTC)).astimezone(UTC)
    start = end - timedelta(days=days)
    if method == "auto":  # COPY runs on a connection of its own: it must see committed rows
        method = "copy" if connection.vendor == "postgresql" and not \
            connection.in_atomic_block else "orm"
    if method == "copy" and connection.in_atomic_block:
        raise ValueError("COPY writes from a connection of its own: call it outside a "
                         "transaction, or use the orm method.")
    with transaction.atomic():
        _world_prepare(buyers)
    rng = random.Random(seed)
    markets, events = _markets(start, end, rng)
    simulator = _Simulator(markets, rng, seed)
    simulator.rows.health = [e for e in events if e[3] < end]
    arrivals = _arrivals(random.Random(f"{seed}-arrivals"), count, start, end)
    counts: dict[str, int] = dict.fromkeys(("lead", "auction", "ping", "post", "sale",
                                            "healthevent"), 0)
    writer = None
    if method == "copy":
        writer = _Writer(partial(_copy_write, unchecked=_superuser()))
    seconds["setup"] = time.perf_counter() - began
    done = 0
    try:
        while done < count or simulator.rows.health:
            n = min(batch, count - done)
            lap = time.perf_counter()
            for lead_id, auction_id, at in zip(_ids(Lead, n) if n else [],
                                               _ids(Auction, n) if n else [], arrivals,
                                               strict=False):
                simulator.lead(lead_id, auction_id, at)
            rows = simulator.take()
            if not done and rows.leads and Lead.objects.filter(
                    uuid__in=[row[1] for row in rows.leads[:50]]).exists():
                raise ValueError(f"The leads of seed {seed} are already there: clear them "
                                 "first (--clear) or pick another seed.")
            seconds["simulate"] += time.perf_counter() - lap
            if writer is not None:
                writer.put(rows)
            else:
                lap = time.perf_counter()
                _orm_write(rows)
                seconds["write"] += time.perf_counter() - lap
            for name, value in rows.counts().items():
                counts[name] += value
            done += n
            if progress:
                rate = done / max(time.perf_counter() - began, 1e-9)
                progress(f"{done:,}/{count:,} leads, {counts['ping']:,} pings "
                         f"({rate:,.0f} leads/s)")
    except BaseException:
        if writer is not None:
            writer.close(raising=False)  # the first error is the one to see
        raise
    if writer is not None:
        writer.close()
        seconds["write"] = writer.seconds
    if after_sale:
        lap = time.perf_counter()
        counts.update(after_sale_write(start, end, seed, MARK))
        seconds["after_sale"] = time.perf_counter() - lap
    if pings:
        lap = time.perf_counter()
        counts.update(source_pings_write(start, end, seed, MARK))
        seconds["pings"] = time.perf_counter() - lap
    if rollup:
        lap = time.perf_counter()
        rollup_refresh(start, max(simulator.latest, end) + timedelta(microseconds=1))
        seconds["rollup"] = time.perf_counter() - lap
    seconds["total"] = time.perf_counter() - began
    return GenerateResult(counts, seconds, start, end, method)


def synthetic_clear(*, rollup: bool = True) -> dict[str, int]:
    """Delete every synthetic row (leads and all that hangs off them, synthetic health
    events, buyers, sources and the home vertical when nothing real uses them) and rebuild
    the rollups of the hours they covered. Returns the number of rows deleted per table."""
    leads = Lead.objects.filter(sub_id=MARK)
    span = leads.aggregate(first=Min("received_at"), last=Max("completed_at"))
    pinged = SourcePing.objects.filter(sub_id=MARK).aggregate(first=Min("created_at"))["first"]
    if pinged is not None and (span["first"] is None or pinged < span["first"]):
        span["first"] = pinged  # a ping may come an hour before its source's first lead
    lead_ids = f"SELECT id FROM {Lead._meta.db_table} WHERE sub_id = %s"  # noqa: S608
    auction_ids = f"SELECT id FROM {Auction._meta.db_table} WHERE lead_id IN ({lead_ids})"  # noqa: S608
    deleted: dict[str, int] = {}
    delivery_ids = (f"SELECT id FROM {WebhookDelivery._meta.db_table} "  # noqa: S608
                    f"WHERE lead_id IN ({lead_ids})")
    with transaction.atomic(), connection.cursor() as cursor:
        _, by_model = SourcePing.objects.filter(sub_id=MARK).delete()  # and any cap holds
        deleted["sourceping"] = by_model.get(SourcePing._meta.label, 0)
        for name, model, column, subquery in (
                ("webhookattempt", WebhookAttempt, "delivery_id", delivery_ids),
                ("webhookdelivery", WebhookDelivery, "lead_id", lead_ids),
                ("conversion", Conversion, "lead_id", lead_ids),
                ("return", Return, "lead_id", lead_ids),
                ("ping", Ping, "auction_id", auction_ids),
                ("post", Post, "auction_id", auction_ids),
                ("sale", Sale, "lead_id", lead_ids),
                ("dedupeclaim", DedupeClaim, "lead_id", lead_ids),
                ("auction", Auction, "lead_id", lead_ids)):
            cursor.execute(f"DELETE FROM {model._meta.db_table} "  # noqa: S608
                           f"WHERE {column} IN ({subquery})", [MARK])
            deleted[name] = cursor.rowcount
        cursor.execute(f"UPDATE {Lead._meta.db_table} SET duplicate_of_id = NULL "  # noqa: S608
                       f"WHERE sub_id <> %s AND duplicate_of_id IN ({lead_ids})", [MARK, MARK])
        cursor.execute(f"DELETE FROM {Lead._meta.db_table} WHERE sub_id = %s", [MARK])  # noqa: S608
        deleted["lead"] = cursor.rowcount
        deleted["healthevent"] = HealthEvent.objects.filter(reason__endswith=SUFFIX).delete()[0]
    for queryset in (Buyer.objects.filter(company__endswith=SUFFIX),
                     Source.objects.filter(name__endswith=SUFFIX),
                     Vertical.objects.filter(slug=HOME, description__endswith=f"{SUFFIX}.")):
        try:
            with transaction.atomic():
                queryset.delete()
        except ProtectedError:
            pass  # real rows use it: keep it
    if rollup and span["first"] is not None:
        rollup_refresh(span["first"], span["last"] or span["first"])
    return deleted
