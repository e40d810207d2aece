"""The circuit breaker (SPEC §4.7): a contract that answers slower than its threshold, or fails,
N times in a row is auto-paused — logged, recorded, its account manager e-mailed — and left
out of auctions until a health ping answers well."""

from __future__ import annotations

import logging

import pytest
from django.contrib.auth import get_user_model

from apps.auctions.health import contract_pause
from apps.auctions.models import HealthEvent, Ping
from apps.auctions.services.maintenance import health_pings_run
from apps.buyers.models import Contract, Endpoint
from tests.factories import (
    BuyerFactory,
    consumer_fields,
    lead_submit,
    sim_contract,
    sim_requests,
    source_with_key,
)

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("fresh_simulator")]

SLOW = "latency_ms=90"  # over the 50 ms threshold below
FAST = "latency_ms=1"
MANAGER_EMAIL = "manager@example.com"


@pytest.fixture
def key(vertical):
    return source_with_key(vertical, time_budget_ms=500)[1]


@pytest.fixture
def winner(vertical, sim_url):
    """A fast buyer that outbids and buys every lead, so every auction is decided in its
    first round and the watched contract is pinged exactly once per lead (never posted)."""
    return sim_contract(vertical, sim_url, query=f"bid=20&{FAST}")


def watched(vertical, sim_url, behaviour: str) -> Contract:
    manager = get_user_model().objects.create_user("manager", email=MANAGER_EMAIL)
    return sim_contract(vertical, sim_url, query=f"no_bid=1&{behaviour}",
                        buyer=BuyerFactory(account_manager=manager), slow_threshold_ms=50)


def behave(contract: Contract, behaviour: str) -> None:
    """Point the contract's ping endpoint at another behaviour of the same simulated buyer,
    as staff would: save the endpoint, then the contract (its set-up cache version)."""
    endpoint = Endpoint.objects.get(contract=contract, kind="ping")
    endpoint.url = f"{endpoint.url.split('?')[0]}?no_bid=1&{behaviour}&format=json"
    endpoint.save()
    contract.save(update_fields=["updated_at"])


class Auctions:
    """Submits one new consumer after another, running what each commit hands on (the
    account manager's alert task) as a real commit would."""

    def __init__(self, api_client, key: str, on_commit) -> None:
        self.api_client, self.key, self.count, self.on_commit = api_client, key, 0, on_commit

    def run(self, n: int) -> list[str]:
        ids = []
        for _ in range(n):
            self.count += 1
            with self.on_commit(execute=True):
                response = lead_submit(self.api_client, self.key, consumer_fields(self.count))
            body = response.json()
            assert body["status"] == "sold", (body, list(  # the pings say why not
                Ping.objects.filter(auction__lead__uuid=body["id"])
                .values_list("contract", "outcome", "latency_ms", "detail")))
            ids.append(body["id"])
        return ids


@pytest.fixture
def auctions(api_client, key, winner, django_capture_on_commit_callbacks):
    return Auctions(api_client, key, django_capture_on_commit_callbacks)


def pings_received(sim_url: str, contract: Contract) -> int:
    return len(sim_requests(sim_url, f"/b{contract.pk}/ping"))


def test_ten_slow_answers_in_a_row_pause_the_contract_and_the_next_auction_skips_it(
        vertical, sim_url, auctions, mailoutbox, caplog):
    caplog.set_level(logging.INFO, logger="apps.auctions.health")
    slow = watched(vertical, sim_url, SLOW)

    auctions.run(9)
    slow.refresh_from_db()
    assert slow.auto_paused_at is None
    auctions.run(1)

    slow.refresh_from_db()
    assert slow.auto_paused_at is not None
    assert slow.auto_pause_reason == "10 consecutive slow answers"
    [event] = HealthEvent.objects.filter(contract=slow)
    assert event.kind == "paused" and event.reason == slow.auto_pause_reason
    assert f"contract.auto_paused contract={slow.pk}" in caplog.text
    [mail] = mailoutbox
    assert mail.to == [MANAGER_EMAIL] and "auto-paused" in mail.subject
    assert pings_received(sim_url, slow) == 10

    [eleventh] = auctions.run(1)

    ping = Ping.objects.get(auction__lead__uuid=eleventh, contract=slow)
    assert ping.outcome == "paused" and ping.latency_ms is None
    assert pings_received(sim_url, slow) == 10


def test_a_fast_answer_in_between_restarts_the_count(vertical, sim_url, auctions, mailoutbox):
    slow = watched(vertical, sim_url, SLOW)

    auctions.run(9)
    behave(slow, FAST)
    auctions.run(1)
    behave(slow, SLOW)
    auctions.run(9)

    slow.refresh_from_db()
    assert slow.auto_paused_at is None
    assert not HealthEvent.objects.filter(contract=slow).exists()
    assert mailoutbox == []
    assert pings_received(sim_url, slow) == 19
    outcomes = set(Ping.objects.filter(contract=slow).values_list("outcome", flat=True))
    assert outcomes == {"no_bid"}


def test_ten_errors_in_a_row_pause_the_contract(vertical, sim_url, auctions, mailoutbox):
    failing = watched(vertical, sim_url, "fail=5xx")

    auctions.run(10)

    failing.refresh_from_db()
    assert failing.auto_paused_at is not None
    assert failing.auto_pause_reason == "10 consecutive failed requests"
    assert HealthEvent.objects.get(contract=failing).kind == "paused"
    assert len(mailoutbox) == 1
    [eleventh] = auctions.run(1)
    assert Ping.objects.get(auction__lead__uuid=eleventh, contract=failing).outcome == "paused"
    assert pings_received(sim_url, failing) == 10


def test_a_good_health_ping_resumes_the_contract(vertical, sim_url, auctions, mailoutbox,
                                                 django_capture_on_commit_callbacks):
    slow = watched(vertical, sim_url, SLOW)
    auctions.run(10)
    slow.refresh_from_db()
    assert slow.auto_paused_at is not None

    behave(slow, FAST)
    with django_capture_on_commit_callbacks(execute=True):
        resumed = health_pings_run()

    assert resumed == [slow.pk]
    slow.refresh_from_db()
    assert slow.auto_paused_at is None and slow.auto_pause_reason == ""
    assert HealthEvent.objects.filter(contract=slow, kind="resumed").count() == 1
    assert pings_received(sim_url, slow) == 11  # ten in auctions, one health ping
    assert [m.to for m in mailoutbox] == [[MANAGER_EMAIL]] * 2
    assert "resumed" in mailoutbox[1].subject
    [lead] = auctions.run(1)
    assert Ping.objects.get(auction__lead__uuid=lead, contract=slow).outcome == "no_bid"
    assert pings_received(sim_url, slow) == 12


@pytest.mark.parametrize("behaviour", [
    pytest.param(SLOW, id="slow"),
    pytest.param("fail=5xx", id="failing"),
    pytest.param("fail=garbage", id="unreadable"),
])
def test_a_bad_health_ping_keeps_the_contract_paused(vertical, sim_url, mailoutbox, behaviour,
                                                     django_capture_on_commit_callbacks):
    contract = watched(vertical, sim_url, behaviour)
    with django_capture_on_commit_callbacks(execute=True):
        assert contract_pause(contract.pk, "10 consecutive slow answers")

    assert health_pings_run() == []

    contract.refresh_from_db()
    assert contract.auto_paused_at is not None
    assert contract.last_health_ping_at is not None
    assert pings_received(sim_url, contract) == 1, "no health ping was sent"
    assert not HealthEvent.objects.filter(contract=contract, kind="resumed").exists()
    assert len(mailoutbox) == 1  # the pause alert only
