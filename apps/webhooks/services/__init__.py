"""Webhook and postback services: ``source_event_record`` (the outbox write other apps call
inside the transaction of a lead's outcome), sending, endpoints and redeliveries."""

from apps.webhooks.services.delivery import deliveries_send, deliveries_send_due
from apps.webhooks.services.endpoints import (
    deliveries_redeliver,
    delivery_redeliver,
    endpoint_create,
    endpoint_delete,
    endpoint_secret_rotate,
    endpoint_update,
)
from apps.webhooks.services.events import source_event_record

__all__ = [
    "deliveries_redeliver",
    "deliveries_send",
    "deliveries_send_due",
    "delivery_redeliver",
    "endpoint_create",
    "endpoint_delete",
    "endpoint_secret_rotate",
    "endpoint_update",
    "source_event_record",
]
