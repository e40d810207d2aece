"""The auto-pause alert never runs on the auction's path (issue 10, A3): it is a task enqueued
after the pause commits, and SMTP is bounded by ``EMAIL_TIMEOUT``."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.core.mail.backends.smtp import EmailBackend

from apps.auctions.health import contract_pause
from apps.auctions.health.alerts import contract_alert_send
from apps.auctions.tasks import contract_alert_task
from apps.buyers.models import Contract
from apps.leads.models import LeadStatus
from tests.factories import BuyerFactory, lead_submit, sim_contract, source_with_key

pytestmark = pytest.mark.django_db

MANAGER = "manager@example.com"


@pytest.fixture
def managed(vertical, sim_url) -> Contract:
    manager = get_user_model().objects.create_user("manager", email=MANAGER)
    return sim_contract(vertical, sim_url, query="fail=5xx", error_count=1,
                        buyer=BuyerFactory(account_manager=manager))


def test_an_auction_that_trips_the_breaker_sends_no_mail_itself(
        api_client, vertical, sim_url, managed, settings, monkeypatch,
        django_capture_on_commit_callbacks):
    settings.CELERY_BROKER_URL = "memory://"
    enqueued = []
    monkeypatch.setattr(contract_alert_task, "delay", lambda *args: enqueued.append(args))

    def smtp_on_the_decision_path(*args, **kwargs):
        raise AssertionError("send_mail ran inside the auction")

    monkeypatch.setattr("apps.auctions.health.alerts.send_mail", smtp_on_the_decision_path)
    sim_contract(vertical, sim_url, query="bid=10")
    _, key = source_with_key(vertical)

    with django_capture_on_commit_callbacks(execute=True):
        body = lead_submit(api_client, key).json()

    assert body["status"] == LeadStatus.SOLD
    managed.refresh_from_db()
    assert managed.auto_paused_at is not None
    assert enqueued == [(managed.pk, "auto-paused: 1 consecutive failed requests")]


def test_the_alert_task_mails_the_account_manager(managed, mailoutbox):
    assert contract_pause(managed.pk, "10 consecutive slow answers") is True

    contract_alert_task(managed.pk, "auto-paused: 10 consecutive slow answers")

    [mail] = mailoutbox
    assert mail.to == [MANAGER]
    assert mail.subject == f"[leadexchange] {managed} auto-paused"
    assert mail.body == f"Contract {managed} was auto-paused: 10 consecutive slow answers."


def test_a_contract_without_an_account_manager_gets_no_alert(vertical, sim_url, mailoutbox):
    contract = sim_contract(vertical, sim_url)

    assert contract_alert_send(contract.pk, "resumed: health ping answered") is False
    assert mailoutbox == []


def test_a_mail_server_that_is_down_does_not_raise_out_of_the_in_process_task(
        managed, settings, caplog):
    """Without a broker (the embedded default) the task runs on the background pool: a
    refused SMTP connection is logged and dropped, never raised into the pool."""
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", 1  # nothing listens there

    contract_alert_task(managed.pk, "auto-paused: 10 consecutive slow answers")

    assert "contract.alert_failed" in caplog.text
    assert MANAGER not in caplog.text


def test_smtp_is_bounded_by_a_timeout(settings):
    assert settings.EMAIL_TIMEOUT == 10
    assert EmailBackend().timeout == 10
