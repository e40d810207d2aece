"""The source-side ping-post rows, through HTTP like the e2e row (``bench.load``).

Open-loop Poisson arrivals at half the sustained sync rate (the e2e row's load) into the
``http`` market (the ``spread`` buyers, 10–250 ms, posts 20 ms). Each arrival is a source
pinging a consumer's non-PII fields (``POST /api/v1/pings``) and, when the ping bids,
posting the full lead to it at once (``POST /api/v1/pings/{id}/post``; see bench.loadgen).

Figures (ms, each from the load generator's clock, as a source sees them):

- **source ping answer overhead** = the ping's response time − min(T, max Lᵢ), where
  T = the source's ``ping_budget_ms`` − ``AUCTION_RESERVE_MS`` is how long the ping waits
  for bids (``source_ping``) and max Lᵢ the slowest buyer's configured latency: the e2e
  row's bound without its posts. Beside it, the same cut at the ``SourcePing`` row's
  timestamps (``PING_PARTS``: sent → ``started_at``; ``started_at`` → ``bids_at`` − the
  bound, the server ping overhead; ``bids_at`` → the answer at the client).
- **post after ping** = the post's response time until its ``sold`` answer − Σ post latency
  (the posts its auction made × ``POST_LATENCY_MS``; one, to the reserved winner, when it
  takes the lead as the simulator's buyers always do): what the post costs beyond the
  winning buyer's own time. The post pings nobody (the ping's ranking is replayed). Beside
  it, the same cut at ``Lead.received_at`` and ``Auction.finished_at`` (``POST_PARTS``).
- counts: pings answered, ``bid`` / ``no_bid``, posted, sold, posts not sold (a bid the
  source was promised and did not get: 0 expected), and the in-time bids the ping rounds
  lost (``bench.auctions.lost_bids`` over the ``Ping`` rows the post writes from the
  ping's round; its window is the ping's own, started_at + T).
"""

from __future__ import annotations

import itertools
from collections import Counter
from typing import Any

from bench.auctions import lost_bids
from bench.load import Rig, Step, cpu_per_lead, settle, step_run
from bench.setup import POST_LATENCY_MS, Market, World
from bench.stats import summary

# A ping-post record of bench.loadgen, by position.
(_START, _PING_MS, _PING_HTTP, _PING_STATUS, _PING_ID, _SENT, _POST_MS, _POST_HTTP,
 _LEAD_STATUS, _LEAD_ID, _POST_SENT) = range(11)
# The two overheads cut at the server's timestamps (each adds up to its figure): the ping
# at SourcePing.started_at and bids_at; the post at Lead.received_at (capture: request,
# auth, validation, dedupe, the insert) and Auction.finished_at (the ranking replayed and
# its Ping rows written, the post, the sale and the outcome rows).
PING_PARTS = ("sent → ping start", "ping round − bound", "bids → ping answer")
POST_PARTS = ("post sent → lead stored", "stored → sold − Σ post lat.", "sold → post answer")


def ping_post_at(rig: Rig, world: World, market: Market, *, rate: float, warmup: float,
                 duration: float) -> dict[str, Any]:
    """Open-loop ping-then-post arrivals at ``rate`` per second for ``duration`` s (after
    ``warmup``), once the server has settled; the figures of ``ping_post_figures``."""
    settled = settle(rig)
    step = step_run(rig, world, market, mode="open", rate=rate, warmup=warmup,
                    duration=duration, ping_post=True)
    return {"rate_offered": round(rate, 1), **ping_post_figures(world, market, step),
            "settled_before": settled}


def ping_bound_ms(world: World, market: Market) -> tuple[float, float]:
    """T of the bench source's pings and the buyers' bound min(T, max Lᵢ), in ms."""
    from django.conf import settings

    from apps.sources.models import Source

    budget = Source.objects.values_list("ping_budget_ms", flat=True).get(pk=world.source_id)
    t_ms = max(50.0, float(budget - settings.AUCTION_RESERVE_MS))  # as source_ping has it
    latency = market.bound_latency_ms
    return t_ms, min(t_ms, latency if latency is not None else t_ms)


