"""The bench's own world: a fresh database, Django booted on it, the buyers and the source.

Nothing here touches the developer's database: ``database_prepare`` runs before Django is
imported and points ``DATABASE_URL`` at a database of the bench's own — a fresh
PostgreSQL database (``leadexchange_bench``) on the server ``DATABASE_URL`` names, or, with
no ``DATABASE_URL``, a temporary SQLite file under ``var/bench/``.

The world (``world_create``) is one source and, per scenario, a vertical with 50
``ping_post`` contracts whose buyer is a local simulator, each configured through the
query string of its endpoint URL (see apps.demo.simulator.config):

- ``hang``: one buyer never answers (``fail=hang``); 49 answer in 10–60 ms.
- ``spread``: 50 buyers with fixed latencies spread evenly over 10–250 ms (shuffled,
  seeded, so the slowest buyer is not always pinged last).
- ``burst``: 50 buyers all answering after 50 ms.
- ``http``: the ``spread`` buyers again, for the HTTP rows.

The first three (the in-process rows) answer from a simulator that logs every answer, so
a bid lost in time can be checked against when the buyer really answered; ``http`` has a
simulator of its own that does not log, since writing the log stalls the simulator's loop
for a few ms a second under load. Posts answer after ``POST_LATENCY_MS`` and always
accept. Every bid is 5–20.
"""

from __future__ import annotations

import logging
import os
import random
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from bench.consumers import submission

REPO_ROOT = Path(__file__).resolve().parents[1]
BENCH_VAR = REPO_ROOT / "var" / "bench"
BUYERS = 50
POST_LATENCY_MS = 20.0
SOURCE_BUDGET_MS = 1000
# The circuit breaker would rightly pause the hanging buyer after 10 timeouts (and the
# spread buyers above its 200 ms default): the bench measures auctions with them in.
SLOW_THRESHOLD_MS = 5000
BID_QUERY = "bid_min=5&bid_max=20"


@dataclass(frozen=True)
class Database:
    """The database the bench runs on (``url`` is what ``DATABASE_URL`` is set to)."""

    vendor: str  # "postgresql" or "sqlite"
    url: str
    name: str  # database name, or the SQLite file path
    admin_url: str = ""  # PostgreSQL: the maintenance database, to drop the bench one


def database_prepare(pg_name: str = "leadexchange_bench") -> Database:
    """Create an empty database for this run and point ``DATABASE_URL`` at it.

    With ``DATABASE_URL`` set (PostgreSQL only) the database ``pg_name`` on that server is
    dropped if it exists and created afresh; else a new SQLite file is used. Must run
    before Django reads its settings.
    """
    source_url = os.environ.get("DATABASE_URL", "")
    if source_url:
        parts = urlsplit(source_url)
        if parts.scheme not in ("postgres", "postgresql", "pgsql", "psql"):
            raise SystemExit(f"bench: DATABASE_URL must be PostgreSQL, not {parts.scheme!r}")
        if parts.path.lstrip("/") == pg_name:
            raise SystemExit(f"bench: DATABASE_URL already names {pg_name!r}; the bench "
                             "drops that database, point DATABASE_URL at another one")
        admin_url = urlunsplit(parts._replace(scheme="postgresql", path="/postgres"))
        import psycopg

        with psycopg.connect(admin_url, autocommit=True) as connection:
            connection.execute(f'DROP DATABASE IF EXISTS "{pg_name}" WITH (FORCE)')
            connection.execute(f'CREATE DATABASE "{pg_name}"')
        database = Database("postgresql", urlunsplit(parts._replace(path=f"/{pg_name}")),
                            pg_name, admin_url)
    else:
        BENCH_VAR.mkdir(parents=True, exist_ok=True)
        path = BENCH_VAR / f"bench-{os.getpid()}.sqlite3"
        _sqlite_remove(path)
        database = Database("sqlite", f"sqlite:///{path}", str(path))
    os.environ["DATABASE_URL"] = database.url
    # a scratch database gets a throwaway key: with DATABASE_URL set, settings refuse to
    # start without one (only the embedded default keeps its own in var/)
    os.environ.setdefault("DJANGO_SECRET_KEY", secrets.token_urlsafe(50))
    os.environ.setdefault("PII_DIGEST_KEY", secrets.token_urlsafe(50))
    os.environ.setdefault("PII_ENCRYPTION_KEYS", "bench:" + secrets.token_urlsafe(32))
    return database


def database_drop(database: Database) -> None:
    """Remove the bench database (call once every process using it has stopped)."""
    if database.vendor == "sqlite":
        _sqlite_remove(Path(database.name))
        return
    import psycopg

    with psycopg.connect(database.admin_url, autocommit=True) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{database.name}" WITH (FORCE)')


