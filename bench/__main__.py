"""``python -m bench [--quick]`` (``make bench [QUICK=1]``): every SPEC §9 figure.

1. A fresh database (``DATABASE_URL``'s PostgreSQL server, database ``leadexchange_bench``,
   with ``REDIS_URL`` on Redis db 14 as in production mode unless ``--no-redis-url``; else
   a temporary SQLite file in ``var/bench/``, the embedded default), migrated; buyer
   simulator processes; one source and four markets of 50 buyers (see ``bench.setup``).
2. In this process, as a web process would run them (after ``process_tune``): whole
   ``auction_run`` calls for the deadline, ping-overhead and burst rows, and the fan-out
   CPU comparison (``bench.auctions``, ``bench.fanout``); the cost figure, CPU per lead
   (``bench.cost``), and the instruction count under valgrind (``bench.instructions``).
3. Through HTTP: gunicorn serving the app and a load generator process, for the sync rate,
   the end-to-end overhead at half that rate, source pings and their posts at that rate
   (``bench.pingpost``) and the async capture rate (``bench.load``); then the cost figure's
   phases timed inside the web workers, per sold sync lead and per async capture
   (``bench.http_phases``).
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
from pathlib import Path

from bench.plan import Plan
from bench.processes import machine_quiet_wait
from bench.redisdb import redis_flush
from bench.setup import (
    bench_var_reset,
    database_drop,
    database_prepare,
    django_boot,
    redis_prepare,
)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="every figure in about 4 minutes")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 2,
                        help="gunicorn workers (default: one per core)")
    parser.add_argument("--threads", type=int, default=64, help="gunicorn threads per worker")
    parser.add_argument("--gunicorn-config", type=Path, metavar="FILE",
                        help="an extra gunicorn config file (to try a setting or a hook)")
    parser.add_argument("--keep", action="store_true",
                        help="leave the bench database behind (logs stay in var/bench/)")
    parser.add_argument("--profile", action="store_true",
                        help="also write a cProfile of auction_run to var/bench/profile.txt")
    parser.add_argument("--no-http", action="store_true",
                        help="in-process rows only (the HTTP rows report n/a)")
    parser.add_argument("--webhooks", action="store_true",
                        help="the source has a webhook endpoint and a postback URL, so every "
                             "outcome is also written to the outbox and delivered")
    parser.add_argument("--no-callgrind", action="store_true",
                        help="skip the instruction count (valgrind's callgrind, a few minutes)")
    parser.add_argument("--strict", action="store_true",
                        help="exit with status 1 when a target is missed")
    parser.add_argument("--no-redis-url", action="store_true",
                        help="on PostgreSQL, do not set REDIS_URL (counters in the database)")
    parser.add_argument("--wait-quiet", type=float, default=0.0, metavar="SECONDS",
                        help="on a shared machine, first wait up to SECONDS for other "
                             "processes to leave the CPU alone")
    args = parser.parse_args(argv)
    plan = Plan.quick() if args.quick else Plan.full()
    # SIGTERM unwinds like Ctrl-C, so every child is stopped and the database removed.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))

    if args.wait_quiet:
        machine_quiet_wait(args.wait_quiet)
    started = time.monotonic()
    var = bench_var_reset()
    database = database_prepare()
    redis_url = redis_prepare(database, wanted=not args.no_redis_url)
    try:
        django_boot(var / "bench.log")
        from bench.run import bench_run  # imports the app: after Django is set up

        results = bench_run(plan, args, database, redis_url, var, started)
    finally:
        _shutdown()
        if redis_url:
            redis_flush(redis_url)
        if args.keep:
            print(f"kept: the database {database.name} and the logs in {var}")
        else:
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
