"""Contract set-ups: the configuration of every contract of a vertical, ready for an auction.

Building a set-up touches seven tables (contract, buyer, filters, caps, schedule, endpoints,
mappings), so set-ups are cached per process and rebuilt only when a contract or its buyer
changed (their ``updated_at`` is the version; the admin and the API save the contract with
its rules). What must be fresh for every auction — switched on/off, auto-paused, cap usage,
post acceptance — is read again each time in two small queries and laid over the cached part.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from decimal import Decimal

from django.conf import settings
from django.db.models import Prefetch

from apps.auctions.caps import CapRule, cap_usage
from apps.auctions.engine import CapState, ContractTerms, FilterRule, Mode, Window
from apps.buyers.mapping import MappingRule
from apps.buyers.models import (
    BuyerStatus,
    Contract,
    ContractStatus,
    Endpoint,
    EndpointKind,
    FieldMapping,
)
from apps.buyers.parsing import ResponseRules
from apps.buyers.transports import AuthSpec, EndpointSpec, SecretMask
from apps.core.sql import sql_rows
from apps.sources.models import VerticalField


@dataclass(frozen=True, slots=True)
class EndpointSetup:
    spec: EndpointSpec
    rules: ResponseRules
    mappings: tuple[MappingRule, ...]
    oauth_token_url: str = ""
    # the contract's secrets by name, and the mask that hides them (and the auth secret)
    # in whatever is stored or shown of a request or an answer
    secrets: Mapping[str, str] = field(default_factory=dict)
    mask: SecretMask = field(default_factory=lambda: SecretMask(()))

    @property
    def timeout(self) -> float:
        return self.spec.timeout_ms / 1000


@dataclass(frozen=True, slots=True)
class HealthLimits:
    slow_threshold_ms: int
    slow_count: int
    error_count: int


@dataclass(frozen=True, slots=True)
class ContractSetup:
    terms: ContractTerms
    caps: tuple[CapRule, ...]
    ping: EndpointSetup | None
    post: EndpointSetup | None
    health: HealthLimits
    buyer_dedupe_days: int
    name: str
    brand: str = ""  # one-to-one consent: the public brand name ("" = takes no part)


def endpoint_setup(endpoint: Endpoint, mappings: Iterable[FieldMapping],
                   secrets: Mapping[str, str] | None = None) -> EndpointSetup:
    """The engine-side, immutable form of an Endpoint row, its mapping rows and the
    contract's secrets (name -> value)."""
    secrets = dict(secrets or {})
    return EndpointSetup(
        spec=EndpointSpec(
            url=endpoint.url, method=endpoint.method, body_format=endpoint.body_format,
            headers=dict(endpoint.headers or {}), timeout_ms=endpoint.timeout_ms,
            xml_root=endpoint.xml_root or "lead", key_style=endpoint.key_style,
            auth=AuthSpec(type=endpoint.auth_type, name=endpoint.auth_name,
                          username=endpoint.auth_username, secret=endpoint.auth_secret),
        ),
        rules=ResponseRules(
            format=endpoint.response_format,
            success_statuses=tuple(endpoint.success_statuses or (200, 201, 202)),
            success_path=endpoint.success_path,
            success_values=tuple(str(v) for v in endpoint.success_values or ()),
            success_regex=endpoint.success_regex, price_path=endpoint.price_path,
            token_path=endpoint.token_path, reason_path=endpoint.reason_path,
        ),
        mappings=tuple(
            MappingRule(target=m.target, source=m.source, constant=m.constant,
                        transform=m.transform, arg=m.arg, constant_type=m.constant_type)
            for m in mappings
        ),
        oauth_token_url=endpoint.oauth_token_url,
        secrets=secrets,
        mask=SecretMask([*secrets.values(), endpoint.auth_secret],
                        auth_header=endpoint.auth_name if endpoint.auth_type == "header" else "",
                        basic_user=endpoint.auth_username if endpoint.auth_type == "basic"
                        else ""),
    )


def contract_secrets(contract: Contract) -> dict[str, str]:
    """The contract's secrets by name (``contract.secrets`` prefetched or not)."""
    return {secret.name: secret.value for secret in contract.secrets.all()}


