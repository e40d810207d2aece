"""What a simulated buyer answers to one ping or post. Pure: no I/O, no clock.

``respond`` reads the buyer's configuration from the request's query string (see
``config``), draws from that buyer's seeded generator and returns a ``Decision``: how long
to wait, then either a complete ``Answer`` or a misbehaviour the server acts out.
"""

from __future__ import annotations

import enum
import json
import random
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Literal

from apps.demo.simulator import formats
from apps.demo.simulator.config import (
    BuyerConfig,
    ConfigError,
    parse_config,
    parse_latency_header,
)
from apps.demo.simulator.payload import find_field
from apps.demo.simulator.state import SimulatorState

Kind = Literal["ping", "post"]
LATENCY_HEADER = "x-sim-latency-ms"
UNKNOWN_TOKEN = "unknown token"  # noqa: S105 - a reject reason, not a secret


@dataclass(frozen=True, slots=True)
class SimRequest:
    """The parts of an HTTP request a buyer's behaviour depends on.

    ``headers`` maps lower-case names to values; ``query`` is the raw query string.
    """

    kind: Kind
    path: str
    query: str = ""
    headers: Mapping[str, str] = field(default_factory=dict)
    body: bytes = b""


@dataclass(frozen=True, slots=True)
class Answer:
    """A complete HTTP answer: status, Content-Type (None for no body) and body."""

    status: int
    content_type: str | None
    body: bytes = b""
    headers: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True, slots=True)
class Stream:
    """A 200 whose body the server writes over time: ``drip`` forever or ``huge`` 10 MiB."""

    kind: Literal["drip", "huge"]
    content_type: str


class Silence(enum.Enum):
    """Not answering at all: ``HANG`` keeps the connection open, ``CLOSE`` drops it."""

    HANG = "hang"
    CLOSE = "close"


Action = Answer | Stream | Silence


@dataclass(frozen=True, slots=True)
class Decision:
    """Wait ``latency_ms``, then carry out ``action``."""

    action: Action
    latency_ms: float = 0.0


def classify(path: str) -> Kind | None:
    """Return "ping" or "post" when the path's last segment says so, else None."""
    last = path.rpartition("/")[2]
    if last == "ping":
        return "ping"
    if last == "post":
        return "post"
    return None


def error_answer(status: int, message: str) -> Answer:
    """Return a JSON ``{"error": message}`` answer with ``status``."""
    return Answer(status, "application/json", json.dumps({"error": message}).encode())


def respond(request: SimRequest, state: SimulatorState) -> Decision:
    """Return what the buyer configured by ``request.query`` does with ``request``.

    A bad parameter or ``X-Sim-Latency-Ms`` header gives an immediate 400 naming it.
    Otherwise, drawing from the buyer's generator in a fixed order (failure, answer,
    latency) so a seeded run repeats exactly: a failure when ``fail`` applies to this
    kind of request, else a bid/no-bid for a ping or accepted/rejected for a post. The
    latency header, when present, replaces the configured latency.
    """
    try:
        config = parse_config(request.query)
        header = request.headers.get(LATENCY_HEADER)
        header_latency = parse_latency_header(header) if header is not None else None
    except ConfigError as exc:
        return Decision(error_answer(400, str(exc)))
    rng = state.rng_for(request.path, config.seed)

    action: Action
    if (config.fail is not None and config.fail_on in (request.kind, "both")
            and _chance(rng, config.fail_rate)):
        action = _failure(config, rng)
    elif request.kind == "ping":
        action = _ping(config, rng, state)
    else:
        action = _post(config, rng, state, request)

    if header_latency is not None:
        return Decision(action, header_latency)
    return Decision(action, config.latency.sample(rng))


def _ping(config: BuyerConfig, rng: random.Random, state: SimulatorState) -> Answer:
    content_type = formats.CONTENT_TYPES[config.format]
    if config.no_bid or _chance(rng, config.no_bid_rate):
        return Answer(200, content_type, formats.no_bid_body(config))
    if config.bid_cents_range is None:
        price = config.bid
    else:
        low, high = config.bid_cents_range
        price = Decimal(rng.randint(low, high)).scaleb(-2)
    token = state.tokens.issue(rng)
    return Answer(200, content_type, formats.bid_body(config, price, token))


def _post(
    config: BuyerConfig, rng: random.Random, state: SimulatorState, request: SimRequest
) -> Answer:
    content_type = formats.CONTENT_TYPES[config.format]
    if config.post_token_key is not None:
        token = _find_token(config.post_token_key, request)
        if token is None or token not in state.tokens:
            return Answer(200, content_type, formats.rejected_body(config, UNKNOWN_TOKEN))
    if not config.accept or _chance(rng, config.reject_rate):
        return Answer(200, content_type, formats.rejected_body(config, config.reject_reason))
    return Answer(200, content_type, formats.accepted_body(config, state.next_lead_id()))


def _find_token(key: str, request: SimRequest) -> str | None:
    content_type = request.headers.get("content-type", "")
    return find_field(request.body, content_type, request.query, key)


def _failure(config: BuyerConfig, rng: random.Random) -> Action:
    content_type = formats.CONTENT_TYPES[config.format]
    fail = config.fail
    if fail == "hang":
        return Silence.HANG
    if fail == "close":
        return Silence.CLOSE
    if fail == "drip":
        return Stream("drip", content_type)
    if fail == "huge":
        return Stream("huge", "application/json")
    if fail == "garbage":
        return Answer(200, content_type, formats.garbage_body(rng))
    if fail == "redirect":
        return Answer(302, None, headers=(("Location", config.location),))
    return Answer(config.fail_status, "text/plain",
                  f"simulated failure {config.fail_status}".encode())


def _chance(rng: random.Random, probability: float) -> bool:
    # Certain and impossible outcomes draw nothing, so adding rate=0 or rate=1 to a URL
    # does not shift the rest of the buyer's random sequence.
    if probability >= 1:
        return True
    if probability <= 0:
        return False
    return rng.random() < probability
