"""One bench run, after Django is set up on the bench database: every row, then the report.

The in-process rows run first, with nothing else of ours running; gunicorn starts only for
the HTTP rows. ``bench_run`` returns the results document (see ``bench.report``).
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path
from typing import Any

from bench import (
    auctions,
    cost,
    fanout,
    http_phases,
    instructions,
    load,
    phases,
    pingpost,
    report,
)
from bench.plan import Plan
from bench.processes import OTHERS, Children, CpuMeter
from bench.redisdb import redis_flush
from bench.report import progress
from bench.setup import (
    BUYERS,
    POST_LATENCY_MS,
    SOURCE_BUDGET_MS,
    Database,
    Market,
    World,
    leads_create,
    world_create,
)

# Consumer numbers: each market's pre-captured leads, then the HTTP steps (bench.load).
_FIRST_CONSUMER = {"hang": 0, "spread": 200_000, "burst": 400_000, "fanout": 600_000,
                   "phases": 800_000, "cost": 1_000_000, "instructions": 1_200_000}
# below the sync rate search's saturation on this machine: the cost of a lead, not of an
# overload (whose leads answered 202 spend their CPU past the window)
HTTP_PHASE_SYNC_CLIENTS = 16
SIMULATOR_LOG = "simulator.jsonl"  # the in-process rows' simulator (bench.simlog)
NOISY = 0.2  # other processes using more of a core than this is worth a note


def bench_run(plan: Plan, args: argparse.Namespace, database: Database, redis_url: str,
              var: Path, started: float) -> dict[str, Any]:
    """Measure every row as ``plan`` says, print the table and write the results."""
    from apps.core.process import process_tune

    figures: dict[str, float | None] = {}
    extra: dict[str, Any] = {"latency_summaries": {}, "cpu_by_process": {}, "notes": [],
                             "machine_noise_core_share": {"before start": _machine_busy()}}
    if extra["machine_noise_core_share"]["before start"] > NOISY:
        extra["notes"].append(
            f"the machine was busy before the run: other processes used "
            f"{100 * extra['machine_noise_core_share']['before start']:.0f}% of a core")
        progress(extra["notes"][-1])
    with Children() as children:
        simulator = children.simulator(args.seed, log_path=var / SIMULATOR_LOG)
        http_simulator = children.simulator(args.seed)
        world = world_create(simulator.url, http_simulator.url, args.seed,
                             webhooks=args.webhooks)
        if args.webhooks:
            extra["notes"].append("--webhooks: the source has a webhook endpoint and a "
                                  "postback URL (at the HTTP simulator)")
        progress(f"set-up: {database.vendor} database, simulators at {simulator.url} "
                 f"(logging) and {http_simulator.url}, {len(world.markets)} markets x "
                 f"{BUYERS} buyers")
        leads = _leads_capture(world, plan)
        for name in ("hang", "spread", "burst"):
            auctions.auctions_run(world.markets[name], leads[name][:plan.warmup_auctions],
                                  budget_ms=_budget(plan, name))
        process_tune()  # as a web process does once it is set up

        _in_process_rows(plan, world, leads, simulator.pid, var / SIMULATOR_LOG, figures,
                         extra)
        _diagnostics(plan, world, leads["phases"], var, args.profile, extra)
        _cost_rows(plan, world, figures, extra)
        _instruction_rows(plan, args, simulator.url, extra)
        children.stop_simulator(simulator)
        if args.no_http:
            extra["notes"].append("--no-http: the HTTP rows were not measured")
        else:
            _http_rows(plan, args, world, children, http_simulator.pid, var, figures, extra)
            _http_phase_rows(plan, args, world, children, http_simulator.pid, var, extra)
        if args.webhooks:
            extra["webhook_deliveries"] = _deliveries_by_status()
            extra["notes"].append("--webhooks: deliveries by status at the end: " + ", ".join(
                f"{status} {n}" for status, n in extra["webhook_deliveries"].items()))
            progress(extra["notes"][-1])

    _simulator_check(extra)
    web = "n/a" if args.no_http else (
        f"gunicorn gthread, {args.workers} workers x {args.threads} threads"
        + (f", config {args.gunicorn_config}" if args.gunicorn_config else ""))
    results = report.results_build(
        figures, quick=args.quick,
        machine_info=report.machine(_db_label(database, redis_url), web),
        extra=extra, elapsed_s=time.monotonic() - started)
    latest, copy = report.results_write(results)
    print()
    print(report.table(results))
    print(report.details(extra))
    print(f"\nwritten: {latest} and {copy.name} ({results['elapsed_s']:.0f} s)")
    return results


def _deliveries_by_status() -> dict[str, int]:
    """How the run's webhook and postback deliveries stand (``--webhooks``), as
    ``"<market> <status>": count``: proof that the e2e figures were measured with deliveries
    going out, not merely configured. The in-process rows' deliveries are sent by the
    harness's own dispatcher pool, as in the embedded default; the HTTP rows' web server
    enqueues them on its broker, which no worker reads in the bench (in production Celery
    workers send them): the web process writes the outbox rows and never sends one itself."""
    from django.db.models import Count

    from apps.webhooks.models import WebhookDelivery

    rows = (WebhookDelivery.objects.values("lead__vertical__slug", "status")
            .annotate(n=Count("pk")).order_by("lead__vertical__slug", "status"))
    return {f"{row['lead__vertical__slug']} {row['status']}": row["n"] for row in rows}


def _budget(plan: Plan, market: str) -> float | None:
    return plan.hang_budget_ms if market == "hang" else None


def _leads_capture(world: World, plan: Plan) -> dict[str, list[int]]:
    counts = {"hang": plan.warmup_auctions + plan.auctions + plan.concurrent_auctions,
              "spread": plan.warmup_auctions + plan.auctions,
              "burst": plan.warmup_auctions + plan.auctions}
    leads = {name: leads_create(world, world.markets[name], _FIRST_CONSUMER[name], count)
             for name, count in counts.items()}
    leads["fanout"] = leads_create(world, world.markets["burst"], _FIRST_CONSUMER["fanout"], 1)
    leads["phases"] = leads_create(world, world.markets["spread"], _FIRST_CONSUMER["phases"],
                                   2 * plan.phase_auctions)
    return leads


def _in_process_rows(plan: Plan, world: World, leads: dict[str, list[int]], simulator_pid: int,
                     answers_log: Path, figures: dict[str, float | None],
                     extra: dict[str, Any]) -> None:
    markets, warm, n = world.markets, plan.warmup_auctions, plan.auctions

    progress(f"row 1: {n} auctions, one buyer hanging, then {plan.concurrent_auctions} on "
              f"{plan.concurrent_threads} threads")
    hang_ids = leads["hang"][warm:]
    sequential = auctions.auctions_run(markets["hang"], hang_ids[:n],
                                       budget_ms=plan.hang_budget_ms, simulator_pid=simulator_pid,
                                       answers_log=answers_log)
    concurrent = auctions.auctions_run(markets["hang"], hang_ids[n:],
                                       threads=plan.concurrent_threads,
                                       budget_ms=plan.hang_budget_ms, simulator_pid=simulator_pid,
                                       answers_log=answers_log)
    concurrent.extra["threads"] = plan.concurrent_threads
    overrun = auctions.overrun_figures(sequential, concurrent)
    figures["deadline_overrun_ms_p99"] = overrun["sequential"]["p99"]
    figures["deadline_overrun_ms_max"] = overrun["sequential"]["max"]
    extra["deadline_overrun"] = overrun
    extra["latency_summaries"]["deadline overrun"] = overrun["sequential"]
    extra["latency_summaries"][f"  same, {plan.concurrent_threads} concurrent"] = (
        overrun["concurrent"])
    if concurrent.lost_in_time_bids:
        extra["notes"].append(
            f"the {plan.concurrent_threads}-thread deadline variant lost "
            f"{concurrent.lost_in_time_bids} in-time bids ({concurrent.lost}); not in the figure")

    progress(f"rows 2-3: {n} auctions with spread latencies, {n} with all 50 at once")
    spread = auctions.auctions_run(markets["spread"], leads["spread"][warm:],
                                   simulator_pid=simulator_pid, answers_log=answers_log)
    burst = auctions.auctions_run(markets["burst"], leads["burst"][warm:],
                                  simulator_pid=simulator_pid, answers_log=answers_log)
    spread_figures = auctions.overhead_figures(markets["spread"], spread)
    burst_figures = auctions.overhead_figures(markets["burst"], burst)
    figures["ping_overhead_ms_p50"] = spread_figures["overhead_ms"]["p50"]
    figures["ping_overhead_ms_p99"] = spread_figures["overhead_ms"]["p99"]
    figures["burst_overhead_ms_p99"] = burst_figures["overhead_ms"]["p99"]
    extra["ping_overhead"] = spread_figures
    extra["burst_overhead"] = burst_figures
    extra["latency_summaries"]["ping overhead, spread"] = spread_figures["overhead_ms"]
    extra["latency_summaries"]["  spread, over configured Lᵢ"] = (
        spread_figures["overhead_over_configured_latency_ms"])
    extra["latency_summaries"]["ping overhead, burst"] = burst_figures["overhead_ms"]
    extra["latency_summaries"]["  burst, over configured Lᵢ"] = (
        burst_figures["overhead_over_configured_latency_ms"])
    extra["cpu_by_process"]["in-process auction_run, spread"] = spread_figures["cpu_by_process"]
    extra["cpu_by_process"]["in-process auction_run, burst"] = burst_figures["cpu_by_process"]
    extra["machine_noise_core_share"].update({
        "row 1": auctions.noise(sequential), "row 1 concurrent": auctions.noise(concurrent),
        "row 2": auctions.noise(spread), "row 3": auctions.noise(burst)})
    figures["lost_in_time_bids"] = (sequential.lost_in_time_bids + spread.lost_in_time_bids
                                    + burst.lost_in_time_bids)
    extra["lost_in_time_bids_by_run"] = {
        "hang sequential": sequential.lost, "hang concurrent": concurrent.lost,
        "spread": spread.lost, "burst": burst.lost}
    missing = {name: len(ids) - len(result.times) for name, ids, result in (
        ("hang sequential", hang_ids[:n], sequential),
        ("hang concurrent", hang_ids[n:], concurrent),
        ("spread", leads["spread"][warm:], spread), ("burst", leads["burst"][warm:], burst))}
    if any(missing.values()):
        extra["notes"].append(f"auctions without a decision time: {missing}")

    progress(f"row 8: {plan.fanout_auctions} fan-outs of {BUYERS} pings per client")
    cpu = fanout.fanout_cpu(markets["burst"], leads["fanout"][0], plan.fanout_auctions)
    figures["cpu_ratio_vs_requests_threads"] = cpu["ratio"]
    extra["fanout_cpu"] = cpu


def _diagnostics(plan: Plan, world: World, phase_leads: list[int], var: Path, profile: bool,
                 extra: dict[str, Any]) -> None:
    """The phase breakdown of row 2's overhead (and, asked for, a cProfile)."""
    progress(f"diagnostic: phase breakdown of {plan.phase_auctions} spread auctions")
    count = plan.phase_auctions
    profile_path = var / "profile.txt" if profile else None
    extra["phases"] = phases.phase_breakdown(world.markets["spread"], phase_leads[:count],
                                             var / SIMULATOR_LOG, profile_path)
    if profile_path is not None:
        phases.profile_auctions(phase_leads[count:], profile_path)


