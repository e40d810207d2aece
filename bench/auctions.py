"""The in-process rows: whole ``auction_run`` calls on pre-captured ``received`` leads.

Each figure is read back from the rows the auction wrote, as a manager would replay it:

- ``Auction.started_at`` – the auction began (before any database work of its own);
- ``Auction.ping_deadline_at`` – started + T, where T = (budget − AUCTION_RESERVE_MS) ×
  AUCTION_PING_SHARE is the ping phase's share of the source's budget;
- ``Auction.bids_at`` – the ranking decision, right after the ping phase;
- one ``Ping`` row per contract with its ``outcome``.

Figures (all in ms):

- **deadline overrun** = ``bids_at − ping_deadline_at``, in the ``hang`` market: one buyer
  never answers, so the decision waits for the deadline and this is how late it came.
- **ping overhead** = ``(bids_at − started_at) − min(T, max Lᵢ)``: the time an auction spent
  beyond the slowest buyer it had to wait for. Lᵢ is the buyer's latency as the simulator
  logged it for that ping (request received → answer written: see ``_LoggedLatencies``),
  else as configured; the figure over the configured Lᵢ is reported beside it. Everything
  our side does before, between and after the pings counts: claiming the lead, the
  set-ups, eligibility, building, sending and parsing 50 requests, ranking.
- **lost in-time bids**: pings whose buyer's latency Lᵢ < T − 1 ms but whose outcome is
  not ``bid`` (the buyer answered in time and we dropped it), less those the simulator's
  own log shows it answered after the deadline (see ``lost_bids``).
"""

from __future__ import annotations

import bisect
import os
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from django.db import connection, connections

from bench.processes import OTHERS, CpuMeter
from bench.setup import Market
from bench.simlog import ping_answers
from bench.stats import summary

LOST_MARGIN_MS = 1.0


@dataclass(frozen=True)
class AuctionTimes:
    """One auction's instants, in ms relative to ``started_at``."""

    lead_id: int
    t_ms: float  # ping_deadline_at − started_at: T
    bids_ms: float  # bids_at − started_at
    # max Lᵢ as the buyers themselves logged it for this auction (answer written − request
    # received); None without the simulator's log or when a buyer's line is missing
    logged_latency_ms: float | None = None


@dataclass
class RunResult:
    """What a batch of ``auction_run`` calls left behind, and what it cost this process."""

    times: list[AuctionTimes]
    lost: dict[str, int]  # see lost_bids
    outcomes: dict[str, int]
    cpu_s: float  # this process (auction threads + the HTTP loop thread)
    db_cpu_s: float | None  # the PostgreSQL backend serving the main thread (None: SQLite)
    wall_s: float
    processes_cpu_s: dict[str, float]  # CpuMeter: simulator, other processes, …
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def lost_in_time_bids(self) -> int:
        return self.lost["total"]

    def overruns_ms(self) -> list[float]:
        return [t.bids_ms - t.t_ms for t in self.times]

    def overheads_ms(self, bound_latency_ms: float | None, *, logged: bool = True
                     ) -> list[float]:
        """(bids_at − started_at) − min(T, max Lᵢ) per auction: with Lᵢ as each buyer logged
        it when ``logged`` and the log has it, else as configured (``bound_latency_ms``)."""
        def bound(t: AuctionTimes) -> float:
            if logged and t.logged_latency_ms is not None:
                return min(t.t_ms, t.logged_latency_ms)
            return min(t.t_ms, bound_latency_ms if bound_latency_ms is not None else t.t_ms)
        return [t.bids_ms - bound(t) for t in self.times]


def auctions_run(market: Market, lead_ids: Sequence[int], *, threads: int = 1,
                 budget_ms: float | None = None, simulator_pid: int | None = None,
                 answers_log: Path | None = None) -> RunResult:
    """Run the auctions of ``lead_ids`` on ``threads`` threads (each runs its share one
    after another) and read their figures back.

    ``budget_ms`` gives each auction that deadline from its start, as a sync capture does;
    None uses the source's own budget. The CPU of this process, of the database backend
    (PostgreSQL, one thread only), of the simulator and of the rest of the machine is
    measured over the batch. ``answers_log`` is the simulator's log (see ``lost_bids``).
    """
    from apps.auctions.services.run import auction_run

    def run(share: Sequence[int]) -> None:
        try:
            for lead_id in share:
                deadline = None if budget_ms is None else time.monotonic() + budget_ms / 1000
                auction_run(lead_id, deadline=deadline)
        finally:
            if threading.current_thread() is not threading.main_thread():
                connections.close_all()

    backend = _db_backend_pid() if threads == 1 else None
    groups = {"bench process": [os.getpid()]}
    if backend:
        groups["postgres backend"] = [backend]
    if simulator_pid:
        groups["simulator"] = [simulator_pid]
    meter = CpuMeter(groups)
    meter.start()
    cpu_before, wall_before = time.process_time(), time.monotonic()
    if threads == 1:
        run(lead_ids)
    else:
        workers = [threading.Thread(target=run, args=(lead_ids[i::threads],))
                   for i in range(threads)]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join()
    cpu = time.process_time() - cpu_before
    wall = time.monotonic() - wall_before
    used = meter.stop()
    times, lost, outcomes = auction_figures(market, lead_ids, answers_log)
    return RunResult(times, lost, outcomes, cpu, used.get("postgres backend"), wall, used)


