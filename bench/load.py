"""The HTTP rows: the platform served by gunicorn, leads from the load generator process.

The server runs as in production: ``gunicorn leadexchange.wsgi`` with gthread workers, on
the bench database, ``HTTP_ALLOWED_NETWORKS=127.0.0.1/32`` (the simulator is local) and,
when Redis answers, ``CELERY_BROKER_URL=redis://127.0.0.1:6379/13`` with no Celery worker:
``?mode=async`` leads are enqueued to the broker and nothing auctions them, while sync
leads run their auction in the web process (``lead_dispatch``) as always.

Figures (leads of the ``http`` market: the ``spread`` buyers, 10–250 ms, posts 20 ms):

- **sync leads/s**: closed-loop clients, more at each step, until the rate stops growing.
  The sustained rate is the best step at which every lead was decided within the source's
  budget (a ``200 sold/unsold``, no ``202``, no error) and no in-time bid was lost; each
  step also reports the e2e and server-side ping overheads, so whether the p99 targets
  held at that rate can be read off.
- **e2e overhead** = response time − (min(T, max Lᵢ) + Σ post latency), open-loop Poisson
  arrivals at half the sustained rate: what a source waits beyond what the buyers forced.
- **async capture leads/s**: closed-loop ``?mode=async`` submissions answered ``202``.

Every step also reports CPU ms per lead of each process (from ``/proc``): the gunicorn
master and workers, the simulator, the load generator, PostgreSQL backends of the bench
database, and Redis for the async row.
"""

from __future__ import annotations

import itertools
import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.auctions import lost_bids
from bench.loadgen import SUB_ID_PING, SUB_ID_SYNC
from bench.processes import Children, CpuMeter, process_tree
from bench.redisdb import BROKER_URL, queue_length, redis_answers, redis_flush
from bench.report import progress
from bench.setup import POST_LATENCY_MS, Market, World
from bench.stats import summary

READY_PATH = "/api/v1/verticals/bench-http/spec"
CONSUMERS_PER_STEP = 100_000
GROWTH_STOP = 1.05  # a step less than 5 % faster than the best so far ends the search
# The wait for an overloaded step's backlog (auctions that go on after their 202) to drain
# before the next step or row; ``Rig.settle_s`` is the wait after a step that kept up.
BACKLOG_PATIENCE_S = 120.0
# The e2e overhead of a lead cut at the server's timestamps (the parts add up to it):
# sent → Lead.received_at (request, auth, validation, dedupe, the insert); → Auction.started_at
# (hand-over to the auction thread); → bids_at, minus the bound (the server ping overhead);
# → finished_at, minus Σ post latency (the Ping rows, posts, sale and outcome rows); → the
# answer at the client (reload, render, send).
E2E_PARTS = ("sent → stored", "stored → auction start", "ping phase − bound",
             "bids → decided − Σ post lat.", "decided → answer")


@dataclass
class Rig:
    """The running web server, how to start it again, and what the steps need."""

    children: Children
    start: Callable[[], tuple[subprocess.Popen, str]]  # a fresh gunicorn: master, URL
    web: subprocess.Popen
    url: str
    simulator_pid: int
    broker: str  # "" when Redis did not answer
    settle_s: float = 20.0  # the longest wait for the server to finish the last step
    next_consumer: int = 1_000_000
    since: float = field(default_factory=time.time)  # this server's start (epoch s)

    @property
    def web_pid(self) -> int:
        return self.web.pid

    def restart(self) -> None:
        """Stop gunicorn and start a fresh one (after an overload left it unable to work).
        Leads the old one left unfinished are no longer waited for (``settle``)."""
        self.children.stop(self.web)
        self.since = time.time()
        self.web, self.url = self.start()

    def consumers(self) -> int:
        """The first consumer number of a new step (steps never share a consumer)."""
        first, self.next_consumer = self.next_consumer, self.next_consumer + CONSUMERS_PER_STEP
        return first


