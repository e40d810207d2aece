"""What an auction's claim costs with its commit waiting for the disk and without.

Run from the repository root, against PostgreSQL (the embedded SQLite never waits)::

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres \\
        .venv/bin/python -m bench.claim_commit [--blocks 24] [--per-block 50]

In a scratch database (``leadexchange_claim_commit``, dropped and made afresh, dropped at
the end) it captures ``blocks × per-block`` async leads, then claims them one by one
(``apps.auctions.services.run._claim``, the statement that starts every auction), in
blocks that alternate between the commit as shipped (``sql_unflushed``: no wait for the
WAL flush) and the same statement left to wait; alternating spreads the machine's drift
over both. It prints each side's wall time per claim, p50 / p90 / p99, in ms.
"""

from __future__ import annotations

import argparse
import os
import time
from collections.abc import Callable

from bench.setup import BENCH_VAR, database_drop, database_prepare, django_boot
from bench.stats import percentile

SCRATCH = "leadexchange_claim_commit"


def claims_timed(lead_ids: list[int], blocks: int, per_block: int,
                 unflushed: Callable[[str], str]) -> dict[str, list[float]]:
    """Claim the leads in alternating blocks; each side's claim times in ms."""
    from django.utils import timezone

    from apps.auctions.services import run

    times: dict[str, list[float]] = {"waits": [], "unflushed": []}
    leads = iter(lead_ids)
    try:
        for block in range(blocks):
            side = "unflushed" if block % 2 else "waits"
            run.sql_unflushed = unflushed if side == "unflushed" else str  # type: ignore[assignment]
            for _ in range(per_block):
                started = time.perf_counter()
                if run._claim(next(leads), timezone.now()) is None:
                    raise RuntimeError("a fresh lead was not claimed")
                times[side].append(1000 * (time.perf_counter() - started))
    finally:
        run.sql_unflushed = unflushed  # type: ignore[assignment]
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--blocks", type=int, default=24, help="alternating blocks (even)")
    parser.add_argument("--per-block", type=int, default=50, help="claims per block")
    args = parser.parse_args()

    if not os.environ.get("DATABASE_URL"):  # else a scratch SQLite file would be made
        raise SystemExit("bench.claim_commit: set DATABASE_URL to a PostgreSQL server")
    database = database_prepare(SCRATCH)  # refuses any other scheme
    try:
        django_boot(BENCH_VAR / "claim_commit.log")
        from apps.core.sql import sql_unflushed
        from bench.cost import api_client, captures_post, lead_pks
        from bench.instructions import instructions_world

        world = instructions_world("http://127.0.0.1:9", seed=1)  # no buyer is reached
        market = world.markets["instructions"]
        lead_ids = lead_pks(captures_post(api_client(world.source_key), market.slug, 1,
                                          args.blocks * args.per_block))
        times = claims_timed(lead_ids, args.blocks, args.per_block, sql_unflushed)
    finally:
        from django.db import connections

        connections.close_all()
        database_drop(database)
    for side, values in times.items():
        p50, p90, p99 = (percentile(values, f) for f in (0.5, 0.9, 0.99))
        print(f"claim, commit {side:9}  n={len(values)}  p50 {p50:.3f}  p90 {p90:.3f}  "
              f"p99 {p99:.3f} ms")


if __name__ == "__main__":
    main()
