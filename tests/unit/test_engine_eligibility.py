"""Who may see a lead: one reason per excluded contract, in a fixed order; schedules and cap
windows in the buyer's time zone (no database)."""

from __future__ import annotations

import random
from dataclasses import replace
from datetime import UTC, datetime, time
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from apps.auctions.engine import (
    CapState,
    ContractTerms,
    FilterRule,
    LeadFacts,
    Outcome,
    Window,
    schedule_open,
    select_eligible,
    window_start,
)
from apps.auctions.engine.filters import filters_pass

P = pytest.param
MON, TUE, WED, THU, FRI, SAT, SUN = range(7)
NOW = datetime(2024, 6, 3, 15, 0, tzinfo=UTC)  # a Monday, 15:00 UTC
SOURCE = 7
BUYER = 40


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def window(weekday: int, opens: str, closes: str) -> Window:
    return Window(weekday, time.fromisoformat(opens), time.fromisoformat(closes))


def contract(contract_id: int = 1, **changes: object) -> ContractTerms:
    return ContractTerms(id=contract_id, buyer_id=changes.pop("buyer_id", BUYER), **changes)


def lead(**changes: object) -> LeadFacts:
    values = {"fields": {"state": "CA", "age": "42"}, "source_id": SOURCE, "sub_id": "aff-1"}
    return LeadFacts(**{**values, **changes})


def run(terms: ContractTerms, facts: LeadFacts | None = None, *, seed: int = 0,
        bought_by: frozenset[int] = frozenset(), now: datetime = NOW):
    return select_eligible(facts or lead(), [terms], now=now, bought_by=bought_by,
                           rng=random.Random(seed))


CLOSED_NOW = (window(TUE, "09:00", "17:00"),)
OPEN_NOW = (window(MON, "09:00", "17:00"),)
LEADS_FULL = CapState(1, "day", "leads", Decimal(10), Decimal(10))
SPEND_FULL = CapState(2, "month", "spend", Decimal("500.00"), Decimal("500.00"))
LEADS_ROOM = CapState(3, "day", "leads", Decimal(10), Decimal(9))
SPEND_ROOM = CapState(4, "week", "spend", Decimal("500.00"), Decimal("499.99"))


# -- one reason per case ----------------------------------------------------------------

