"""Shapes of the webhook APIs, shared by the staff and the source-facing endpoints.

A signing secret appears only in the answer that creates it (create, rotate). A delivery is
named by its ``webhook-id`` (``msg_…``); what it shows is what the source was sent — never
the buyer or its price.
"""

from __future__ import annotations

import json
from typing import Any

import django_filters
from django.core.exceptions import ValidationError as DjangoValidationError
from rest_framework import serializers

from apps.core.api import StrictTypesMixin, UniqueListField
from apps.webhooks.models import (
    DeliveryKind,
    DeliveryStatus,
    SourceEvent,
    WebhookAttempt,
    WebhookDelivery,
    WebhookEndpoint,
    validate_events,
)


def _events_field(**kwargs: Any) -> UniqueListField:
    """A list of source events, each at most once."""
    return UniqueListField(child=serializers.ChoiceField(choices=SourceEvent.choices),
                           **kwargs)


class WebhookEndpointInputSerializer(StrictTypesMixin, serializers.ModelSerializer):
    """An endpoint's attributes (a JSON body): ``url`` (http/https; the SSRF guard refuses
    private, loopback, link-local and metadata addresses), ``events`` (default: all four)."""

    events = _events_field(
        allow_empty=False, min_length=1, required=False,
        help_text="Events sent to this URL, each once; default all: "
        + ", ".join(SourceEvent.values) + ".")

    class Meta:
        model = WebhookEndpoint
        fields = ["url", "events", "description", "is_active"]

    def validate_events(self, value: list[str]) -> list[str]:
        try:
            validate_events(value)
        except DjangoValidationError as error:
            raise serializers.ValidationError(error.messages) from None
        return value


class WebhookEndpointOutputSerializer(serializers.ModelSerializer):
    events = _events_field(read_only=True)
    previous_secret_valid_until = serializers.DateTimeField(
        source="previous_secret_expires_at", read_only=True, allow_null=True,
        help_text="After a rotation the previous secret signs too (a second signature) "
                  "until then.")

    class Meta:
        model = WebhookEndpoint
        fields = ["id", "source", "url", "events", "description", "is_active",
                  "failing_since", "last_success_at", "disabled_at", "disabled_reason",
                  "previous_secret_valid_until", "created_at", "updated_at"]
        read_only_fields = fields


class WebhookEndpointCreatedSerializer(WebhookEndpointOutputSerializer):
    secret = serializers.SerializerMethodField(
        help_text="The signing secret (whsec_…), in clear: shown this once, never again.")

    class Meta(WebhookEndpointOutputSerializer.Meta):
        fields = [*WebhookEndpointOutputSerializer.Meta.fields, "secret"]
        read_only_fields = fields

    def get_secret(self, endpoint: WebhookEndpoint) -> str:
        return self.context["secret"]


class WebhookAttemptSerializer(serializers.ModelSerializer):
    class Meta:
        model = WebhookAttempt
        fields = ["number", "started_at", "url", "succeeded", "http_status", "latency_ms",
                  "error", "detail", "response_excerpt"]
        read_only_fields = fields


class WebhookDeliverySerializer(serializers.ModelSerializer):
    id = serializers.CharField(source="msg_id", read_only=True,
                               help_text="The webhook-id header of every attempt.")
    lead_id = serializers.UUIDField(source="lead.uuid", read_only=True)
    payload = serializers.SerializerMethodField(
        help_text="The webhook's JSON body as sent (null before the first attempt and for "
                  "postbacks, whose URL is ``url``).")

    class Meta:
        model = WebhookDelivery
        fields = ["id", "kind", "event", "lead_id", "endpoint", "url", "payout", "status",
                  "attempts", "next_attempt_at", "last_attempt_at", "delivered_at",
                  "last_http_status", "last_error", "created_at", "payload"]
        read_only_fields = fields

    def get_payload(self, delivery: WebhookDelivery) -> dict[str, Any] | None:
        return json.loads(delivery.body) if delivery.body else None


class WebhookDeliveryDetailSerializer(WebhookDeliverySerializer):
    attempt_log = WebhookAttemptSerializer(many=True, read_only=True)

    class Meta(WebhookDeliverySerializer.Meta):
        fields = [*WebhookDeliverySerializer.Meta.fields, "attempt_log"]
        read_only_fields = fields


class RedeliverRangeSerializer(StrictTypesMixin, serializers.Serializer):
    """A time range of deliveries (by when their event happened) to send again; ``until``
    after ``since`` (a rule OpenAPI cannot state: tests/api/schemathesis.toml)."""

    since = serializers.DateTimeField()
    until = serializers.DateTimeField()
    endpoint = serializers.IntegerField(required=False, allow_null=True,
                                        help_text="Only this endpoint's deliveries.")

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if attrs["since"] >= attrs["until"]:
            raise serializers.ValidationError({"until": ["Must be after since."]})
        return attrs


class RedeliveredSerializer(serializers.Serializer):
    redelivered = serializers.IntegerField(help_text="How many deliveries were sent again.")


class DeliveryFilter(django_filters.FilterSet):
    event = django_filters.ChoiceFilter(choices=SourceEvent.choices)
    status = django_filters.ChoiceFilter(choices=DeliveryStatus.choices)
    kind = django_filters.ChoiceFilter(choices=DeliveryKind.choices)
    created_after = django_filters.IsoDateTimeFilter(field_name="created_at", lookup_expr="gte")
    created_before = django_filters.IsoDateTimeFilter(field_name="created_at", lookup_expr="lt")

    class Meta:
        model = WebhookDelivery
        fields = ["event", "status", "kind"]
