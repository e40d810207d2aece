"""Synthetic leads with their whole auctions: a month of plausible business for the dashboards
and the reports benchmark (``manage.py generate_leads``). Development and benchmarks only.

The auctions are not replayed over HTTP but simulated with the real engine
(``select_eligible``, ``rank_bids``, ``post_plan``) over the real contract set-ups, each
buyer answering as its simulator URL says it would (bid range, no-bid and reject rates;
latencies drawn from a lognormal around the configured ones, so slow tails time out). Leads
arrive on a daily curve (US Eastern hours, quieter weekends); a lead's appeal (credit,
insurance, vehicle or home) moves how often buyers bid and how often they reject the post,
which is what leaves ~40 % of the accepted leads unsold. Caps, schedules, filters, blocked
sources, traffic shares and auto-pause windows exclude contracts with the engine's own codes.

Simplifications: every sale is exclusive (shared bids are recorded but never win), posts
are retried in real time only (no scheduled retries), request/response bodies are empty.

Everything written is marked: leads carry ``sub_id="synthetic"`` (their auctions, pings,
posts and sales hang off them); buyers, sources and health events made here say
"(synthetic)". ``synthetic_clear`` removes exactly those rows.
"""

from __future__ import annotations

import json
import math
import queue
import random
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from datetime import time as clock
from decimal import Decimal
from functools import partial
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

from django.db import connection, transaction
from django.db.models import Max, Min, ProtectedError

from apps.auctions.demo import DEMO_SOURCES, demo_data_load
from apps.auctions.engine import Bid as EngineBid
from apps.auctions.engine import (
    CapState,
    ContractTerms,
    LeadFacts,
    Mode,
    post_plan,
    rank_bids,
    select_eligible,
    window_start,
)
from apps.auctions.models import Auction, HealthEvent, Ping, Post, Sale
from apps.auctions.setups import ContractSetup, contract_setups
from apps.buyers.models import Buyer, Contract
from apps.buyers.services import contract_rules_set
from apps.buyers.simulator.config import ConfigError, parse_config
from apps.buyers.simulator.profiles import PING_RULES, POST_RULES, REQUEST_FORMAT
from apps.leads.enrich import zip_lookup
from apps.leads.models import DedupeClaim, Lead
from apps.reports.services import rollup_refresh
from apps.sources.models import Source, Vertical, VerticalField

MARK = "synthetic"
SUFFIX = " (synthetic)"
EASTERN = ZoneInfo("America/New_York")
# Share of a day's leads in each Eastern hour, and the weekend dip.
HOURLY = (0.25, 0.15, 0.1, 0.08, 0.1, 0.2, 0.4, 0.7, 1.0, 1.25, 1.4, 1.45, 1.4, 1.35, 1.3,
          1.3, 1.25, 1.2, 1.15, 1.1, 1.0, 0.85, 0.6, 0.4)
WEEKEND = 0.72
TEST_RATE = 0.002
AUTO_SHARE = 0.6  # of leads, when the home vertical has buyers
POST_TIMEOUT_MS = 2000.0
# How a lead's appeal (0–1) moves buyers: no bids under BID_FLOOR, more above it; posts
# refused more and more under REFUSE_PIVOT (calibrated for ~60 % of accepted leads sold).
BID_FLOOR, BID_SLOPE = 0.5, 2.0
REFUSE_PIVOT, REFUSE_SLOPE = 0.7, 3.0
RESERVE_MS, PING_SHARE, SECONDARY_MIN_MS = 30.0, 0.6, 150.0

# --- the world: sources, the home vertical, synthetic buyers -----------------------------

# name: (traffic weight, rejected rate, duplicate rate); demo sources first.
SOURCE_PROFILES = {
    DEMO_SOURCES[0].name: (0.33, 0.04, 0.035), DEMO_SOURCES[1].name: (0.2, 0.07, 0.05),
    f"Coastal Media{SUFFIX}": (0.2, 0.03, 0.03), f"Summit Leads{SUFFIX}": (0.15, 0.06, 0.05),
    f"Pioneer Clicks{SUFFIX}": (0.12, 0.08, 0.045),
}
SYNTHETIC_SOURCES = {f"Coastal Media{SUFFIX}": ("revshare", "65.00"),
                     f"Summit Leads{SUFFIX}": ("fixed", "8.00"),
                     f"Pioneer Clicks{SUFFIX}": ("revshare", "75.00")}
