"""A submission decided at capture (rejected, duplicate) completes when it is received or
after, never before: the live view and the delivery-time histograms read
``completed_at − received_at``.

The clock ticks one millisecond per reading, so a capture that reads the time for
``completed_at`` before the row's ``received_at`` is stamped shows it in every run."""

from __future__ import annotations

import itertools
import json
from datetime import UTC, datetime, timedelta

import pytest
from django.utils import timezone

from apps.leads.models import Lead, LeadStatus
from tests.factories import source_with_key, valid_fields

pytestmark = pytest.mark.django_db


@pytest.fixture
def ticking_clock(monkeypatch):
    """``timezone.now()`` one millisecond later at each reading (Django's own field
    stamps read the same function)."""
    start = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)
    ticks = itertools.count()
    monkeypatch.setattr(timezone, "now", lambda: start + timedelta(milliseconds=next(ticks)))


def _submit(client, key: str, body: dict) -> Lead:
    response = client.post("/api/v1/leads", data=json.dumps(body),
                           content_type="application/json", HTTP_AUTHORIZATION=f"Bearer {key}")
    return Lead.objects.get(uuid=response.json()["id"])


@pytest.mark.parametrize("body", [
    {"vertical": "auto-insurance", "fields": valid_fields(email="not-an-email")},
    {"vertical": "solar", "fields": {}},  # rejected before its vertical is known
    {"fields": valid_fields()},
], ids=["bad-field", "unknown-vertical", "no-vertical"])
def test_a_rejected_lead_completes_no_earlier_than_it_was_received(api_client, vertical,
                                                                   ticking_clock, body):
    _, key = source_with_key(vertical, default_mode="async")

    lead = _submit(api_client, key, body)

    assert lead.status == LeadStatus.REJECTED
    assert lead.received_at <= lead.completed_at < lead.received_at + timedelta(seconds=1)


def test_a_duplicate_completes_no_earlier_than_it_was_received(api_client, vertical,
                                                               ticking_clock):
    _, key = source_with_key(vertical, default_mode="async")
    body = {"vertical": "auto-insurance", "fields": valid_fields()}
    _submit(api_client, key, body)

    duplicate = _submit(api_client, key, body)

    assert duplicate.status == LeadStatus.DUPLICATE
    assert duplicate.received_at <= duplicate.completed_at < (duplicate.received_at
                                                             + timedelta(seconds=1))
