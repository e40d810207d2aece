"""Source-side ping-post API: ``POST /api/v1/pings`` and ``POST /api/v1/pings/{id}/post``."""

from __future__ import annotations

import time

from drf_spectacular.utils import (
    OpenApiExample,
    OpenApiResponse,
    PolymorphicProxySerializer,
    extend_schema,
)
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response

from apps.auctions.models import SourcePingStatus
from apps.auctions.services.pings import ping_post, source_ping
from apps.core.clientip import client_ip
from apps.core.unstorable import StorableJSONParser
from apps.leads.api.serializers import (
    CaptureAcceptedSerializer,
    CaptureOutcomeSerializer,
    DetailSerializer,
    DuplicateSerializer,
    ErrorsSerializer,
    SuppressedSerializer,
)
from apps.leads.api.views import SourceApi, _check_body_size
from apps.leads.intake import SubmissionSerializer
from apps.sources.authentication import request_source, request_source_key


class PingInputSerializer(serializers.Serializer):
    vertical = serializers.CharField(help_text="The vertical's slug.")
    fields = serializers.DictField(  # type: ignore[assignment]
        help_text="The vertical's non-PII fields (those marked required_for_ping at least); "
                  "a PII field here is a 400 naming it.")
    sub_id = serializers.CharField(required=False, allow_blank=True, max_length=255)
    test = serializers.BooleanField(required=False, default=False)
    one_to_one = serializers.BooleanField(
        required=False, default=False,
        help_text="One-to-one consent: list the bidding buyers' brand names in the answer "
                  "(only buyers that take part are pinged); the post then names the brands "
                  "the consumer picked in `consent.one_to_one`.")


class BrandSerializer(serializers.Serializer):
    brand = serializers.SlugField(help_text="The key to name in `consent.one_to_one`.")
    name = serializers.CharField(help_text="The public brand name to show the consumer.")


class PingAnswerSerializer(serializers.Serializer):
    ping_id = serializers.UUIDField()
    status = serializers.ChoiceField(choices=SourcePingStatus.values)
    bid = serializers.DecimalField(
        max_digits=10, decimal_places=2, allow_null=True,
        help_text="What you will be paid if you post this lead before expires_at and the "
                  "reserved buyer takes it; null for no_bid.")
    expires_at = serializers.DateTimeField()
    brands = BrandSerializer(many=True, required=False, help_text=(
        "With `one_to_one`: the bidders' brands, best first, without prices (empty for "
        "no_bid)."))


class MismatchSerializer(DetailSerializer):
    fields = serializers.ListField(child=serializers.CharField(),  # type: ignore[assignment]
                                   required=False)


_WHO = {
    401: OpenApiResponse(DetailSerializer, "Missing, unknown or revoked API key."),
    429: OpenApiResponse(DetailSerializer, "Rate limit exceeded (see Retry-After)."),
    413: OpenApiResponse(DetailSerializer, "Body too large."),
    415: OpenApiResponse(DetailSerializer, "Unsupported content type."),
}
_PING_FIELDS = {"zip": "10001", "vehicle_year": 2018, "homeowner": "yes"}
_PING_EXAMPLE = {"vertical": "auto-insurance", "fields": _PING_FIELDS}
_POST_EXAMPLE = {"fields": {**_PING_FIELDS, "first_name": "Ada", "last_name": "Lovelace",
                            "email": "ada@example.com", "phone": "2125550123"}}


