"""Simulating auctions with the real engine over the real contract set-ups, and the rows
they produce."""

from __future__ import annotations

import math
import random
import uuid
from collections import deque
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any, NamedTuple

from django.db.models import Model

from apps.auctions.engine import Bid as EngineBid
from apps.auctions.engine import (
    ContractTerms,
    LeadFacts,
    Mode,
    Outcome,
    RankedBid,
    Ranking,
    post_plan,
    rank_bids,
    select_eligible,
    window_start,
)
from apps.auctions.models import Auction, HealthEvent, Ping, Post, Sale
from apps.auctions.services.pinging import PingResult
from apps.auctions.services.records import PING_COLUMNS, ping_rows
from apps.auctions.services.run import unsold_reason
from apps.demo.synthetic.consumers import AGENTS, REJECTIONS, _consumer, _places
from apps.demo.synthetic.world import (
    AUTO_SHARE,
    BID_FLOOR,
    BID_SLOPE,
    EASTERN,
    HOME,
    HOURLY,
    MARK,
    PING_SHARE,
    POST_TIMEOUT_MS,
    REFUSE_PIVOT,
    REFUSE_SLOPE,
    RESERVE_MS,
    SECONDARY_MIN_MS,
    SOURCE_PROFILES,
    TEST_RATE,
    WEEKEND,
    HealthRow,
    _Market,
)
from apps.leads.models import Lead
from apps.sources.models import Source

# --- the auctions -------------------------------------------------------------------------

LEAD_COLUMNS = ("id", "uuid", "vertical_id", "source_id", "api_key_id", "status", "is_test",
                "sub_id", "sub_ids", "fields", "enrichment", "consent", "client_ip",
                "consumer_ip", "user_agent", "errors", "message", "duplicate_of_id",
                "sale_price", "payout", "margin", "received_at", "auction_started_at",
                "completed_at", "updated_at")
JSON_COLUMNS = frozenset({"sub_ids", "fields", "enrichment", "consent", "errors"})
AUCTION_COLUMNS = ("id", "lead_id", "started_at", "ping_deadline_at", "bids_at",
                   "finished_at", "rounds", "outcome", "reason")
POST_COLUMNS = ("auction_id", "contract_id", "attempt", "outcome", "price", "token", "reason",
                "latency_ms", "http_status", "request_body", "response_body",
                "next_attempt_at", "created_at")


class _SaleRow(NamedTuple):
    """A sale as the simulation writes it (its fields are ``SALE_COLUMNS``)."""

    lead_id: int
    contract_id: int
    buyer_id: int
    price: Decimal
    exclusive: bool
    is_test: bool
    created_at: datetime


SALE_COLUMNS = _SaleRow._fields
HEALTH_COLUMNS = ("contract_id", "kind", "reason", "created_at")
CENTS = [Decimal(c).scaleb(-2) for c in range(100_001)]  # 0.00 … 1000.00, shared instances


def _ms(value: float) -> timedelta:
    return timedelta(milliseconds=value)


@dataclass
class _Rows:
    """One batch of rows per table, as tuples in the ``*_COLUMNS`` order."""

    leads: list[tuple] = field(default_factory=list)
    auctions: list[tuple] = field(default_factory=list)
    pings: list[tuple] = field(default_factory=list)
    posts: list[tuple] = field(default_factory=list)
    sales: list[_SaleRow] = field(default_factory=list)
    health: list[HealthRow] = field(default_factory=list)

    def tables(self) -> list[tuple[type[Model], tuple[str, ...], Sequence[tuple]]]:
        return [(Lead, LEAD_COLUMNS, self.leads), (Auction, AUCTION_COLUMNS, self.auctions),
                (Ping, PING_COLUMNS, self.pings), (Post, POST_COLUMNS, self.posts),
                (Sale, SALE_COLUMNS, self.sales), (HealthEvent, HEALTH_COLUMNS, self.health)]

    def counts(self) -> dict[str, int]:
        """Rows per table, by model name."""
        return {"lead": len(self.leads), "auction": len(self.auctions), "ping": len(self.pings),
                "post": len(self.posts), "sale": len(self.sales),
                "healthevent": len(self.health)}


