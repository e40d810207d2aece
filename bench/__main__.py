"""``python -m bench [--quick]`` (``make bench [QUICK=1]``): every SPEC §9 figure.

1. A fresh database (``DATABASE_URL``'s PostgreSQL server, database ``leadexchange_bench``;
   else a temporary SQLite file in ``var/bench/``), migrated; a buyer simulator process;
   one source and three markets of 50 buyers (see ``bench.setup``).
2. In this process, as a web process would run them (after ``process_tune``): whole
   ``auction_run`` calls for the deadline, ping-overhead and burst rows, and the fan-out
   CPU comparison (``bench.auctions``, ``bench.fanout``).
3. Through HTTP: gunicorn serving the app and a load generator process, for the sync rate,
   the end-to-end overhead at half that rate and the async capture rate (``bench.load``).
4. The table on stdout; ``bench/results/latest.json`` and a dated copy (``bench.report``).

Every child process is stopped and the bench database removed on exit, Ctrl-C included
(``--keep`` keeps the database for a look at its rows).
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import time
from dataclasses import dataclass

from bench.setup import (
    bench_var_reset,
    database_drop,
    database_prepare,
    django_boot,
)


@dataclass(frozen=True)
class Plan:
    """How much of everything a run does: ``--quick`` fits in under 3 minutes."""

    auctions: int  # sequential auction_run calls per in-process row
    concurrent_threads: int  # the deadline row's concurrent variant
    concurrent_auctions: int
    fanout_auctions: int  # per client, row 8
    sync_clients: int  # the rate search's first closed-loop step; it doubles from there
    sync_bisections: int  # then steps between the best good step and the first bad one
    step_warmup_s: float
    step_s: float
    e2e_s: float
    async_clients: int
    async_s: float
    probe_auctions: int  # the per-phase breakdown (diagnostic)
    warmup_auctions: int = 5
    hang_budget_ms: float = 300.0  # T = (300 − 30) × 0.6 = 162 ms: the hang row goes faster

    @classmethod
    def quick(cls) -> Plan:
        return cls(auctions=40, concurrent_threads=4, concurrent_auctions=40,
                   fanout_auctions=40, sync_clients=8, sync_bisections=1, step_warmup_s=1.5,
                   step_s=5.0, e2e_s=12.0, async_clients=32, async_s=6.0, probe_auctions=15)

    @classmethod
    def full(cls) -> Plan:
        return cls(auctions=300, concurrent_threads=4, concurrent_auctions=200,
                   fanout_auctions=200, sync_clients=4, sync_bisections=2, step_warmup_s=3.0,
                   step_s=15.0, e2e_s=60.0, async_clients=32, async_s=20.0,
                   probe_auctions=60)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="every figure in under 3 minutes")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 2,
                        help="gunicorn workers (default: one per core)")
    parser.add_argument("--threads", type=int, default=64, help="gunicorn threads per worker")
    parser.add_argument("--keep", action="store_true",
                        help="leave the bench database and the simulator log behind")
    parser.add_argument("--profile", action="store_true",
                        help="also write a cProfile of auction_run to var/bench/profile.txt")
    parser.add_argument("--no-http", action="store_true",
                        help="in-process rows only (the HTTP rows report n/a)")
    parser.add_argument("--strict", action="store_true",
                        help="exit with status 1 when a target is missed")
    args = parser.parse_args(argv)
    plan = Plan.quick() if args.quick else Plan.full()
    # SIGTERM unwinds like Ctrl-C, so every child is stopped and the database removed.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))

    started = time.monotonic()
    var = bench_var_reset()
    database = database_prepare()
    try:
        django_boot(var / "bench.log")
        from bench.run import bench_run  # imports the app: after Django is set up

        results = bench_run(plan, args, database, var, started)
    finally:
        _shutdown()
        if not args.keep:
            database_drop(database)
    missed = [key for key, held in results["pass"].items() if held is False]
    return 1 if args.strict and missed else 0


def _shutdown() -> None:
    from django.db import connections

    from apps.core.http import http_client_close

    http_client_close()
    connections.close_all()


if __name__ == "__main__":
    sys.exit(main())