def auction_figures(market: Market, lead_ids: Sequence[int], answers_log: Path | None = None
                    ) -> tuple[list[AuctionTimes], dict[str, int], dict[str, int]]:
    """The first-round times of the auctions of ``lead_ids``, their lost in-time bids (see
    ``lost_bids``) and the count of each ping outcome."""
    from apps.auctions.models import Auction

    rows = Auction.objects.filter(lead_id__in=lead_ids).values_list(
        "pk", "lead_id", "started_at", "ping_deadline_at", "bids_at")
    times, windows = [], {}
    logged = _LoggedLatencies(market, ping_answers(answers_log)) if answers_log else None
    for pk, lead_id, started, ping_deadline, bids_at in rows:
        if bids_at is None:
            continue  # never decided: the caller counts it as missing
        windows[pk] = (started.timestamp(), ping_deadline.timestamp())
        times.append(AuctionTimes(
            lead_id, (ping_deadline - started).total_seconds() * 1000,
            (bids_at - started).total_seconds() * 1000,
            logged.max_ms(started.timestamp(), bids_at.timestamp()) if logged else None))
    lost, outcomes = lost_bids(market, windows, answers_log)
    return times, lost, outcomes


class _LoggedLatencies:
    """The buyers' own latencies from the simulator's log: per auction window, the longest
    time a buyer of the market took between receiving its ping and writing the answer.

    That is the auction's true lower bound: the simulator's timers tick by the millisecond,
    so a buyer configured for Lᵢ answers a fraction of a millisecond to ~2 ms after Lᵢ
    (never before), and that delay is the buyer's, not the platform's. Only for auctions
    run one at a time (each buyer answers once per window)."""

    def __init__(self, market: Market, answers: list[dict[str, Any]]) -> None:
        paths = {market.ping_path_by_contract[pk] for pk, latency
                 in market.latency_by_contract.items() if latency is not None}
        self._expected = len(paths)
        self._answers = sorted((a["t_received"], a["t_answered"], a["path"])
                               for a in answers if a["path"] in paths)
        self._received = [a[0] for a in self._answers]

    def max_ms(self, started: float, decided: float) -> float | None:
        first = bisect.bisect_left(self._received, started)
        last = bisect.bisect_right(self._received, decided)
        mine = self._answers[first:last]
        if len({path for _, _, path in mine}) != self._expected or len(mine) != self._expected:
            return None
        return 1000 * max(answered - received for received, answered, _ in mine)


def lost_bids(market: Market, windows: dict[int, tuple[float, float]],
              answers_log: Path | None = None) -> tuple[dict[str, int], dict[str, int]]:
    """In-time bids lost by the first round of these auctions, and every ping outcome.

    ``windows`` maps each auction to its ``started_at`` and ``ping_deadline_at`` (epoch s).
    A bid is in time when its buyer's configured latency Lᵢ < T − 1 ms; lost when its
    outcome is not ``bid``. ``by_configured_latency`` counts exactly that; it splits into
    ``late_start`` (the ping phase began so late that less than Lᵢ was left of T: ours),
    ``other`` (an error, not a timeout) and ``while_waiting`` (the ping was given more than
    Lᵢ + 1 ms — ``Ping.latency_ms`` of a timeout is the time it was given).

    With the simulator's log (``answers_log``), ``while_waiting`` splits further into
    ``answered_in_time`` (the buyer's answer was written before the deadline and not
    read: ours), ``simulator_late`` (the simulator itself answered after the deadline: a
    starved machine, not the platform) and ``never_received`` (the ping never reached the
    buyer); with auctions run at once, a buyer's log entries in the window may be another
    auction's, and ``ambiguous`` counts the pings whose candidates disagree. ``total`` —
    the SPEC figure — is ``by_configured_latency`` minus ``simulator_late``.
    """
    from apps.auctions.models import Ping

    lost = {"total": 0, "by_configured_latency": 0, "late_start": 0, "other": 0,
            "while_waiting": 0}
    outcomes: dict[str, int] = {}
    waiting: list[tuple[int, int]] = []
    pings = Ping.objects.filter(auction_id__in=list(windows), round=1).values_list(
        "auction_id", "contract_id", "outcome", "latency_ms")
    for auction_id, contract_id, outcome, waited_ms in pings:
        outcomes[outcome] = outcomes.get(outcome, 0) + 1
        started, deadline = windows[auction_id]
        latency = market.latency_by_contract.get(contract_id)  # None: it never answers
        budget_ms = 1000 * (deadline - started) - LOST_MARGIN_MS
        if latency is None or latency >= budget_ms or outcome == "bid":
            continue  # not configured to answer in time, or it did
        lost["by_configured_latency"] += 1
        if outcome != "timeout" or waited_ms is None:
            lost["other"] += 1
        elif latency < waited_ms - LOST_MARGIN_MS:
            lost["while_waiting"] += 1
            waiting.append((auction_id, contract_id))
        else:
            lost["late_start"] += 1
    lost["total"] = lost["by_configured_latency"]
    if waiting and answers_log is not None:
        split = _waiting_split(market, windows, waiting, answers_log)
        lost.update(split)
        lost["total"] -= split["simulator_late"]
    return lost, outcomes


