"""Routing rules: each metric over its window, each action applied and undone (or left, when
the rule does not auto-undo), source rules, and a staff change that the undo leaves alone."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.core import mail
from django.utils import timezone

from apps.auctions.models import HealthEvent
from apps.routing.evaluation import rules_evaluate
from apps.routing.models import RoutingRule, RuleFiring
from apps.sources.models import SourceStatus
from tests.factories.routing import Market, market_create, rule_create

pytestmark = pytest.mark.django_db
P = pytest.param
D = Decimal
LATER = timedelta(hours=3)  # every row of the fixture has left a one-hour window


@pytest.fixture
def market() -> Market:
    return market_create()


def _pings(*groups):
    def build(market: Market) -> None:
        for outcome, n, latency in groups:
            market.pings(outcome, n, latency=latency)
    return build


def _posts(*groups):
    def build(market: Market) -> None:
        for outcome, n in groups:
            market.posts(outcome, n)
    return build


def _sales(n: int, returned: int):
    return lambda market: market.sales(n, returned=returned)


@pytest.mark.parametrize(("metric", "comparator", "threshold", "rows", "observed", "samples"), [
    P("latency", "gt", "200", _pings(("bid", 6, 300.0), ("no_bid", 4, 150.0)), "240.0000", 10,
      id="latency"),
    P("timeout_rate", "gt", "0.5", _pings(("timeout", 8, 1000.0), ("bid", 2, 50.0)),
      "0.8000", 10, id="timeout-rate"),
    P("error_rate", "gt", "0.5", _pings(("error", 5, 10.0), ("invalid_response", 2, 10.0),
                                        ("bid", 3, 10.0)), "0.7000", 10, id="error-rate"),
    P("bid_rate", "lt", "0.2", _pings(("no_bid", 9, 40.0), ("below_floor", 1, 40.0),
                                      ("filtered", 30, None)), "0.1000", 10, id="bid-rate"),
    P("post_reject_rate", "gt", "0.9", _posts(("rejected", 19), ("accepted", 1),
                                              ("timeout", 5)), "0.9500", 20,
      id="post-reject-rate"),
    P("acceptance_rate", "lt", "0.5", _posts(("accepted", 2), ("rejected", 8)), "0.2000", 10,
      id="acceptance-rate"),
    P("return_rate", "gt", "0.3", _sales(10, returned=4), "0.4000", 10, id="return-rate"),
])
def test_each_metric_fires_over_its_threshold_and_clears(
        market, metric, comparator, threshold, rows, observed, samples):
    rule = rule_create(metric=metric, comparator=comparator, threshold=D(threshold),
                       min_samples=10, action="alert", auto_undo=False)
    rows(market)

    assert rules_evaluate().opened == 1
    firing = RuleFiring.objects.get()
    assert (firing.contract_id, firing.observed, firing.samples) == (
        market.contract.pk, D(observed), samples)
    assert rules_evaluate().opened == 0  # still holds: the open firing is not repeated

    assert rules_evaluate(now=timezone.now() + LATER).closed == 1
    firing.refresh_from_db()
    assert firing.closed_at is not None and not firing.undone
    assert rule.firings.count() == 1


@pytest.mark.parametrize(("threshold", "min_samples"), [
    P("0.95", 10, id="at-the-threshold-is-not-over-it"),
    P("0.5", 21, id="too-few-samples"),
])
def test_it_does_not_fire_on_the_threshold_or_on_thin_evidence(market, threshold, min_samples):
    rule_create(metric="post_reject_rate", threshold=D(threshold), min_samples=min_samples)
    market.posts("rejected", 19)
    market.posts("accepted", 1)

    assert rules_evaluate().opened == 0
    market.contract.refresh_from_db()
    assert market.contract.auto_paused_at is None


def test_rows_outside_the_window_do_not_count(market):
    rule_create(window_minutes=30)
    market.posts("rejected", 20, ago=timedelta(minutes=45))

    assert rules_evaluate().opened == 0


def test_a_rule_on_one_contract_leaves_the_others_alone(market):
    rule_create(contract=market.other)
    market.posts("rejected", 20)
    market.posts("rejected", 20, contract=market.other)

    rules_evaluate()
    assert list(RuleFiring.objects.values_list("contract_id", flat=True)) == [market.other.pk]


# -- actions ------------------------------------------------------------------------------

def _field(market: Market, name: str):
    market.contract.refresh_from_db()
    return getattr(market.contract, name)


@pytest.mark.parametrize(("action", "value", "field", "before", "during"), [
    P("lower_priority", "2", "priority", 5, 3, id="lower-priority"),
    P("lower_traffic_share", "25", "traffic_share_pct", 100, 25, id="lower-traffic-share"),
    P("raise_floor", "6.50", "min_bid", D("4.00"), D("6.50"), id="raise-floor"),
])
@pytest.mark.parametrize("auto_undo", [True, False], ids=["auto-undo", "no-undo"])
def test_each_action_is_applied_and_undone_when_the_rule_says_so(
        market, action, value, field, before, during, auto_undo):
    rule_create(action=action, action_value=D(value), auto_undo=auto_undo)
    updated = _field(market, "updated_at")
    market.posts("rejected", 20)

    rules_evaluate()
    assert _field(market, field) == during
    assert _field(market, "updated_at") > updated  # set-up caches see the change
    firing = RuleFiring.objects.get()
    assert (firing.applied, firing.previous_value, firing.new_value) == (
        True, str(before), str(during))

    rules_evaluate(now=timezone.now() + LATER)
    assert _field(market, field) == (before if auto_undo else during)
    firing.refresh_from_db()
    assert firing.closed_at is not None and firing.undone is auto_undo


@pytest.mark.parametrize("auto_undo", [True, False], ids=["auto-undo", "no-undo"])
def test_pause_auto_pauses_the_contract_and_resumes_it(market, auto_undo):
    rule_create(action="pause", auto_undo=auto_undo, name="rejects")
    market.posts("rejected", 20)

    rules_evaluate()
    market.contract.refresh_from_db()
    assert market.contract.auto_paused_at is not None
    assert market.contract.auto_pause_reason.startswith("rule «rejects»: post_reject_rate 1")
    assert HealthEvent.objects.filter(contract=market.contract, kind="paused").count() == 1

    rules_evaluate(now=timezone.now() + LATER)
    market.contract.refresh_from_db()
    assert (market.contract.auto_paused_at is None) is auto_undo
    assert HealthEvent.objects.filter(kind="resumed").count() == int(auto_undo)


def test_a_pause_is_not_taken_over_from_the_breaker(market):
    """Already auto-paused (the breaker): the rule records its firing but changes nothing,
    and its undo does not resume what the breaker paused."""
    from apps.auctions.health import contract_pause

    contract_pause(market.contract.pk, "10 consecutive slow answers")
    rule_create(action="pause")
    market.posts("rejected", 20)

    rules_evaluate()
    firing = RuleFiring.objects.get()
    assert not firing.applied and firing.note == "already auto-paused"
    rules_evaluate(now=timezone.now() + LATER)
    market.contract.refresh_from_db()
    assert market.contract.auto_pause_reason == "10 consecutive slow answers"


def test_health_pings_leave_a_rule_pause_alone(market):
    from apps.auctions.services.maintenance import health_pings_run

    rule_create(action="pause")
    market.posts("rejected", 20)
    rules_evaluate()

    assert health_pings_run() == []
    market.contract.refresh_from_db()
    assert market.contract.auto_paused_at is not None
    assert market.contract.last_health_ping_at is None


def test_the_undo_leaves_a_staff_change_alone(market):
    rule_create(action="lower_priority", action_value=D("2"))
    market.posts("rejected", 20)
    rules_evaluate()
    market.contract.priority = 9
    market.contract.save(update_fields=["priority"])

    rules_evaluate(now=timezone.now() + LATER)
    assert _field(market, "priority") == 9
    firing = RuleFiring.objects.get()
    assert not firing.undone and firing.note == "condition cleared; changed since, left as it is"


@pytest.mark.parametrize("auto_undo", [True, False], ids=["auto-undo", "no-undo"])
def test_alert_mails_the_account_manager(market, auto_undo, django_user_model,
                                         django_capture_on_commit_callbacks):
    manager = django_user_model.objects.create_user("am", "am@example.com", is_staff=True)
    market.contract.buyer.account_manager = manager
    market.contract.buyer.save()
    rule_create(action="alert", auto_undo=auto_undo)
    market.posts("rejected", 20)

    with django_capture_on_commit_callbacks(execute=True):
        rules_evaluate()
    assert [m.to for m in mail.outbox] == [["am@example.com"]]
    assert "flagged" in mail.outbox[0].subject
    with django_capture_on_commit_callbacks(execute=True):
        rules_evaluate(now=timezone.now() + LATER)
    assert [m.subject.split()[-1] for m in mail.outbox[1:]] == (["cleared"] if auto_undo else [])


def test_switching_a_rule_off_closes_and_undoes_its_firings(market):
    rule = rule_create(action="lower_priority", action_value=D("1"))
    market.posts("rejected", 20)
    rules_evaluate()
    rule.enabled = False
    rule.save()

    assert rules_evaluate().closed == 1
    assert _field(market, "priority") == 5


def test_the_default_post_reject_rule_pauses_a_buyer_rejecting_every_post(market):
    """The issue's buyer: 40 rejects in a row. The shipped rule (over 90 % of at least 20
    answered posts in an hour) pauses it, and resumes it once the hour has no such run."""
    rule = RoutingRule.objects.get(name="Post rejects")
    rule.enabled = True
    rule.save()
    market.posts("accepted", 30, ago=timedelta(minutes=90))
    market.posts("rejected", 40)

    rules_evaluate()
    market.contract.refresh_from_db()
    assert market.contract.auto_paused_at is not None
    assert RuleFiring.objects.get().observed == D("1.0000")
    rules_evaluate(now=timezone.now() + LATER)
    market.contract.refresh_from_db()
    assert market.contract.auto_paused_at is None


def test_the_breaker_is_shown_as_a_built_in_rule_the_evaluator_skips(market):
    breaker = RoutingRule.objects.get(evaluator="breaker")
    breaker.enabled = True
    breaker.save()
    market.pings("bid", 20, latency=900.0)

    assert rules_evaluate().opened == 0


# -- source rules -------------------------------------------------------------------------

@pytest.mark.parametrize("auto_undo", [True, False], ids=["auto-undo", "no-undo"])
def test_a_source_rule_pauses_the_source(market, auto_undo):
    rule_create(scope="source", metric="acceptance_rate", comparator="lt",
                threshold=D("0.5"), action="pause", auto_undo=auto_undo)
    market.posts("rejected", 20)

    rules_evaluate()
    market.source.refresh_from_db()
    assert market.source.status == SourceStatus.PAUSED
    assert RuleFiring.objects.get().source_id == market.source.pk

    rules_evaluate(now=timezone.now() + LATER)
    market.source.refresh_from_db()
    assert market.source.status == (SourceStatus.ACTIVE if auto_undo else SourceStatus.PAUSED)


def test_a_source_rule_raises_the_source_floor(market):
    rule_create(scope="source", metric="return_rate", threshold=D("0.2"),
                action="raise_floor", action_value=D("3.00"))
    market.sales(10, returned=5)

    rules_evaluate()
    market.source.refresh_from_db()
    assert market.source.floor_price == D("3.00")
    rules_evaluate(now=timezone.now() + LATER)
    market.source.refresh_from_db()
    assert market.source.floor_price is None
