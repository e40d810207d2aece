"""The metrics read from shared state when Prometheus scrapes, not counted by one process.

Why two kinds of metrics: what happens inside an auction (ping latencies, auction durations)
is counted where it happens (``apps.auctions.metrics``) and summed over processes by
prometheus_client's multiprocess mode. What the whole deployment *is* — leads by status,
breakers, queues, the webhook backlog, which workers are alive — is already in PostgreSQL
and Redis, shared by every process; a gauge kept in one process's memory would be wrong as
soon as there are two. So ``StateCollector`` reads it at scrape time, and any web process
answers the same. Every read is small and index-friendly:

- ``leadexchange_leads_recent{status}``: leads received in the last ``METRICS_LEADS_WINDOW_S``
  seconds (default 300) by their current status — a range of the ``received_at`` index,
  never a count of the whole table.
- ``leadexchange_contract_breaker_open{contract}``: 1 while the contract's circuit breaker
  has it auto-paused (one row per contract).
- ``leadexchange_celery_queue_depth{queue}``: messages waiting in the broker (Redis
  ``LLEN`` of each queue's lists, one per priority step); absent without a Redis broker.
- ``leadexchange_webhook_backlog{status}`` (``pending``, ``sending``) and
  ``leadexchange_webhook_oldest_due_seconds``: deliveries still to send (the due job's
  partial index) and how late the most overdue one is.
- ``leadexchange_heartbeat_age_seconds{role, process}``: seconds since each Celery worker
  (``role="worker"``) and embedded scheduler beat (``apps.core.heartbeat``).
- ``leadexchange_collector_up{part}``: 0 when a part above could not be read (the database
  or Redis is down) — the scrape still answers, with the parts it could read.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import Any

from celery import current_app
from django.conf import settings
from django.db.models import Count, Min
from django.utils import timezone
from kombu.transport.redis import PRIORITY_STEPS
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from apps.buyers.models import Contract
from apps.core.heartbeat import broker_redis, heartbeat_ages
from apps.core.logging import kv
from apps.leads.models import Lead, LeadStatus
from apps.webhooks.models import DeliveryStatus, WebhookDelivery

logger = logging.getLogger(__name__)

_REDIS_BROKER = ("redis://", "rediss://", "unix://")
_PRIORITY_SEP = "\x06\x16"  # kombu's Redis transport: "<queue>\x06\x16<priority>"


def _leads() -> Iterator[Metric]:
    since = timezone.now() - timedelta(seconds=settings.METRICS_LEADS_WINDOW_S)
    counts = dict.fromkeys(LeadStatus.values, 0)
    for row in (Lead.objects.filter(received_at__gte=since).order_by()
                .values("status").annotate(n=Count("pk"))):
        counts[row["status"]] = row["n"]
    family = GaugeMetricFamily(
        "leadexchange_leads_recent",
        f"Leads received in the last {settings.METRICS_LEADS_WINDOW_S} s, by current status.",
        labels=["status"])
    for status, n in counts.items():
        family.add_metric([status], n)
    yield family


def _breakers() -> Iterator[Metric]:
    family = GaugeMetricFamily(
        "leadexchange_contract_breaker_open",
        "1 while the contract's circuit breaker keeps it auto-paused.", labels=["contract"])
    for pk, paused_at in Contract.objects.order_by("pk").values_list("pk", "auto_paused_at"):
        family.add_metric([str(pk)], 0 if paused_at is None else 1)
    yield family


def _queues() -> Iterator[Metric]:
    url = settings.CELERY_BROKER_URL
    if not url.startswith(_REDIS_BROKER):
        return
    options: dict[str, Any] = settings.CELERY_BROKER_TRANSPORT_OPTIONS
    prefix = options.get("global_keyprefix", "")
    steps: list[int] = list(options.get("priority_steps", PRIORITY_STEPS))
    queues = sorted({current_app.conf.task_default_queue, *current_app.amqp.queues})
    client = broker_redis(url)
    pipe = client.pipeline(transaction=False)
    for queue in queues:
        for step in steps:
            pipe.llen(f"{prefix}{queue}{_PRIORITY_SEP}{step}" if step else f"{prefix}{queue}")
    lengths = iter(pipe.execute())
    family = GaugeMetricFamily("leadexchange_celery_queue_depth",
                               "Tasks waiting in the broker's queue.", labels=["queue"])
    for queue in queues:
        family.add_metric([queue], sum(next(lengths) for _ in steps))
    yield family


def _webhooks() -> Iterator[Metric]:
    waiting = [DeliveryStatus.PENDING.value, DeliveryStatus.SENDING.value]
    counts = dict.fromkeys(waiting, 0)
    for row in (WebhookDelivery.objects.filter(status__in=waiting).order_by()
                .values("status").annotate(n=Count("pk"))):
        counts[row["status"]] = row["n"]
    backlog = GaugeMetricFamily(
        "leadexchange_webhook_backlog", "Webhook and postback deliveries still to send.",
        labels=["status"])
    for status, n in counts.items():
        backlog.add_metric([status], n)
    yield backlog
    now = timezone.now()
    oldest = WebhookDelivery.objects.filter(
        status__in=waiting, next_attempt_at__lte=now).aggregate(
        due=Min("next_attempt_at"))["due"]
    yield GaugeMetricFamily(
        "leadexchange_webhook_oldest_due_seconds",
        "How long the most overdue delivery has been due (0: none is overdue).",
        value=0 if oldest is None else (now - oldest).total_seconds())


def _heartbeats() -> Iterator[Metric]:
    family = GaugeMetricFamily(
        "leadexchange_heartbeat_age_seconds",
        "Seconds since each Celery worker or embedded scheduler last said it was alive.",
        labels=["role", "process"])
    for role in ("worker", "scheduler"):
        for name, age in sorted((heartbeat_ages(role) or {}).items()):
            family.add_metric([role, name], round(age, 3))
    yield family


PARTS: dict[str, Callable[[], Iterator[Metric]]] = {
    "leads": _leads, "breakers": _breakers, "queues": _queues, "webhooks": _webhooks,
    "heartbeats": _heartbeats,
}


class StateCollector(Collector):
    """Reads the ``PARTS`` at every scrape; a part that fails is left out and reported as
    ``leadexchange_collector_up{part} 0`` (its error class is logged)."""

    def collect(self) -> Iterator[Metric]:
        up = GaugeMetricFamily("leadexchange_collector_up",
                               "1 when this part of the shared state could be read.",
                               labels=["part"])
        for name, part in PARTS.items():
            try:
                metrics = list(part())
            except Exception as error:
                logger.warning(kv("metrics.part_failed", part=name, error=type(error).__name__))
                up.add_metric([name], 0)
                continue
            up.add_metric([name], 1)
            yield from metrics
        yield up