def _waiting_split(market: Market, windows: dict[int, tuple[float, float]],
                   waiting: list[tuple[int, int]], answers_log: Path) -> dict[str, int]:
    by_path: dict[str, list[dict[str, Any]]] = {}
    for answer in ping_answers(answers_log):
        by_path.setdefault(answer["path"], []).append(answer)
    split = {"answered_in_time": 0, "simulator_late": 0, "never_received": 0, "ambiguous": 0}
    for auction_id, contract_id in waiting:
        started, deadline = windows[auction_id]
        mine = [a for a in by_path.get(market.ping_path_by_contract[contract_id], [])
                if started <= a["t_received"] <= deadline]
        # Auctions run at once (the concurrent variant) ping the same buyer paths, so the
        # window can hold other auctions' pings: an answer is ours only when they all agree.
        in_time = {a["t_answered"] < deadline - LOST_MARGIN_MS / 1000 for a in mine}
        if not mine:
            split["never_received"] += 1
        elif in_time == {True}:
            split["answered_in_time"] += 1
        elif in_time == {False}:
            split["simulator_late"] += 1
        else:
            split["ambiguous"] += 1
    return split


def _db_backend_pid() -> int | None:
    """The PostgreSQL server process serving this thread's connection (same machine)."""
    if connection.vendor != "postgresql":
        return None
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        return cursor.fetchone()[0]


def overrun_figures(sequential: RunResult, concurrent: RunResult | None) -> dict[str, Any]:
    """Row 1 and its extra info: the decision past the ping deadline, hang market."""
    figures = {"sequential": summary(sequential.overruns_ms()),
               "lost_in_time_bids": sequential.lost,
               "t_ms": round(sequential.times[0].t_ms, 1) if sequential.times else None,
               "ping_outcomes": sequential.outcomes}
    if concurrent is not None:
        figures["concurrent"] = summary(concurrent.overruns_ms())
        figures["concurrent_threads"] = concurrent.extra.get("threads")
        figures["concurrent_lost_in_time_bids"] = concurrent.lost
    return figures


def overhead_figures(market: Market, result: RunResult) -> dict[str, Any]:
    """Rows 2 and 3 and their extra info: the time beyond the bound, CPU per auction_run."""
    count = max(1, len(result.times))
    figures: dict[str, Any] = {
        "overhead_ms": summary(result.overheads_ms(market.bound_latency_ms)),
        "overhead_over_configured_latency_ms": summary(
            result.overheads_ms(market.bound_latency_ms, logged=False)),
        "auctions_with_logged_bound": sum(t.logged_latency_ms is not None
                                          for t in result.times),
        "bound_ms": market.bound_latency_ms,
        "t_ms": round(result.times[0].t_ms, 1) if result.times else None,
        "lost_in_time_bids": result.lost,
        "ping_outcomes": result.outcomes,
        "auction_run_cpu_ms_per_lead": round(1000 * result.cpu_s / count, 2),
    }
    if result.db_cpu_s is not None:
        figures["postgres_backend_cpu_ms_per_lead"] = round(1000 * result.db_cpu_s / count, 2)
    figures["cpu_by_process"] = cpu_by_process(result)
    return figures


def cpu_by_process(result: RunResult) -> dict[str, dict[str, float]]:
    """CPU ms per auction and share of one core of each process group of a batch; the bench
    process's from ``process_time`` (finer than /proc's 10 ms ticks)."""
    count = max(1, len(result.times))
    used = {**result.processes_cpu_s, "bench process": result.cpu_s}
    wall = result.wall_s
    return {name: {"cpu_ms_per_lead": round(1000 * seconds / count, 2),
                   "core_share": round(seconds / wall, 3)}
            for name, seconds in used.items() if name != "wall_s"}


def noise(result: RunResult) -> float:
    """Share of a core the rest of the machine used during the batch."""
    return round(result.processes_cpu_s.get(OTHERS, 0.0) / result.wall_s, 3)