def redis_prepare(database: Database, *, wanted: bool) -> str:
    """Production mode is PostgreSQL + Redis: on PostgreSQL (and ``wanted``), when Redis
    answers, point ``REDIS_URL`` at the bench's own Redis database (emptied) and return it;
    else make sure no ``REDIS_URL`` of the developer's is used, and return "".
    Must run before Django reads its settings."""
    from bench.redisdb import CACHE_URL, redis_answers, redis_flush

    os.environ.pop("REDIS_URL", None)
    if database.vendor != "postgresql" or not wanted or not redis_answers(CACHE_URL):
        return ""
    redis_flush(CACHE_URL)
    os.environ["REDIS_URL"] = CACHE_URL
    return CACHE_URL


def _sqlite_remove(path: Path) -> None:
    # "-writer.lock": the write turn's lock file (apps.core.sqlite_backend)
    for suffix in ("", "-wal", "-shm", "-journal", "-writer.lock"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)


def django_boot(log_path: Path, *, migrate: bool = True) -> None:
    """Set up Django on the bench database and migrate it (unless ``migrate`` is false: a
    child process on a database the run already migrated); app logs go to ``log_path``.

    The SSRF guard must admit the local simulator, as in ``make run``.
    """
    os.environ["HTTP_ALLOWED_NETWORKS"] = "127.0.0.1/32"
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "leadexchange.settings")
    import django
    from django.core.management import call_command

    django.setup()
    # Keep the INFO lines a web process writes (their cost is part of an auction's), but
    # in a file rather than over the bench's table.
    log_path.parent.mkdir(parents=True, exist_ok=True)  # a fresh clone has no var/bench
    stream = open(log_path, "a", encoding="utf-8")  # noqa: SIM115 - lives for the run
    for handler in logging.getLogger().handlers:
        if isinstance(handler, logging.StreamHandler):
            handler.setStream(stream)
    if migrate:
        call_command("migrate", verbosity=0, interactive=False)


@dataclass(frozen=True)
class Scenario:
    """One vertical's 50 buyers: each buyer's fixed ping latency in ms, None = never answers."""

    name: str
    latencies_ms: tuple[float | None, ...]

    @property
    def slug(self) -> str:
        return f"bench-{self.name}"


def scenarios(seed: int) -> dict[str, Scenario]:
    """The three buyer populations (see the module docstring); deterministic per ``seed``."""
    rng = random.Random(seed)
    spread = [round(10 + i * 240 / (BUYERS - 1), 1) for i in range(BUYERS)]
    rng.shuffle(spread)
    answering = [round(10 + i * 50 / (BUYERS - 2), 1) for i in range(BUYERS - 1)]
    rng.shuffle(answering)
    hang: list[float | None] = list(answering)
    hang.insert(rng.randrange(BUYERS), None)
    return {
        "hang": Scenario("hang", tuple(hang)),
        "spread": Scenario("spread", tuple(spread)),
        "burst": Scenario("burst", (50.0,) * BUYERS),
        # the cost figure's: every buyer answers at once, so an auction waits on little
        # but its own CPU
        "cost": Scenario("cost", (1.0,) * BUYERS),
    }


@dataclass(frozen=True)
class Market:
    """A scenario as stored: its vertical and each contract's configured ping latency."""

    scenario: Scenario
    vertical_id: int
    latency_by_contract: dict[int, float | None]
    ping_path_by_contract: dict[int, str]  # the simulator's buyer path, as in its log

    @property
    def slug(self) -> str:
        return self.scenario.slug

    @property
    def bound_latency_ms(self) -> float | None:
        """max Lᵢ over the buyers that answer (the bound is min(T, this)); None if none do."""
        answering = [v for v in self.latency_by_contract.values() if v is not None]
        return max(answering) if answering else None


@dataclass(frozen=True)
class World:
    """The source (and its API key) and the markets it may post to, by scenario name."""

    source_id: int
    source_key: str
    markets: dict[str, Market]


_FIELDS: list[dict[str, Any]] = [  # VerticalField columns
    {"key": "first_name", "type": "text", "pii": True, "required_for_post": True},
    {"key": "last_name", "type": "text", "pii": True},
    {"key": "email", "type": "email", "pii": True, "required_for_post": True},
    {"key": "phone", "type": "phone", "pii": True, "required_for_post": True},
    {"key": "zip", "type": "zip", "required_for_ping": True},
    {"key": "state", "type": "state"},
    {"key": "vehicle_year", "type": "integer", "min_value": "1981", "max_value": "2028"},
    {"key": "homeowner", "type": "boolean"},
    {"key": "credit_rating", "type": "choice", "choices": ["excellent", "good", "fair", "poor"]},
]