@dataclass
class Step:
    """One load generator run: its records and every process's CPU in the window."""

    records: list[list[Any]]
    errors: dict[str, int]
    window_s: float
    cpu_s: dict[str, float]
    arrival_lag_ms_max: float | None
    answers_by_status: dict[str, int]  # every answer of the run, warm-up included


def rig_start(children: Children, world: World, simulator_pid: int, var: Path, *,
              workers: int, threads: int, settle_s: float, config: Path | None = None
              ) -> Rig:
    """Start gunicorn on the bench database (see the module docstring); ``config`` is an
    extra gunicorn config file."""
    broker = BROKER_URL if redis_answers(BROKER_URL) else ""
    if broker:
        redis_flush(broker)
    env = {**os.environ, "HTTP_ALLOWED_NETWORKS": "127.0.0.1/32",
           "DJANGO_SETTINGS_MODULE": "leadexchange.settings", "CELERY_BROKER_URL": broker}

    def start() -> tuple[subprocess.Popen, str]:
        return children.gunicorn(env=env, workers=workers, threads=threads,
                                 log_path=var / "gunicorn.log", ready_path=READY_PATH,
                                 config=config)

    popen, url = start()
    return Rig(children, start, popen, url, simulator_pid, broker, settle_s)


def step_run(rig: Rig, world: World, market: Market, *, mode: str, warmup: float,
             duration: float, clients: int = 0, rate: float = 0.0,
             async_capture: bool = False, ping_post: bool = False,
             on_window: Callable[[str], object] | None = None) -> Step:
    """Run the load generator once and meter every process over its measured window
    (``ping_post``: each lead pinged, then posted to its ping; see bench.loadgen);
    ``on_window("start")`` and ``on_window("end")`` are called as the window opens and
    closes."""
    argv = [sys.executable, "-m", "bench.loadgen", "--url", rig.url, "--key", world.source_key,
            "--vertical", market.slug, "--first", str(rig.consumers()), "--mode", mode,
            "--clients", str(clients), "--rate", str(rate), "--warmup", str(warmup),
            "--duration", str(duration)]
    if async_capture:
        argv.append("--async-capture")
    if ping_post:
        argv.append("--ping-post")
    return loadgen_step(rig.children, argv,
                        lambda loadgen_pid: _process_groups(rig, loadgen_pid, async_capture),
                        on_window)


def loadgen_step(children: Children, argv: list[str],
                 groups: Callable[[int], dict[str, list[int]]],
                 on_window: Callable[[str], object] | None = None) -> Step:
    """Run the load generator ``argv`` and meter the process ``groups`` (given the load
    generator's pid) over its measured window; a ``postgres`` group also counts the
    backends that connected during the window."""
    popen = children.start(argv)
    assert popen.stdout is not None
    meter: CpuMeter | None = None
    cpu: dict[str, float] = {}
    result: dict[str, Any] | None = None
    try:
        for line in popen.stdout:
            event = json.loads(line)
            if event["event"] == "window_start":
                meter = CpuMeter(groups(popen.pid))
                meter.start()
                if on_window is not None:
                    on_window("start")
            elif event["event"] == "window_end" and meter is not None:
                cpu = meter.stop(extra={"postgres": postgres_backends()}
                                 if "postgres" in meter.groups else None)
                if on_window is not None:
                    on_window("end")
            elif event["event"] == "result":
                result = event
    finally:
        children.stop(popen)
    if result is None:
        raise RuntimeError(f"the load generator failed (exit code {popen.returncode})")
    return Step(result["records"], result["errors"], result["window_s"], cpu,
                result["arrival_lag_ms_max"], result["answers_by_status"])


