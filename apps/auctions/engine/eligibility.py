"""Which contracts may see a lead, and why each of the others may not."""

from __future__ import annotations

import random
from collections.abc import Iterable
from datetime import datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

from apps.auctions.engine.filters import filters_pass
from apps.auctions.engine.types import (
    ContractTerms,
    Eligibility,
    Exclusion,
    LeadFacts,
    Outcome,
    Window,
)

_MIDNIGHT = time(0, 0)


@lru_cache(maxsize=256)
def _zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)


def schedule_open(windows: tuple[Window, ...], timezone: str, now: datetime) -> bool:
    """True when ``now`` (aware) falls in one of the weekly ``windows`` of the buyer's zone.
    No windows means always open. A window whose ``closes`` is before ``opens`` runs past
    midnight into the next day; ``closes`` 00:00 means the end of the day."""
    if not windows:
        return True
    local = now.astimezone(_zone(timezone))
    today, clock = local.weekday(), local.time()
    yesterday = (today - 1) % 7
    for w in windows:
        overnight = w.closes != _MIDNIGHT and w.closes <= w.opens
        if w.weekday == today and clock >= w.opens and (
            overnight or w.closes == _MIDNIGHT or clock < w.closes
        ):
            return True
        if overnight and w.weekday == yesterday and clock < w.closes:
            return True
    return False


def consented(lead: LeadFacts, terms: ContractTerms) -> bool:
    """Whether one-to-one consent lets ``terms`` see ``lead``: always without such consent;
    with it, only a contract whose brand the consumer named (or, at a ping, any brand that
    takes part)."""
    return lead.consent_brands is None or (
        bool(terms.consent_brand) and terms.consent_brand in lead.consent_brands)


def _exclusion(terms: ContractTerms, lead: LeadFacts, now: datetime,
               bought_by: frozenset[int]) -> Exclusion | None:
    """The first reason ``terms`` may not see ``lead``, in a fixed order (cheapest checks
    first, the random traffic-share draw last so it never masks a real reason)."""
    if terms.testing:
        # a contract being onboarded: staff reach it through the test tools only
        return Exclusion(terms.id, Outcome.PAUSED, "testing: not switched live yet")
    if not terms.active or terms.auto_paused:
        detail = "auto-paused by the circuit breaker" if terms.auto_paused else "switched off"
        return Exclusion(terms.id, Outcome.PAUSED, detail)
    if lead.is_test and not terms.accepts_test:
        return Exclusion(terms.id, Outcome.TEST_EXCLUDED, "does not take test leads")
    if lead.source_id in terms.blocked_sources or (
        terms.allowed_sources and lead.source_id not in terms.allowed_sources
    ):
        return Exclusion(terms.id, Outcome.SOURCE_BLOCKED, f"source {lead.source_id}")
    if not consented(lead, terms):
        return Exclusion(terms.id, Outcome.NOT_PICKED,
                         "not picked by the consumer" if terms.consent_brand
                         else "takes no part in one-to-one consent")
    if not schedule_open(terms.schedule, terms.timezone, now):
        return Exclusion(terms.id, Outcome.SCHEDULE_CLOSED, f"closed in {terms.timezone}")
    values = {**lead.fields, "@source": lead.source_id, "@sub_id": lead.sub_id}
    failed = filters_pass(terms.filters, values)
    if failed is not None:
        return Exclusion(terms.id, Outcome.FILTERED,
                         f"{failed.field} {failed.operator} {failed.value!r}")
    full = next((cap for cap in terms.caps if cap.full), None)
    if full is not None and not lead.is_test:
        return Exclusion(terms.id, Outcome.CAPPED,
                         f"{full.metric}/{full.period} {full.used}/{full.limit}")
    if terms.buyer_id in bought_by:
        return Exclusion(terms.id, Outcome.DUPLICATE_FOR_BUYER, "bought this consumer recently")
    return None


def select_eligible(
    lead: LeadFacts,
    contracts: Iterable[ContractTerms],
    *,
    now: datetime,
    bought_by: frozenset[int] = frozenset(),
    rng: random.Random,
) -> Eligibility:
    """Split ``contracts`` into those that may bid on ``lead`` and exclusions with a reason
    code each (every contract lands in exactly one list). ``bought_by`` holds the buyers who
    bought this consumer inside their dedupe window; ``rng`` draws the traffic shares."""
    eligible: list[ContractTerms] = []
    excluded: list[Exclusion] = []
    for terms in contracts:
        reason = _exclusion(terms, lead, now, bought_by)
        if reason is None and terms.traffic_share_pct < 100 and (
            rng.random() * 100 >= terms.traffic_share_pct
        ):
            reason = Exclusion(terms.id, Outcome.NOT_SELECTED,
                               f"traffic share {terms.traffic_share_pct}%")
        if reason is None:
            eligible.append(terms)
        else:
            excluded.append(reason)
    return Eligibility(tuple(eligible), tuple(excluded))


def window_start(period: str, timezone: str, now: datetime) -> datetime:
    """The start (aware, in the buyer's zone) of the cap window containing ``now``: the hour,
    the day, the ISO week (Monday) or the month; ``total`` has one window since the epoch."""
    local = now.astimezone(_zone(timezone))
    if period == "hour":
        return local.replace(minute=0, second=0, microsecond=0)
    day = local.replace(hour=0, minute=0, second=0, microsecond=0)
    if period == "day":
        return day
    if period == "week":
        return _localize(day.replace(tzinfo=None) - timedelta(days=day.weekday()), timezone)
    if period == "month":
        return day.replace(day=1)
    if period == "total":
        return datetime(1970, 1, 1, tzinfo=_zone("UTC"))
    raise ValueError(f"Unknown cap period {period!r}.")


def _localize(naive: datetime, timezone: str) -> datetime:
    return naive.replace(tzinfo=_zone(timezone))
