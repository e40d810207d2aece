"""The loop after the sale, end to end through the public doors only: a buyer returns a lead
with its own key and reports a conversion on its postback URL, an account manager approves
the return through the staff API, and then the lead's status, the source's ``lead.returned``
webhook, the ledger and the KPI API all tell the same story."""

from __future__ import annotations

import json
from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from apps.leads.models import Lead, LeadStatus
from apps.reports.services import rollup_recent
from apps.webhooks.models import WebhookDelivery
from apps.webhooks.services import endpoint_create
from tests.api.conftest import ACCOUNT_MANAGERS, MANAGERS
from tests.factories.billing import Market, buyer_key

pytestmark = pytest.mark.django_db


def test_a_return_and_a_conversion_reach_status_webhook_ledger_and_kpis(api_client,
                                                                        staff_client):
    market = Market()
    endpoint_create(source=market.source, url="https://hooks.example.com/lx",
                    events=["lead.returned"])
    kept = market.sold((market.c1, "30.00"), payout="20.00")
    returned = market.sold((market.c1, "24.00"), payout="18.00")

    api_client.credentials(HTTP_AUTHORIZATION=f"Bearer {buyer_key(market.b1)}")
    filed = api_client.post("/api/v1/returns", data=json.dumps(
        {"lead_id": str(returned.uuid), "reason": "bad_contact", "comment": "Disconnected"}),
        content_type="application/json")
    converted = api_client.get(f"/postback/b/{market.b1.postback_token}",
                               {"lead": str(kept.uuid), "event": "quoted", "value": "150.00"})
    assert (filed.status_code, converted.status_code) == (201, 200)
    assert converted.json()["recorded"] is True

    am = staff_client("am", group=ACCOUNT_MANAGERS)
    decided = am.post("/api/v1/staff/returns/decide", data=json.dumps(
        {"ids": [filed.json()["id"]], "decision": "approve", "note": "Number disconnected"}),
        content_type="application/json")
    assert decided.json() == {"decision": "approve", "decided": 1, "skipped": 0}

    # the lead and its source
    assert Lead.objects.get(pk=returned.pk).status == LeadStatus.RETURNED
    assert list(WebhookDelivery.objects.filter(lead=returned)
                .values_list("event", "payout")) == [("lead.returned", -18)]

    # the ledger: the buyer was charged 54.00 and credited 24.00; the source paid 38.00 and
    # 18.00 of it clawed back
    manager = staff_client("manager", group=MANAGERS)
    today = timezone.now().date()
    span = f"from={today - timedelta(days=1)}&to={today + timedelta(days=1)}"
    buyer = manager.get(f"/api/v1/staff/ledger?party=buyer&id={market.b1.pk}&{span}").json()
    source = manager.get(
        f"/api/v1/staff/ledger?party=source&id={market.source.pk}&{span}").json()
    assert _sums(buyer) == {"charges": "54.00", "credits": "24.00", "closing": "30.00"}
    assert _sums(source) == {"payouts": "38.00", "clawbacks": "18.00", "closing": "20.00"}

    # the KPIs, once the periodic rollup ran
    rollup_recent()
    totals = manager.get("/api/v1/reports/kpis", {"from": str(today), "to": str(today),
                                                  "tz": "UTC"}).json()["totals"]
    assert {k: totals[k] for k in ("sold", "revenue", "returns", "credits", "net_revenue",
                                   "clawbacks", "net_payout", "conversions",
                                   "conversion_value")} == {
        "sold": 2, "revenue": "54.00", "returns": 1, "credits": "24.00",
        "net_revenue": "30.00", "clawbacks": "18.00", "net_payout": "20.00",
        "conversions": 1, "conversion_value": "150.00"}


def _sums(ledger: dict) -> dict[str, str]:
    """A ledger answer's movements summed over its periods (the pair that applies to the
    party), and its closing balance."""
    sums: dict[str, str] = {"closing": ledger["closing"]}
    for name in ("charges", "credits", "payouts", "clawbacks"):
        amounts = [Decimal(p[name]) for p in ledger["periods"] if p[name] is not None]
        if amounts:
            sums[name] = f"{sum(amounts):.2f}"
    return sums