def _process_groups(rig: Rig, loadgen_pid: int, with_redis: bool) -> dict[str, list[int]]:
    from django.db import connection

    groups = {"web (gunicorn)": process_tree(rig.web_pid), "simulator": [rig.simulator_pid],
              "load generator": [loadgen_pid], "bench harness": [os.getpid()]}
    if connection.vendor == "postgresql":
        groups["postgres"] = postgres_backends()
    if with_redis:
        groups["redis"] = pids_named("redis-server")
    return groups


def postgres_backends() -> list[int]:
    """Server processes of the bench database's other connections (none on SQLite)."""
    from django.db import connection

    if connection.vendor != "postgresql":
        return []
    with connection.cursor() as cursor:
        cursor.execute("SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
                       "AND pid <> pg_backend_pid()")
        return [row[0] for row in cursor.fetchall()]


def pids_named(name: str) -> list[int]:
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if (entry / "comm").read_text().strip() == name:
                    pids.append(int(entry.name))
            except OSError:
                continue
    return pids


def cpu_per_lead(step: Step, leads: int) -> dict[str, dict[str, float]]:
    """Per process group: CPU ms per lead and the share of one core over the window."""
    wall = step.cpu_s.get("wall_s") or step.window_s
    return {name: {"cpu_ms_per_lead": round(1000 * used / max(1, leads), 2),
                   "core_share": round(used / wall, 3)}
            for name, used in step.cpu_s.items() if name != "wall_s"}


def sync_figures(market: Market, step: Step, source_budget_ms: float) -> dict[str, Any]:
    """A sync step: the rate, the answers, and the e2e and server-side overheads."""
    from apps.auctions.models import Auction, Post, PostOutcome
    from apps.leads.models import Lead

    decided = [r for r in step.records if r[2] == 200 and r[3] in ("sold", "unsold")]
    over_budget = sum(1 for r in step.records if r[2] == 202)
    failed = len(step.records) - len(decided) - over_budget
    uuids = [r[4] for r in decided]
    pk_by_uuid = dict(Lead.objects.filter(uuid__in=uuids).values_list("uuid", "pk"))
    received = dict(Lead.objects.filter(pk__in=pk_by_uuid.values()).values_list(
        "pk", "received_at"))
    auctions = {row[1]: row for row in Auction.objects.filter(
        lead_id__in=pk_by_uuid.values()).values_list(
        "pk", "lead_id", "started_at", "ping_deadline_at", "bids_at", "finished_at")}
    posts: dict[int, int] = {}
    for auction_id in Post.objects.filter(auction_id__in=[a[0] for a in auctions.values()]
                                          ).exclude(outcome=PostOutcome.RETRY).values_list(
            "auction_id", flat=True):
        posts[auction_id] = posts.get(auction_id, 0) + 1
    bound_latency = market.bound_latency_ms
    e2e, server, windows = [], [], {}
    parts: dict[str, list[float]] = {name: [] for name in E2E_PARTS}
    for record in decided:
        lead_pk = pk_by_uuid.get(_uuid(record[4]))
        if lead_pk not in auctions:
            continue
        auction_id, _, started, deadline, bids, finished = auctions[lead_pk]
        t_ms = (deadline - started).total_seconds() * 1000
        windows[auction_id] = (started.timestamp(), deadline.timestamp())
        bound = min(t_ms, bound_latency if bound_latency is not None else t_ms)
        post_ms = posts.get(auction_id, 0) * POST_LATENCY_MS
        e2e.append(record[1] - (bound + post_ms))
        if bids is None or finished is None:
            continue
        server.append((bids - started).total_seconds() * 1000 - bound)
        sent, answered = record[5], record[5] + record[1] / 1000
        marks = (sent, received[lead_pk].timestamp(), started.timestamp(), bids.timestamp(),
                 finished.timestamp(), answered)
        spans = [1000 * (b - a) for a, b in itertools.pairwise(marks)]
        spans[2] -= bound
        spans[3] -= post_ms
        for name, span in zip(E2E_PARTS, spans, strict=True):
            parts[name].append(span)
    lost, _ = lost_bids(market, windows)
    window = step.window_s
    return {
        "leads_per_s": round(len(decided) / window, 1),
        "submitted": len(step.records), "decided": len(decided), "over_budget_202": over_budget,
        "failed": failed, "client_errors": step.errors,
        "response_ms": summary([r[1] for r in decided]),
        "e2e_overhead_ms": summary(e2e),
        "server_ping_overhead_ms": summary(server),
        "e2e_overhead_parts_ms": {name: summary(values) for name, values in parts.items()},
        "lost_in_time_bids": lost["total"],
        "lost_in_time_bids_split": lost,
        "source_budget_ms": source_budget_ms,
        "cpu_by_process": cpu_per_lead(step, len(decided)),
        "arrival_lag_ms_max": step.arrival_lag_ms_max,
    }


