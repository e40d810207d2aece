"""``python -m bench.reports [--count N] [--reuse]``: the dashboards on 1M leads (SPEC §6, M4).

1. A PostgreSQL database of its own, ``leadexchange_reports_bench``, on the server
   ``DATABASE_URL`` names (default ``postgres://postgres@127.0.0.1:5432``): dropped and
   created afresh, or with ``--reuse`` kept when it already holds the N synthetic leads.
   Never the developer's database, never the fan-out bench's ``leadexchange_bench``.
2. Migrated; N synthetic leads with their auctions over the last 30 days
   (``apps.demo.synthetic``, as ``manage.py generate_leads``), then the rollups of the
   whole range rebuilt from the raw rows — both timed.
3. Through the Django test client, a superuser logged in: the dashboard overview
   (``/dashboard/?from=D&to=D``) for the last complete day, 7 and 30 days; the selector
   calls the overview makes; ``GET /api/v1/reports/kpis?group_by=buyer``; a lead's page and
   the live view. Each after warm-up runs (warm caches), p50/p95/max over ``--runs`` runs.
4. The periodic ``rollup_recent()`` (2 hours at that volume) and the full rebuild.
5. A table, and ``bench/results/reports-latest.json`` (figures, machine, date, commit). The
   queries of one day's overview are listed slowest first; when a figure misses its target,
   the slowest one is EXPLAIN ANALYZEd into the JSON.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import secrets
import statistics
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from bench.report import commit

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results" / "reports-latest.json"
DATABASE = "leadexchange_reports_bench"
DEFAULT_SERVER = "postgres://postgres@127.0.0.1:5432/postgres"
DAY_TARGET_MS = 1000.0  # SPEC §6 / M4: a day's overview renders in under a second at 1M


def database_prepare(reuse: bool) -> bool:
    """Point ``DATABASE_URL`` at the bench database; True when an existing one is kept."""
    parts = urlsplit(os.environ.get("DATABASE_URL") or DEFAULT_SERVER)
    if parts.scheme not in ("postgres", "postgresql", "pgsql"):
        raise SystemExit("bench.reports: needs PostgreSQL (DATABASE_URL=postgres://…)")
    import psycopg

    admin = urlunsplit(parts._replace(scheme="postgresql", path="/postgres"))
    with psycopg.connect(admin, autocommit=True) as connection:
        exists = connection.execute("SELECT 1 FROM pg_database WHERE datname = %s",
                                    [DATABASE]).fetchone() is not None
        if not (reuse and exists):
            connection.execute(f'DROP DATABASE IF EXISTS "{DATABASE}" WITH (FORCE)')
            connection.execute(f'CREATE DATABASE "{DATABASE}"')
    os.environ["DATABASE_URL"] = urlunsplit(parts._replace(path=f"/{DATABASE}"))
    os.environ["DJANGO_ALLOWED_HOSTS"] = "testserver,localhost,127.0.0.1"
    # The synthetic buyers point at the local simulator; their contracts are validated as
    # the staff API would, which needs the SSRF guard to admit it (as in ``make run``).
    os.environ["HTTP_ALLOWED_NETWORKS"] = "127.0.0.1/32"
    os.environ.setdefault("DJANGO_SECRET_KEY", secrets.token_urlsafe(50))  # a scratch database
    os.environ.setdefault("PII_DIGEST_KEY", secrets.token_urlsafe(50))
    os.environ.setdefault("PII_ENCRYPTION_KEYS", "bench:" + secrets.token_urlsafe(32))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "leadexchange.settings")
    return reuse and exists


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)


def timed(action: Callable[[], object], runs: int, warmup: int = 3) -> dict:
    """p50/p95/max/mean in ms of ``runs`` calls after ``warmup`` untimed ones (a call slower
    than 2 s gets one warm-up and at most 5 runs: the figure is clear by then)."""
    began = time.perf_counter()
    action()
    if time.perf_counter() - began > 2.0:
        runs = min(runs, 5)
    else:
        for _ in range(warmup - 1):
            action()
    samples = []
    for _ in range(runs):
        began = time.perf_counter()
        action()
        samples.append((time.perf_counter() - began) * 1000)
    samples.sort()
    rank = max(0, min(len(samples) - 1, round(0.95 * len(samples)) - 1))
    return {"p50": round(statistics.median(samples), 1), "p95": round(samples[rank], 1),
            "max": round(samples[-1], 1), "mean": round(statistics.fmean(samples), 1),
            "runs": runs}


def machine() -> dict:
    model = next((line.split(":", 1)[1].strip() for line in
                  Path("/proc/cpuinfo").read_text().splitlines()
                  if line.startswith("model name")), platform.processor())
    memory = next((int(line.split()[1]) // 1024 for line in
                   Path("/proc/meminfo").read_text().splitlines()
                   if line.startswith("MemTotal")), None)
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SHOW server_version")
        version = cursor.fetchone()[0]
        cursor.execute("SHOW shared_buffers")
        buffers = cursor.fetchone()[0]
    return {"cores": os.cpu_count(), "cpu_model": model, "memory_mib": memory,
            "python": platform.python_version(), "platform": platform.platform(),
            "database": f"PostgreSQL {version} (shared_buffers {buffers})",
            "load_average_at_start": os.getloadavg()}


def data_generate(count: int, reused: bool) -> dict:
    """Generate the leads unless a reused database already holds them."""
    from apps.demo.synthetic import MARK, synthetic_clear, synthetic_generate
    from apps.leads.models import Lead

    have = Lead.objects.filter(sub_id=MARK).count()
    if reused and have == count:
        log(f"reusing {have:,} synthetic leads")
        try:  # keep the figures of the run that generated them
            previous = json.loads(RESULTS.read_text())["generation"]
        except (OSError, ValueError, KeyError):
            previous = {}
        if previous.get("counts", {}).get("lead") != count:
            previous = {}
        return {**previous, "reused": True, "leads": have}
    if have:
        synthetic_clear(rollup=False)
    log(f"generating {count:,} leads over 30 days …")
    # after_sale off: the generator's speed stays comparable with earlier runs
    result = synthetic_generate(count=count, days=30, seed=1, after_sale=False,
                                progress=lambda m: (
        log(m) if m.startswith(tuple(f"{n * count // 10:,}/" for n in range(1, 11))) else None))
    rows = sum(result.counts.values())
    made = result.seconds["total"] - result.seconds["rollup"] - result.seconds["setup"]
    return {"reused": False, "counts": result.counts, "method": result.method,
            "seconds": {k: round(v, 1) for k, v in result.seconds.items()},
            "rows_per_s": round(rows / made), "leads_per_s": round(count / made),
            "window": [result.start.isoformat(), result.end.isoformat()]}


def integrity() -> dict:
    """Rows that point nowhere (the COPY path may skip the foreign-key triggers)."""
    from django.db import connection

    checks = {
        "pings_without_auction": "SELECT count(*) FROM auctions_ping p WHERE NOT EXISTS "
                                 "(SELECT 1 FROM auctions_auction a WHERE a.id = p.auction_id)",
        "auctions_without_lead": "SELECT count(*) FROM auctions_auction a WHERE NOT EXISTS "
                                 "(SELECT 1 FROM leads_lead l WHERE l.id = a.lead_id)",
        "sales_without_lead": "SELECT count(*) FROM auctions_sale s WHERE NOT EXISTS "
                              "(SELECT 1 FROM leads_lead l WHERE l.id = s.lead_id)",
    }
    found = {}
    with connection.cursor() as cursor:
        for name, sql in checks.items():
            cursor.execute(sql)
            found[name] = cursor.fetchone()[0]
    return found


def measure(runs: int, generated: dict) -> tuple[dict, dict]:
    """Every figure (ms) and the context of the measurement."""
    from django.contrib.auth import get_user_model
    from django.db import connection
    from django.db.models import Max, Min
    from django.test import Client, override_settings
    from django.test.utils import CaptureQueriesContext

    from apps.leads.models import Lead
    from apps.reports import selectors
    from apps.reports.selectors import ReportFilter
    from apps.reports.services import rollup_recent, rollup_refresh

    span = Lead.objects.aggregate(first=Min("received_at"), last=Max("received_at"))
    day = span["last"].date() - timedelta(days=1)  # the last complete UTC day
    user, _ = get_user_model().objects.get_or_create(
        username="reports-bench", defaults={"is_staff": True, "is_superuser": True})
    client = Client()
    client.force_login(user)
    figures: dict[str, dict] = {}
    context: dict = {"day": day.isoformat(), "data_span": [span["first"].isoformat(),
                                                           span["last"].isoformat()]}

    def get(url: str) -> Callable[[], None]:
        def call() -> None:
            response = client.get(url)
            assert response.status_code == 200, (url, response.status_code)
            response.content  # noqa: B018 - rendered in full
        return call

    def overview_selectors(report: ReportFilter) -> Callable[[], None]:
        unit = "hour" if (report.end - report.start).days == 1 else "day"

        def call() -> None:
            selectors.kpi_totals(report)
            selectors.kpis(report, unit)
            selectors.kpis(report, "buyer")
            selectors.kpis(report, "source")
            selectors.rejection_reasons(report)
            selectors.post_reject_reasons(report)
        return call

    static = {"default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
              "staticfiles": {"BACKEND":
                              "django.contrib.staticfiles.storage.StaticFilesStorage"}}
    with override_settings(STORAGES=static):
        for label, days in (("day", 1), ("7d", 7), ("30d", 30)):
            start = day - timedelta(days=days - 1)
            query = f"from={start}&to={day}"
            log(f"measuring the {label} range ({query}) …")
            figures[f"overview_{label}"] = timed(get(f"/dashboard/?{query}"), runs)
            figures[f"selectors_{label}"] = timed(overview_selectors(
                ReportFilter(start=start, end=day + timedelta(days=1))), runs)
            figures[f"api_kpis_buyer_{label}"] = timed(
                get(f"/api/v1/reports/kpis?{query}&group_by=buyer"), runs)
        lead = Lead.objects.filter(status="sold").order_by("-received_at").only("uuid").first()
        if lead is None:
            raise RuntimeError("no sold lead to open the lead page on: generate leads first")
        figures["lead_page"] = timed(get(f"/dashboard/leads/{lead.uuid}/"), runs)
        figures["live_page"] = timed(get("/dashboard/live/"), runs)
        with CaptureQueriesContext(connection) as queries:
            get(f"/dashboard/?from={day}&to={day}")()
    ranked = sorted(queries.captured_queries, key=lambda q: -float(q["time"]))
    context["overview_day_slowest_sql"] = ranked[0]["sql"]
    context["overview_day_queries"] = [{"ms": round(float(q["time"]) * 1000, 2),
                                        "sql": q["sql"][:400]} for q in ranked]

    log("timing rollup_recent() and the full rebuild …")
    fresh = datetime.now(UTC) - span["last"] < timedelta(minutes=30)
    if fresh:
        figures["rollup_recent"] = timed(rollup_recent, max(3, runs // 4), warmup=1)
    else:  # reused data from earlier: the same 2 hours, at the end of the data
        last = span["last"]
        figures["rollup_recent"] = timed(lambda: rollup_refresh(last - timedelta(hours=2),
                                                                last), 5, warmup=1)
    context["rollup_recent_window"] = "last 2 hours (rollup_recent)" if fresh else \
        "the 2 hours ending at the newest lead (data reused, rollup_refresh)"
    began = time.perf_counter()
    rollup_refresh(span["first"], datetime.now(UTC))
    figures["rollup_full"] = {"once": round((time.perf_counter() - began) * 1000, 1)}
    if "seconds" in generated:
        figures["rollup_full"]["during_generation"] = generated["seconds"]["rollup"] * 1000
    context["leads_in_db"] = Lead.objects.count()
    return figures, context


def explain_slowest(context: dict) -> dict:
    """EXPLAIN ANALYZE of the slowest statement of one day's overview."""
    from django.db import connection

    slowest = context.pop("overview_day_slowest_sql")
    with connection.cursor() as cursor:
        cursor.execute("EXPLAIN (ANALYZE, BUFFERS) " + slowest)
        return {"sql": slowest, "plan": [row[0] for row in cursor.fetchall()]}


