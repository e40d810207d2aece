"""The query-string language that configures one simulated buyer.

A buyer's whole behaviour lives in the URL the platform is configured with, e.g.
``/acme/ping?bid_min=5&bid_max=20&no_bid_rate=0.25&latency=uniform:20,300&format=xml``.
``parse_config`` turns such a query string into a validated, immutable ``BuyerConfig``;
anything it cannot use raises ``ConfigError``, which the simulator answers with a 400.

Unknown parameters are ignored, because a GET ping carries the lead fields in the same
query string as the configuration.
"""

from __future__ import annotations

import math
import random
import re
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from functools import lru_cache
from typing import Literal
from urllib.parse import parse_qsl

FORMATS = ("json", "xml", "xml_attr", "form", "text")
FAILURES = ("hang", "drip", "5xx", "garbage", "huge", "redirect", "close")
FAIL_ON = ("ping", "post", "both")
DEFAULT_BID = Decimal("10.00")
DEFAULT_REJECT_REASON = "Rejected by buyer"
DEFAULT_FAIL_STATUS = 503
# The cloud metadata address: a redirect there is what a platform must never follow.
DEFAULT_LOCATION = "http://169.254.169.254/latest/meta-data/"
# Ten minutes: a longer delay is a configuration mistake, and the cap keeps a lognormal
# tail or a typo from parking a connection for days.
MAX_LATENCY_MS = 600_000.0
_LOG_MAX_LATENCY = math.log(MAX_LATENCY_MS)
MAX_BID = Decimal("1000000")
CENTS = Decimal("0.01")

_XML_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_.\-]*\Z")

Format = Literal["json", "xml", "xml_attr", "form", "text"]
Failure = Literal["hang", "drip", "5xx", "garbage", "huge", "redirect", "close"]
FailOn = Literal["ping", "post", "both"]


class ConfigError(ValueError):
    """A configuration parameter holds a value the simulator cannot use."""

    def __init__(self, param: str, message: str) -> None:
        super().__init__(f"bad parameter {param!r}: {message}")
        self.param = param


@dataclass(frozen=True, slots=True)
class LatencySpec:
    """How long to wait before answering: fixed, uniform or lognormal, in milliseconds."""

    kind: Literal["fixed", "uniform", "lognormal"] = "fixed"
    a: float = 0.0
    b: float = 0.0

    @property
    def is_random(self) -> bool:
        """True when ``sample`` draws from the generator (so it must be called in order)."""
        return self.kind != "fixed"

    def sample(self, rng: random.Random) -> float:
        """Return one delay in ms, never negative and never above ``MAX_LATENCY_MS``.

        ``fixed`` returns ``a``; ``uniform`` draws from [a, b]; ``lognormal`` returns
        exp(N(mu=a, sigma=b)).
        """
        if self.kind == "fixed":
            return self.a
        if self.kind == "uniform":
            return rng.uniform(self.a, self.b)
        exponent = rng.normalvariate(self.a, self.b)
        # Compared in log space so a large draw cannot overflow math.exp.
        return MAX_LATENCY_MS if exponent >= _LOG_MAX_LATENCY else math.exp(exponent)


@dataclass(frozen=True, slots=True)
class BuyerConfig:
    """Everything a query string says about how one simulated buyer behaves."""

    bid: Decimal = DEFAULT_BID
    # Inclusive range of bids in cents; drawn uniformly when set, replacing ``bid``.
    bid_cents_range: tuple[int, int] | None = None
    no_bid: bool = False
    no_bid_rate: float = 0.0
    accept: bool = True
    reject_rate: float = 0.0
    reject_reason: str = DEFAULT_REJECT_REASON
    latency: LatencySpec = LatencySpec()
    fail: Failure | None = None
    fail_rate: float = 1.0
    fail_on: FailOn = "both"
    fail_status: int = DEFAULT_FAIL_STATUS
    location: str = DEFAULT_LOCATION
    format: Format = "json"
    price_key: str = "price"
    token_key: str = "token"  # noqa: S105 - a field name, not a secret
    post_token_key: str | None = None
    seed: str = ""


