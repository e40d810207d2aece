"""Reads of webhook endpoints and deliveries."""

from __future__ import annotations

from django.db.models import Prefetch, QuerySet

from apps.core.cache import cached_value, cached_value_forget
from apps.sources.models import Source
from apps.webhooks.models import WebhookAttempt, WebhookDelivery, WebhookEndpoint

Subscriptions = tuple[tuple[int, frozenset[str]], ...]


def _subscriptions_key(source_id: int) -> tuple[str, int]:
    return ("webhook-endpoints", source_id)


def endpoints_subscribed(source_id: int) -> Subscriptions:
    """The active endpoints of a source as ``(id, events)`` pairs, from a per-process cache
    at most ``TTL_S`` old (read inside the auction's sale transaction: one query per source
    every few seconds, none in between). A change made in this process is seen at once
    (``endpoints_forget``); one made elsewhere within seconds."""
    return cached_value(_subscriptions_key(source_id), lambda: tuple(
        (pk, frozenset(events)) for pk, events in WebhookEndpoint.objects.filter(
            source_id=source_id, is_active=True).values_list("pk", "events")))


def endpoints_forget(source_id: int) -> None:
    """Drop this process's cached endpoint list of a source (after changing it)."""
    cached_value_forget(_subscriptions_key(source_id))


def endpoint_list(source: Source) -> QuerySet[WebhookEndpoint]:
    return WebhookEndpoint.objects.filter(source=source).order_by("id")


def endpoint_get(source: Source, endpoint_id: int) -> WebhookEndpoint | None:
    """One endpoint of ``source`` (None when it is another source's or does not exist)."""
    return WebhookEndpoint.objects.filter(source=source, pk=endpoint_id).first()


def delivery_list(source: Source) -> QuerySet[WebhookDelivery]:
    """A source's deliveries, newest first, with what their rows show."""
    return (WebhookDelivery.objects.filter(source=source)
            .select_related("lead", "endpoint").order_by("-created_at", "-id"))


def delivery_get(source: Source, msg_id: str) -> WebhookDelivery | None:
    """One delivery of ``source`` by its ``webhook-id``, its attempts prefetched in order
    (None when it is another source's or does not exist)."""
    return (WebhookDelivery.objects.filter(source=source, msg_id=msg_id)
            .select_related("lead", "endpoint")
            .prefetch_related(Prefetch("attempt_log",
                                       queryset=WebhookAttempt.objects.order_by("number")))
            .first())
