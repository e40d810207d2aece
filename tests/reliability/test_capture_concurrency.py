"""Capture under concurrency, on PostgreSQL (SQLite serializes writers and would prove
nothing): de-duplication and idempotency are decided by the database, exactly."""

from __future__ import annotations

import json
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.db import connection
from rest_framework.test import APIClient

from apps.leads import services
from apps.leads.models import Lead, LeadStatus
from tests.factories import VerticalFactory, source_with_key, valid_fields

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def concurrently(n: int, fn):
    """Run ``fn(i)`` for i in 0..n-1 on n threads released at the same instant; each thread
    has its own database connection."""
    barrier = threading.Barrier(n)

    def run(i):
        barrier.wait()
        try:
            return fn(i)
        finally:
            connection.close()

    with ThreadPoolExecutor(max_workers=n) as pool:
        return list(pool.map(run, range(n)))


def submit(key: str, body: dict, **headers):
    response = APIClient().post("/api/v1/leads", data=json.dumps(body),
                                content_type="application/json",
                                HTTP_AUTHORIZATION=f"Bearer {key}", **headers)
    return response.status_code, response.json()


def consumer(n: int) -> dict:
    return {"vertical": "auto-insurance",
            "fields": valid_fields(email=f"c{n}@example.com", phone=f"212555{n:04d}")}


def test_two_identical_leads_at_the_same_moment_make_one_lead_and_one_duplicate():
    vertical = VerticalFactory(slug="auto-insurance")
    _, key_a = source_with_key(vertical, default_mode="async")
    _, key_b = source_with_key(vertical, default_mode="async")
    for round_ in range(15):
        body = consumer(round_)
        results = concurrently(2, lambda i, body=body: submit((key_a, key_b)[i], body))

        statuses = sorted(status for status, _ in results)
        assert statuses == [202, 409], f"round {round_}: {results}"
        accepted = next(b for s, b in results if s == 202)
        duplicate = next(b for s, b in results if s == 409)
        assert duplicate["duplicate_of"] == accepted["id"]
    assert Lead.objects.exclude(status=LeadStatus.DUPLICATE).count() == 15
    assert Lead.objects.filter(status=LeadStatus.DUPLICATE).count() == 15


def test_a_read_then_write_check_would_let_both_through(monkeypatch):
    """Negative control: the race is real, so the claim table is what prevents it."""
    vertical = VerticalFactory(slug="auto-insurance")
    _, key = source_with_key(vertical, default_mode="async")

    def naive_claim(*, lead, keys, now):
        twin = Lead.objects.filter(fields__email=lead.fields["email"]).exclude(pk=lead.pk)
        seen = twin.first()
        time.sleep(0.05)  # the gap a real request has between its read and its write
        return seen

    monkeypatch.setattr(services, "dedupe_claim", naive_claim)
    results = concurrently(2, lambda i: submit(key, consumer(99)))

    assert sorted(status for status, _ in results) == [202, 202]


def test_the_same_idempotency_key_sent_10_times_at_once_creates_one_lead():
    vertical = VerticalFactory(slug="auto-insurance")
    _, key = source_with_key(vertical, default_mode="async")
    body = consumer(1)

    results = concurrently(10, lambda i: submit(key, body, HTTP_IDEMPOTENCY_KEY="same-key"))

    assert Lead.objects.count() == 1
    assert all(result == results[0] for result in results), results
    assert results[0][0] == 202 and results[0][1]["id"] == str(Lead.objects.get().uuid)


def test_a_burst_of_distinct_leads_is_all_accepted():
    vertical = VerticalFactory(slug="auto-insurance")
    _, key = source_with_key(vertical, default_mode="async")

    results = concurrently(20, lambda i: submit(key, consumer(100 + i)))

    assert [status for status, _ in results] == [202] * 20
    assert Lead.objects.count() == 20