def parse_config(query: str) -> BuyerConfig:
    """Return the ``BuyerConfig`` that a raw query string describes.

    When a parameter repeats, its first value wins: the configured URL's own parameters
    come before any lead fields the platform appends. Raises ``ConfigError`` naming the
    first unusable parameter. Results are cached per query string, since a benchmark
    sends the same configured URL thousands of times.
    """
    return _parse_cached(query)


@lru_cache(maxsize=4096)
def _parse_cached(query: str) -> BuyerConfig:
    params: dict[str, str] = {}
    for name, value in parse_qsl(query, keep_blank_values=True):
        params.setdefault(name, value)
    fields: dict[str, object] = {}

    if "bid" in params:
        if "bid_min" in params or "bid_max" in params:
            raise ConfigError("bid", "give either bid or bid_min/bid_max, not both")
        fields["bid"] = _money("bid", params["bid"])
    if "bid_min" in params or "bid_max" in params:
        if "bid_min" not in params or "bid_max" not in params:
            raise ConfigError("bid_min", "bid_min and bid_max go together")
        low = _money("bid_min", params["bid_min"])
        high = _money("bid_max", params["bid_max"])
        if low > high:
            raise ConfigError("bid_min", f"{low} is above bid_max {high}")
        fields["bid_cents_range"] = (int(low * 100), int(high * 100))

    for flag in ("no_bid", "accept"):
        if flag in params:
            fields[flag] = _flag(flag, params[flag])
    for rate in ("no_bid_rate", "reject_rate"):
        if rate in params:
            fields[rate] = _rate(rate, params[rate])
    if "reject_reason" in params:
        fields["reject_reason"] = _non_empty("reject_reason", params["reject_reason"])

    fields["latency"] = _latency(params)
    fields.update(_failure(params))

    fmt = params.get("format", "json")
    fields["format"] = _choice("format", fmt, FORMATS)
    price_key = params.get("price_key", "price")
    token_key = params.get("token_key", "token")
    _check_keys(fmt, price_key, token_key)
    fields["price_key"] = price_key
    fields["token_key"] = token_key
    if "post_token_key" in params:
        fields["post_token_key"] = _non_empty("post_token_key", params["post_token_key"])
    if "seed" in params:
        fields["seed"] = params["seed"]
    return BuyerConfig(**fields)  # type: ignore[arg-type]


def parse_latency_header(value: str) -> float:
    """Return the delay in ms that an ``X-Sim-Latency-Ms`` header asks for.

    Raises ``ConfigError`` unless it is a number between 0 and ``MAX_LATENCY_MS``.
    """
    return _milliseconds("X-Sim-Latency-Ms", value)


def _latency(params: dict[str, str]) -> LatencySpec:
    if "latency_ms" in params and "latency" in params:
        raise ConfigError("latency", "give either latency_ms or latency, not both")
    if "latency_ms" in params:
        return LatencySpec("fixed", _milliseconds("latency_ms", params["latency_ms"]))
    if "latency" not in params:
        return LatencySpec()
    spec = params["latency"]
    kind, _, args = spec.partition(":")
    if kind == "fixed":
        return LatencySpec("fixed", _milliseconds("latency", args))
    if kind not in ("uniform", "lognormal"):
        raise ConfigError("latency", f"{spec!r} is not fixed:MS, uniform:LOW,HIGH or "
                                     "lognormal:MU,SIGMA")
    first, sep, second = args.partition(",")
    if not sep:
        raise ConfigError("latency", f"{kind} needs two numbers separated by a comma")
    if kind == "uniform":
        low = _milliseconds("latency", first)
        high = _milliseconds("latency", second)
        if low > high:
            raise ConfigError("latency", f"uniform low {low:g} is above high {high:g}")
        return LatencySpec("uniform", low, high)
    mu = _number("latency", first)
    sigma = _number("latency", second)
    if sigma < 0:
        raise ConfigError("latency", "lognormal sigma must not be negative")
    return LatencySpec("lognormal", mu, sigma)