@pytest.mark.parametrize(("terms", "facts", "bought_by", "reason", "detail"), [
    P(contract(active=False), None, frozenset(), Outcome.PAUSED, "switched off",
      id="switched-off"),
    P(contract(auto_paused=True), None, frozenset(), Outcome.PAUSED, "circuit breaker",
      id="auto-paused"),
    P(contract(testing=True), None, frozenset(), Outcome.PAUSED, "testing: not switched live",
      id="testing-not-live-yet"),
    P(contract(testing=True, accepts_test=True), lead(is_test=True), frozenset(),
      Outcome.PAUSED, "testing: not switched live", id="testing-takes-no-test-lead-either"),
    P(contract(), lead(is_test=True), frozenset(), Outcome.TEST_EXCLUDED, "test leads",
      id="test-lead-to-a-contract-that-takes-none"),
    P(contract(blocked_sources=frozenset({SOURCE})), None, frozenset(),
      Outcome.SOURCE_BLOCKED, f"source {SOURCE}", id="source-on-the-blocked-list"),
    P(contract(allowed_sources=frozenset({SOURCE + 1})), None, frozenset(),
      Outcome.SOURCE_BLOCKED, f"source {SOURCE}", id="source-off-the-allow-list"),
    P(contract(schedule=CLOSED_NOW, timezone="America/Chicago"), None, frozenset(),
      Outcome.SCHEDULE_CLOSED, "America/Chicago", id="schedule-closed"),
    P(contract(filters=(FilterRule("state", "eq", "NY"),)), None, frozenset(),
      Outcome.FILTERED, "state eq 'NY'", id="filter-on-a-lead-field"),
    P(contract(filters=(FilterRule("@source", "ne", SOURCE),)), None, frozenset(),
      Outcome.FILTERED, "@source ne 7", id="filter-on-the-source"),
    P(contract(filters=(FilterRule("@sub_id", "in", ["aff-2"]),)), None, frozenset(),
      Outcome.FILTERED, "@sub_id in ['aff-2']", id="filter-on-the-sub-id"),
    P(contract(caps=(LEADS_ROOM, LEADS_FULL)), None, frozenset(), Outcome.CAPPED,
      "leads/day 10/10", id="lead-cap-full"),
    P(contract(caps=(SPEND_FULL,)), None, frozenset(), Outcome.CAPPED,
      "spend/month 500.00/500.00", id="spend-cap-full"),
    P(contract(caps=(replace(LEADS_FULL, used=Decimal(11)),)), None, frozenset(),
      Outcome.CAPPED, "leads/day 11/10", id="cap-overrun"),
    P(contract(), None, frozenset({BUYER}), Outcome.DUPLICATE_FOR_BUYER, "bought",
      id="buyer-bought-this-consumer"),
    P(contract(traffic_share_pct=0), None, frozenset(), Outcome.NOT_SELECTED,
      "traffic share 0%", id="zero-traffic-share"),
])
def test_it_excludes_a_contract_with_one_reason(
    terms: ContractTerms, facts: LeadFacts | None, bought_by: frozenset[int],
    reason: Outcome, detail: str,
) -> None:
    result = run(terms, facts, bought_by=bought_by)
    assert result.eligible == ()
    [exclusion] = result.excluded
    assert (exclusion.contract_id, exclusion.reason) == (terms.id, reason)
    assert detail in exclusion.detail


@pytest.mark.parametrize(("terms", "facts", "bought_by"), [
    P(contract(), None, frozenset(), id="plain-contract"),
    P(contract(accepts_test=True), lead(is_test=True), frozenset(),
      id="test-lead-to-a-contract-that-takes-them"),
    P(contract(accepts_test=True, caps=(LEADS_FULL, SPEND_FULL)), lead(is_test=True),
      frozenset(), id="test-lead-ignores-full-caps"),
    P(contract(allowed_sources=frozenset({SOURCE})), None, frozenset(),
      id="source-on-the-allow-list"),
    P(contract(blocked_sources=frozenset({SOURCE + 1})), None, frozenset(),
      id="another-source-blocked"),
    P(contract(schedule=OPEN_NOW), None, frozenset(), id="schedule-open"),
    P(contract(filters=(FilterRule("state", "eq", "ca"), FilterRule("age", "gte", 18),
                        FilterRule("@source", "eq", str(SOURCE)))), None, frozenset(),
      id="filters-pass"),
    P(contract(caps=(LEADS_ROOM, SPEND_ROOM)), None, frozenset(), id="caps-with-room"),
    P(contract(), None, frozenset({BUYER + 1}), id="another-buyer-bought-the-consumer"),
    P(contract(traffic_share_pct=100), None, frozenset(), id="full-traffic-share"),
])
def test_it_keeps_an_eligible_contract(
    terms: ContractTerms, facts: LeadFacts | None, bought_by: frozenset[int],
) -> None:
    result = run(terms, facts, bought_by=bought_by)
    assert result.eligible == (terms,)
    assert result.excluded == ()


# -- precedence -------------------------------------------------------------------------

