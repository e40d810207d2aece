"""A Celery worker killed (``kill -9``, its whole process group) while it is sending webhooks
loses none: the deliveries it had claimed are claimed again once their lease ends (the due
job, run by beat), and the receiver gets every message — a message the dead worker had
already sent arrives again with the same ``webhook-id`` and body (at least once).

PostgreSQL, real ``celery worker`` processes, a private redis-server as the broker, and a
slow local receiver so the kill lands mid-delivery."""

from __future__ import annotations

import json
import subprocess
from collections import defaultdict
from decimal import Decimal

import pytest
from django.db import transaction

from apps.leads.models import Lead
from apps.webhooks.models import DeliveryStatus, WebhookDelivery
from apps.webhooks.services import endpoint_create, source_event_record
from apps.webhooks.tasks import webhook_deliveries_due
from tests.factories import VerticalFactory, source_with_key, valid_fields
from tests.reliability.conftest import celery_broker_use
from tests.reliability.workers import (
    PRODUCTION_OPTIONS,
    wait_for,
    worker_kill,
    worker_log,
    worker_start,
)
from tests.webhook_receiver import Receiver

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True), pytest.mark.slow]

TIMEOUT_S, LEASE_S = 3, 8  # the lease is never shorter than the timeout + 5 s


def webhook_worker_start(broker: str) -> subprocess.Popen:
    """A worker in a process group of its own, with the short webhook timeout and lease."""
    return worker_start(broker, *PRODUCTION_OPTIONS, "--loglevel", "WARNING",
                        new_session=True, WEBHOOK_TIMEOUT_S=str(TIMEOUT_S),
                        WEBHOOK_LEASE_S=str(LEASE_S))


def test_killing_the_worker_mid_delivery_loses_no_webhook(private_redis, settings):
    settings.WEBHOOK_TIMEOUT_S, settings.WEBHOOK_LEASE_S = TIMEOUT_S, LEASE_S
    broker = private_redis.url(0)
    settings.CELERY_BROKER_URL = broker
    celery_broker_use(broker)
    receiver = Receiver(delay_s=1.0).start()  # each answer takes a second
    vertical = VerticalFactory(slug="auto-insurance")
    source, _ = source_with_key(vertical)
    _, receiver.secret = endpoint_create(source=source, url=f"{receiver.url}/hooks")
    first = webhook_worker_start(broker)
    second = None
    try:
        with transaction.atomic():  # the tasks are sent once this commits
            for _ in range(8):
                lead = Lead.objects.create(vertical=vertical, source=source,
                                           fields=valid_fields(), status="sold")
                source_event_record(lead, "lead.sold", payout=Decimal("6.00"))
        assert wait_for(lambda: receiver.arrivals >= 3, 60), worker_log(first)
        worker_kill(first)  # two deliveries in flight, the rest queued or done
        in_flight = WebhookDelivery.objects.filter(status=DeliveryStatus.SENDING).count()

        second = webhook_worker_start(broker)
        # beat's due job, every second, as production runs it
        delivered = wait_for(
            lambda: not WebhookDelivery.objects.exclude(
                status=DeliveryStatus.SUCCEEDED).exists(),
            90, every=1.0, tick=webhook_deliveries_due.delay)
        assert delivered, worker_log(second)
    finally:
        if second is not None and second.poll() is None:
            worker_kill(second)
        receiver.stop()

    deliveries = list(WebhookDelivery.objects.prefetch_related("attempt_log"))
    assert in_flight >= 1  # the kill did land mid-delivery
    interrupted = [d for d in deliveries if d.attempts > len(d.attempt_log.all())]
    assert len(interrupted) >= 1  # a claim the dead worker never finished, taken again
    got = defaultdict(list)
    for request in receiver.webhooks():
        assert request.verified
        got[request.headers["webhook-id"]].append(request.body)
    assert set(got) == {d.msg_id for d in deliveries}  # every message arrived
    for msg_id, bodies in got.items():
        assert len(set(bodies)) == 1, msg_id  # a repeat is the very same message
        assert json.loads(bodies[0])["type"] == "lead.sold"