def _uuid(value: str) -> Any:
    import uuid

    return uuid.UUID(value)


def step_ok(figures: dict[str, Any]) -> bool:
    """Every lead decided within the budget, no failure, no lost in-time bid."""
    return (figures["decided"] > 0 and figures["over_budget_202"] == 0
            and figures["failed"] == 0 and figures["lost_in_time_bids"] == 0)


def sync_capacity(rig: Rig, world: World, market: Market, *, clients: int, bisections: int,
                  warmup: float, duration: float, budget_ms: float) -> dict[str, Any]:
    """Find the sustained sync rate with closed-loop steps.

    Concurrency doubles from ``clients`` while every lead is decided in budget
    (``step_ok``) and the rate still grows by 5 %; then ``bisections`` steps halve the gap
    between the best good step and the first bad or no-better one. The sustained rate is
    the best good step's.
    """
    steps: list[dict[str, Any]] = []

    def measure(count: int) -> dict[str, Any]:
        settled = settle(rig, patience=_patience(steps))
        step = step_run(rig, world, market, mode="closed", clients=count, warmup=warmup,
                        duration=duration)
        figures = {"clients": count, **sync_figures(market, step, budget_ms),
                   "settled_before": settled}
        figures["ok"] = step_ok(figures)
        steps.append(figures)
        progress(f"  sync, {count:>3} closed-loop clients: {figures['leads_per_s']:6.1f} "
                  f"leads/s, e2e overhead p99 {figures['e2e_overhead_ms']['p99']} ms, "
                  f"202s {figures['over_budget_202']}, failed {figures['failed']}, "
                  f"lost in-time bids {figures['lost_in_time_bids']}")
        return figures

    def better(figures: dict[str, Any], than: dict[str, Any] | None) -> bool:
        return figures["ok"] and (
            than is None or figures["leads_per_s"] > than["leads_per_s"] * GROWTH_STOP)

    best: dict[str, Any] | None = None
    count, ceiling = clients, 0
    while True:
        figures = measure(count)
        if not better(figures, best):
            ceiling = count
            if figures["ok"] and (best is None or figures["leads_per_s"] > best["leads_per_s"]):
                best = figures
            break
        best, count = figures, count * 2
    floor = best["clients"] if best is not None else 0
    for _ in range(bisections):
        middle = (floor + ceiling) // 2
        if middle in (floor, ceiling) or middle < 1:
            break
        figures = measure(middle)
        if figures["ok"] and (best is None or figures["leads_per_s"] > best["leads_per_s"]):
            best, floor = figures, middle
        else:
            ceiling = middle
    # the rows after the search must not start inside an overloaded step's backlog
    return {"steps": steps, "best": best,
            "settled_after": settle(rig, patience=_patience(steps))}


def _patience(steps: list[dict[str, Any]]) -> float | None:
    """How long to wait for the server after ``steps``: longer when one was overloaded."""
    return BACKLOG_PATIENCE_S if any(not step["ok"] for step in steps) else None