def world_create(in_process_sim_url: str, http_sim_url: str, seed: int, *,
                 webhooks: bool = False) -> World:
    """Create the source and the four markets (see the module docstring). With
    ``webhooks`` the source has a webhook endpoint and a postback URL at the HTTP
    simulator, so every sale and unsold lead writes its outbox rows and is delivered."""
    from apps.sources.models import Source
    from apps.webhooks.services import endpoint_create

    markets = {name: market_create(scenario, in_process_sim_url)
               for name, scenario in scenarios(seed).items()}
    markets["http"] = market_create(
        Scenario("http", markets["spread"].scenario.latencies_ms), http_sim_url)
    world = source_create("bench source", markets, budget_ms=SOURCE_BUDGET_MS)
    if webhooks:
        source = Source.objects.get(pk=world.source_id)
        endpoint_create(source=source, url=f"{http_sim_url}/source-hooks/post?format=json")
        Source.objects.filter(pk=source.pk).update(
            postback_url_template=f"{http_sim_url}/source-pixel/post?format=json&c={{sub_id}}")
    return world


def source_create(name: str, markets: dict[str, Market], *, budget_ms: int) -> World:
    """A source (and its API key) that may post to ``markets``, with the time budget
    ``budget_ms`` and no rate limit (the bench sends far more than a source's default
    600/min)."""
    from apps.sources.models import Source
    from apps.sources.services import source_key_create

    source = Source.objects.create(name=name, rate_limit_per_minute=0, time_budget_ms=budget_ms)
    source.verticals.set([m.vertical_id for m in markets.values()])
    _, key = source_key_create(source=source)
    return World(source.pk, key, markets)


def market_create(scenario: Scenario, sim_url: str, *, timeout_ms: int = 1000,
                  slow_threshold_ms: int = SLOW_THRESHOLD_MS) -> Market:
    """A vertical with one contract per buyer of ``scenario``, buyers at ``sim_url``; each
    ping and post gives up after ``timeout_ms``, and the circuit breaker counts an answer
    slower than ``slow_threshold_ms`` as slow."""
    from apps.buyers.models import Buyer, Contract
    from apps.buyers.services import contract_rules_set
    from apps.demo.simulator.profiles import PING_RULES, POST_RULES
    from apps.sources.models import Vertical, VerticalField

    vertical = Vertical.objects.create(
        slug=scenario.slug, name=f"Bench {scenario.name}", dedupe_fields=["email", "phone"])
    VerticalField.objects.bulk_create(
        [VerticalField(vertical=vertical, position=i, **spec) for i, spec in enumerate(_FIELDS)])
    latency_by_contract: dict[int, float | None] = {}
    paths: dict[int, str] = {}
    for i, latency in enumerate(scenario.latencies_ms):
        buyer = Buyer.objects.create(company=f"{scenario.slug} buyer {i:02d}")
        contract = Contract.objects.create(
            buyer=buyer, vertical=vertical, name="offer", accepts_test_leads=True, status="active",
            slow_threshold_ms=slow_threshold_ms, slow_count=0, error_count=0)
        behaviour = "fail=hang" if latency is None else f"latency_ms={latency:g}"
        base = f"{sim_url}/{scenario.slug}-{i:02d}"
        contract_rules_set(contract, filters=[], caps=[], endpoints={
            "ping": {"url": f"{base}/ping?{BID_QUERY}&{behaviour}&format=json",
                     "body_format": "json", "timeout_ms": timeout_ms, **PING_RULES["json"],
                     "mappings": []},
            "post": {"url": f"{base}/post?{BID_QUERY}&latency_ms={POST_LATENCY_MS:g}"
                            "&format=json",
                     "body_format": "json", "timeout_ms": timeout_ms, **POST_RULES["json"],
                     "mappings": []},
        })
        latency_by_contract[contract.pk] = latency
        paths[contract.pk] = f"/{scenario.slug}-{i:02d}/ping"
    return Market(scenario, vertical.pk, latency_by_contract, paths)


def leads_create(world: World, market: Market, first: int, count: int) -> list[int]:
    """Capture ``count`` leads (consumers ``first`` …) into ``market`` through the capture
    service, without starting their auctions; return their ids, all ``received``."""
    from apps.leads.services import lead_capture
    from apps.sources.models import Source

    source = Source.objects.get(pk=world.source_id)
    ids = []
    for n in range(first, first + count):
        answer = lead_capture(source=source, api_key=None, data=submission(market.slug, n),
                              client_ip="127.0.0.1")
        if answer.status_code != 202 or answer.lead is None:
            raise RuntimeError(f"bench lead {n} not received: {answer.status_code} "
                               f"{answer.body}")
        ids.append(answer.lead.pk)
    return ids


def bench_var_reset() -> Path:
    """``var/bench/`` without the previous run's logs (SQLite files are per process)."""
    BENCH_VAR.mkdir(parents=True, exist_ok=True)
    for pattern in ("*.log", "*.jsonl", "*.txt"):
        for old in BENCH_VAR.glob(pattern):
            old.unlink()
    return BENCH_VAR