def _cost_rows(plan: Plan, world: World, figures: dict[str, float | None],
               extra: dict[str, Any]) -> None:
    """The cost figure: CPU ms per captured async lead and per sold lead's auction, by
    phase (``bench.cost``)."""
    progress(f"cost: CPU per lead by phase, {plan.cost_leads} leads in {plan.cost_batches} "
             "batches")
    result = cost.cost_figures(world, world.markets["cost"], _FIRST_CONSUMER["cost"],
                               leads=plan.cost_leads, batches=plan.cost_batches)
    extra["cost"] = result
    capture = result["capture_cpu_ms"]["total"]["mean"]
    auction = result["auction_cpu_ms"]["total"]["mean"]
    figures["cpu_ms_per_async_capture"] = capture
    figures["cpu_ms_per_sold_sync_lead"] = round(capture + auction, 3)


def _instruction_rows(plan: Plan, args: argparse.Namespace, sim_url: str,
                      extra: dict[str, Any]) -> None:
    """The instruction count: instructions per captured async lead and per sold lead's
    auction, under valgrind's callgrind (``bench.instructions``); skipped with a note on
    ``--no-callgrind`` or without valgrind."""
    if args.no_callgrind or instructions.valgrind() is None:
        why = ("--no-callgrind" if args.no_callgrind
               else "valgrind is not installed (apt-get install valgrind)")
        extra["instructions"] = {"skipped": why}
        extra["notes"].append(f"{why}: the instruction count was not measured")
        return
    progress(f"instructions: {plan.instruction_leads} leads in {plan.instruction_batches} "
             f"batches and {plan.instruction_phase_leads} by phase under callgrind (a child "
             "process, some 50x slower)")
    world = instructions.instructions_world(sim_url, args.seed)
    try:
        extra["instructions"] = instructions.instruction_figures(
            world, world.markets["instructions"], _FIRST_CONSUMER["instructions"],
            leads=plan.instruction_leads, batches=plan.instruction_batches,
            phase_leads=plan.instruction_phase_leads)
    except RuntimeError as error:
        extra["instructions"] = {"error": str(error)}
        extra["notes"].append(f"the instruction count failed: {error}")
        progress(extra["notes"][-1])


