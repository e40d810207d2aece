"""The synthetic world: sources, the home vertical, synthetic buyers and how each
buyer behaves (bids, latencies, refusals, pauses) — read from its simulator URL."""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from datetime import time as clock
from decimal import Decimal
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

from django.utils.text import slugify

from apps.auctions.engine import (
    CapState,
    ContractTerms,
    Mode,
)
from apps.auctions.setups import ContractSetup, contract_setups
from apps.buyers.models import Buyer, Contract
from apps.demo.dataset import (
    DEMO_SOURCES,
    PING_TOKEN_KEY,
    demo_contract_save,
    demo_data_load,
    endpoint_document,
)
from apps.demo.simulator.config import ConfigError, parse_config
from apps.demo.simulator.profiles import PING_RULES, POST_RULES, REQUEST_FORMAT
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
HOME_FIELDS: list[tuple[str, str, dict[str, Any]]] = [  # key, type, other VerticalField columns
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
     {}, {"caps": [{"period": "day", "metric": "leads", "limit": "1500"}]}),
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
     {"caps": [{"period": "hour", "metric": "leads", "limit": "40"}]}),
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
     {"mode": "direct_post", "fixed_price": "11.00"}, {}),
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
    """A synthetic buyer and its contract, written like the demo's: the staff API's contract
    document through the API's validation (``demo_contract_save``)."""
    buyer, _ = Buyer.objects.update_or_create(company=company, defaults={
        "timezone": "America/Chicago", "notes": f"{MARK}: made by manage.py generate_leads"})
    blocked = extra.pop("blocked", None)
    mode = extra.get("mode", "ping_post")
    slug = slugify(company)
    post_mappings: list[dict] = []  # every field under its own name
    if mode == "ping_post":  # the post carries the ping's token back, as the demo's do
        query += f"&post_token_key={PING_TOKEN_KEY}"
        post_mappings = [*({"target": key, "source": key} for key in
                           vertical.fields.order_by("position").values_list("key", flat=True)),
                         {"target": PING_TOKEN_KEY, "source": "@ping.token"}]
    endpoints = {"post": endpoint_document(
        f"{sim_url}/{slug}/post?{query}&format=json", body_format=REQUEST_FORMAT["json"],
        timeout_ms=2000, rules=POST_RULES["json"], mappings=post_mappings)}
    if mode == "ping_post":
        endpoints["ping"] = endpoint_document(
            f"{sim_url}/{slug}/ping?{query}&format=json", body_format=REQUEST_FORMAT["json"],
            timeout_ms=1000, rules=PING_RULES["json"], mappings=[])
    name = f"{vertical.name} · US"
    document = {
        "buyer": buyer.pk, "vertical": vertical.slug, "name": name, "accepts_test_leads": False,
        "status": "active", **extra,
        "blocked_sources": list(Source.objects.filter(name=blocked).values_list("pk", flat=True))
        if blocked else [],
        "filters": rules.get("filters", []), "caps": rules.get("caps", []),
        "schedule": rules.get("schedule", []), "endpoints": endpoints,
    }
    demo_contract_save(document, Contract.objects.filter(
        buyer=buyer, vertical=vertical, name=name).first())


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


# A health event as the simulation writes it: contract id, kind, reason, created_at.
HealthRow = tuple[int, str, str, datetime]


@dataclass
class _Contract:
    terms: ContractTerms  # with the simulated cap usage and auto-pause laid over
    setup: ContractSetup
    behaviour: _Behaviour
    pauses: list[tuple[datetime, datetime]] = field(default_factory=list)
    state: tuple[bool, ...] = ()  # (auto-paused, each cap full) when terms were last laid


@dataclass
class _Market:
    vertical: Vertical
    contracts: list[_Contract]
    by_id: dict[int, _Contract]
    watched: list[_Contract]  # with caps or pauses: their terms change over time


def _markets(start: datetime, end: datetime, rng: random.Random
             ) -> tuple[list[_Market], list[HealthRow]]:
    """The markets (vertical with its contracts) and the auto-pause windows' health events."""
    markets: list[_Market] = []
    events: list[HealthRow] = []
    for vertical in Vertical.objects.filter(slug__in=["auto-insurance", HOME]).order_by("pk"):
        contracts: list[_Contract] = []
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
                   rng: random.Random) -> tuple[list[tuple[datetime, datetime]], list[HealthRow]]:
    """When the breaker pauses ``contract`` (paused, resumed), and the events saying so."""
    days = max(1, (end - start).days)
    windows: list[tuple[datetime, datetime]] = []
    events: list[HealthRow] = []
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
