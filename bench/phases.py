"""Where the ping overhead goes: a per-phase breakdown of a few extra auctions.

Diagnostic only (no SPEC row): more auctions of the ``spread`` market, whose simulator
logs every ping's arrival and answer (stamped with ``time.time()``, the clock of
``Auction.started_at``). While they run, the service's phase functions are wrapped with
timers in this process only (``phase_timers``); the application is not changed. Per
auction, in ms:

- ``before_pings``: ``started_at`` → ``ping_round`` entered (claim and load the lead,
  set-ups, post context, consumer purchases, eligibility), with its parts ``claim``,
  ``contract_setups``, ``lead_context_build``, ``buyers_who_bought``, ``eligibility``;
- ``build_pings``: ``wire_build`` of the 50 pings;
- ``first_ping_received`` / ``last_ping_received``: from ``http_send_many`` entered to the
  simulator holding the first / last ping (the cost of putting 50 requests on the wire);
- ``slowest_ping_received``: the same for the buyer with the largest latency;
- ``simulator_late``: that buyer's answer time − arrival − its latency;
- ``last_answer_to_return``: the last answer written → ``http_send_many`` returned to the
  auction thread (reading the answers on the HTTP loop, handing the batch over);
- ``parse_answers``: ``_interpret`` of the 50 answers;
- ``after_pings``: ``ping_round`` returned → ``bids_at`` (ranking);
- ``overhead``: row 2's figure over the configured latency, which these parts add up to (row 2
  itself, over the latency the buyers logged, is about this less ``simulator_late``).

It also splits the process's CPU per auction between the auction's thread and the
others (the HTTP loop thread), and can write a cProfile of the auction thread.
"""

from __future__ import annotations

import contextlib
import cProfile
import functools
import io
import pstats
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from bench.setup import Market
from bench.simlog import ping_answers
from bench.stats import summary

_RUN_PHASES = ("_claim", "contract_setups", "lead_context_build", "buyers_who_bought",
               "select_eligible", "ping_round", "rank_bids")
_PING_PHASES = ("wire_build", "http_send_many", "_interpret")


@contextlib.contextmanager
def phase_timers() -> Iterator[list[tuple[str, float, float]]]:
    """Wrap the auction service's phase functions with (name, start, end) wall-clock
    recorders for the duration of the block; yields the list they append to."""
    from apps.auctions.services import pinging, run

    events: list[tuple[str, float, float]] = []
    originals: list[tuple[Any, str, Any]] = []

    def timed(name: str, function: Any) -> Any:
        @functools.wraps(function)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            started = time.time()
            try:
                return function(*args, **kwargs)
            finally:
                events.append((name, started, time.time()))

        return wrapper

    for module, names in ((run, _RUN_PHASES), (pinging, _PING_PHASES)):
        for name in names:
            original = getattr(module, name)
            originals.append((module, name, original))
            setattr(module, name, timed(name, original))
    try:
        yield events
    finally:
        for module, name, original in originals:
            setattr(module, name, original)