def settle(rig: Rig, *, quiet: float = 0.15, patience: float | None = None) -> bool:
    """Wait until the last step is over server-side, so a step does not pay for it: no sync
    or ping-post lead of this server left ``received`` or ``auctioning`` (an overloaded step
    leaves auctions running after their ``202``), no query of the bench database still running,
    and the web server and database backends quiet (under ``quiet`` of a core over a
    second: autovacuum after a burst of Ping rows, …). False if ``patience`` (default
    ``rig.settle_s``) ran out."""
    from datetime import UTC, datetime

    from apps.leads.models import Lead

    give_up = time.monotonic() + (patience or rig.settle_s)
    since = datetime.fromtimestamp(rig.since, UTC)
    while Lead.objects.filter(status__in=["received", "auctioning"],
                              sub_id__in=[SUB_ID_SYNC, SUB_ID_PING],
                              received_at__gte=since).exists() or _postgres_busy():
        if time.monotonic() > give_up:
            return False
        time.sleep(0.2)
    while time.monotonic() < give_up:
        meter = CpuMeter({"server": process_tree(rig.web_pid) + postgres_backends()})
        meter.start()
        time.sleep(1.0)
        used = meter.stop(extra={"server": postgres_backends()})
        if used["server"] / used["wall_s"] < quiet:
            return True
    return False


def _postgres_busy() -> bool:
    """True while another connection runs a query on the bench database (PostgreSQL)."""
    from django.db import connection

    if connection.vendor != "postgresql":
        return False
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM pg_stat_activity WHERE datname = "
                       "current_database() AND pid <> pg_backend_pid() AND state = 'active'")
        return cursor.fetchone()[0] > 0


def e2e_at(rig: Rig, world: World, market: Market, *, rate: float, warmup: float,
           duration: float, budget_ms: float) -> dict[str, Any]:
    """Open-loop Poisson arrivals at ``rate`` leads/s; the e2e overhead a source sees."""
    settled = settle(rig)
    step = step_run(rig, world, market, mode="open", rate=rate, warmup=warmup,
                    duration=duration)
    figures = {"rate_offered": round(rate, 1), **sync_figures(market, step, budget_ms),
               "settled_before": settled}
    figures["ok"] = step_ok(figures)
    return figures


def async_capture(rig: Rig, world: World, market: Market, *, clients: int, warmup: float,
                  duration: float) -> dict[str, Any]:
    """Closed-loop ``?mode=async`` submissions: 202 ``received`` answers per second, and
    proof that nothing auctioned them (no Auction row; the broker holds the tasks)."""
    from apps.auctions.models import Auction
    from apps.leads.models import Lead

    settled = settle(rig)
    queued_before = queue_length() if rig.broker else None
    step = step_run(rig, world, market, mode="closed", clients=clients, warmup=warmup,
                    duration=duration, async_capture=True)
    accepted = [r for r in step.records if r[2] == 202 and r[3] == "received"]
    uuids = [_uuid(r[4]) for r in accepted]
    auctioned = Auction.objects.filter(lead__uuid__in=uuids).count()
    still_received = Lead.objects.filter(uuid__in=uuids, status="received").count()
    queued_after = queue_length() if rig.broker else None
    return {
        "leads_per_s": round(len(accepted) / step.window_s, 1),
        "clients": clients,
        "submitted": len(step.records), "accepted_202": len(accepted),
        "other_answers": len(step.records) - len(accepted), "client_errors": step.errors,
        "response_ms": summary([r[1] for r in accepted]),
        "broker": rig.broker or "none: Redis did not answer, so the web process auctioned "
                                "the async leads itself (the figure is not capture-only)",
        "auctioned_during_run": auctioned,
        "still_received": still_received,
        "broker_tasks_added": (None if queued_before is None or queued_after is None
                               else queued_after - queued_before),
        "answers_by_status_incl_warmup": step.answers_by_status,
        "settled_before": settled,
        "cpu_by_process": cpu_per_lead(step, len(accepted)),
    }