# Each problem as (contract changes, lead changes, bought_by). A test lead is what makes a
# contract test_excluded, and test leads ignore caps: the "capped" problem therefore only
# shows on a real lead, which is what the precedence cases below use from "capped" on.
PROBLEMS: dict[str, tuple[dict, dict, frozenset[int]]] = {
    "switched_off": ({"active": False}, {}, frozenset()),
    "auto_paused": ({"auto_paused": True}, {}, frozenset()),
    "test_excluded": ({}, {"is_test": True}, frozenset()),
    "blocked_source": ({"blocked_sources": frozenset({SOURCE})}, {}, frozenset()),
    "not_allowed_source": ({"allowed_sources": frozenset({99})}, {}, frozenset()),
    "schedule_closed": ({"schedule": CLOSED_NOW}, {}, frozenset()),
    "filtered": ({"filters": (FilterRule("state", "eq", "NY"),)}, {}, frozenset()),
    "leads_capped": ({"caps": (LEADS_FULL,)}, {}, frozenset()),
    "spend_capped": ({"caps": (SPEND_FULL,)}, {}, frozenset()),
    "duplicate": ({}, {}, frozenset({BUYER})),
    "not_selected": ({"traffic_share_pct": 0}, {}, frozenset()),
}
# The fixed order; each level lists the problems that lead to its reason.
LEVELS: list[tuple[Outcome, tuple[str, ...]]] = [
    (Outcome.PAUSED, ("switched_off", "auto_paused")),
    (Outcome.TEST_EXCLUDED, ("test_excluded",)),
    (Outcome.SOURCE_BLOCKED, ("blocked_source", "not_allowed_source")),
    (Outcome.SCHEDULE_CLOSED, ("schedule_closed",)),
    (Outcome.FILTERED, ("filtered",)),
    (Outcome.CAPPED, ("leads_capped", "spend_capped")),
    (Outcome.DUPLICATE_FOR_BUYER, ("duplicate",)),
    (Outcome.NOT_SELECTED, ("not_selected",)),
]
PRECEDENCE_CASES = [
    P(problem, [names[0] for _, names in LEVELS[level + 1:]], reason,
      id=f"{problem}-beats-every-later-reason")
    for level, (reason, problems) in enumerate(LEVELS)
    for problem in problems
]


@pytest.mark.parametrize(("problem", "later_problems", "reason"), PRECEDENCE_CASES)
def test_it_reports_the_earliest_reason_in_the_fixed_order(
    problem: str, later_problems: list[str], reason: Outcome,
) -> None:
    terms_changes: dict = {}
    lead_changes: dict = {}
    bought_by: frozenset[int] = frozenset()
    for name in [problem, *later_problems]:
        more_terms, more_lead, more_bought = PROBLEMS[name]
        terms_changes |= more_terms
        lead_changes |= more_lead
        bought_by |= more_bought
    result = run(contract(**terms_changes), lead(**lead_changes), bought_by=bought_by)
    assert [e.reason for e in result.excluded] == [reason]


def test_a_paused_contract_is_never_reported_as_not_selected() -> None:
    # The traffic-share draw comes last, so it never hides a real reason.
    rng = random.Random(1)
    terms = contract(auto_paused=True, traffic_share_pct=50)
    reasons = {
        select_eligible(lead(), [terms], now=NOW, rng=rng).excluded[0].reason
        for _ in range(200)
    }
    assert reasons == {Outcome.PAUSED}


# -- every contract ends in exactly one list --------------------------------------------

def random_contract(contract_id: int, rng: random.Random) -> ContractTerms:
    chance = rng.random
    return ContractTerms(
        id=contract_id,
        buyer_id=rng.randrange(1, 8),
        active=chance() > 0.1,
        auto_paused=chance() < 0.1,
        accepts_test=chance() < 0.5,
        blocked_sources=frozenset({SOURCE}) if chance() < 0.1 else frozenset(),
        allowed_sources=frozenset(rng.sample(range(1, 10), 3)) if chance() < 0.2 else frozenset(),
        schedule=rng.choice([(), (), OPEN_NOW, CLOSED_NOW]),
        filters=rng.choice([(), (FilterRule("state", "in", ["CA", "NY"]),),
                            (FilterRule("age", "lt", 30),)]),
        caps=rng.choice([(), (LEADS_ROOM,), (LEADS_FULL,), (SPEND_ROOM, SPEND_FULL)]),
        traffic_share_pct=rng.choice([100, 100, 50, 10, 0]),
    )


