"""The values the auction engine works on: plain frozen dataclasses, no Django.

The service turns database rows into these once per auction; the engine only computes.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import time
from decimal import Decimal
from enum import StrEnum
from typing import Any


class Outcome(StrEnum):
    """The one vocabulary of how a contract ended a round of an auction — exactly one code
    per contract per round, like Prebid Server's non-bid reasons. Ping rows, reports, the
    timeline and the synthetic history all use it (and the sets below), never their own
    lists of strings."""

    # pinged (or bid its fixed price): the transport's and the parser's answers
    BID = "bid"
    NO_BID = "no_bid"
    TIMEOUT = "timeout"
    ERROR = "error"
    INVALID_RESPONSE = "invalid_response"
    # pinged and bid, but under the floor
    BELOW_FLOOR = "below_floor"
    # excluded before the ping, in the order eligibility checks them
    PAUSED = "paused"
    TEST_EXCLUDED = "test_excluded"
    SOURCE_BLOCKED = "source_blocked"
    SCHEDULE_CLOSED = "schedule_closed"
    FILTERED = "filtered"
    CAPPED = "capped"
    DUPLICATE_FOR_BUYER = "duplicate_for_buyer"
    NOT_SELECTED = "not_selected"  # outside its traffic share this time
    NOT_PICKED = "not_picked"  # one-to-one consent: the consumer did not name this brand

    @property
    def label(self) -> str:
        return self.value.replace("_", " ").capitalize()


# The contract was asked (pinged, or bid its fixed price) and answered somehow.
PINGED = frozenset({Outcome.BID, Outcome.NO_BID, Outcome.TIMEOUT, Outcome.ERROR,
                    Outcome.INVALID_RESPONSE, Outcome.BELOW_FLOOR})
# A price was offered, whether or not it cleared the floor.
OFFERED = frozenset({Outcome.BID, Outcome.BELOW_FLOOR})
# The buyer's side failed: what the circuit breaker counts and "timeouts/errors" report.
FAILED = frozenset({Outcome.TIMEOUT, Outcome.ERROR, Outcome.INVALID_RESPONSE})
# Left out before the ping.
EXCLUDED = frozenset(Outcome) - PINGED


class Mode(StrEnum):
    PING_POST = "ping_post"
    DIRECT_POST = "direct_post"


@dataclass(frozen=True, slots=True)
class FilterRule:
    field: str
    operator: str
    value: Any = None


@dataclass(frozen=True, slots=True)
class CapState:
    """A cap and its usage in the current window (read just before the auction)."""

    cap_id: int
    period: str
    metric: str  # "leads" | "spend"
    limit: Decimal
    used: Decimal

    @property
    def full(self) -> bool:
        return self.used >= self.limit


@dataclass(frozen=True, slots=True)
class Window:
    """Open hours on one weekday (0 = Monday), buyer's local time; ``closes`` 00:00 = midnight."""

    weekday: int
    opens: time
    closes: time


@dataclass(frozen=True, slots=True)
class ContractTerms:
    """Everything the engine needs to know about one contract."""

    id: int
    buyer_id: int
    mode: Mode = Mode.PING_POST
    active: bool = True  # buyer and contract switched on
    auto_paused: bool = False  # circuit breaker open
    testing: bool = False  # not switched live yet: no auction traffic at all
    fixed_price: Decimal | None = None
    min_bid: Decimal | None = None
    bid_multiplier: Decimal = Decimal(1)
    bid_penalty: Decimal = Decimal(0)
    quality: Decimal = Decimal(1)  # the buyer's quality multiplier
    acceptance: Decimal = Decimal(1)  # historical post acceptance, with a prior
    priority: int = 0
    weight: int = 100
    traffic_share_pct: int = 100
    exclusive: bool = True
    shared_max_sales: int = 3
    is_secondary: bool = False
    accepts_test: bool = False
    allowed_sources: frozenset[int] = frozenset()
    blocked_sources: frozenset[int] = frozenset()
    filters: tuple[FilterRule, ...] = ()
    caps: tuple[CapState, ...] = ()
    schedule: tuple[Window, ...] = ()
    timezone: str = "UTC"
    consent_brand: str = ""  # one-to-one consent: the brand's key ("" = takes no part)


@dataclass(frozen=True, slots=True)
class LeadFacts:
    """The lead as the engine sees it."""

    fields: Mapping[str, Any]
    source_id: int
    sub_id: str = ""
    is_test: bool = False
    floor: Decimal = Decimal(0)  # vertical/source minimum sale price
    # one-to-one consent: only contracts of these brand keys may see the lead (None: any)
    consent_brands: frozenset[str] | None = None


@dataclass(frozen=True, slots=True)
class Exclusion:
    contract_id: int
    reason: Outcome
    detail: str = ""


@dataclass(frozen=True, slots=True)
class Eligibility:
    eligible: tuple[ContractTerms, ...]
    excluded: tuple[Exclusion, ...]


@dataclass(frozen=True, slots=True)
class Bid:
    """A price a contract offered: from its ping answer, or its fixed price (direct post)."""

    contract_id: int
    amount: Decimal
    token: str | None = None
    latency_ms: float = 0.0


@dataclass(frozen=True, slots=True)
class RankedBid:
    bid: Bid
    terms: ContractTerms
    effective: Decimal  # the ranking value: bid × adjustments × quality × acceptance − penalty


@dataclass(frozen=True, slots=True)
class Offer:
    """One step of the post plan: a single exclusive bid, or a group sharing the lead."""

    bids: tuple[RankedBid, ...]
    shared: bool = False

    @property
    def value(self) -> Decimal:
        return sum((b.effective for b in self.bids), Decimal(0))


@dataclass(frozen=True, slots=True)
class Ranking:
    ranked: tuple[RankedBid, ...]  # best first
    below_floor: tuple[Exclusion, ...] = field(default=())
