"""Rule firings on the contract's admin page and in the dashboards' overview."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.contrib.auth import get_user_model
from django.utils import timezone

from apps.routing.evaluation import rules_evaluate
from apps.routing.models import RoutingRule
from tests.factories.dashboards import manager_create
from tests.factories.routing import market_create

pytestmark = pytest.mark.django_db


@pytest.fixture
def fired():
    market = market_create()
    RoutingRule.objects.create(name="Reject storm", metric="post_reject_rate",
                               threshold=Decimal("0.5"), min_samples=5,
                               action="lower_priority", action_value=Decimal("2"))
    market.posts("rejected", 10)
    rules_evaluate()
    return market


def test_the_contract_page_shows_its_firings(client, fired):
    client.force_login(get_user_model().objects.create_superuser("root", "r@example.com"))
    page = client.get(f"/admin/buyers/contract/{fired.contract.pk}/change/").content.decode()
    assert "Routing rule firings" in page
    assert "Reject storm" in page and "5 → 3" in page
    other = client.get(f"/admin/buyers/contract/{fired.other.pk}/change/").content.decode()
    assert "No rule has fired on this contract." in other


def test_the_overview_lists_the_firings_of_its_range(client, fired):
    client.force_login(manager_create())
    today = timezone.now().date().isoformat()
    page = client.get(f"/dashboard/?from={today}&to={today}&tz=UTC").content.decode()
    assert 'id="rule-firings"' in page and "Reject storm" in page
    old = client.get("/dashboard/?from=2026-01-01&to=2026-01-02&tz=UTC").content.decode()
    assert "No rule fired." in old


def test_the_breaker_rule_is_read_only_in_the_admin(client):
    client.force_login(get_user_model().objects.create_superuser("root", "r@example.com"))
    breaker = RoutingRule.objects.get(evaluator="breaker")
    page = client.get(f"/admin/routing/routingrule/{breaker.pk}/change/").content.decode()
    assert 'name="threshold"' not in page