def is_plainly_eligible(terms: ContractTerms, facts: LeadFacts, bought_by: frozenset[int]) -> bool:
    """Every deterministic condition, written independently of the engine's order."""
    values = {**facts.fields, "@source": facts.source_id, "@sub_id": facts.sub_id}
    return (terms.active and not terms.auto_paused
            and (terms.accepts_test or not facts.is_test)
            and facts.source_id not in terms.blocked_sources
            and (not terms.allowed_sources or facts.source_id in terms.allowed_sources)
            and terms.schedule in ((), OPEN_NOW)
            and filters_pass(terms.filters, values) is None
            and (facts.is_test or all(cap.used < cap.limit for cap in terms.caps))
            and terms.buyer_id not in bought_by)


@pytest.mark.parametrize("seed", [P(seed, id=f"seed-{seed}") for seed in range(8)])
def test_every_contract_ends_in_exactly_one_of_eligible_or_excluded(seed: int) -> None:
    rng = random.Random(seed)
    contracts = [random_contract(i, rng) for i in range(1, 301)]
    facts = lead(is_test=seed % 2 == 1)  # test leads skip caps but need accepts_test
    bought_by = frozenset(rng.sample(range(1, 8), 2))

    result = select_eligible(facts, contracts, now=NOW, bought_by=bought_by, rng=rng)

    eligible_ids = [t.id for t in result.eligible]
    excluded_ids = [e.contract_id for e in result.excluded]
    assert sorted(eligible_ids + excluded_ids) == [t.id for t in contracts]
    assert eligible_ids == sorted(eligible_ids), "eligible contracts keep their input order"
    assert all(isinstance(e.reason, Outcome) and e.detail for e in result.excluded)
    assert Outcome.BELOW_FLOOR not in {e.reason for e in result.excluded}
    by_id = {t.id: t for t in contracts}
    for terms in result.eligible:
        assert is_plainly_eligible(terms, facts, bought_by)
        assert terms.traffic_share_pct > 0
    for exclusion in result.excluded:
        plainly = is_plainly_eligible(by_id[exclusion.contract_id], facts, bought_by)
        assert plainly is (exclusion.reason == Outcome.NOT_SELECTED)


# -- traffic share ----------------------------------------------------------------------

@pytest.mark.parametrize("share", [P(10, id="10pct"), P(30, id="30pct"), P(75, id="75pct")])
def test_traffic_share_selects_its_percentage_of_leads(share: int) -> None:
    rng = random.Random(20240603)
    terms = contract(traffic_share_pct=share)
    draws = 10_000
    selected = sum(
        bool(select_eligible(lead(), [terms], now=NOW, rng=rng).eligible) for _ in range(draws)
    )
    assert selected / draws == pytest.approx(share / 100, abs=0.015)


@pytest.mark.parametrize(("share", "expected"), [
    P(0, 0, id="zero-never"), P(100, 1000, id="hundred-always"),
])
def test_traffic_share_at_the_extremes_is_exact(share: int, expected: int) -> None:
    rng = random.Random(5)
    terms = contract(traffic_share_pct=share)
    selected = sum(
        bool(select_eligible(lead(), [terms], now=NOW, rng=rng).eligible) for _ in range(1000)
    )
    assert selected == expected


def test_the_same_seed_selects_the_same_contracts() -> None:
    contracts = [contract(i, traffic_share_pct=50) for i in range(1, 41)]

    def picks(seed: int) -> list[int]:
        result = select_eligible(lead(), contracts, now=NOW, rng=random.Random(seed))
        return [t.id for t in result.eligible]

    assert picks(3) == picks(3)
    assert picks(3) != picks(4)


# -- schedules --------------------------------------------------------------------------

NINE_TO_FIVE = (window(MON, "09:00", "17:00"),)
OVERNIGHT_FRI = (window(FRI, "22:00", "02:00"),)


