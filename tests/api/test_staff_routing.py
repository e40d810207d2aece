"""Staff API for routing rules (CRUD, checked whole, the breaker rule read-only) and their
firings (read-only, filtered)."""

from __future__ import annotations

from decimal import Decimal

import pytest

from apps.routing.evaluation import rules_evaluate
from apps.routing.models import RoutingRule, RuleFiring
from tests.factories.routing import market_create

pytestmark = pytest.mark.django_db

RULE = {"name": "slow pings", "metric": "latency", "threshold": "300", "window_minutes": 15,
        "min_samples": 30, "action": "lower_traffic_share", "action_value": "20"}


def test_an_account_manager_creates_reads_changes_and_deletes_a_rule(am_client):
    created = am_client.post("/api/v1/routing-rules", RULE, format="json")
    assert created.status_code == 201, created.content
    rule_id = created.json()["id"]
    assert created.json()["evaluator"] == "periodic" and created.json()["auto_undo"] is True

    changed = am_client.patch(f"/api/v1/routing-rules/{rule_id}", {"enabled": False},
                              format="json")
    assert changed.status_code == 200 and changed.json()["enabled"] is False
    assert changed.json()["threshold"] == "300.0000"
    assert am_client.get(f"/api/v1/routing-rules/{rule_id}").json()["name"] == "slow pings"

    assert am_client.delete(f"/api/v1/routing-rules/{rule_id}").status_code == 204
    assert not RoutingRule.objects.filter(pk=rule_id).exists()


@pytest.mark.parametrize(("change", "field"), [
    ({"action": "lower_priority", "action_value": None}, "action_value"),
    ({"action": "lower_traffic_share", "action_value": "150"}, "action_value"),
    ({"scope": "source", "action": "lower_priority", "action_value": "1"}, "action"),
    ({"metric": "speed"}, "metric"),
    ({"window_minutes": 0}, "window_minutes"),
    ({"contract": 999999}, "contract"),
])
def test_a_bad_rule_is_a_400_naming_the_field(am_client, change, field):
    response = am_client.post("/api/v1/routing-rules", {**RULE, **change}, format="json")
    assert response.status_code == 400
    assert list(response.json()["errors"]) == [field]


def test_the_breaker_rule_is_read_only(am_client):
    breaker = RoutingRule.objects.get(evaluator="breaker")
    response = am_client.patch(f"/api/v1/routing-rules/{breaker.pk}", {"enabled": False},
                               format="json")
    assert response.status_code == 409 and response.json()["code"] == "built_in"
    assert am_client.delete(f"/api/v1/routing-rules/{breaker.pk}").status_code == 409


def test_deleting_a_rule_undoes_its_open_firing(am_client):
    market = market_create()
    rule = RoutingRule.objects.create(name="r", metric="post_reject_rate",
                                      threshold=Decimal("0.5"), min_samples=5,
                                      action="lower_priority", action_value=Decimal("2"))
    market.posts("rejected", 10)
    rules_evaluate()

    assert am_client.delete(f"/api/v1/routing-rules/{rule.pk}").status_code == 204
    market.contract.refresh_from_db()
    assert market.contract.priority == 5


def test_firings_are_listed_newest_first_and_filtered(staff_client):
    manager_client = staff_client("mia", group="Managers")
    market = market_create()
    RoutingRule.objects.create(name="r", metric="post_reject_rate", threshold=Decimal("0.5"),
                               min_samples=5, action="alert", auto_undo=False)
    market.posts("rejected", 10)
    rules_evaluate()
    firing = RuleFiring.objects.get()

    page = manager_client.get(f"/api/v1/rule-firings?contract={market.contract.pk}&open=true")
    assert page.status_code == 200
    assert [(f["id"], f["rule_name"], f["observed"]) for f in page.json()["results"]] == [
        (firing.pk, "r", "1.0000")]
    assert manager_client.get("/api/v1/rule-firings?open=false").json()["count"] == 0
    assert manager_client.get("/api/v1/rule-firings?contract=x").status_code == 400
    assert manager_client.post("/api/v1/routing-rules", RULE, format="json").status_code == 403