def phase_breakdown(market: Market, lead_ids: list[int], answers_log: Path,
                    profile_path: Path | None = None) -> dict[str, Any]:
    """Run the auctions of ``lead_ids`` one by one (timed), then summarise each phase."""
    import threading

    from apps.auctions.models import Auction
    from apps.auctions.services.run import auction_run

    per_auction: list[dict[str, float]] = []
    windows: list[tuple[int, list[tuple[str, float, float]]]] = []
    cpu_main = cpu_all = 0.0
    with phase_timers() as events:
        for lead_id in lead_ids:
            events.clear()
            thread_cpu, process_cpu = time.thread_time(), time.process_time()
            auction_run(lead_id)
            cpu_main += time.thread_time() - thread_cpu
            cpu_all += time.process_time() - process_cpu
            windows.append((lead_id, list(events)))
    assert threading.current_thread() is threading.main_thread()
    answers = ping_answers(answers_log)
    auctions = {a.lead_id: a for a in Auction.objects.filter(lead_id__in=lead_ids)}
    paths = {market.ping_path_by_contract[cid]: latency
             for cid, latency in market.latency_by_contract.items() if latency is not None}
    for lead_id, recorded in windows:
        record = auctions.get(lead_id)
        if record is None or record.bids_at is None:
            continue
        per_auction.append(_phases(record, recorded, answers, paths, market))
    count = max(1, len(lead_ids))
    result: dict[str, Any] = {
        "auctions": len(per_auction),
        "phases_ms": {name: summary([p[name] for p in per_auction if name in p])
                      for name in (per_auction[0] if per_auction else {})},
        "cpu_ms_per_auction": {"auction thread": round(1000 * cpu_main / count, 2),
                               "other threads (HTTP loop)":
                                   round(1000 * (cpu_all - cpu_main) / count, 2)},
    }
    if profile_path is not None:
        result["profile"] = str(profile_path)
    return result


def profile_auctions(lead_ids: list[int], path: Path, top: int = 30) -> None:
    """cProfile the auction thread (CPU time) over ``lead_ids``; write the top functions."""
    from apps.auctions.services.run import auction_run

    profiler = cProfile.Profile(time.thread_time)
    profiler.enable()
    for lead_id in lead_ids:
        auction_run(lead_id)
    profiler.disable()
    out = io.StringIO()
    stats = pstats.Stats(profiler, stream=out)
    stats.sort_stats("cumulative").print_stats(top)
    stats.sort_stats("tottime").print_stats(top)
    path.write_text(f"cProfile of auction_run, auction thread CPU, {len(lead_ids)} auctions "
                    "(the HTTP loop thread is not in it)\n" + out.getvalue())


def _phases(record: Any, events: list[tuple[str, float, float]],
            answers: list[dict[str, Any]], paths: dict[str, float], market: Market
            ) -> dict[str, float]:
    started = record.started_at.timestamp()
    bids = record.bids_at.timestamp()
    first = {name: (s, e) for name, s, e in reversed(events)}  # first call of each
    total = {name: 0.0 for name, _, _ in events}
    for name, s, e in events:
        total[name] += 1000 * (e - s)
    bound = min((record.ping_deadline_at - record.started_at).total_seconds() * 1000,
                market.bound_latency_ms or 0.0)
    phases = {"overhead": 1000 * (bids - started) - bound}
    if "ping_round" not in first or "http_send_many" not in first:
        return phases
    ping_in, ping_out = first["ping_round"]
    send_in, send_out = first["http_send_many"]
    phases["before_pings"] = 1000 * (ping_in - started)
    for name, label in (("_claim", "  claim"), ("contract_setups", "  contract_setups"),
                        ("lead_context_build", "  lead_context_build"),
                        ("buyers_who_bought", "  buyers_who_bought"),
                        ("select_eligible", "  eligibility")):
        phases[label] = total.get(name, 0.0)
    phases["build_pings"] = total.get("wire_build", 0.0)
    mine = [a for a in answers if send_in - 0.001 <= a["t_received"] <= send_out
            and a["path"] in paths]
    if mine:
        slowest = max(mine, key=lambda a: paths[a["path"]])
        phases["first_ping_received"] = 1000 * (min(a["t_received"] for a in mine) - send_in)
        phases["last_ping_received"] = 1000 * (max(a["t_received"] for a in mine) - send_in)
        phases["slowest_ping_received"] = 1000 * (slowest["t_received"] - send_in)
        phases["simulator_late"] = (1000 * (slowest["t_answered"] - slowest["t_received"])
                                    - slowest["latency_ms_requested"])
        phases["last_answer_to_return"] = 1000 * (send_out
                                                  - max(a["t_answered"] for a in mine))
    phases["parse_answers"] = total.get("_interpret", 0.0)
    phases["after_pings"] = 1000 * (bids - ping_out)
    return phases