@dataclass
class _SimulatedAuction:
    """What one lead's simulated auction needs while it runs (times are ms after
    ``started``); not the ``Auction`` row, which the simulation writes as a tuple."""

    auction_id: int
    lead_id: int
    market: _Market
    facts: LeadFacts
    started: datetime
    appeal: float
    bought: frozenset[int]  # buyers that bought this consumer before
    is_test: bool
    pinged: set[int] = field(default_factory=set)  # contract ids


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
        # per vertical, the latest accepted leads a duplicate copies: (id, fields, enrichment)
        self.recent: dict[int, deque[tuple[int, dict[str, Any], dict[str, Any]]]] = {
            m.vertical.pk: deque(maxlen=5000) for m in markets}
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
        row: dict[str, Any]  # the lead's columns (LEAD_COLUMNS), completed as its fate is known
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

    def _auction(self, row: dict[str, Any], source: Source, market: _Market, auction_id: int,
                 appeal: float) -> None:
        rng = self.rng
        received = row["received_at"]
        started = received + _ms(math.exp(rng.gauss(1.1, 0.4)))
        budget = source.time_budget_ms - (started - received).total_seconds() * 1000
        ping_budget = max(0.0, budget - RESERVE_MS) * PING_SHARE
        self._watch(market, started)
        buyers = [c.terms.buyer_id for c in market.contracts]
        ctx = _SimulatedAuction(auction_id, row["id"], market, LeadFacts(
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
            price = sale.price
            payout = Decimal(0) if ctx.is_test else source.payout_for(price)
            row.update(status="sold", message="Sold.", sale_price=price, payout=payout,
                       margin=price - payout)
            outcome, reason, finished = "sold", "", sale.created_at
            self.rows.sales.append(sale)
        else:
            reason = unsold_reason(ranking, ctx.facts.floor)
            row.update(status="unsold", message=reason)
            outcome = "unsold"
        row.update(auction_started_at=started, completed_at=finished)
        self.rows.auctions.append((auction_id, row["id"], started, started + _ms(ping_budget),
                                   bids_at, finished, rounds, outcome, reason))

    def _round(self, ctx: _SimulatedAuction, number: int, candidates: list[ContractTerms],
               at: float, ping_budget: float) -> tuple[float, float, _SaleRow | None, Ranking]:
        """Eligibility, pings, ranking and posts of one round starting ``at`` ms; returns
        when the bids were ranked, when the round ended, the sale row (or None) and the
        ranking."""
        rng, by_id = self.rng, ctx.market.by_id
        eligibility = select_eligible(ctx.facts, candidates, now=ctx.started,
                                      bought_by=ctx.bought, rng=rng)
        answers: list[PingResult] = []
        longest = 0.0
        bid_odds = min(1.0, max(0.0, (ctx.appeal - BID_FLOOR) * BID_SLOPE))
        for terms in eligibility.eligible:
            behaviour = by_id[terms.id].behaviour
            ctx.pinged.add(terms.id)
            if terms.mode == Mode.DIRECT_POST:
                answers.append(PingResult(terms.id, Outcome.BID,
                                          EngineBid(terms.id, CENTS[behaviour.bid_low]),
                                          detail="direct post: fixed price"))
                continue
            latency = round(math.exp(rng.gauss(behaviour.mu, behaviour.sigma)), 2)
            limit = min(behaviour.timeout_ms, ping_budget)
            if latency >= limit:
                latency = round(limit + rng.random(), 2)
                answers.append(PingResult(terms.id, Outcome.TIMEOUT, latency_ms=latency,
                                          detail=f"no complete answer after {limit:.0f} ms"))
            elif rng.random() < behaviour.errors:
                answers.append(PingResult(terms.id, Outcome.ERROR, latency_ms=latency,
                                          http_status=503, detail="HTTP 503"))
            elif rng.random() < (1 - behaviour.no_bid) * bid_odds:
                spread = (behaviour.bid_high - behaviour.bid_low) * (0.4 + 0.6 * ctx.appeal)
                amount = CENTS[behaviour.bid_low + int(spread * rng.random())]
                token = f"{rng.getrandbits(40):010x}"
                answers.append(PingResult(terms.id, Outcome.BID,
                                          EngineBid(terms.id, amount, token, latency),
                                          latency_ms=latency, http_status=200))
            else:
                answers.append(PingResult(terms.id, Outcome.NO_BID, latency_ms=latency,
                                          http_status=200))
            longest = max(longest, latency)
        ranking = rank_bids([a.bid for a in answers if a.bid is not None],
                            {t.id: t for t in eligibility.eligible},
                            floor=ctx.facts.floor, rng=rng)
        at += min(longest, ping_budget) + 0.5 + rng.random() * 1.5
        decided_ms, decided = at, ctx.started + _ms(at)
        # the very rows a live auction writes for this round (apps.auctions.services.records)
        self.rows.pings.extend(ping_rows(ctx.auction_id, number, eligibility.excluded, answers,
                                         ranking, created=decided))
        at += 0.3
        for offer in post_plan(ranking):
            if offer.shared:
                continue  # simplification: shared groups never win here
            at, sale = self._post(ctx, offer.bids[0], at)
            if sale is not None:
                return decided_ms, at, sale, ranking
        return decided_ms, at, None, ranking

    def _post(self, ctx: _SimulatedAuction, ranked: RankedBid, at: float
              ) -> tuple[float, _SaleRow | None]:
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
                return at, _SaleRow(ctx.lead_id, cid, contract.terms.buyer_id, price, True,
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