def _http_phase_rows(plan: Plan, args: argparse.Namespace, world: World, children: Children,
                     simulator_pid: int, var: Path, extra: dict[str, Any]) -> None:
    """The cost figure through HTTP: CPU per lead by phase inside the web workers
    (``bench.http_phases``), for sold sync leads and async captures."""
    progress(f"cost through HTTP: {HTTP_PHASE_SYNC_CLIENTS} sync and {plan.async_clients} "
             "async closed-loop clients, phases timed inside the web workers")
    extra["cost_http"] = http_phases.http_phase_figures(
        children, world, world.markets["http"], simulator_pid, var, workers=args.workers,
        threads=args.threads, sync_clients=HTTP_PHASE_SYNC_CLIENTS,
        async_clients=plan.async_clients, warmup=plan.step_warmup_s, duration=plan.step_s)


def _http_rows(plan: Plan, args: argparse.Namespace, world: World, children: Children,
               simulator_pid: int, var: Path, figures: dict[str, float | None],
               extra: dict[str, Any]) -> None:
    market = world.markets["http"]
    rig = load.rig_start(children, world, simulator_pid, var, workers=args.workers,
                         threads=args.threads, settle_s=plan.settle_s,
                         config=args.gunicorn_config)
    progress(f"rows 5-7: gunicorn at {rig.url} ({args.workers} workers x {args.threads} "
              f"threads), broker {rig.broker or 'none'}; sync rate search")
    capacity = load.sync_capacity(rig, world, market, clients=plan.sync_clients,
                                  bisections=plan.sync_bisections, warmup=plan.step_warmup_s,
                                  duration=plan.step_s, budget_ms=SOURCE_BUDGET_MS)
    extra["sync_steps"] = capacity["steps"]
    if not capacity["settled_after"]:
        extra["notes"].append(
            "the server had not finished the sync steps' backlog when the rows after them "
            "began: they ran beside it")
        progress(extra["notes"][-1])
    damaged = [s["clients"] for s in capacity["steps"] if s["failed"]]
    if damaged:
        # Seen on PostgreSQL without REDIS_URL: an overload left a row-lock convoy on the
        # contracts' health counters and an exhausted connection pool that did not clear.
        extra["notes"].append(
            f"the sync steps with {damaged} clients had failed requests (5xx or no answer; "
            f"see var/bench/gunicorn.log): the web server was restarted before row 5")
        progress(extra["notes"][-1])
        rig.restart()
    best = capacity["best"]
    if best is None:
        extra["notes"].append("no sync step decided every lead within budget")
        best = max(capacity["steps"], key=lambda s: s["leads_per_s"])
    rate = best["leads_per_s"]
    figures["sync_leads_per_s"] = rate
    extra["sync_at_sustained_rate"] = {
        "clients": best["clients"], "leads_per_s": rate,
        "e2e_overhead_ms": best["e2e_overhead_ms"],
        "server_ping_overhead_ms": best["server_ping_overhead_ms"],
        "e2e_p99_within_30ms": _at_most(best["e2e_overhead_ms"]["p99"], 30),
        "server_ping_overhead_p99_within_5ms": _at_most(
            best["server_ping_overhead_ms"]["p99"], 5),
        "lost_in_time_bids": best["lost_in_time_bids"],
        "over_budget_202": best["over_budget_202"]}
    extra["cpu_by_process"][f"sync, {best['clients']} closed-loop clients"] = (
        best["cpu_by_process"])
    extra["latency_summaries"]["e2e overhead at sustained rate"] = best["e2e_overhead_ms"]

    progress(f"row 5: open loop at half the sustained rate, {rate / 2:.1f} leads/s")
    e2e = load.e2e_at(rig, world, market, rate=rate / 2, warmup=plan.step_warmup_s,
                      duration=plan.e2e_s, budget_ms=SOURCE_BUDGET_MS)
    figures["e2e_overhead_ms_p99"] = e2e["e2e_overhead_ms"]["p99"]
    # The search's steps past the sustained rate are overload by design: their losses are
    # in extra["sync_steps"], not in the figure.
    figures["lost_in_time_bids"] = ((figures.get("lost_in_time_bids") or 0)
                                    + best["lost_in_time_bids"] + e2e["lost_in_time_bids"])
    extra["e2e"] = e2e
    extra["e2e"]["bound"] = (f"min(T, {market.bound_latency_ms:g} ms) + posts x "
                             f"{POST_LATENCY_MS:g} ms")
    extra["latency_summaries"]["e2e overhead, half load"] = e2e["e2e_overhead_ms"]
    for part, stats in e2e["e2e_overhead_parts_ms"].items():
        extra["latency_summaries"][f"  {part}"] = stats
    extra["latency_summaries"]["e2e response time"] = e2e["response_ms"]
    extra["cpu_by_process"][f"e2e, open loop {rate / 2:.1f}/s"] = e2e["cpu_by_process"]

    _ping_post_rows(plan, rig, world, market, rate / 2, figures, extra)

    progress(f"row 7: async capture, {plan.async_clients} closed-loop clients")
    try:
        captured = load.async_capture(rig, world, market, clients=plan.async_clients,
                                      warmup=plan.step_warmup_s, duration=plan.async_s)
    finally:
        if rig.broker:
            redis_flush(rig.broker)  # the tasks no worker will ever run
    figures["async_capture_leads_per_s"] = captured["leads_per_s"]
    extra["async_capture"] = captured
    extra["cpu_by_process"]["async capture"] = captured["cpu_by_process"]
    extra["latency_summaries"]["async capture response"] = captured["response_ms"]
    if not rig.broker:
        extra["notes"].append("Redis did not answer: async capture auctioned in-process")