def _setup(contract: Contract) -> ContractSetup:
    buyer = contract.buyer
    mappings = contract.mappings.all()
    secrets = contract_secrets(contract)
    endpoints = {e.kind: endpoint_setup(e, [m for m in mappings if m.kind == e.kind], secrets)
                 for e in contract.endpoints.all()}
    terms = ContractTerms(
        id=contract.pk, buyer_id=buyer.pk, mode=Mode(contract.mode),
        fixed_price=contract.fixed_price, min_bid=contract.min_bid,
        bid_multiplier=contract.bid_multiplier, bid_penalty=contract.bid_penalty,
        quality=buyer.quality_multiplier, priority=contract.priority, weight=contract.weight,
        traffic_share_pct=contract.traffic_share_pct, exclusive=contract.exclusive,
        shared_max_sales=contract.shared_max_sales, is_secondary=contract.is_secondary,
        accepts_test=contract.accepts_test_leads,
        allowed_sources=frozenset(s.pk for s in contract.allowed_sources.all()),
        blocked_sources=frozenset(s.pk for s in contract.blocked_sources.all()),
        filters=tuple(FilterRule(f.field, f.operator, f.value) for f in contract.filters.all()),
        schedule=tuple(Window(w.weekday, w.opens_at, w.closes_at)
                       for w in contract.schedule.all()),
        timezone=buyer.timezone, consent_brand=contract.consent_brand_key,
    )
    return ContractSetup(
        terms=terms,
        caps=tuple(CapRule(c.pk, c.period, c.metric, c.limit, buyer.timezone)
                   for c in contract.caps.all()),
        ping=endpoints.get(EndpointKind.PING), post=endpoints.get(EndpointKind.POST),
        health=HealthLimits(contract.slow_threshold_ms, contract.slow_count,
                            contract.error_count),
        buyer_dedupe_days=buyer.dedupe_window_days, name=str(contract),
        brand=contract.consent_brand,
    )