def ping_post_figures(world: World, market: Market, step: Step) -> dict[str, Any]:
    """A ping-post step (records of ``bench.loadgen --ping-post``): both overheads and
    their parts at the server's timestamps, the counts and the lost in-time bids."""
    from apps.auctions.models import Auction, Post, PostOutcome, SourcePing
    from apps.leads.models import Lead

    t_ms, bound = ping_bound_ms(world, market)
    answered = [r for r in step.records
                if r[_PING_HTTP] == 200 and r[_PING_STATUS] in ("bid", "no_bid")]
    posted = [r for r in answered if r[_POST_MS] is not None]
    sold = [r for r in posted if _sold(r)]
    pings = {str(uuid): (started, bids) for uuid, started, bids in SourcePing.objects.filter(
        uuid__in=[r[_PING_ID] for r in answered]).values_list("uuid", "started_at", "bids_at")}
    received = {str(uuid): (pk, at) for uuid, pk, at in Lead.objects.filter(
        uuid__in=[r[_LEAD_ID] for r in posted if r[_LEAD_ID]]).values_list(
        "uuid", "pk", "received_at")}
    auction_by_lead = {lead: (pk, finished) for pk, lead, finished in Auction.objects.filter(
        lead_id__in=[pk for pk, _ in received.values()]).values_list(
        "pk", "lead_id", "finished_at")}
    posts: dict[int, int] = {}
    for auction_id in Post.objects.filter(
            auction_id__in=[pk for pk, _ in auction_by_lead.values()]).exclude(
            outcome=PostOutcome.RETRY).values_list("auction_id", flat=True):
        posts[auction_id] = posts.get(auction_id, 0) + 1

    ping_parts: dict[str, list[float]] = {name: [] for name in PING_PARTS}
    for record in answered:
        if record[_PING_ID] not in pings:
            continue
        started, bids = pings[record[_PING_ID]]
        sent = record[_SENT]
        marks = (sent, started.timestamp(), bids.timestamp(), sent + record[_PING_MS] / 1000)
        spans = [1000 * (b - a) for a, b in itertools.pairwise(marks)]
        spans[1] -= bound
        for name, span in zip(PING_PARTS, spans, strict=True):
            ping_parts[name].append(span)
    post_overhead: list[float] = []
    post_parts: dict[str, list[float]] = {name: [] for name in POST_PARTS}
    windows: dict[int, tuple[float, float]] = {}
    for record in posted:
        lead_pk, stored = received.get(record[_LEAD_ID], (0, None))
        if lead_pk not in auction_by_lead or record[_PING_ID] not in pings:
            continue
        auction_id, finished = auction_by_lead[lead_pk]
        pinged_at = pings[record[_PING_ID]][0].timestamp()
        windows[auction_id] = (pinged_at, pinged_at + t_ms / 1000)  # the ping's round
        if not _sold(record):
            continue
        post_ms = posts.get(auction_id, 0) * POST_LATENCY_MS
        post_overhead.append(record[_POST_MS] - post_ms)
        if stored is None or finished is None:
            continue
        sent = record[_POST_SENT]
        marks = (sent, stored.timestamp(), finished.timestamp(),
                 sent + record[_POST_MS] / 1000)
        spans = [1000 * (b - a) for a, b in itertools.pairwise(marks)]
        spans[1] -= post_ms
        for name, span in zip(POST_PARTS, spans, strict=True):
            post_parts[name].append(span)
    lost, _ = lost_bids(market, windows)
    return {
        "pings_per_s": round(len(answered) / step.window_s, 1),
        "submitted": len(step.records), "pings_answered": len(answered),
        "ping_failed": len(step.records) - len(answered),
        "bid": sum(1 for r in answered if r[_PING_STATUS] == "bid"),
        "no_bid": sum(1 for r in answered if r[_PING_STATUS] == "no_bid"),
        "posted": len(posted), "sold": len(sold), "posts_not_sold": len(posted) - len(sold),
        "post_answers": dict(Counter(f"{r[_POST_HTTP]} {r[_LEAD_STATUS]}" for r in posted)),
        "client_errors": step.errors,
        "ping_t_ms": t_ms, "bound": f"min(T = {t_ms:g}, {bound:g} ms) = {bound:g} ms",
        "ping_response_ms": summary([r[_PING_MS] for r in answered]),
        "ping_overhead_ms": summary([r[_PING_MS] - bound for r in answered]),
        "ping_overhead_parts_ms": {name: summary(v) for name, v in ping_parts.items()},
        "post_response_ms": summary([r[_POST_MS] for r in sold]),
        "post_overhead_ms": summary(post_overhead),
        "post_overhead_parts_ms": {name: summary(v) for name, v in post_parts.items()},
        "post_bound": f"posts x {POST_LATENCY_MS:g} ms",
        "lost_in_time_bids": lost["total"],
        "lost_in_time_bids_split": lost,
        "cpu_by_process": cpu_per_lead(step, len(answered)),
        "arrival_lag_ms_max": step.arrival_lag_ms_max,
    }



def _sold(record: list[Any]) -> bool:
    return record[_POST_HTTP] == 200 and record[_LEAD_STATUS] == "sold"