def _ping_post_rows(plan: Plan, rig: load.Rig, world: World, market: Market, rate: float,
                    figures: dict[str, float | None], extra: dict[str, Any]) -> None:
    """Source-side ping-post at the e2e row's rate, long enough for ``plan.ping_post_min``
    pings (at most three times ``plan.ping_post_s``, on a machine too slow for that)."""
    duration = min(3 * plan.ping_post_s, max(plan.ping_post_s, plan.ping_post_min / rate))
    progress(f"ping-post rows: open loop at {rate:.1f} pings/s for {duration:.0f} s, "
             "each ping that bids posted at once")
    result = pingpost.ping_post_at(rig, world, market, rate=rate, warmup=plan.step_warmup_s,
                                   duration=duration)
    figures["source_ping_overhead_ms_p50"] = result["ping_overhead_ms"]["p50"]
    figures["source_ping_overhead_ms_p99"] = result["ping_overhead_ms"]["p99"]
    figures["ping_post_overhead_ms_p50"] = result["post_overhead_ms"]["p50"]
    figures["ping_post_overhead_ms_p99"] = result["post_overhead_ms"]["p99"]
    figures["lost_in_time_bids"] = ((figures.get("lost_in_time_bids") or 0)
                                    + result["lost_in_time_bids"])
    extra["ping_post"] = result
    extra["latency_summaries"]["source ping answer overhead"] = result["ping_overhead_ms"]
    for part, stats in result["ping_overhead_parts_ms"].items():
        extra["latency_summaries"][f"  {part}"] = stats
    extra["latency_summaries"]["source ping response time"] = result["ping_response_ms"]
    extra["latency_summaries"]["post after ping overhead"] = result["post_overhead_ms"]
    for part, stats in result["post_overhead_parts_ms"].items():
        extra["latency_summaries"][f"  {part}"] = stats
    extra["latency_summaries"]["post after ping response"] = result["post_response_ms"]
    extra["cpu_by_process"][f"ping-post, open loop {rate:.1f}/s"] = result["cpu_by_process"]
    progress(f"  {result['pings_answered']} pings ({result['bid']} bid, {result['no_bid']} "
             f"no bid), {result['posted']} posted, {result['sold']} sold, "
             f"{result['posts_not_sold']} posts not sold, lost in-time bids "
             f"{result['lost_in_time_bids']}")
    if result["ping_failed"] or result["no_bid"] or result["posts_not_sold"]:
        extra["notes"].append(
            f"ping-post: {result['ping_failed']} pings failed, {result['no_bid']} answered "
            f"no_bid and {result['posts_not_sold']} posts did not sell "
            f"({result['post_answers']}): the simulator's buyers all bid and take every "
            "post, so each is ours (a 202: the post's budget ran out before its answer)")