HOME = "home-insurance"
HOME_FIELDS = [
    ("first_name", "text", {"pii": True, "required_for_post": True}),
    ("last_name", "text", {"pii": True, "required_for_post": True}),
    ("email", "email", {"pii": True, "required_for_post": True}),
    ("phone", "phone", {"pii": True, "required_for_post": True}),
    ("address", "text", {"pii": True}), ("city", "text", {}), ("state", "state", {}),
    ("zip", "zip", {"required_for_ping": True, "required_for_post": True}),
    ("date_of_birth", "date", {"pii": True}),
    ("credit_rating", "choice", {"choices": ["excellent", "good", "fair", "poor"]}),
    ("property_type", "choice",
     {"choices": ["single_family", "condo", "townhouse", "mobile_home"]}),
    ("year_built", "integer", {"min_value": "1800", "max_value": "2027"}),
    ("home_value", "integer", {"min_value": "10000"}),
    ("currently_insured", "boolean", {"required_for_ping": True}), ("claims", "integer", {}),
]
SOUTHEAST = ["FL", "GA", "NC", "SC", "TN", "AL", "VA"]
WEEKDAYS = [{"weekday": d, "opens_at": clock(8), "closes_at": clock(20)} for d in range(5)]
# (company, vertical, simulator query, contract fields, rules); interleaved so that any first
# K buyers spread over both verticals.
SYNTHETIC_BUYERS: list[tuple[str, str, str, dict, dict]] = [
    ("Northwind Mutual", "auto-insurance", "bid_min=7&bid_max=22&no_bid_rate=0.25"
     "&reject_rate=0.08&reject_reason=Consumer+already+a+customer&latency=lognormal:4.6,0.45",
     {}, {"caps": [{"period": "day", "metric": "leads", "limit": Decimal(1500)}]}),
    ("Harborview Home Insurance", HOME, "bid_min=10&bid_max=35&no_bid_rate=0.3"
     "&reject_rate=0.1&reject_reason=Duplicate+in+CRM&latency=lognormal:4.7,0.4", {}, {}),
    ("Summit Property Group", HOME, "bid_min=8&bid_max=25&no_bid_rate=0.4&reject_rate=0.12"
     "&latency=lognormal:5.1,0.5", {},
     {"filters": [{"field": "home_value", "operator": "gte", "value": 150000}]}),
    ("Keystone Auto Direct", "auto-insurance", "bid_min=6&bid_max=16&no_bid_rate=0.35"
     "&reject_rate=0.12&reject_reason=Outside+service+area&latency=lognormal:4.9,0.5",
     {}, {"schedule": WEEKDAYS}),
    ("Cornerstone Home Shield", HOME, "bid_min=12&bid_max=40&no_bid_rate=0.55"
     "&reject_rate=0.18&reject_reason=Outside+service+area&latency=lognormal:5.2,0.55", {},
     {"filters": [{"field": "state", "operator": "in", "value": SOUTHEAST}]}),
    ("Bayside Mutual", HOME, "bid_min=6&bid_max=18&no_bid_rate=0.25&reject_rate=0.08"
     "&latency=lognormal:4.4,0.45", {},
     {"caps": [{"period": "hour", "metric": "leads", "limit": Decimal(40)}]}),
    ("Lighthouse Insurance Agency", "auto-insurance", "bid_min=9&bid_max=28&no_bid_rate=0.5"
     "&reject_rate=0.15&reject_reason=Phone+failed+validation&latency=lognormal:5.0,0.6",
     {"traffic_share_pct": 60},
     {"filters": [{"field": "credit_rating", "operator": "in", "value": ["excellent", "good"]}]}),
    ("Prairie Home Quotes", HOME, "bid_min=5&bid_max=15&no_bid_rate=0.3&reject_rate=0.1"
     "&latency=lognormal:4.8,0.5", {}, {"schedule": WEEKDAYS}),
    ("Evergrove Insurance Partners", HOME, "bid_min=9&bid_max=24&no_bid_rate=0.35"
     "&reject_rate=0.14&latency=lognormal:5.5,0.7", {}, {}),
    ("Redwood Quotes", "auto-insurance", "bid_min=4&bid_max=12&no_bid_rate=0.2"
     "&reject_rate=0.1&latency=lognormal:4.3,0.5&fail=5xx&fail_rate=0.03&fail_on=both",
     {"blocked": f"Pioneer Clicks{SUFFIX}"}, {}),
    ("Granite State Home", HOME, "bid_min=3&bid_max=9&no_bid_rate=0.2&reject_rate=0.05"
     "&latency=lognormal:4.5,0.4", {"exclusive": False}, {}),
    ("Meridian Direct Home", HOME, "latency=lognormal:5.0,0.4&reject_rate=0.15"
     "&reject_reason=Consumer+already+a+customer",
     {"mode": "direct_post", "fixed_price": Decimal("11.00")}, {}),
]
# Contracts the circuit breaker pauses now and then (by buyer): slow, or failing.
FLAKY = {"Harbor Slow Bidder": "slow", f"Evergrove Insurance Partners{SUFFIX}": "slow",
         f"Redwood Quotes{SUFFIX}": "errors"}
REJECT_REASONS = ("Duplicate in CRM", "Consumer already a customer", "Outside service area",
                  "Phone failed validation", "Rejected by buyer")


def _world_prepare(buyers: int) -> None:
    """Create (or refresh) the demo data, the synthetic sources, the home vertical and
    ``buyers`` synthetic buyers with one contract each. Idempotent."""
    auto = Vertical.objects.filter(slug="auto-insurance").first()
    if auto is None:
        demo_data_load()
        auto = Vertical.objects.get(slug="auto-insurance")
    sim_url = "http://127.0.0.1:8099"
    endpoint = auto.contracts.filter(endpoints__kind="ping").values_list(
        "endpoints__url", flat=True).first()
    if endpoint:
        parts = urlsplit(endpoint)
        sim_url = f"{parts.scheme}://{parts.netloc}"
    home, made = Vertical.objects.get_or_create(slug=HOME, defaults={  # a real one stays as is
        "name": "Home insurance", "default_floor": Decimal("2.00"),
        "dedupe_fields": ["email", "phone"], "description": f"Homeowners' quotes{SUFFIX}."})
    for position, (key, kind, extra) in enumerate(HOME_FIELDS if made else ()):
        VerticalField.objects.create(vertical=home, key=key, type=kind, position=position,
                                     **extra)
    for name, (model, value) in SYNTHETIC_SOURCES.items():
        Source.objects.get_or_create(name=name, defaults={
            "payout_model": model, "payout_value": Decimal(value)})
    for source in Source.objects.filter(name__in=list(SOURCE_PROFILES)):
        source.verticals.add(auto, home)
    specs = list(SYNTHETIC_BUYERS)
    for n in range(len(specs), buyers):  # beyond the table: plain buyers, alternating
        specs.append((f"Buyer {n + 1:03d}", HOME if n % 2 else "auto-insurance",
                      f"bid_min={3 + n % 7}&bid_max={14 + n % 11}&no_bid_rate=0.3"
                      f"&reject_rate=0.1&latency=lognormal:{4.4 + (n % 5) / 10},0.5", {}, {}))
    verticals = {"auto-insurance": auto, HOME: home}
    for company, slug, query, extra, rules in specs[:buyers]:
        _synthetic_buyer(verticals[slug], company + SUFFIX, query, dict(extra), rules, sim_url)