class _Cache:
    """Per-process set-ups per vertical, keyed by the (contract, updated) versions, and the
    vertical's PII field keys, keyed by the vertical's own ``updated_at``."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._by_vertical: dict[int, tuple[frozenset, dict[int, ContractSetup]]] = {}
        self._pii: dict[int, tuple[object, frozenset[str]]] = {}
        self.vertical_seen: dict[int, object] = {}  # the vertical version last read
        self.acceptance: dict[int, tuple[float, dict[int, Decimal]]] = {}
        # per vertical, per contract: the last fresh overlay and what it was made from
        self.overlaid: dict[int, dict[int, tuple[tuple, ContractSetup]]] = {}

    def pii_keys(self, vertical_id: int, version: object) -> frozenset[str]:
        with self._lock:
            cached = self._pii.get(vertical_id)
        if cached is not None and cached[0] == version:
            return cached[1]
        keys = frozenset(VerticalField.objects.filter(vertical_id=vertical_id, pii=True)
                         .values_list("key", flat=True))
        with self._lock:
            self._pii[vertical_id] = (version, keys)
        return keys

    def get(self, vertical_id: int, version: frozenset) -> dict[int, ContractSetup]:
        with self._lock:
            cached = self._by_vertical.get(vertical_id)
        if cached is not None and cached[0] == version:
            return cached[1]
        contracts = (
            Contract.objects.filter(pk__in=[v[0] for v in version])
            .select_related("buyer")
            .prefetch_related(
                "filters", "caps", "schedule", "allowed_sources", "blocked_sources",
                "endpoints", "secrets",
                Prefetch("mappings", queryset=FieldMapping.objects.order_by("position", "id")),
            )
        )
        setups = {c.pk: _setup(c) for c in contracts}
        with self._lock:
            self._by_vertical[vertical_id] = (version, setups)
        return setups

    def clear(self) -> None:
        with self._lock:
            self._by_vertical.clear()
            self._pii.clear()
            self.acceptance.clear()
            self.overlaid.clear()
            self.vertical_seen.clear()


_cache = _Cache()
_ACCEPTANCE_TTL_S = 30.0


def acceptance_rate(posts: int, accepted: int, recent_posts: float = 0.0,
                    recent_accepted: float = 0.0) -> Decimal:
    """Post acceptance for ranking: the lower of two Beta estimates with the same prior
    mean, so a new buyer starts near the prior mean instead of at 0 or 1.

    - long run: (accepted + a) / (posts + a + b) over the window's counts (prior a, b);
    - recent: the same over the recency-weighted counts (``posts_decayed``: each post
      weighs ``AUCTION_ACCEPTANCE_RECENT_DECAY`` times the next one), against a prior of
      ``AUCTION_ACCEPTANCE_RECENT_PRIOR_WEIGHT`` posts.

    A run of rejects pulls the recent one, and so the estimate, down within a few posts
    (40 in a row: about 0.16, whatever came before), where the long run alone, with its
    prior of 20 posts, stays near 1/3; a run of accepts does not lift a poor long run."""
    a, b = settings.AUCTION_ACCEPTANCE_PRIOR
    long_run = Decimal(accepted + a) / Decimal(posts + a + b)
    weight = settings.AUCTION_ACCEPTANCE_RECENT_PRIOR_WEIGHT
    recent = Decimal((recent_accepted + weight * a / (a + b)) / (recent_posts + weight))
    return min(long_run, recent).quantize(Decimal("0.0001"))


def vertical_pii_keys(vertical_id: int) -> frozenset[str]:
    """The vertical's PII field keys, cached while the vertical is unchanged (saving a
    vertical with its field rows moves its ``updated_at``). Right after ``contract_setups``
    for the same vertical this costs no query: the version was read with the contracts."""
    version = _cache.vertical_seen.get(vertical_id)
    if version is None:
        rows = sql_rows("SELECT CAST(updated_at AS TEXT) FROM sources_vertical "
                        "WHERE id = %s", [vertical_id])
        version = rows[0][0] if rows else None  # the text form _STATE_SQL reads too
    return _cache.pii_keys(vertical_id, version)


def _acceptance(vertical_id: int) -> tuple[float, dict[int, Decimal]]:
    """Post-acceptance rates of the vertical's contracts, re-read at most every
    ``_ACCEPTANCE_TTL_S``: a slow-moving ranking signal, not a rule, so it need not cost a
    read per auction (and would otherwise change the state on every sale)."""
    now = time.monotonic()
    with _cache._lock:
        cached = _cache.acceptance.get(vertical_id)
    if cached is not None and cached[0] > now:
        return cached
    rates = {pk: acceptance_rate(posts, accepted, recent_posts, recent_accepted)
             for pk, posts, accepted, recent_posts, recent_accepted in
             Contract.objects.filter(vertical_id=vertical_id).values_list(
                 "pk", "posts_recent", "accepted_recent", "posts_decayed",
                 "accepted_decayed")}
    fresh = (now + _ACCEPTANCE_TTL_S, rates)
    with _cache._lock:
        _cache.acceptance[vertical_id] = fresh
    return fresh


# Per contract: (pk, its version, status, buyer status, auto-paused, the vertical's version).
# A version is the row's ``updated_at`` (the contract's joined with its buyer's), only ever
# compared for equality, so it travels as text: turning 150 timestamps a query into datetime
# objects cost PostgreSQL auctions ~0.5 ms before the first ping could leave.
_STATE_SQL = (
    "SELECT c.id, CAST(c.updated_at AS TEXT) || ' ' || CAST(b.updated_at AS TEXT), "
    "c.status, b.status, c.auto_paused_at IS NOT NULL, CAST(v.updated_at AS TEXT) "
    "FROM buyers_contract c "
    "JOIN buyers_buyer b ON b.id = c.buyer_id "
    "JOIN sources_vertical v ON v.id = c.vertical_id "
    "WHERE c.vertical_id = %s ORDER BY c.id"
)


def contract_setups(vertical_id: int, now: datetime) -> list[ContractSetup]:
    """Every contract of the vertical, with fresh status, health and cap usage (read for
    every auction: they decide who may bid) and the recent post acceptance. Two queries
    when warm — the state, and cap usage when there are caps — and a contract whose state
    and cap usage did not change since the last auction keeps its set-up object."""
    state = tuple(sql_rows(_STATE_SQL, [vertical_id]))
    version = frozenset((pk, updated) for pk, updated, *_ in state)
    if state:
        _cache.vertical_seen[vertical_id] = state[0][-1]
    static = _cache.get(vertical_id, version)
    all_caps = [cap for setup in static.values() for cap in setup.caps]
    used = cap_usage(all_caps, now)
    _, acceptance = _acceptance(vertical_id)
    with _cache._lock:
        previous = _cache.overlaid.get(vertical_id, {})
    overlaid: dict[int, tuple[tuple, ContractSetup]] = {}
    for row in state:
        pk, _, status, buyer_status, paused, _ = row
        setup = static[pk]
        rate = acceptance.get(pk) or acceptance_rate(0, 0)
        # keyed on the contract's own rate: a periodic refresh re-overlays only the
        # contracts whose acceptance moved, not all of them at once
        key = (row, tuple(used[c.cap_id] for c in setup.caps), rate, id(setup))
        last = previous.get(pk)
        if last is not None and last[0] == key:  # unchanged since the last auction
            overlaid[pk] = last
            continue
        terms = replace(
            setup.terms,
            active=status == ContractStatus.ACTIVE and buyer_status == BuyerStatus.ACTIVE,
            testing=status == ContractStatus.TESTING,
            auto_paused=bool(paused),
            acceptance=rate,
            caps=tuple(CapState(c.cap_id, c.period, c.metric, c.limit, used[c.cap_id])
                       for c in setup.caps),
        )
        overlaid[pk] = (key, replace(setup, terms=terms))
    with _cache._lock:
        _cache.overlaid[vertical_id] = overlaid
    return [setup for _, setup in overlaid.values()]


def contract_setups_clear() -> None:
    """Forget cached set-ups (tests; a changed contract is picked up without this)."""
    _cache.clear()