class PingsApi(SourceApi):
    parser_classes = [StorableJSONParser]

    @extend_schema(
        operation_id="pings_submit", tags=["Sources"], summary="Ping: ask what a lead is worth",
        description="Step one of source-side ping-post. Send the non-PII fields; the buyers "
                    "are pinged within your ping budget and the best bid is held for you "
                    "until `expires_at` (its buyer's cap room included). `bid` is your "
                    "payout. Then post the full lead to `/api/v1/pings/{ping_id}/post`.",
        request=PingInputSerializer,
        examples=[OpenApiExample("ping", value=_PING_EXAMPLE, request_only=True),
                  OpenApiExample("one-to-one ping", request_only=True,
                                 value={**_PING_EXAMPLE, "one_to_one": True}),
                  OpenApiExample("bid", response_only=True, value={
                      "ping_id": "8b0e7c1e-4a51-4f0b-9a65-1f7c2f9d3b10", "status": "bid",
                      "bid": "31.50", "expires_at": "2026-05-01T12:01:00Z"}),
                  OpenApiExample("one-to-one bid", response_only=True, value={
                      "ping_id": "8b0e7c1e-4a51-4f0b-9a65-1f7c2f9d3b10", "status": "bid",
                      "bid": "31.50", "expires_at": "2026-05-01T12:01:00Z",
                      "brands": [{"brand": "apex-insurance", "name": "Apex Insurance"},
                                 {"brand": "bolt-auto", "name": "Bolt Auto"}]})],
        responses={200: PingAnswerSerializer,
                   400: OpenApiResponse(ErrorsSerializer, "Invalid input or a PII field: "
                                        "every bad field listed by key."),
                   403: OpenApiResponse(DetailSerializer, "IP not allowed, source paused, "
                                        "pings not enabled for this source "
                                        "(ping_not_allowed) or vertical not allowed."),
                   **_WHO},
    )
    def post(self, request: Request) -> Response:
        _check_body_size(request)
        ping = source_ping(source=request_source(request), data=request.data)
        answer = {"ping_id": ping.uuid, "status": ping.status, "bid": ping.bid,
                  "expires_at": ping.expires_at}
        if "brands" in ping.round:
            answer["brands"] = ping.round["brands"]
        return Response(PingAnswerSerializer(answer).data)


class PingPostSerializer(SubmissionSerializer):
    """The post of a ping: a lead's envelope whose ``vertical`` may be left out (the ping's
    is taken; one given must be the ping's). JSON only, so every type is strict."""

    strict_scalars = True

    vertical = serializers.SlugField(max_length=64, required=False,
                                     help_text="The ping's vertical (may be left out).")


class PingPostApi(SourceApi):
    parser_classes = [StorableJSONParser]

    @extend_schema(
        operation_id="pings_post", tags=["Sources"], summary="Post the lead of a ping",
        description="Step two: the full lead (same body as `POST /api/v1/leads`; `vertical` "
                    "may be left out). The pinged fields must be unchanged. Answered like a "
                    "sync lead; posting the same ping again returns the first answer.",
        request=PingPostSerializer,
        examples=[OpenApiExample("post", request_only=True, value=_POST_EXAMPLE),
                  OpenApiExample("one-to-one post", request_only=True, value={
                      **_POST_EXAMPLE, "consent": {
                          "trustedform_cert_url": "https://cert.trustedform.com/"
                                                  "2a5f8c3e9b1d4f6a8c0e2b4d6f8a0c2e4b6d8f0a",
                          "consented_at": "2026-05-01T12:00:40Z",
                          "one_to_one": [{"brand": "apex-insurance", "text": "I agree that "
                                          "Apex Insurance may call me about auto insurance."}]}})],
        responses={
            200: CaptureOutcomeSerializer, 202: CaptureAcceptedSerializer,
            400: OpenApiResponse(ErrorsSerializer, "Invalid lead: every bad field by key, "
                                 "or picks the one-to-one ping did not list (the ping "
                                 "stays good: fix and post again)."),
            403: OpenApiResponse(DetailSerializer, "IP not allowed or source paused."),
            404: OpenApiResponse(DetailSerializer, "No ping of yours has this id."),
            409: OpenApiResponse(PolymorphicProxySerializer(
                "PingPostConflict", serializers=[MismatchSerializer, DuplicateSerializer,
                                                 SuppressedSerializer],
                resource_type_field_name=None), "ping_mismatch (the differing "
                                 "fields listed in `fields`), a duplicate lead, a "
                                 "suppressed consumer, or ping_post_in_progress."),
            410: OpenApiResponse(DetailSerializer, "ping_expired: ping again."),
            **_WHO},
    )
    def post(self, request: Request, ping_id) -> Response:
        started = time.monotonic()
        source = request_source(request)
        _check_body_size(request)
        if isinstance(request.data, dict):  # the JSON contract first: a 400, never a 410
            PingPostSerializer(data=request.data).is_valid(raise_exception=True)
        status_code, body = ping_post(
            source=source, api_key=request_source_key(request), ping_id=ping_id,
            data=request.data, client_ip=client_ip(request),
            deadline=started + source.time_budget_ms / 1000)
        if "status_url" in body:
            body = {**body, "status_url": request.build_absolute_uri(body["status_url"])}
        return Response(body, status=status_code)