@pytest.mark.parametrize(("windows", "zone", "now", "expected"), [
    P((), "UTC", utc(2024, 6, 3, 3, 0), True, id="no-windows-always-open"),
    P((), "Asia/Tokyo", utc(2024, 6, 8, 23, 59), True, id="no-windows-always-open-any-zone"),
    # plain day window, UTC
    P(NINE_TO_FIVE, "UTC", utc(2024, 6, 3, 9, 0), True, id="opens-inclusive"),
    P(NINE_TO_FIVE, "UTC", utc(2024, 6, 3, 16, 59, 59), True, id="open-before-close"),
    P(NINE_TO_FIVE, "UTC", utc(2024, 6, 3, 17, 0), False, id="closes-exclusive"),
    P(NINE_TO_FIVE, "UTC", utc(2024, 6, 3, 8, 59), False, id="before-opening"),
    P(NINE_TO_FIVE, "UTC", utc(2024, 6, 4, 10, 0), False, id="other-weekday"),
    P((window(MON, "09:00", "12:00"), window(MON, "13:00", "17:00")), "UTC",
      utc(2024, 6, 3, 12, 30), False, id="lunch-break-between-two-windows"),
    P((window(MON, "09:00", "12:00"), window(MON, "13:00", "17:00")), "UTC",
      utc(2024, 6, 3, 13, 30), True, id="second-window-of-the-day"),
    # the buyer's zone, not UTC
    P(NINE_TO_FIVE, "America/New_York", utc(2024, 6, 3, 13, 0), True, id="new-york-edt-9am"),
    P(NINE_TO_FIVE, "America/New_York", utc(2024, 6, 3, 12, 59), False,
      id="new-york-edt-before-9am"),
    P(NINE_TO_FIVE, "America/New_York", utc(2024, 6, 3, 21, 0), False, id="new-york-edt-5pm"),
    P(NINE_TO_FIVE, "America/New_York", utc(2024, 1, 8, 14, 0), True, id="new-york-est-9am"),
    P(NINE_TO_FIVE, "America/New_York", utc(2024, 1, 8, 13, 30), False,
      id="new-york-est-8-30am"),
    P(NINE_TO_FIVE, "Asia/Kolkata", utc(2024, 6, 3, 3, 30), True, id="kolkata-half-hour-offset"),
    P(NINE_TO_FIVE, "Asia/Kolkata", utc(2024, 6, 3, 3, 29), False,
      id="kolkata-one-minute-early"),
    P((window(MON, "07:00", "10:00"),), "Asia/Tokyo", utc(2024, 6, 2, 23, 30), True,
      id="tokyo-monday-morning-while-utc-is-sunday"),
    P(NINE_TO_FIVE, "Asia/Tokyo", utc(2024, 6, 3, 9, 0), False,
      id="tokyo-evening-while-utc-is-monday-morning"),
    P((window(MON, "20:00", "23:00"),), "America/Los_Angeles", utc(2024, 6, 4, 4, 0), True,
      id="los-angeles-monday-evening-is-utc-tuesday"),
    P(NINE_TO_FIVE, "UTC", datetime(2024, 6, 3, 11, 0, tzinfo=ZoneInfo("Europe/Berlin")), True,
      id="now-given-in-another-zone"),
    # DST change days in New York: 2024-03-10 (spring forward), 2024-11-03 (fall back)
    P((window(SAT, "09:00", "17:00"),), "America/New_York", utc(2024, 3, 9, 14, 0), True,
      id="ny-day-before-spring-forward-est"),
    P((window(SUN, "09:00", "17:00"),), "America/New_York", utc(2024, 3, 10, 13, 0), True,
      id="ny-spring-forward-day-9am-edt"),
    P((window(SUN, "09:00", "17:00"),), "America/New_York", utc(2024, 3, 10, 13, 59), True,
      id="ny-spring-forward-day-9-59am-edt"),
    P((window(SUN, "09:00", "17:00"),), "America/New_York", utc(2024, 3, 10, 12, 30), False,
      id="ny-spring-forward-day-8-30am-edt"),
    P((window(SUN, "01:00", "03:00"),), "America/New_York", utc(2024, 3, 10, 6, 59), True,
      id="ny-spring-forward-1-59am-est"),
    P((window(SUN, "01:00", "03:00"),), "America/New_York", utc(2024, 3, 10, 7, 0), False,
      id="ny-spring-forward-jumps-to-3am-edt"),
    P((window(SUN, "01:00", "02:00"),), "America/New_York", utc(2024, 11, 3, 5, 30), True,
      id="ny-fall-back-first-1-30am-edt"),
    P((window(SUN, "01:00", "02:00"),), "America/New_York", utc(2024, 11, 3, 6, 30), True,
      id="ny-fall-back-second-1-30am-est"),
    P((window(SUN, "01:00", "02:00"),), "America/New_York", utc(2024, 11, 3, 7, 0), False,
      id="ny-fall-back-2am-est"),
    P((window(SUN, "09:00", "17:00"),), "America/New_York", utc(2024, 11, 3, 14, 0), True,
      id="ny-fall-back-day-9am-est"),
    P((window(SUN, "09:00", "17:00"),), "America/New_York", utc(2024, 11, 3, 13, 30), False,
      id="ny-fall-back-day-8-30am-est"),
    P((window(SUN, "09:00", "17:00"),), "Australia/Sydney", utc(2024, 4, 6, 23, 0), True,
      id="sydney-dst-end-day-9am-aest"),
    P((window(SUN, "09:00", "17:00"),), "Australia/Sydney", utc(2024, 4, 6, 22, 30), False,
      id="sydney-dst-end-day-8-30am-aest"),
    # overnight windows: Friday 22:00 to Saturday 02:00
    P(OVERNIGHT_FRI, "UTC", utc(2024, 6, 7, 22, 0), True, id="overnight-opens"),
    P(OVERNIGHT_FRI, "UTC", utc(2024, 6, 7, 23, 59), True, id="overnight-before-midnight"),
    P(OVERNIGHT_FRI, "UTC", utc(2024, 6, 8, 0, 0), True, id="overnight-at-midnight"),
    P(OVERNIGHT_FRI, "UTC", utc(2024, 6, 8, 1, 59), True, id="overnight-after-midnight"),
    P(OVERNIGHT_FRI, "UTC", utc(2024, 6, 8, 2, 0), False, id="overnight-closes-next-day"),
    P(OVERNIGHT_FRI, "UTC", utc(2024, 6, 7, 21, 59), False, id="overnight-before-opening"),
    P(OVERNIGHT_FRI, "UTC", utc(2024, 6, 7, 1, 0), False,
      id="overnight-friday-early-hours-belong-to-thursday"),
    P(OVERNIGHT_FRI, "UTC", utc(2024, 6, 8, 22, 30), False, id="overnight-not-on-saturday"),
    P((window(SUN, "22:00", "02:00"),), "UTC", utc(2024, 6, 10, 1, 0), True,
      id="overnight-sunday-into-monday-wraps-the-week"),
    P((window(SAT, "22:00", "02:00"),), "America/New_York", utc(2024, 3, 10, 6, 30), True,
      id="overnight-ny-spring-forward-1-30am-est"),
    P((window(SAT, "22:00", "02:00"),), "America/New_York", utc(2024, 3, 10, 7, 0), False,
      id="overnight-ny-spring-forward-3am-edt"),
    P(OVERNIGHT_FRI, "America/New_York", utc(2024, 6, 8, 5, 30), True,
      id="overnight-ny-saturday-1-30am-is-utc-saturday-morning"),
    # closes 00:00 means midnight, the end of that day
    P((window(MON, "18:00", "00:00"),), "UTC", utc(2024, 6, 3, 23, 59, 59), True,
      id="closes-midnight-open-until-the-end-of-day"),
    P((window(MON, "18:00", "00:00"),), "UTC", utc(2024, 6, 4, 0, 0), False,
      id="closes-midnight-closed-on-the-next-day"),
    P((window(MON, "18:00", "00:00"),), "UTC", utc(2024, 6, 3, 17, 59), False,
      id="closes-midnight-before-opening"),
    P((window(MON, "00:00", "00:00"),), "UTC", utc(2024, 6, 3, 0, 0), True,
      id="all-day-window-at-midnight"),
    P((window(MON, "00:00", "00:00"),), "UTC", utc(2024, 6, 3, 23, 59), True,
      id="all-day-window-late"),
    P((window(MON, "00:00", "00:00"),), "UTC", utc(2024, 6, 2, 23, 59), False,
      id="all-day-window-not-the-day-before"),
    P((window(MON, "00:00", "00:00"),), "UTC", utc(2024, 6, 4, 0, 0), False,
      id="all-day-window-not-the-day-after"),
])
def test_schedule_open_in_the_buyers_zone(
    windows: tuple[Window, ...], zone: str, now: datetime, expected: bool,
) -> None:
    assert schedule_open(windows, zone, now) is expected


