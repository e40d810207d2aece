"""A sync capture answers within the source's budget even when the auction takes longer:
``202 auctioning`` on time, and the auction still finishes (on the auction thread pool)."""

from __future__ import annotations

import json
import threading
import time

import pytest

from apps.leads.models import Lead, LeadStatus
from tests.factories import (
    VerticalFactory,
    consumer_fields,
    sim_contract,
    source_with_key,
    valid_fields,
)

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def test_a_slow_post_answers_202_within_the_budget_and_sells_later(api_client, sim_url,
                                                                   settings):
    settings.RUN_TASKS_INLINE = False  # the real thing: the auction runs on the pool
    vertical = VerticalFactory(slug="auto-insurance")
    _, key = source_with_key(vertical, time_budget_ms=400)
    sim_contract(vertical, sim_url, query="bid=10", post_query="bid=10&latency_ms=900",
                 timeout_ms=3000)
    # a process's first lead pays for imports, pools and connections: warm them up, as any
    # running server is, so the timed lead measures the budget alone
    warm = api_client.post(
        "/api/v1/leads?mode=async", data=json.dumps({"vertical": "auto-insurance",
                                                     "fields": consumer_fields(1)}),
        content_type="application/json", HTTP_AUTHORIZATION=f"Bearer {key}").json()
    wait_until = time.monotonic() + 10
    while Lead.objects.get(uuid=warm["id"]).status != LeadStatus.SOLD:
        assert time.monotonic() < wait_until, "the warm-up lead did not sell"
        time.sleep(0.05)

    started = time.monotonic()
    response = api_client.post(
        "/api/v1/leads", data=json.dumps({"vertical": "auto-insurance",
                                          "fields": valid_fields()}),
        content_type="application/json", HTTP_AUTHORIZATION=f"Bearer {key}")
    elapsed = time.monotonic() - started

    assert response.status_code == 202, response.json()
    assert response.json()["status"] == "auctioning"
    assert elapsed < 0.4 + 0.15
    lead_id = response.json()["id"]
    deadline = time.monotonic() + 10
    while Lead.objects.get(uuid=lead_id).status != LeadStatus.SOLD:
        assert time.monotonic() < deadline, "the auction did not finish in the background"
        time.sleep(0.05)


def test_a_fast_auction_answers_200_sold_through_the_pool(api_client, sim_url, settings):
    settings.RUN_TASKS_INLINE = False
    vertical = VerticalFactory(slug="auto-insurance")
    _, key = source_with_key(vertical)
    sim_contract(vertical, sim_url, query="bid=10")

    response = api_client.post(
        "/api/v1/leads", data=json.dumps({"vertical": "auto-insurance",
                                          "fields": valid_fields()}),
        content_type="application/json", HTTP_AUTHORIZATION=f"Bearer {key}")

    assert response.status_code == 200 and response.json()["status"] == "sold"


def test_the_answer_does_not_wait_for_the_auction_s_bookkeeping(api_client, sim_url, settings,
                                                                 monkeypatch):
    """The acceptance counts and the breaker's streaks are written after the source has its
    answer: here they are held until the answer is back, and it comes back sold."""
    from apps.auctions.services import run

    settings.RUN_TASKS_INLINE = False
    vertical = VerticalFactory(slug="auto-insurance")
    _, key = source_with_key(vertical)
    contract = sim_contract(vertical, sim_url, query="bid=10")
    answered, counted = threading.Event(), threading.Event()
    bookkeeping = run.auction_bookkeeping

    def held(ctx) -> None:
        answered.wait(timeout=5)
        bookkeeping(ctx)
        counted.set()

    monkeypatch.setattr(run, "auction_bookkeeping", held)
    response = api_client.post(
        "/api/v1/leads", data=json.dumps({"vertical": "auto-insurance",
                                          "fields": valid_fields()}),
        content_type="application/json", HTTP_AUTHORIZATION=f"Bearer {key}")
    held_while_answering = not counted.is_set()
    answered.set()

    assert response.status_code == 200 and response.json()["status"] == "sold"
    assert held_while_answering
    assert counted.wait(timeout=5)
    contract.refresh_from_db()
    assert (contract.posts_recent, contract.accepted_recent) == (1, 1)
