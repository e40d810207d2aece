"""``python -m bench.scaleout``: the sync bench with web processes and Celery workers on
separate network hosts, all on one PostgreSQL database and one Redis (root only).

Per layout (``--layouts 1x1,2x2``: web processes × workers), each process in a network
namespace of its own (``bench.netns``): gunicorn with one gthread worker per web host,
``celery worker --pool threads`` per worker host, production settings (``DATABASE_URL`` on
PostgreSQL's socket, ``REDIS_URL`` and the broker on Redis db 5 at the bridge address,
``SYNC_AUCTION_EXECUTOR=celery``: every auction runs on a worker while its request waits).
The buyer simulator, the load generator and this harness stay in the root namespace.

1. **Throughput**: closed-loop sync leads from ``bench.loadgen`` into the bench's ``http``
   market (50 buyers answering in 10–250 ms, posts 20 ms), round-robin over the web
   processes, one step per ``--clients`` count: sold leads/s, response p50/p99, CPU by
   process group.
2. **Checks**, exact (``bench.scaleout_checks``): caps, dedupe, health.
3. **Operations per lead** (``bench.opcount``): Redis commands and PostgreSQL rows written
   over a batch of ``OPCOUNT_LEADS`` sync leads.

Results go to ``bench/results/scaleout-<date>.json`` and a table on stdout. Every process,
namespace and bridge is removed and Redis's ``bind``/``protected-mode`` put back on exit,
Ctrl-C and SIGTERM included; ``--cleanup`` removes what a killed run left behind.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

from bench.processes import OTHERS, Children, machine_quiet_wait

DB_NAME = "lx_scale_bench"
REDIS_DB = 5
REDIS_LOCAL_URL = f"redis://127.0.0.1:6379/{REDIS_DB}"
POOL_MAX = 16  # connections per process: 4 processes stay well inside max_connections=100
WORKER_CONCURRENCY = 32  # README: an auction mostly waits on buyers
CONSUMERS_PER_USE = 100_000


@dataclass(frozen=True)
class Layout:
    """How many web processes and Celery workers, each on a host of its own."""

    web: int
    workers: int

    @property
    def label(self) -> str:
        return f"{self.web}x{self.workers}"


def layouts_parse(text: str) -> list[Layout]:
    """``"1x1,2x2"`` → [Layout(1, 1), Layout(2, 2)]; each count 1–4 (the /24 and
    PostgreSQL's connections allow that many)."""
    layouts = []
    for part in text.split(","):
        try:
            web, workers = (int(n) for n in part.strip().lower().split("x"))
        except ValueError:
            raise argparse.ArgumentTypeError(f"{part!r} is not WEBxWORKERS, e.g. 2x2") from None
        if not (1 <= web <= 4 and 1 <= workers <= 4):
            raise argparse.ArgumentTypeError(f"{part!r}: 1 to 4 of each")
        layouts.append(Layout(web, workers))
    return layouts


def counts_parse(text: str) -> list[int]:
    """``"16,32"`` → [16, 32] (positive)."""
    try:
        counts = [int(n) for n in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a list of numbers") from None
    if not counts or min(counts) < 1:
        raise argparse.ArgumentTypeError(f"{text!r}: positive numbers")
    return counts


def arguments(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.scaleout",
                                     description=__doc__.split("\n")[0])
    parser.add_argument("--layouts", type=layouts_parse, default=layouts_parse("1x1,2x2"),
                        help="web processes x workers, comma-separated (default 1x1,2x2)")
    parser.add_argument("--clients", type=counts_parse, default=counts_parse("8,16,24"),
                        help="closed-loop clients of each throughput step (default 8,16,24)")
    parser.add_argument("--warmup", type=float, default=3.0, help="seconds before a step")
    parser.add_argument("--duration", type=float, default=15.0, help="seconds of a step")
    parser.add_argument("--threads", type=int, default=64,
                        help="gunicorn threads of each web process")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--wait-quiet", type=float, default=0.0, metavar="SECONDS",
                        help="first wait up to SECONDS for other processes to leave the CPU")
    parser.add_argument("--cleanup", action="store_true",
                        help="only remove namespaces and links a killed run left behind")
    return parser.parse_args(argv)


@dataclass
class Tier:
    """One layout's running processes."""

    layout: Layout
    webs: list[subprocess.Popen] = field(default_factory=list)
    urls: list[str] = field(default_factory=list)
    workers: list[subprocess.Popen] = field(default_factory=list)
    worker_logs: dict[str, Path] = field(default_factory=dict)
    web_logs: list[Path] = field(default_factory=list)


@dataclass
class Consumers:
    """Hands out disjoint ranges of consumer numbers (no lead is anybody's duplicate)."""

    next: int = 1_000_000

    def take(self) -> int:
        first, self.next = self.next, self.next + CONSUMERS_PER_USE
        return first


def main(argv: Sequence[str] | None = None) -> int:
    args = arguments(argv)
    if os.geteuid() != 0:
        print("bench.scaleout: network namespaces need root", file=sys.stderr)
        return 2
    from bench.netns import leftovers_remove

    removed = leftovers_remove()
    if removed or args.cleanup:
        print(f"bench.scaleout: removed leftovers: {', '.join(removed) or 'none'}")
    if args.cleanup:
        return 0
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    # ten quiet seconds, not three: a lull between another job's phases is not quiet
    quiet = machine_quiet_wait(args.wait_quiet, window_s=10.0) if args.wait_quiet else None
    os.environ.setdefault("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/postgres")
    from bench.redisdb import redis_flush
    from bench.setup import bench_var_reset, database_drop, database_prepare, django_boot

    var = bench_var_reset()
    database = database_prepare(DB_NAME)
    os.environ["REDIS_URL"] = REDIS_LOCAL_URL
    redis_flush(REDIS_LOCAL_URL)
    try:
        django_boot(var / "scaleout.log")
        results = scaleout_run(args, database.name, var, quiet)
    finally:
        from django.db import connections

        connections.close_all()
        redis_flush(REDIS_LOCAL_URL)
        database_drop(database)
    failed = [f"{r['layout']} {name}" for r in results["layouts"]
              for name, check in r["checks"].items() if not check["ok"]]
    return 1 if failed else 0


def scaleout_run(args: argparse.Namespace, db_name: str, var: Path,
                 quiet: bool | None) -> dict[str, Any]:
    """Every layout (see the module docstring); print and write the results."""
    from bench.netns import BRIDGE_ADDRESS, Hosts, redis_opened
    from bench.report import RESULTS, commit, machine, progress
    from bench.setup import world_create

    consumers = Consumers()
    rows = []
    # the bridge first (Redis can only bind an address that exists), removed last
    with Hosts() as hosts, redis_opened(REDIS_LOCAL_URL), Children() as children:
        web_hosts = [hosts.add(f"web{i}") for i in range(max(la.web for la in args.layouts))]
        worker_hosts = [hosts.add(f"wrk{i}")
                        for i in range(max(la.workers for la in args.layouts))]
        simulator = children.simulator(args.seed, host=BRIDGE_ADDRESS)
        world = world_create(simulator.url, simulator.url, args.seed)
        progress(f"set-up: simulator at {simulator.url}, web hosts "
                 f"{[h.address for h in web_hosts]}, worker hosts "
                 f"{[h.address for h in worker_hosts]}")
        env = _environment(db_name, [h.address for h in web_hosts])
        for layout in args.layouts:
            rows.append(layout_run(args, layout, world, simulator, children, env,
                                   web_hosts, worker_hosts, var, consumers))
    results = {"date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
               "commit": commit(), "command": "python -m bench.scaleout " + " ".join(
                   sys.argv[1:]),
               "machine": machine(f"PostgreSQL (socket) + Redis db {REDIS_DB}",
                                  f"gunicorn gthread, 1 worker x {args.threads} threads "
                                  "per web host; celery --pool threads --concurrency "
                                  f"{WORKER_CONCURRENCY} per worker host"),
               "machine_quiet_before": quiet,
               # the CPU other processes used during the steps, at most (of one core)
               "others_core_share_max": max(
                   (s["cpu_by_process"].get(OTHERS, {}).get("core_share", 0.0)
                    for r in rows for s in r["steps"]), default=None),
               "layouts": rows}
    path = RESULTS / f"scaleout-{dt.date.today().isoformat()}.json"
    path.write_text(json.dumps(results, indent=1) + "\n")
    print()
    print(table(rows))
    print(f"\nwritten: {path}")
    return results


def _environment(db_name: str, web_addresses: list[str]) -> dict[str, str]:
    """Every namespaced process's environment: production settings on the shared stores."""
    from bench.netns import BRIDGE_ADDRESS, PG_SOCKET_DIR

    redis_url = f"redis://{BRIDGE_ADDRESS}:6379/{REDIS_DB}"
    return {**os.environ,
            "DJANGO_SETTINGS_MODULE": "leadexchange.settings",
            "DATABASE_URL": f"postgres://postgres@/{db_name}?host={PG_SOCKET_DIR}",
            "DATABASE_POOL_MAX": str(POOL_MAX),
            "REDIS_URL": redis_url, "CELERY_BROKER_URL": redis_url,
            "SYNC_AUCTION_EXECUTOR": "celery",
            "HTTP_ALLOWED_NETWORKS": f"{BRIDGE_ADDRESS}/32",
            "DJANGO_ALLOWED_HOSTS": ",".join(web_addresses)}


def layout_run(args: argparse.Namespace, layout: Layout, world: Any, simulator: Any,
               children: Children, env: dict[str, str], web_hosts: list[Any],
               worker_hosts: list[Any], var: Path, consumers: Consumers) -> dict[str, Any]:
    """One layout: its check markets, its processes, the steps, the checks, the counts."""
    from bench import scaleout_checks as checks
    from bench.opcount import ops_count
    from bench.report import progress

    tag = layout.label.replace("x", "")
    markets = {"caps": checks.caps_market(world, f"cap{tag}", simulator.url),
               "dedupe": checks.check_market(world, f"dd{tag}", simulator.url,
                                             latencies_ms=(10.0,) * 3, bids=((5, 20),) * 3),
               "health": checks.health_market(world, f"hl{tag}", simulator.url)}
    tier = tier_start(children, layout, env, web_hosts, worker_hosts, var, args.threads)
    progress(f"{layout.label}: {layout.web} web ({', '.join(tier.urls)}), "
             f"{layout.workers} workers")
    try:
        steps = [throughput_step(args, tier, world, simulator.pid, children, clients,
                                 consumers.take()) for clients in args.clients]
        # an overloaded step leaves auctions queued on the workers: the checks start after
        drained = backlog_wait(world)
        verdicts = [checks.caps_check(world, markets["caps"], tier.urls, consumers.take()),
                    checks.dedupe_check(world, markets["dedupe"], tier.urls, consumers.take()),
                    checks.health_check(world, markets["health"], tier.urls, consumers.take(),
                                        tier.worker_logs)]
        for verdict in verdicts:
            progress(f"  check {verdict.name}: {'exact' if verdict.ok else 'FAILED'} "
                     f"{verdict.figures} {list(verdict.problems)}")
        ops = ops_count(world, tier.urls, consumers.take(), redis_url=REDIS_LOCAL_URL,
                        db=REDIS_DB)
        progress(f"  per lead: {ops['redis']['per_lead']} Redis commands, "
                 f"{ops['postgres']['rows_written']} PostgreSQL rows written, "
                 f"{ops['postgres']['xact_commit']} transactions")
    finally:
        tier_stop(children, tier)
    ok_steps = [s for s in steps if s["ok"]]
    best = max(ok_steps, key=lambda s: s["sold_per_s"]) if ok_steps else None
    return {"layout": layout.label, "web_processes": layout.web, "workers": layout.workers,
            "steps": steps, "best": best, "drained_before_checks_s": drained,
            # the web processes hand every auction over: this stays 0 unless the broker
            # refused a task and a web process ran the auction itself
            "auctions_run_by_web": sum(log.read_text(errors="replace").count("auction.done")
                                       for log in tier.web_logs),
            "checks": {v.name: v.as_json() for v in verdicts}, "per_lead_ops": ops}


def tier_start(children: Children, layout: Layout, env: dict[str, str], web_hosts: list[Any],
               worker_hosts: list[Any], var: Path, threads: int) -> Tier:
    """Start the layout's workers (each ready) and web processes (each answering)."""
    from bench.load import READY_PATH

    tier = Tier(layout)
    for host in worker_hosts[:layout.workers]:
        log_path = var / f"scaleout-{layout.label}-{host.name}.log"
        log = open(log_path, "w")  # noqa: SIM115 - handed to the child, closed below
        try:
            tier.workers.append(children.start(host.argv([
                sys.executable, "-m", "celery", "-A", "leadexchange", "worker",
                "--pool", "threads", "--concurrency", str(WORKER_CONCURRENCY),
                "-n", f"{host.name}@%h", "--without-gossip", "--without-mingle",
                "--without-heartbeat", "--loglevel", "INFO"]), env=env, stdout=log.fileno(),
                stderr=subprocess.STDOUT))
        finally:
            log.close()
        tier.worker_logs[host.name] = log_path
    for host in web_hosts[:layout.web]:
        tier.web_logs.append(var / f"scaleout-{layout.label}-{host.name}.log")
        popen, url = children.gunicorn(
            env=env, workers=1, threads=threads, ready_path=READY_PATH,
            log_path=tier.web_logs[-1], host=host.address, prefix=host.argv([]))
        tier.webs.append(popen)
        tier.urls.append(url)
    for name, path in tier.worker_logs.items():
        _wait_for(partial(_says_ready, path), f"worker {name} ready (see {path})")
    return tier


def _says_ready(log: Path) -> bool:
    return " ready." in log.read_text(errors="replace")


def tier_stop(children: Children, tier: Tier) -> None:
    for popen in [*tier.webs, *tier.workers]:
        children.stop(popen, timeout=20)


def _wait_for(predicate: Callable[[], bool], what: str, timeout: float = 60.0) -> None:
    give_up = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > give_up:
            raise RuntimeError(f"no {what} within {timeout:.0f} s")
        time.sleep(0.2)


def process_groups(tier: Tier, simulator_pid: int, loadgen_pid: int) -> dict[str, list[int]]:
    """The CPU meter's groups: web, workers, PostgreSQL, Redis, simulator, load generator."""
    from bench.load import pids_named, postgres_backends
    from bench.processes import process_tree

    return {"web": [pid for p in tier.webs for pid in process_tree(p.pid)],
            "workers": [pid for p in tier.workers for pid in process_tree(p.pid)],
            "postgres": postgres_backends(), "redis": pids_named("redis-server"),
            "simulator": [simulator_pid], "load generator": [loadgen_pid],
            "bench harness": [os.getpid()]}


def throughput_step(args: argparse.Namespace, tier: Tier, world: Any, simulator_pid: int,
                    children: Children, clients: int, first: int) -> dict[str, Any]:
    """One closed-loop step of sync leads, round-robin over the web processes."""
    from bench.load import loadgen_step, step_ok, sync_figures
    from bench.report import progress
    from bench.scaleout_checks import decided_wait
    from bench.setup import SOURCE_BUDGET_MS

    market = world.markets["http"]
    decided_wait(market.vertical_id)
    argv = [sys.executable, "-m", "bench.loadgen", "--url", *tier.urls,
            "--key", world.source_key, "--vertical", market.slug, "--first", str(first),
            "--mode", "closed", "--clients", str(clients), "--warmup", str(args.warmup),
            "--duration", str(args.duration)]
    step = loadgen_step(children, argv,
                        lambda pid: process_groups(tier, simulator_pid, pid))
    figures = sync_figures(market, step, SOURCE_BUDGET_MS)
    sold = sum(1 for r in step.records if r[2] == 200 and r[3] == "sold")
    row = {"clients": clients, "sold_per_s": round(sold / step.window_s, 1),
           "ok": step_ok(figures),
           **{k: figures[k] for k in ("leads_per_s", "submitted", "decided", "over_budget_202",
                                      "failed", "client_errors", "response_ms",
                                      "e2e_overhead_ms", "lost_in_time_bids",
                                      "cpu_by_process")}}
    progress(f"  {clients:>3} clients: {row['sold_per_s']:6.1f} sold/s, response p50 "
             f"{row['response_ms']['p50']} / p99 {row['response_ms']['p99']} ms, 202s "
             f"{row['over_budget_202']}, failed {row['failed']}, "
             f"lost bids {row['lost_in_time_bids']}")
    return row


def backlog_wait(world: Any, timeout: float = 180.0) -> float | None:
    """Wait until the throughput steps' leads are all decided and the broker's queue is
    empty; the seconds it took (None: still busy after ``timeout``)."""
    from bench.redisdb import queue_length
    from bench.scaleout_checks import decided_wait

    started = time.monotonic()
    left = decided_wait(world.markets["http"].vertical_id, timeout)
    while queue_length(REDIS_LOCAL_URL) and time.monotonic() - started < timeout:
        time.sleep(0.2)
    if left or queue_length(REDIS_LOCAL_URL):
        return None
    return round(time.monotonic() - started, 1)


def table(rows: list[dict[str, Any]]) -> str:
    """The layouts side by side: the best step (every lead decided in budget, no bid lost;
    else the last), CPU by group, the checks."""
    lines = ["| layout | clients | sold leads/s | response p50 / p99 ms | CPU ms per sold lead: "
             "web / workers / postgres / redis | caps | dedupe | health |",
             "|---|---|---|---|---|---|---|---|"]
    for row in rows:
        best = row["best"] or (row["steps"][-1] if row["steps"] else None)
        checks = [("exact" if row["checks"][n]["ok"] else "**failed**")
                  for n in ("caps", "dedupe", "health")]
        if best is None:
            lines.append(f"| {row['layout']} | – | – | – | – | {' | '.join(checks)} |")
            continue
        cpu = best["cpu_by_process"]
        per_sold = " / ".join(
            f"{cpu[g]['cpu_ms_per_lead'] * best['leads_per_s'] / max(best['sold_per_s'], 0.1):.1f}"
            if g in cpu else "–" for g in ("web", "workers", "postgres", "redis"))
        held = "" if best["ok"] else " (bench targets missed)"
        lines.append(f"| {row['web_processes']} web + {row['workers']} workers | "
                     f"{best['clients']} | {best['sold_per_s']}{held} | "
                     f"{best['response_ms']['p50']} / {best['response_ms']['p99']} | "
                     f"{per_sold} | {' | '.join(checks)} |")
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