def _synthetic_buyer(vertical: Vertical, company: str, query: str, extra: dict, rules: dict,
                     sim_url: str) -> None:
    buyer, _ = Buyer.objects.update_or_create(company=company, defaults={
        "timezone": "America/Chicago", "notes": f"{MARK}: made by manage.py generate_leads"})
    blocked = extra.pop("blocked", None)
    contract, _ = Contract.objects.update_or_create(
        buyer=buyer, vertical=vertical, name=f"{vertical.name} · US",
        defaults={"accepts_test_leads": False, **extra})
    contract.blocked_sources.set(Source.objects.filter(name=blocked) if blocked else [])
    slug = f"syn{contract.pk}"
    endpoints = {"post": {"url": f"{sim_url}/{slug}/post?{query}&format=json",
                          "body_format": REQUEST_FORMAT["json"], "timeout_ms": 2000,
                          **POST_RULES["json"], "mappings": []}}
    if contract.mode == "ping_post":
        endpoints["ping"] = {"url": f"{sim_url}/{slug}/ping?{query}&format=json",
                             "body_format": REQUEST_FORMAT["json"], "timeout_ms": 1000,
                             **PING_RULES["json"], "mappings": []}
    contract_rules_set(contract, filters=rules.get("filters", []), caps=rules.get("caps", []),
                       schedule=rules.get("schedule", []), endpoints=endpoints)


@dataclass(frozen=True, slots=True)
class _Behaviour:
    """How a contract answers, read from its simulator URL (what the simulator would do)."""

    bid_low: int  # cents
    bid_high: int
    no_bid: float
    reject: float
    reason: str
    mu: float  # ln(ms) of the ping latency
    sigma: float
    errors: float
    timeout_ms: float


def _behaviour(setup: ContractSetup, index: int) -> _Behaviour:
    endpoint = setup.ping or setup.post
    try:
        config = parse_config(urlsplit(endpoint.spec.url).query if endpoint else "")
    except ConfigError:
        config = parse_config("")
    low, high = config.bid_cents_range or (int(config.bid * 100),) * 2
    if setup.terms.mode == Mode.DIRECT_POST:
        low = high = int((setup.terms.fixed_price or Decimal(0)) * 100)
    spec = config.latency
    if spec.kind == "lognormal":
        mu, sigma = spec.a, spec.b
    elif spec.kind == "uniform":
        mu, sigma = math.log(max((spec.a + spec.b) / 2, 1.0)), 0.35
    else:
        mu, sigma = math.log(spec.a if spec.a >= 1 else 80.0), 0.3
    errors = config.fail_rate if config.fail == "5xx" else 0.004
    reason = config.reject_reason if config.reject_reason != "Rejected by buyer" else \
        REJECT_REASONS[index % len(REJECT_REASONS)]
    return _Behaviour(low, high, config.no_bid_rate, config.reject_rate, reason, mu, sigma,
                      errors, setup.ping.spec.timeout_ms if setup.ping else 1000.0)


@dataclass
class _Contract:
    terms: ContractTerms  # with the simulated cap usage and auto-pause laid over
    setup: ContractSetup
    behaviour: _Behaviour
    pauses: list[tuple[datetime, datetime]] = field(default_factory=list)
    state: tuple = ()


@dataclass
class _Market:
    vertical: Vertical
    contracts: list[_Contract]
    by_id: dict[int, _Contract]
    watched: list[_Contract]  # with caps or pauses: their terms change over time


def _markets(start: datetime, end: datetime, rng: random.Random) -> tuple[list, list]:
    """The markets (vertical with its contracts) and the auto-pause windows' health events."""
    markets, events = [], []
    for vertical in Vertical.objects.filter(slug__in=["auto-insurance", HOME]).order_by("pk"):
        contracts = []
        for index, setup in enumerate(contract_setups(vertical.pk, end)):
            terms = replace(setup.terms, active=True, auto_paused=False,
                            caps=tuple(CapState(c.cap_id, c.period, c.metric, c.limit,
                                                Decimal(0)) for c in setup.caps))
            contracts.append(_Contract(terms, setup, _behaviour(setup, index)))
        if not contracts:
            continue
        for contract in contracts:
            kind = FLAKY.get(contract.setup.name.split(" · ")[0])
            if kind:
                contract.pauses, made = _pause_windows(contract, kind, start, end, rng)
                events += made
        markets.append(_Market(vertical, contracts, {c.terms.id: c for c in contracts},
                               [c for c in contracts if c.pauses or c.terms.caps]))
    return markets, events


