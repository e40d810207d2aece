"""``manage.py generate_leads``: synthetic leads with their auctions, then the rollups.
Development and benchmarks only (see apps.demo.synthetic)."""

from __future__ import annotations

from datetime import datetime

from django.core.management.base import BaseCommand, CommandError

from apps.demo.dataset import DemoDataError
from apps.demo.synthetic import SYNTHETIC_BUYERS, synthetic_clear, synthetic_generate


class Command(BaseCommand):
    help = "Generate realistic synthetic leads, auctions, pings, posts and sales (dev/bench)."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--count", type=int, default=1_000_000, help="leads to generate")
        parser.add_argument("--days", type=int, default=30, help="spread over the last D days")
        parser.add_argument("--seed", type=int, default=1, help="same seed, same data")
        parser.add_argument("--buyers", type=int, default=len(SYNTHETIC_BUYERS),
                            help="synthetic buyers (one contract each) beside the demo's 8")
        parser.add_argument("--batch", type=int, default=10_000, help="leads per transaction")
        parser.add_argument("--end", type=datetime.fromisoformat, default=None,
                            help="end of the window, ISO 8601 with offset (default: now)")
        parser.add_argument("--method", choices=["auto", "copy", "orm"], default="auto",
                            help="COPY (PostgreSQL) or bulk_create; auto picks COPY on PG")
        parser.add_argument("--no-rollup", action="store_true", help="skip the rollup rebuild")
        parser.add_argument("--clear", action="store_true",
                            help="first delete every previously generated synthetic row")

    def handle(self, *args, **o) -> None:
        if o["count"] < 0 or o["days"] < 1 or o["batch"] < 1 or o["buyers"] < 0:
            raise CommandError("--count ≥ 0, --days ≥ 1, --batch ≥ 1 and --buyers ≥ 0.")
        if o["end"] is not None and o["end"].tzinfo is None:
            raise CommandError("--end needs a UTC offset, e.g. 2026-03-01T00:00:00+00:00.")
        out = self.stdout.write
        if o["clear"]:
            deleted = synthetic_clear(rollup=not o["no_rollup"])
            out("Cleared: " + ", ".join(f"{n:,} {name}" for name, n in deleted.items()))
            if not o["count"]:
                return
        try:
            result = synthetic_generate(
                count=o["count"], days=o["days"], seed=o["seed"], buyers=o["buyers"],
                batch=o["batch"], rollup=not o["no_rollup"], end=o["end"],
                method=o["method"], progress=out if o["verbosity"] >= 1 else None)
        except (ValueError, DemoDataError) as exc:
            raise CommandError(str(exc)) from exc
        rows = sum(result.counts.values())
        out(f"Window {result.start:%Y-%m-%d %H:%M} → {result.end:%Y-%m-%d %H:%M} UTC, "
            f"written with {result.method}:")
        for name, n in result.counts.items():
            out(f"  {name:<12} {n:>12,}")
        s = result.seconds
        made = s["total"] - s["rollup"] - s["setup"]
        out(f"  {'rows':<12} {rows:>12,}  ({rows / max(made, 1e-9):,.0f} rows/s, "
            f"{result.counts['lead'] / max(made, 1e-9):,.0f} leads/s)")
        out("Seconds: " + ", ".join(f"{k} {v:.1f}" for k, v in s.items()))
