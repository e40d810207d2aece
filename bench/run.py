"""One bench run, after Django is set up on the bench database: every row, then the report.

The in-process rows run first, with nothing else of ours running; gunicorn starts only for
the HTTP rows. ``bench_run`` returns the results document (see ``bench.report``).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bench import auctions, fanout, load, phases, report
from bench.processes import Children, CpuMeter
from bench.setup import (
    BUYERS,
    POST_LATENCY_MS,
    SOURCE_BUDGET_MS,
    Database,
    Scenario,
    World,
    leads_create,
    world_create,
    world_market_add,
)

if TYPE_CHECKING:
    from bench.__main__ import Plan

# Consumer numbers: each market's pre-captured leads, then the HTTP steps (bench.load).
_FIRST_CONSUMER = {"hang": 0, "spread": 200_000, "burst": 400_000, "fanout": 600_000,
                   "probe": 800_000}
PROBE_LOG = "probe-simulator.jsonl"


def bench_run(plan: Plan, args: argparse.Namespace, database: Database, var: Path,
              started: float) -> dict[str, Any]:
    """Measure every row as ``plan`` says, print the table and write the results."""
    from apps.core.process import process_tune

    figures: dict[str, float | None] = {}
    extra: dict[str, Any] = {"latency_summaries": {}, "cpu_by_process": {}, "notes": []}
    with Children() as children:
        simulator = children.simulator(args.seed)
        world = world_create(simulator.url, args.seed)
        # The phase breakdown's buyers: the spread latencies, on a simulator that logs.
        probe_simulator = children.simulator(args.seed, log_path=var / PROBE_LOG)
        world_market_add(world, Scenario("probe", world.markets["spread"].scenario.latencies_ms),
                         probe_simulator.url)
        _progress(f"set-up: {database.vendor} database, simulator at {simulator.url}, "
                  f"{len(world.markets)} markets x {BUYERS} buyers "
                  f"({time.monotonic() - started:.1f} s)")
        leads = _leads_capture(world, plan)
        for name, market in world.markets.items():
            auctions.auctions_run(market, leads[name][:plan.warmup_auctions],
                                  budget_ms=_budget(plan, name))
        process_tune()  # as a web process does once it is set up

        _in_process_rows(plan, world, leads, simulator.pid, figures, extra)
        _progress(f"diagnostic: phase breakdown of {plan.probe_auctions} spread auctions")
        profile = var / "profile.txt" if args.profile else None
        extra["phases"] = phases.phase_breakdown(
            world.markets["probe"], leads["probe"][plan.warmup_auctions:][:plan.probe_auctions],
            var / PROBE_LOG, profile)
        if profile is not None:
            phases.profile_auctions(leads["probe"][plan.warmup_auctions + plan.probe_auctions:],
                                    profile)
        children.stop_simulator(probe_simulator)
        if args.no_http:
            extra["notes"].append("--no-http: the HTTP rows were not measured")
        else:
            _http_rows(plan, args, world, children, simulator.pid, var, figures, extra)

    web = "n/a" if args.no_http else (
        f"gunicorn gthread, {args.workers} workers x {args.threads} threads")
    results = report.results_build(
        figures, quick=args.quick, machine_info=report.machine(_db_label(database), web),
        extra=extra, elapsed_s=time.monotonic() - started)
    latest, copy = report.results_write(results)
    print()
    print(report.table(results))
    print(report.details(extra))
    print(f"\nwritten: {latest} and {copy.name} ({results['elapsed_s']:.0f} s)")
    return results


def _budget(plan: Plan, market: str) -> float | None:
    return plan.hang_budget_ms if market == "hang" else None


def _leads_capture(world: World, plan: Plan) -> dict[str, list[int]]:
    counts = {"hang": plan.warmup_auctions + plan.auctions + plan.concurrent_auctions,
              "spread": plan.warmup_auctions + plan.auctions,
              "burst": plan.warmup_auctions + plan.auctions,
              "probe": plan.warmup_auctions + 2 * plan.probe_auctions}
    leads = {name: leads_create(world, world.markets[name], _FIRST_CONSUMER[name], count)
             for name, count in counts.items()}
    leads["fanout"] = leads_create(world, world.markets["burst"], _FIRST_CONSUMER["fanout"], 1)
    return leads


def _in_process_rows(plan: Plan, world: World, leads: dict[str, list[int]], simulator_pid: int,
                     figures: dict[str, float | None], extra: dict[str, Any]) -> None:
    markets, warm, n = world.markets, plan.warmup_auctions, plan.auctions

    _progress(f"row 1: {n} auctions, one buyer hanging, then {plan.concurrent_auctions} on "
              f"{plan.concurrent_threads} threads")
    hang_ids = leads["hang"][warm:]
    sequential = auctions.auctions_run(markets["hang"], hang_ids[:n],
                                       budget_ms=plan.hang_budget_ms)
    concurrent = auctions.auctions_run(markets["hang"], hang_ids[n:],
                                       threads=plan.concurrent_threads,
                                       budget_ms=plan.hang_budget_ms)
    concurrent.extra["threads"] = plan.concurrent_threads
    overrun = auctions.overrun_figures(sequential, concurrent)
    figures["deadline_overrun_ms_p99"] = overrun["sequential"]["p99"]
    figures["deadline_overrun_ms_max"] = overrun["sequential"]["max"]
    extra["deadline_overrun"] = overrun
    extra["latency_summaries"]["deadline overrun"] = overrun["sequential"]
    extra["latency_summaries"][f"  same, {plan.concurrent_threads} concurrent"] = (
        overrun["concurrent"])

    _progress(f"rows 2-3: {n} auctions with spread latencies, {n} with all 50 at once")
    meter = CpuMeter({"simulator": [simulator_pid]})
    meter.start()
    spread = auctions.auctions_run(markets["spread"], leads["spread"][warm:])
    simulator_cpu = meter.stop()
    burst = auctions.auctions_run(markets["burst"], leads["burst"][warm:])
    spread_figures = auctions.overhead_figures(markets["spread"], spread)
    burst_figures = auctions.overhead_figures(markets["burst"], burst)
    figures["ping_overhead_ms_p50"] = spread_figures["overhead_ms"]["p50"]
    figures["ping_overhead_ms_p99"] = spread_figures["overhead_ms"]["p99"]
    figures["burst_overhead_ms_p99"] = burst_figures["overhead_ms"]["p99"]
    extra["ping_overhead"] = spread_figures
    extra["burst_overhead"] = burst_figures
    extra["latency_summaries"]["ping overhead, spread"] = spread_figures["overhead_ms"]
    extra["latency_summaries"]["ping overhead, burst"] = burst_figures["overhead_ms"]
    count = max(1, len(spread.times))
    in_process = {"bench process (auction_run)": {
        "cpu_ms_per_lead": spread_figures["auction_run_cpu_ms_per_lead"],
        "core_share": round(spread.cpu_s / spread.wall_s, 3)}}
    if spread.db_cpu_s is not None:
        in_process["postgres backend"] = {
            "cpu_ms_per_lead": round(1000 * spread.db_cpu_s / count, 2),
            "core_share": round(spread.db_cpu_s / spread.wall_s, 3)}
    in_process["simulator"] = {
        "cpu_ms_per_lead": round(1000 * simulator_cpu["simulator"] / count, 2),
        "core_share": round(simulator_cpu["simulator"] / simulator_cpu["wall_s"], 3)}
    extra["cpu_by_process"]["in-process auction_run, spread, sequential"] = in_process
    figures["lost_in_time_bids"] = (sequential.lost_in_time_bids + concurrent.lost_in_time_bids
                                    + spread.lost_in_time_bids + burst.lost_in_time_bids)
    extra["lost_in_time_bids_by_run"] = {
        "hang sequential": sequential.lost, "hang concurrent": concurrent.lost,
        "spread": spread.lost, "burst": burst.lost}
    missing = {name: len(ids) - len(result.times) for name, ids, result in (
        ("hang sequential", hang_ids[:n], sequential),
        ("hang concurrent", hang_ids[n:], concurrent),
        ("spread", leads["spread"][warm:], spread), ("burst", leads["burst"][warm:], burst))}
    if any(missing.values()):
        extra["notes"].append(f"auctions without a decision time: {missing}")

    _progress(f"row 8: {plan.fanout_auctions} fan-outs of {BUYERS} pings per client")
    cpu = fanout.fanout_cpu(markets["burst"], leads["fanout"][0], plan.fanout_auctions)
    figures["cpu_ratio_vs_requests_threads"] = cpu["ratio"]
    extra["fanout_cpu"] = cpu


def _http_rows(plan: Plan, args: argparse.Namespace, world: World, children: Children,
               simulator_pid: int, var: Path, figures: dict[str, float | None],
               extra: dict[str, Any]) -> None:
    market = world.markets["spread"]
    rig = load.rig_start(children, world, simulator_pid, var, workers=args.workers,
                         threads=args.threads)
    _progress(f"rows 5-7: gunicorn at {rig.url} ({args.workers} workers x {args.threads} "
              f"threads), broker {rig.broker or 'none'}; sync rate search")
    capacity = load.sync_capacity(rig, world, market, clients=plan.sync_clients,
                                  bisections=plan.sync_bisections, warmup=plan.step_warmup_s,
                                  duration=plan.step_s, budget_ms=SOURCE_BUDGET_MS)
    extra["sync_steps"] = capacity["steps"]
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

    _progress(f"row 5: open loop at half the sustained rate, {rate / 2:.1f} leads/s")
    e2e = load.e2e_at(rig, world, market, rate=rate / 2, warmup=plan.step_warmup_s,
                      duration=plan.e2e_s, budget_ms=SOURCE_BUDGET_MS)
    figures["e2e_overhead_ms_p99"] = e2e["e2e_overhead_ms"]["p99"]
    figures["lost_in_time_bids"] = (figures.get("lost_in_time_bids") or 0) + sum(
        s["lost_in_time_bids"] for s in [*capacity["steps"], e2e])
    extra["e2e"] = e2e
    extra["e2e"]["bound"] = (f"min(T, {market.bound_latency_ms:g} ms) + posts x "
                             f"{POST_LATENCY_MS:g} ms")
    extra["latency_summaries"]["e2e overhead, half load"] = e2e["e2e_overhead_ms"]
    extra["latency_summaries"]["e2e server ping overhead"] = e2e["server_ping_overhead_ms"]
    extra["latency_summaries"]["e2e response time"] = e2e["response_ms"]
    extra["cpu_by_process"][f"e2e, open loop {rate / 2:.1f}/s"] = e2e["cpu_by_process"]

    _progress(f"row 7: async capture, {plan.async_clients} closed-loop clients")
    captured = load.async_capture(rig, world, market, clients=plan.async_clients,
                                  warmup=plan.step_warmup_s, duration=plan.async_s)
    figures["async_capture_leads_per_s"] = captured["leads_per_s"]
    extra["async_capture"] = captured
    extra["cpu_by_process"]["async capture"] = captured["cpu_by_process"]
    extra["latency_summaries"]["async capture response"] = captured["response_ms"]
    if rig.broker:
        load.broker_flush()
    else:
        extra["notes"].append("Redis did not answer: async capture auctioned in-process")
    _simulator_check(extra)


def _simulator_check(extra: dict[str, Any]) -> None:
    """Note it when the simulator used most of a core: it may then have been a limit."""
    for run, groups in extra["cpu_by_process"].items():
        share = groups.get("simulator", {}).get("core_share", 0.0)
        if share > 0.7:
            extra["notes"].append(f"the simulator used {100 * share:.0f}% of a core in {run!r}")


def _at_most(value: float | None, limit: float) -> bool | None:
    return None if value is None else value <= limit


def _db_label(database: Database) -> str:
    from django.db import connection

    with connection.cursor() as cursor:
        if database.vendor == "postgresql":
            cursor.execute("SHOW server_version")
            return f"PostgreSQL {cursor.fetchone()[0]} (database {database.name})"
        cursor.execute("SELECT sqlite_version()")
        return f"SQLite {cursor.fetchone()[0]} (temporary file under var/bench/)"


def _progress(message: str) -> None:
    print(message, flush=True)