def _failure(params: dict[str, str]) -> dict[str, object]:
    if "fail" not in params:
        for dependent in ("fail_rate", "fail_on"):
            if dependent in params:
                raise ConfigError(dependent, "only makes sense together with fail")
        return {}
    fail = _choice("fail", params["fail"], FAILURES)
    fields: dict[str, object] = {"fail": fail}
    if "fail_rate" in params:
        fields["fail_rate"] = _rate("fail_rate", params["fail_rate"])
    if "fail_on" in params:
        fields["fail_on"] = _choice("fail_on", params["fail_on"], FAIL_ON)
    # status and location are read only for the failure that uses them: both are common
    # lead field names, and a GET ping carries lead fields in the same query string.
    if fail == "5xx" and "status" in params:
        fields["fail_status"] = _status(params["status"])
    if fail == "redirect" and "location" in params:
        fields["location"] = _non_empty("location", params["location"])
    return fields


def _check_keys(fmt: str, price_key: str, token_key: str) -> None:
    for param, key in (("price_key", price_key), ("token_key", token_key)):
        if not key:
            raise ConfigError(param, "must not be empty")
        if key.split(".")[0] == "status":
            raise ConfigError(param, "'status' is taken by the bid/no_bid field")
        if fmt in ("xml", "xml_attr") and not _XML_NAME.match(key):
            raise ConfigError(param, f"{key!r} is not a valid XML name")
        if fmt == "xml" and "" in key.split("."):
            raise ConfigError(param, f"{key!r} has an empty path segment")
    if price_key == token_key:
        raise ConfigError("token_key", "must differ from price_key")
    if fmt in ("json", "xml"):
        # Dots nest in these formats, so one key must not be the parent of the other.
        for parent, child in ((price_key, token_key), (token_key, price_key)):
            if child.startswith(parent + "."):
                raise ConfigError("token_key", f"{parent!r} cannot hold both values")


def _money(param: str, value: str) -> Decimal:
    try:
        amount = Decimal(value)
    except InvalidOperation:
        raise ConfigError(param, f"{value!r} is not a number") from None
    if not amount.is_finite() or amount < 0 or amount > MAX_BID:
        raise ConfigError(param, f"{value!r} is not an amount between 0 and {MAX_BID}")
    return amount.quantize(CENTS, rounding=ROUND_HALF_UP)


def _number(param: str, value: str) -> float:
    try:
        number = float(value)
    except ValueError:
        raise ConfigError(param, f"{value!r} is not a number") from None
    if not math.isfinite(number):
        raise ConfigError(param, f"{value!r} is not a finite number")
    return number


def _milliseconds(param: str, value: str) -> float:
    number = _number(param, value)
    if not 0 <= number <= MAX_LATENCY_MS:
        raise ConfigError(param, f"{value!r} ms is outside 0..{MAX_LATENCY_MS:g}")
    return number


def _rate(param: str, value: str) -> float:
    number = _number(param, value)
    if not 0 <= number <= 1:
        raise ConfigError(param, f"{value!r} is not a probability between 0 and 1")
    return number


def _flag(param: str, value: str) -> bool:
    lowered = value.lower()
    if lowered in ("1", "true", "yes", "on"):
        return True
    if lowered in ("0", "false", "no", "off"):
        return False
    raise ConfigError(param, f"{value!r} is not 1/0/true/false")


def _status(value: str) -> int:
    if not value.isdigit() or not 400 <= int(value) <= 599:
        raise ConfigError("status", f"{value!r} is not an HTTP status between 400 and 599")
    return int(value)


def _choice(param: str, value: str, allowed: tuple[str, ...]) -> str:
    if value not in allowed:
        raise ConfigError(param, f"{value!r} is not one of {', '.join(allowed)}")
    return value


def _non_empty(param: str, value: str) -> str:
    if not value:
        raise ConfigError(param, "must not be empty")
    return value