def table(results: dict) -> str:
    lines = [f"{'figure':<44}{'p50 ms':>10}{'p95 ms':>10}{'max ms':>10}  target",
             "-" * 86]
    for name, stats in results["figures"].items():
        if "p50" in stats:
            target = "< 1000 ms" if name == "overview_day" else ""
            verdict = "" if not target else (" pass" if stats["p95"] < DAY_TARGET_MS
                                             else " FAIL")
            lines.append(f"{name:<44}{stats['p50']:>10}{stats['p95']:>10}{stats['max']:>10}"
                         f"  {target}{verdict}")
        else:
            lines.append(f"{name:<44}" + ", ".join(f"{k} {v:,.0f} ms"
                                                   for k, v in stats.items()))
    generated = results["generation"]
    if "counts" in generated:
        lines += ["", f"{'reused, ' if generated['reused'] else ''}generated "
                  f"{generated['counts']['lead']:,} leads, "
                  f"{sum(generated['counts'].values()):,} rows in "
                  f"{generated['seconds']['total']:.0f} s ({generated['leads_per_s']:,} leads/s, "
                  f"{generated['rows_per_s']:,} rows/s; rollup {generated['seconds']['rollup']:.0f}"
                  f" s) — {generated['counts']}"]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.reports",
                                     description=__doc__.split("\n")[0])
    parser.add_argument("--count", type=int, default=1_000_000, help="synthetic leads")
    parser.add_argument("--reuse", action="store_true",
                        help="keep the bench database (and its leads) from a previous run")
    parser.add_argument("--runs", type=int, default=20, help="timed runs per figure")
    args = parser.parse_args(argv)
    began = time.perf_counter()
    reused = database_prepare(args.reuse)
    import django
    from django.core.management import call_command

    django.setup()
    call_command("migrate", verbosity=0, interactive=False)
    generated = data_generate(args.count, reused)
    figures, context = measure(args.runs, generated)
    results = {"overview_day_ms_p50": figures["overview_day"]["p50"],
               "overview_day_ms_p95": figures["overview_day"]["p95"],
               "target_ms": DAY_TARGET_MS,
               "pass": figures["overview_day"]["p95"] < DAY_TARGET_MS,
               "count": args.count, "figures": figures, "generation": generated,
               "integrity": integrity(), "context": context, "machine": machine(),
               "date": datetime.now(UTC).isoformat(timespec="seconds"), "commit": commit(),
               "elapsed_s": round(time.perf_counter() - began, 1)}
    if any(stats.get("p95", 0) >= DAY_TARGET_MS for name, stats in figures.items()
           if name.startswith(("overview", "selectors", "api"))):
        results["explain"] = explain_slowest(context)
    context.pop("overview_day_slowest_sql", None)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(results, indent=2, default=str) + "\n")
    print(table(results))
    print(f"\nslowest statements of one day's overview ({len(context['overview_day_queries'])}"
          " queries):")
    for query in context["overview_day_queries"][:5]:
        print(f"  {query['ms']:>8.2f} ms  {query['sql'][:110]}")
    print(f"\nintegrity: {results['integrity']}\nwritten to {RESULTS.relative_to(ROOT)} "
          f"in {results['elapsed_s']:.0f} s")
    return 0 if results["pass"] else 1


if __name__ == "__main__":
    sys.exit(main())