def _machine_busy(seconds: float = 1.0) -> float:
    """Share of a core that other processes use now (this machine may be shared)."""
    meter = CpuMeter({"bench": [os.getpid()]})
    meter.start()
    time.sleep(seconds)
    used = meter.stop()
    return round(used[OTHERS] / used["wall_s"], 3)


def _simulator_check(extra: dict[str, Any]) -> None:
    """Note it when the simulator used most of a core (it may then have been a limit), and
    when other processes took a good part of the machine during a run."""
    for run, groups in extra["cpu_by_process"].items():
        share = groups.get("simulator", {}).get("core_share", 0.0)
        if share > 0.7:
            extra["notes"].append(f"the simulator used {100 * share:.0f}% of a core in {run!r}")
        others = groups.get(OTHERS, {}).get("core_share", 0.0)
        if others > NOISY:
            extra["notes"].append(f"other processes used {100 * others:.0f}% of a core "
                                  f"during {run!r}: its figures carry that noise")


def _at_most(value: float | None, limit: float) -> bool | None:
    return None if value is None else value <= limit


def _db_label(database: Database, redis_url: str) -> str:
    from django.db import connection

    redis = f", REDIS_URL {redis_url}" if redis_url else ", no REDIS_URL"
    with connection.cursor() as cursor:
        if database.vendor == "postgresql":
            cursor.execute("SHOW server_version")
            return f"PostgreSQL {cursor.fetchone()[0]} (database {database.name}){redis}"
        cursor.execute("SELECT sqlite_version()")
        return f"SQLite {cursor.fetchone()[0]} (temporary file under var/bench/){redis}"