def _pause_windows(contract: _Contract, kind: str, start: datetime, end: datetime,
                   rng: random.Random) -> tuple[list, list]:
    days = max(1, (end - start).days)
    windows, events = [], []
    health = contract.setup.health
    why = f"{health.slow_count} consecutive slow answers" if kind == "slow" else \
        f"{health.error_count} consecutive failed requests"
    for _ in range(max(1, days // 4)):
        opened = start + timedelta(seconds=rng.uniform(0, (end - start).total_seconds()))
        closed = opened + timedelta(minutes=rng.uniform(3, 25))
        windows.append((opened, closed))
        events.append((contract.terms.id, "paused", why + SUFFIX, opened))
        events.append((contract.terms.id, "resumed", f"health ping answered in "
                       f"{rng.uniform(40, 180):.0f} ms{SUFFIX}", closed))
    windows.sort()
    return windows, events


# --- consumers ----------------------------------------------------------------------------

FIRST = ("James", "Mary", "Robert", "Patricia", "John", "Jennifer", "Michael", "Linda",
         "David", "Elizabeth", "William", "Barbara", "Richard", "Susan", "Joseph", "Jessica",
         "Thomas", "Sarah", "Carlos", "Karen", "Daniel", "Lisa", "Matthew", "Nancy", "Anthony",
         "Sandra", "Mark", "Ashley", "Luis", "Emily", "Kevin", "Maria", "Brian", "Aisha")
LAST = ("Smith", "Johnson", "Williams", "Brown", "Jones", "Garcia", "Miller", "Davis",
        "Rodriguez", "Martinez", "Hernandez", "Lopez", "Gonzalez", "Wilson", "Anderson",
        "Thomas", "Taylor", "Moore", "Jackson", "Martin", "Lee", "Perez", "Thompson", "White",
        "Harris", "Clark", "Lewis", "Robinson", "Walker", "Young", "Nguyen", "Patel")
ZIPS = ("10001", "11201", "02108", "19103", "20001", "30303", "33101", "33602", "32801",
        "60601", "48201", "44113", "43215", "46204", "53202", "55401", "63101", "64106",
        "70112", "75201", "77002", "78701", "78205", "73102", "80202", "84111", "85004",
        "89101", "87102", "90012", "94103", "92101", "95814", "97204", "98101", "28202",
        "27601", "29201", "37203", "40202", "35203", "23219", "21202", "06103", "07102")
MAKES = {"Toyota": ("Camry", "Corolla", "RAV4"), "Honda": ("Civic", "Accord", "CR-V"),
         "Ford": ("F-150", "Escape", "Focus"), "Chevrolet": ("Silverado", "Malibu", "Equinox"),
         "Nissan": ("Altima", "Rogue"), "Hyundai": ("Elantra", "Tucson"), "Tesla": ("Model 3",)}
CREDIT = (("excellent", 1.0), ("good", 0.75), ("fair", 0.45), ("poor", 0.15))
INSURERS = ("Progressive", "GEICO", "State Farm", "Allstate", "Liberty Mutual", "USAA")
AGENTS = ("Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) Mobile/15E148",
          "Mozilla/5.0 (Windows NT 10.0; Win64; x64) Chrome/124.0 Safari/537.36",
          "Mozilla/5.0 (Linux; Android 14; Pixel 8) Chrome/124.0 Mobile Safari/537.36")
# (invalid keys, message, weight): each invalid key is a rejection reason in the reports.
REJECTIONS = (
    (("phone",), "Enter a valid phone number.", 30), (("email",), "Enter a valid email "
     "address.", 25), (("zip",), "Enter a valid 5-digit ZIP code.", 15),
    (("date_of_birth",), "Enter a valid date, such as 1985-04-12 or 04/12/1985.", 10),
    (("first_name", "last_name"), "This field is required.", 12),
    (("currently_insured",), "This field is required.", 8),
)


def _consumer(rng: random.Random, n: int, auto: bool, places: list) -> tuple[dict, dict, float]:
    """A consumer's normalized fields, the ZIP enrichment and its appeal (0–1) to buyers."""
    first, last = rng.choice(FIRST), rng.choice(LAST)
    zip5, city, state, enrichment = rng.choice(places)
    credit, score = CREDIT[min(3, int(rng.random() ** 1.3 * 4))]
    insured = rng.random() < 0.7
    fields = {"first_name": first, "last_name": last,
              "email": f"{first}.{last}.{n}@example.com".lower(),
              "phone": f"+1{rng.randint(201, 989)}555{rng.randint(100, 199):04d}",
              "address": f"{rng.randint(1, 9999)} Main St", "city": city, "state": state,
              "zip": zip5, "date_of_birth": f"{rng.randint(1950, 2005)}-"
              f"{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}",
              "credit_rating": credit, "currently_insured": insured}
    appeal = 0.55 * score + (0.2 if insured else 0.0)
    if auto:
        make = rng.choice(list(MAKES))
        year, accidents = rng.randint(1998, 2026), min(4, int(rng.expovariate(3.0)))
        fields.update(gender=rng.choice(("male", "female")), vehicle_year=year,
                      marital_status=rng.choice(("single", "married", "divorced")),
                      homeowner=rng.random() < 0.6, vehicle_make=make,
                      vehicle_model=rng.choice(MAKES[make]), accidents=accidents)
        if insured:
            fields["current_insurer"] = rng.choice(INSURERS)
        appeal += 0.25 * (year - 1998) / 28 - 0.12 * accidents
    else:
        value = int(rng.lognormvariate(12.6, 0.5)) // 1000 * 1000
        fields.update(property_type=rng.choice(("single_family", "single_family", "condo",
                                                "townhouse", "mobile_home")),
                      year_built=rng.randint(1920, 2024), home_value=value,
                      claims=min(3, int(rng.expovariate(4.0))))
        appeal += min(0.25, value / 1_600_000) - 0.1 * fields["claims"]
    return fields, enrichment, min(1.0, max(0.0, appeal + rng.gauss(0, 0.12)))


def _places() -> list[tuple[str, str, str, dict]]:
    places = []
    for zip5 in ZIPS:
        info = zip_lookup(zip5)
        if info is not None:
            places.append((zip5, info.city, info.state,
                           {"city": info.city, "state": info.state, "county": info.county,
                            "timezone": info.timezone}))
    return places or [("10001", "New York", "NY", {})]


# --- the auctions -------------------------------------------------------------------------

LEAD_COLUMNS = ("id", "uuid", "vertical_id", "source_id", "api_key_id", "status", "is_test",
                "sub_id", "sub_ids", "fields", "enrichment", "consent", "client_ip",
                "consumer_ip", "user_agent", "errors", "message", "duplicate_of_id",
                "sale_price", "payout", "margin", "received_at", "auction_started_at",
                "completed_at", "updated_at")
JSON_COLUMNS = frozenset({"sub_ids", "fields", "enrichment", "consent", "errors"})
AUCTION_COLUMNS = ("id", "lead_id", "started_at", "ping_deadline_at", "bids_at",
                   "finished_at", "rounds", "outcome", "reason")
PING_COLUMNS = ("auction_id", "contract_id", "round", "outcome", "bid", "effective_bid",
                "token", "latency_ms", "http_status", "detail", "request_body",
                "response_body", "created_at")
POST_COLUMNS = ("auction_id", "contract_id", "attempt", "outcome", "price", "token", "reason",
                "latency_ms", "http_status", "request_body", "response_body",
                "next_attempt_at", "created_at")
SALE_COLUMNS = ("lead_id", "contract_id", "buyer_id", "price", "exclusive", "is_test",
                "created_at")
HEALTH_COLUMNS = ("contract_id", "kind", "reason", "created_at")
CENTS = [Decimal(c).scaleb(-2) for c in range(100_001)]  # 0.00 … 1000.00, shared instances


def _ms(value: float) -> timedelta:
    return timedelta(milliseconds=value)


@dataclass
class _Rows:
    """One batch of rows per table, as tuples in the ``*_COLUMNS`` order."""

    leads: list = field(default_factory=list)
    auctions: list = field(default_factory=list)
    pings: list = field(default_factory=list)
    posts: list = field(default_factory=list)
    sales: list = field(default_factory=list)
    health: list = field(default_factory=list)

    def tables(self) -> list[tuple[type, tuple[str, ...], list]]:
        return [(Lead, LEAD_COLUMNS, self.leads), (Auction, AUCTION_COLUMNS, self.auctions),
                (Ping, PING_COLUMNS, self.pings), (Post, POST_COLUMNS, self.posts),
                (Sale, SALE_COLUMNS, self.sales), (HealthEvent, HEALTH_COLUMNS, self.health)]

    def counts(self) -> dict[str, int]:
        return {model._meta.model_name: len(rows) for model, _, rows in self.tables()}


@dataclass
class _Auction:
    """What one lead's auction needs while it runs (times are ms after ``started``)."""

    auction_id: int
    lead_id: int
    market: _Market
    facts: LeadFacts
    started: datetime
    appeal: float
    bought: frozenset
    is_test: bool
    pinged: set = field(default_factory=set)


class _Simulator:
    """Turns arrival times into leads and auctions, in time order (caps need it)."""

    def __init__(self, markets: list[_Market], rng: random.Random, seed: int) -> None:
        self.rng, self.markets, self.seed = rng, markets, seed
        names = list(SOURCE_PROFILES)
        sources = sorted(Source.objects.filter(name__in=names), key=lambda s: names.index(s.name))
        self.sources = [(s, *SOURCE_PROFILES[s.name]) for s in sources]
        total = sum(weight for _, weight, *_ in self.sources)
        self.source_cut = [sum(w for _, w, *_ in self.sources[:i + 1]) / total
                           for i in range(len(self.sources))]
        keys = {s.pk: s.api_keys.order_by("pk").values_list("pk", flat=True).first()
                for s in sources}
        self.keys = keys
        self.floors = {(m.vertical.pk, s.pk): max(m.vertical.default_floor,
                                                  s.minimum_sale_price())
                       for m in markets for s in sources}
        self.recent = {m.vertical.pk: deque(maxlen=5000) for m in markets}
        self.usage: dict[tuple[int, datetime], Decimal] = {}
        self.places = _places()
        self.rows = _Rows()
        self.consumers = 0
        self.latest = datetime.min.replace(tzinfo=UTC)

    def take(self) -> _Rows:
        rows, self.rows = self.rows, _Rows()
        return rows

    def lead(self, lead_id: int, auction_id: int, received: datetime) -> None:
        rng = self.rng
        pick = rng.random()
        index = next(i for i, cut in enumerate(self.source_cut) if pick <= cut or
                     i == len(self.source_cut) - 1)
        source, _, rejected, duplicate = self.sources[index]
        market = self.markets[0] if len(self.markets) == 1 or rng.random() < AUTO_SHARE \
            else self.markets[1]
        self.consumers += 1
        fields, enrichment, appeal = _consumer(
            rng, self.seed * 10_000_000 + self.consumers, market.vertical.slug != HOME,
            self.places)
        row = {"id": lead_id, "uuid": uuid.UUID(int=rng.getrandbits(128), version=4),
               "vertical_id": market.vertical.pk, "source_id": source.pk,
               "api_key_id": self.keys[source.pk], "is_test": rng.random() < TEST_RATE,
               "sub_id": MARK, "sub_ids": {}, "fields": fields, "enrichment": enrichment,
               "consent": {}, "client_ip": f"203.0.113.{10 + index}",
               "consumer_ip": f"198.51.100.{rng.randint(1, 254)}",
               "user_agent": rng.choice(AGENTS), "errors": {}, "message": "",
               "duplicate_of_id": None, "sale_price": None, "payout": None, "margin": None,
               "received_at": received, "auction_started_at": None}
        draw, recent = rng.random(), self.recent[market.vertical.pk]
        if draw < rejected:
            keys, message, _ = rng.choices(REJECTIONS, [w for *_, w in REJECTIONS])[0]
            row.update(status="rejected", message="Invalid input.", enrichment={},
                       errors={f"fields.{key}": [message] for key in keys},
                       fields={k: v for k, v in fields.items() if k not in keys},
                       completed_at=received + _ms(rng.uniform(3, 20)))
        elif draw < rejected + duplicate and recent:
            original, fields, enrichment = recent[int(rng.random() * len(recent))]
            row.update(status="duplicate", message="Duplicate lead.", duplicate_of_id=original,
                       fields=fields, enrichment=enrichment,
                       completed_at=received + _ms(rng.uniform(4, 25)))
        else:
            recent.append((lead_id, fields, enrichment))
            self._auction(row, source, market, auction_id, appeal)
        row["updated_at"] = row["completed_at"]
        self.latest = max(self.latest, row["completed_at"])
        self.rows.leads.append(tuple(row[c] for c in LEAD_COLUMNS))

    def _watch(self, market: _Market, now: datetime) -> None:
        """Lay the auto-pause windows and the cap usage at ``now`` over the watched terms."""
        for contract in market.watched:
            terms = contract.terms
            while contract.pauses and contract.pauses[0][1] <= now:
                contract.pauses.pop(0)
            paused = bool(contract.pauses) and contract.pauses[0][0] <= now
            used = tuple(self.usage.get((c.cap_id, window_start(c.period, terms.timezone, now)),
                                        Decimal(0)) for c in terms.caps)
            state = (paused, *(u >= c.limit for u, c in zip(used, terms.caps, strict=True)))
            if state != contract.state:
                contract.state = state
                contract.terms = replace(terms, auto_paused=paused, caps=tuple(
                    replace(c, used=u) for c, u in zip(terms.caps, used, strict=True)))

    def _auction(self, row: dict, source: Source, market: _Market, auction_id: int,
                 appeal: float) -> None:
        rng = self.rng
        received = row["received_at"]
        started = received + _ms(math.exp(rng.gauss(1.1, 0.4)))
        budget = source.time_budget_ms - (started - received).total_seconds() * 1000
        ping_budget = max(0.0, budget - RESERVE_MS) * PING_SHARE
        self._watch(market, started)
        buyers = [c.terms.buyer_id for c in market.contracts]
        ctx = _Auction(auction_id, row["id"], market, LeadFacts(
            row["fields"], source.pk, MARK, row["is_test"],
            self.floors[(market.vertical.pk, source.pk)]), started, appeal,
            frozenset({rng.choice(buyers)}) if rng.random() < 0.01 else frozenset(),
            row["is_test"])
        primary = [c.terms for c in market.contracts if not c.terms.is_secondary]
        decided, at, sale, ranking = self._round(ctx, 1, primary, 0.0, ping_budget)
        bids_at, rounds = started + _ms(decided), 1
        left = budget - at - RESERVE_MS
        if sale is None and left >= SECONDARY_MIN_MS:
            second = [c.terms for c in market.contracts if c.terms.id not in ctx.pinged]
            if second:  # the unsold reason stays the first round's, as in auction_run
                rounds = 2
                _, at, sale, _ = self._round(ctx, 2, second, at, left * PING_SHARE)
        finished = started + _ms(at)
        if sale is not None:
            price = sale[3]
            payout = Decimal(0) if ctx.is_test else source.payout_for(price)
            row.update(status="sold", message="Sold.", sale_price=price, payout=payout,
                       margin=price - payout)
            outcome, reason, finished = "sold", "", sale[-1]
            self.rows.sales.append(sale)
        else:
            reason = "No buyer bid on this lead." if not ranking.ranked else \
                "Every bidder rejected the lead."
            row.update(status="unsold", message=reason)
            outcome = "unsold"
        row.update(auction_started_at=started, completed_at=finished)
        self.rows.auctions.append((auction_id, row["id"], started, started + _ms(ping_budget),
                                   bids_at, finished, rounds, outcome, reason))

    def _round(self, ctx: _Auction, number: int, candidates: list, at: float,
               ping_budget: float) -> tuple[float, float, tuple | None, object]:
        """Eligibility, pings, ranking and posts of one round starting ``at`` ms; returns
        when the bids were ranked, when the round ended, the sale row (or None) and the
        ranking."""
        rng, by_id = self.rng, ctx.market.by_id
        eligibility = select_eligible(ctx.facts, candidates, now=ctx.started,
                                      bought_by=ctx.bought, rng=rng)
        answers, bids, longest = [], [], 0.0
        bid_odds = min(1.0, max(0.0, (ctx.appeal - BID_FLOOR) * BID_SLOPE))
        for terms in eligibility.eligible:
            behaviour = by_id[terms.id].behaviour
            ctx.pinged.add(terms.id)
            if terms.mode == Mode.DIRECT_POST:
                bids.append(EngineBid(terms.id, CENTS[behaviour.bid_low]))
                answers.append((terms.id, "bid", CENTS[behaviour.bid_low], None, None,
                                "direct post: fixed price", ""))
                continue
            latency = round(math.exp(rng.gauss(behaviour.mu, behaviour.sigma)), 2)
            limit = min(behaviour.timeout_ms, ping_budget)
            if latency >= limit:
                latency = round(limit + rng.random(), 2)
                answers.append((terms.id, "timeout", None, latency, None,
                                f"no complete answer after {limit:.0f} ms", ""))
            elif rng.random() < behaviour.errors:
                answers.append((terms.id, "error", None, latency, 503, "HTTP 503", ""))
            elif rng.random() < (1 - behaviour.no_bid) * bid_odds:
                spread = (behaviour.bid_high - behaviour.bid_low) * (0.4 + 0.6 * ctx.appeal)
                amount = CENTS[behaviour.bid_low + int(spread * rng.random())]
                token = f"{rng.getrandbits(40):010x}"
                bids.append(EngineBid(terms.id, amount, token, latency))
                answers.append((terms.id, "bid", amount, latency, 200, "", token))
            else:
                answers.append((terms.id, "no_bid", None, latency, 200, "", ""))
            longest = max(longest, latency)
        ranking = rank_bids(bids, {t.id: t for t in eligibility.eligible},
                            floor=ctx.facts.floor, rng=rng)
        effective = {r.bid.contract_id: r.effective for r in ranking.ranked}
        below = {e.contract_id: e.detail for e in ranking.below_floor}
        at += min(longest, ping_budget) + 0.5 + rng.random() * 1.5
        decided_ms, decided = at, ctx.started + _ms(at)
        pings, aid = self.rows.pings, ctx.auction_id
        for e in eligibility.excluded:
            pings.append((aid, e.contract_id, number, e.reason.value, None, None, "", None,
                          None, e.detail, "", "", decided))
        for cid, outcome, amount, latency, status, detail, token in answers:
            if cid in below:
                outcome, detail = "below_floor", below[cid]
            pings.append((aid, cid, number, outcome, amount, effective.get(cid), token,
                          latency, status, detail, "", "", decided))
        at += 0.3
        for offer in post_plan(ranking):
            if offer.shared:
                continue  # simplification: shared groups never win here
            at, sale = self._post(ctx, offer.bids[0], at)
            if sale is not None:
                return decided_ms, at, sale, ranking
        return decided_ms, at, None, ranking

    def _post(self, ctx: _Auction, ranked, at: float) -> tuple[float, tuple | None]:
        """Offer the lead to one bidder (errors retried in real time, up to 3 attempts)."""
        rng, contract = self.rng, ctx.market.by_id[ranked.bid.contract_id]
        behaviour, price, cid = contract.behaviour, ranked.bid.amount, contract.terms.id
        # Buyers verify the full lead: a weak one is refused by most of them, whoever bid.
        refuse = behaviour.reject + (1 - behaviour.reject) * min(
            1.0, max(0.0, (REFUSE_PIVOT - ctx.appeal) * REFUSE_SLOPE))
        for attempt in (1, 2, 3):
            sent = ctx.started + _ms(at)
            latency = round(math.exp(rng.gauss(behaviour.mu + 0.5, behaviour.sigma)), 2)
            draw = rng.random()
            if latency >= POST_TIMEOUT_MS:
                outcome, status, reason = "timeout", None, "no complete answer after 2000 ms"
                latency = POST_TIMEOUT_MS + round(rng.random(), 2)
            elif draw < behaviour.errors:
                outcome, status, reason = "error", 500, "HTTP 500"
            elif draw < behaviour.errors + refuse:
                outcome, status, reason = "rejected", 200, behaviour.reason
            else:
                outcome, status, reason = "accepted", 200, ""
            at += latency + 0.4
            self.rows.posts.append((ctx.auction_id, cid, attempt, outcome, price,
                                    ranked.bid.token or "", reason, latency, status, "", "",
                                    None, sent))
            if outcome == "accepted":
                sold = ctx.started + _ms(at)
                for cap in contract.terms.caps:
                    key = (cap.cap_id, window_start(cap.period, contract.terms.timezone,
                                                    ctx.started))
                    self.usage[key] = self.usage.get(key, Decimal(0)) + (
                        price if cap.metric == "spend" else 1)
                return at, (ctx.lead_id, cid, contract.terms.buyer_id, price, True,
                            ctx.is_test, sold)
            if outcome != "error":
                return at, None
            at += 50.0  # back-off before the real-time retry
        return at, None


def _arrivals(rng: random.Random, count: int, start: datetime,
              end: datetime) -> Iterator[datetime]:
    """``count`` receipt times in [start, end), in order, on the daily traffic curve."""
    hour, slots, day_factor = start.replace(minute=0, second=0, microsecond=0), [], {}
    span = (end - start).total_seconds()
    while hour < end:
        low, high = max(hour, start), min(hour + timedelta(hours=1), end)
        local = hour.astimezone(EASTERN)
        if local.date() not in day_factor:
            day_factor[local.date()] = rng.uniform(0.9, 1.1) * (
                WEEKEND if local.weekday() >= 5 else 1.0)
        seconds = (high - low).total_seconds()
        trend = 0.95 + 0.1 * (low - start).total_seconds() / span  # a growing business
        slots.append((low, seconds, HOURLY[local.hour] * day_factor[local.date()] * trend
                       * seconds / 3600))
        hour += timedelta(hours=1)
    total, expected, made = sum(w for *_, w in slots), 0.0, 0
    for low, seconds, weight in slots:
        expected += count * weight / total
        n = min(count - made, round(expected) - made)
        made += n
        for offset in sorted(rng.random() for _ in range(n)):
            yield low + timedelta(seconds=offset * seconds)
    for _ in range(count - made):  # rounding leftovers, at the very end
        yield end - timedelta(microseconds=1)


# --- writing ------------------------------------------------------------------------------


def _ids(model: type, n: int) -> list[int]:
    """``n`` fresh primary keys (sequence values on PostgreSQL; past the maximum else)."""
    table = model._meta.db_table
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SELECT nextval(pg_get_serial_sequence(%s, 'id')) "
                           "FROM generate_series(1, %s)", [table, n])
            return [row[0] for row in cursor.fetchall()]
        cursor.execute(f"SELECT COALESCE(MAX(id), 0) FROM {table}")  # noqa: S608 - our table
        first = cursor.fetchone()[0] + 1
    return list(range(first, first + n))


class _TimestampsAsGiven:
    """Lets ``bulk_create`` keep the given ``created_at``/``received_at``/``updated_at``
    (``auto_now_add``/``auto_now`` overwrite them otherwise) while the block runs."""

    FIELDS = ((Lead, "received_at"), (Lead, "updated_at"), (Ping, "created_at"),
              (Post, "created_at"), (Sale, "created_at"), (HealthEvent, "created_at"))

    def __enter__(self) -> None:
        self.saved = []
        for model, name in self.FIELDS:
            f = model._meta.get_field(name)
            self.saved.append((f, f.auto_now, f.auto_now_add))
            f.auto_now = f.auto_now_add = False

    def __exit__(self, *exc) -> None:
        for f, auto_now, auto_now_add in self.saved:
            f.auto_now, f.auto_now_add = auto_now, auto_now_add


def _orm_write(rows: _Rows) -> None:
    with transaction.atomic(), _TimestampsAsGiven():
        for model, columns, data in rows.tables():
            model.objects.bulk_create([model(**dict(zip(columns, row, strict=True)))
                                       for row in data], batch_size=2000)


def _copy_write(rows: _Rows, *, unchecked: bool = False) -> None:
    """PostgreSQL: one COPY per table, in one transaction. ``unchecked`` (superusers only)
    skips the foreign-key triggers, which otherwise take two thirds of the time: the rows
    reference each other by construction (the ORM path, used by the tests, keeps every
    check), and a lost batch costs nothing, hence no synchronous commit either."""
    dumps = json.dumps
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SET LOCAL synchronous_commit = off")
        if unchecked:
            cursor.execute("SET LOCAL session_replication_role = replica")
        for model, columns, data in rows.tables():
            if not data:
                continue
            as_json = [i for i, name in enumerate(columns) if name in JSON_COLUMNS]
            sql = f"COPY {model._meta.db_table} ({', '.join(columns)}) FROM STDIN"
            with cursor.cursor.copy(sql) as copy:
                for row in data:
                    if as_json:
                        row = list(row)
                        for i in as_json:
                            row[i] = dumps(row[i])
                    copy.write_row(row)


def _superuser() -> bool:
    with connection.cursor() as cursor:
        cursor.execute("SELECT rolsuper FROM pg_roles WHERE rolname = current_user")
        return bool(cursor.fetchone()[0])


class _Writer:
    """Writes batches on a thread (and connection) of its own while the next batch is being
    simulated: the database works on one core while Python works on the other."""

    def __init__(self, write: Callable[[_Rows], None]) -> None:
        self.write, self.error, self.seconds = write, None, 0.0
        self.queue: queue.Queue = queue.Queue(maxsize=1)
        self.thread = threading.Thread(target=self._run, name="synthetic-writer", daemon=True)
        self.thread.start()

    def _run(self) -> None:
        try:
            while (rows := self.queue.get()) is not None:
                if self.error is None:  # after a failure, drain so put() never blocks
                    lap = time.perf_counter()
                    try:
                        self.write(rows)
                    except Exception as exc:  # re-raised in the caller's thread
                        self.error = exc
                    self.seconds += time.perf_counter() - lap
        finally:
            connection.close()

    def put(self, rows: _Rows) -> None:
        if self.error is not None:
            raise self.error
        self.queue.put(rows)

    def close(self, *, raising: bool = True) -> None:
        self.queue.put(None)
        self.thread.join()
        if raising and self.error is not None:
            raise self.error


# --- the services -------------------------------------------------------------------------


@dataclass(frozen=True)
class GenerateResult:
    counts: dict[str, int]
    seconds: dict[str, float]  # setup, simulate, write, rollup, total
    start: datetime
    end: datetime
    method: str


def synthetic_generate(*, count: int, days: int = 30, seed: int = 1, buyers: int = 12,
                       batch: int = 10_000, rollup: bool = True, end: datetime | None = None,
                       method: str = "auto",
                       progress: Callable[[str], None] | None = None) -> GenerateResult:
    """Write ``count`` synthetic leads received over the ``days`` before ``end`` (default:
    now) with their auctions, then rebuild the rollups of that range (unless ``rollup`` is
    false). Same ``seed``, ``end`` and world → same rows (ids aside). ``method`` is ``copy``
    (PostgreSQL COPY from a writer thread, overlapping the simulation; not inside a
    transaction), ``orm`` (``bulk_create``) or ``auto`` (COPY when it can). Each batch is
    committed on its own: an interrupted run leaves whole leads, which ``synthetic_clear``
    removes. Raises ValueError when the seed's leads are already there."""
    seconds = dict.fromkeys(("setup", "simulate", "write", "rollup"), 0.0)
    began = time.perf_counter()
    end = (end or datetime.now(UTC)).astimezone(UTC)
    start = end - timedelta(days=days)
    if method == "auto":  # COPY runs on a connection of its own: it must see committed rows
        method = "copy" if connection.vendor == "postgresql" and not \
            connection.in_atomic_block else "orm"
    if method == "copy" and connection.in_atomic_block:
        raise ValueError("COPY writes from a connection of its own: call it outside a "
                         "transaction, or use the orm method.")
    with transaction.atomic():
        _world_prepare(buyers)
    rng = random.Random(seed)
    markets, events = _markets(start, end, rng)
    simulator = _Simulator(markets, rng, seed)
    simulator.rows.health = [e for e in events if e[3] < end]
    arrivals = _arrivals(random.Random(f"{seed}-arrivals"), count, start, end)
    counts: dict[str, int] = dict.fromkeys(("lead", "auction", "ping", "post", "sale",
                                            "healthevent"), 0)
    writer = None
    if method == "copy":
        writer = _Writer(partial(_copy_write, unchecked=_superuser()))
    seconds["setup"] = time.perf_counter() - began
    done = 0
    try:
        while done < count or simulator.rows.health:
            n = min(batch, count - done)
            lap = time.perf_counter()
            for lead_id, auction_id, at in zip(_ids(Lead, n) if n else [],
                                               _ids(Auction, n) if n else [], arrivals,
                                               strict=False):
                simulator.lead(lead_id, auction_id, at)
            rows = simulator.take()
            if not done and rows.leads and Lead.objects.filter(
                    uuid__in=[row[1] for row in rows.leads[:50]]).exists():
                raise ValueError(f"The leads of seed {seed} are already there: clear them "
                                 "first (--clear) or pick another seed.")
            seconds["simulate"] += time.perf_counter() - lap
            if writer is not None:
                writer.put(rows)
            else:
                lap = time.perf_counter()
                _orm_write(rows)
                seconds["write"] += time.perf_counter() - lap
            for name, value in rows.counts().items():
                counts[name] += value
            done += n
            if progress:
                rate = done / max(time.perf_counter() - began, 1e-9)
                progress(f"{done:,}/{count:,} leads, {counts['ping']:,} pings "
                         f"({rate:,.0f} leads/s)")
    except BaseException:
        if writer is not None:
            writer.close(raising=False)  # the first error is the one to see
        raise
    if writer is not None:
        writer.close()
        seconds["write"] = writer.seconds
    if rollup:
        lap = time.perf_counter()
        rollup_refresh(start, max(simulator.latest, end) + timedelta(microseconds=1))
        seconds["rollup"] = time.perf_counter() - lap
    seconds["total"] = time.perf_counter() - began
    return GenerateResult(counts, seconds, start, end, method)


def synthetic_clear(*, rollup: bool = True) -> dict[str, int]:
    """Delete every synthetic row (leads and all that hangs off them, synthetic health
    events, buyers, sources and the home vertical when nothing real uses them) and rebuild
    the rollups of the hours they covered. Returns the number of rows deleted per table."""
    leads = Lead.objects.filter(sub_id=MARK)
    span = leads.aggregate(first=Min("received_at"), last=Max("completed_at"))
    lead_ids = f"SELECT id FROM {Lead._meta.db_table} WHERE sub_id = %s"  # noqa: S608
    auction_ids = f"SELECT id FROM {Auction._meta.db_table} WHERE lead_id IN ({lead_ids})"  # noqa: S608
    deleted = {}
    with transaction.atomic(), connection.cursor() as cursor:
        for model, column, subquery in ((Ping, "auction_id", auction_ids),
                                        (Post, "auction_id", auction_ids),
                                        (Sale, "lead_id", lead_ids),
                                        (DedupeClaim, "lead_id", lead_ids),
                                        (Auction, "lead_id", lead_ids)):
            cursor.execute(f"DELETE FROM {model._meta.db_table} "  # noqa: S608
                           f"WHERE {column} IN ({subquery})", [MARK])
            deleted[model._meta.model_name] = cursor.rowcount
        cursor.execute(f"UPDATE {Lead._meta.db_table} SET duplicate_of_id = NULL "  # noqa: S608
                       f"WHERE sub_id <> %s AND duplicate_of_id IN ({lead_ids})", [MARK, MARK])
        cursor.execute(f"DELETE FROM {Lead._meta.db_table} WHERE sub_id = %s", [MARK])  # noqa: S608
        deleted["lead"] = cursor.rowcount
        deleted["healthevent"] = HealthEvent.objects.filter(reason__endswith=SUFFIX).delete()[0]
    for queryset in (Buyer.objects.filter(company__endswith=SUFFIX),
                     Source.objects.filter(name__endswith=SUFFIX),
                     Vertical.objects.filter(slug=HOME, description__endswith=f"{SUFFIX}.")):
        try:
            with transaction.atomic():
                queryset.delete()
        except ProtectedError:
            pass  # real rows use it: keep it
    if rollup and span["first"] is not None:
        rollup_refresh(span["first"], span["last"] or span["first"])
    return deleted