# -- cap windows ------------------------------------------------------------------------

NY = "America/New_York"


@pytest.mark.parametrize(("period", "zone", "now", "start"), [
    P("hour", "UTC", utc(2024, 6, 3, 15, 42, 7), utc(2024, 6, 3, 15, 0), id="hour-utc"),
    P("hour", NY, utc(2024, 6, 3, 15, 42), utc(2024, 6, 3, 15, 0), id="hour-new-york"),
    P("hour", "Asia/Kolkata", utc(2024, 6, 3, 10, 45), utc(2024, 6, 3, 10, 30),
      id="hour-kolkata-starts-at-half-past-utc"),
    P("hour", "Asia/Kolkata", utc(2024, 6, 3, 10, 15), utc(2024, 6, 3, 9, 30),
      id="hour-kolkata-before-half-past"),
    P("hour", NY, utc(2024, 11, 3, 5, 30), utc(2024, 11, 3, 5, 0),
      id="hour-ny-fall-back-first-1am-edt"),
    P("hour", NY, utc(2024, 11, 3, 6, 30), utc(2024, 11, 3, 6, 0),
      id="hour-ny-fall-back-second-1am-est"),
    P("hour", NY, utc(2024, 3, 10, 7, 30), utc(2024, 3, 10, 7, 0),
      id="hour-ny-spring-forward-3am-edt"),
    P("day", "UTC", utc(2024, 6, 3, 23, 59), utc(2024, 6, 3, 0, 0), id="day-utc"),
    P("day", NY, utc(2024, 6, 3, 15, 0), utc(2024, 6, 3, 4, 0), id="day-ny-summer"),
    P("day", NY, utc(2024, 1, 8, 15, 0), utc(2024, 1, 8, 5, 0), id="day-ny-winter"),
    P("day", NY, utc(2024, 6, 4, 2, 0), utc(2024, 6, 3, 4, 0),
      id="day-ny-still-yesterday-after-utc-midnight"),
    P("day", "Asia/Tokyo", utc(2024, 6, 3, 16, 0), utc(2024, 6, 3, 15, 0),
      id="day-tokyo-already-tomorrow"),
    P("day", NY, utc(2024, 3, 10, 20, 0), utc(2024, 3, 10, 5, 0),
      id="day-ny-spring-forward-starts-in-est"),
    P("day", NY, utc(2024, 3, 11, 3, 59), utc(2024, 3, 10, 5, 0),
      id="day-ny-spring-forward-is-23-hours"),
    P("day", NY, utc(2024, 3, 11, 4, 0), utc(2024, 3, 11, 4, 0),
      id="day-ny-after-spring-forward-starts-in-edt"),
    P("day", NY, utc(2024, 11, 3, 6, 30), utc(2024, 11, 3, 4, 0),
      id="day-ny-fall-back-starts-in-edt"),
    P("day", NY, utc(2024, 11, 4, 4, 59), utc(2024, 11, 3, 4, 0),
      id="day-ny-fall-back-is-25-hours"),
    P("day", "Australia/Sydney", utc(2024, 4, 7, 12, 0), utc(2024, 4, 6, 13, 0),
      id="day-sydney-dst-end-starts-in-aedt"),
    P("week", "UTC", utc(2024, 6, 9, 23, 59), utc(2024, 6, 3, 0, 0),
      id="week-utc-sunday-belongs-to-mondays-week"),
    P("week", "UTC", utc(2024, 6, 3, 0, 0), utc(2024, 6, 3, 0, 0),
      id="week-utc-monday-midnight-starts-a-week"),
    P("week", NY, utc(2024, 6, 5, 12, 0), utc(2024, 6, 3, 4, 0), id="week-ny-wednesday"),
    P("week", NY, utc(2024, 6, 10, 2, 0), utc(2024, 6, 3, 4, 0),
      id="week-ny-sunday-night-while-utc-is-monday"),
    P("week", NY, utc(2024, 3, 10, 20, 0), utc(2024, 3, 4, 5, 0),
      id="week-ny-spring-forward-sunday-week-began-in-est"),
    P("week", NY, utc(2024, 3, 13, 20, 0), utc(2024, 3, 11, 4, 0),
      id="week-ny-after-spring-forward-begins-in-edt"),
    P("week", NY, utc(2024, 11, 5, 12, 0), utc(2024, 11, 4, 5, 0),
      id="week-ny-after-fall-back-begins-in-est"),
    P("week", NY, utc(2024, 11, 3, 6, 30), utc(2024, 10, 28, 4, 0),
      id="week-ny-fall-back-sunday-week-began-in-edt"),
    P("week", NY, utc(2025, 1, 1, 12, 0), utc(2024, 12, 30, 5, 0),
      id="week-ny-across-new-year"),
    P("month", "UTC", utc(2024, 2, 29, 23, 0), utc(2024, 2, 1, 0, 0), id="month-utc"),
    P("month", NY, utc(2024, 4, 1, 2, 0), utc(2024, 3, 1, 5, 0),
      id="month-ny-still-march-and-march-began-in-est"),
    P("month", NY, utc(2024, 4, 1, 4, 0), utc(2024, 4, 1, 4, 0), id="month-ny-april-in-edt"),
    P("month", NY, utc(2024, 11, 20, 12, 0), utc(2024, 11, 1, 4, 0),
      id="month-ny-november-began-in-edt"),
    P("month", "Asia/Tokyo", utc(2024, 5, 31, 15, 0), utc(2024, 5, 31, 15, 0),
      id="month-tokyo-june-began-while-utc-is-may"),
    P("total", NY, utc(2024, 6, 3, 15, 0), utc(1970, 1, 1, 0, 0), id="total-one-window"),
    P("total", "Asia/Tokyo", utc(2030, 1, 1, 0, 0), utc(1970, 1, 1, 0, 0),
      id="total-ignores-the-zone"),
])
def test_window_start_is_the_boundary_in_the_buyers_zone(
    period: str, zone: str, now: datetime, start: datetime,
) -> None:
    # Compare in UTC: aware datetimes sharing a tzinfo compare by wall clock and ignore fold.
    assert window_start(period, zone, now).astimezone(UTC) == start


@pytest.mark.parametrize("period", ["hour", "day", "week", "month"])
def test_window_start_is_expressed_in_the_buyers_zone(period: str) -> None:
    start = window_start(period, NY, utc(2024, 6, 5, 12, 0))
    assert start.tzinfo == ZoneInfo(NY)
    assert (start.minute, start.second, start.microsecond) == (0, 0, 0)


def test_window_start_rejects_an_unknown_period() -> None:
    with pytest.raises(ValueError, match="Unknown cap period"):
        window_start("fortnight", NY, NOW)
