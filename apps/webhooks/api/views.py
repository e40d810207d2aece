"""Source-facing webhook API (``Authorization: Bearer <source API key>``): a source sees
and manages only its own endpoints and deliveries (another source's is a 404). Bodies are
JSON; the delivery list pages by cursor like ``/leads``, its filters and page size checked
(a bad one is a 400 naming it)."""

from __future__ import annotations

from drf_spectacular.utils import (
    OpenApiParameter,
    OpenApiResponse,
    PolymorphicProxySerializer,
    extend_schema,
)
from rest_framework.parsers import JSONParser
from rest_framework.request import Request
from rest_framework.response import Response

from apps.core.api import cursor_paginated
from apps.leads.api.serializers import DetailSerializer, ErrorsSerializer
from apps.leads.api.views import LeadPagination, SourceApi
from apps.sources.authentication import request_source
from apps.webhooks.api import operations
from apps.webhooks.api.serializers import (
    RedeliveredSerializer,
    RedeliverRangeSerializer,
    WebhookDeliveryDetailSerializer,
    WebhookDeliverySerializer,
    WebhookEndpointCreatedSerializer,
    WebhookEndpointInputSerializer,
    WebhookEndpointOutputSerializer,
)
from apps.webhooks.api.staff import DELIVERY_FILTERS
from apps.webhooks.models import WebhookDelivery
from apps.webhooks.selectors import endpoint_list

_TAGS = ["Sources"]
_READ = {401: OpenApiResponse(DetailSerializer, "Missing, unknown or revoked API key."),
         403: OpenApiResponse(DetailSerializer, "IP not allowed or source paused."),
         429: OpenApiResponse(DetailSerializer, "Rate limit exceeded; the Retry-After header "
                                                "says how many seconds to wait.")}
_ONE = {**_READ, 404: OpenApiResponse(DetailSerializer, "Not yours, or no such thing.")}
_NOT_JSON = {415: OpenApiResponse(DetailSerializer, "Not a JSON body.")}
_INVALID = {400: OpenApiResponse(ErrorsSerializer, "Invalid input: every bad field by name."),
            **_NOT_JSON}
_REDELIVER_ONE = {
    **_ONE,
    400: OpenApiResponse(DetailSerializer, "Its endpoint is disabled (switch it on first) "
                                           "or deleted."),
    409: OpenApiResponse(DetailSerializer, "Being sent right now."),
}
_REDELIVER_RANGE = {
    **_READ, **_NOT_JSON,
    400: OpenApiResponse(
        PolymorphicProxySerializer("RedeliverRangeRefused", serializers=[
            ErrorsSerializer, DetailSerializer], resource_type_field_name=None),
        "Invalid input by field (until not after since, no such endpoint), or the "
        "endpoint is disabled."),
}


class DeliveryPagination(LeadPagination):
    """Newest first like ``/leads``: an opaque ``cursor`` (404 for one this API did not
    give), ``page_size`` from 1 to 500 (400 otherwise)."""

    ordering = ("-created_at", "-id")


class _WebhookSourceApi(SourceApi):
    # JSON only, like the staff API: an endpoint's events are a list, which a form body
    # would spell as repeated keys the schema cannot describe; any other type is a 415.
    parser_classes = [JSONParser]  # unstorable text: the input serializers (StrictTypesMixin)


class WebhookDeliveriesApi(_WebhookSourceApi):
    """``GET /webhooks/deliveries``: your deliveries (webhooks and postbacks), newest first,
    cursor-paginated like ``/leads``; filters ``event``, ``status``, ``kind``,
    ``created_after``, ``created_before``."""

    @extend_schema(operation_id="webhooks_deliveries_list", summary="List your deliveries",
                   tags=_TAGS, parameters=[
                       *DELIVERY_FILTERS,
                       OpenApiParameter("cursor", str,
                                        description="From a `next` or `previous` URL."),
                       OpenApiParameter("page_size", {"type": "integer", "minimum": 1,
                                                      "maximum": 500},
                                        description="Deliveries per page (default 50, max "
                                                    "500)."),
                   ],
                   responses={
                       200: cursor_paginated("WebhookDeliveryCursor",
                                             WebhookDeliverySerializer(many=True)),
                       400: OpenApiResponse(ErrorsSerializer,
                                            "A bad filter or page_size, by name."),
                       404: OpenApiResponse(DetailSerializer,
                                            "A cursor this API did not give."),
                       **_READ})
    def get(self, request: Request) -> Response:
        rows = operations.deliveries_filtered(request, request_source(request))
        paginator = DeliveryPagination()
        page: list[WebhookDelivery] | None = paginator.paginate_queryset(rows, request,
                                                                        view=self)
        return paginator.get_paginated_response(WebhookDeliverySerializer(page, many=True).data)


class WebhookDeliveryDetailApi(_WebhookSourceApi):
    @extend_schema(operation_id="webhooks_deliveries_read", summary="Read one delivery",
                   tags=_TAGS, responses={200: WebhookDeliveryDetailSerializer, **_ONE})
    def get(self, request: Request, delivery_id: str) -> Response:
        delivery = operations.delivery_found(request_source(request), delivery_id)
        return Response(WebhookDeliveryDetailSerializer(delivery).data)


class WebhookDeliveryRedeliverApi(_WebhookSourceApi):
    """``POST /webhooks/deliveries/{id}/redeliver``: send it again now (same
    ``webhook-id``, a new round of retries) → 202."""

    @extend_schema(operation_id="webhooks_deliveries_redeliver", summary="Redeliver one",
                   tags=_TAGS, request=None,
                   responses={202: WebhookDeliveryDetailSerializer, **_REDELIVER_ONE})
    def post(self, request: Request, delivery_id: str) -> Response:
        return operations.delivery_redeliver_answer(request, request_source(request), delivery_id)


class WebhookDeliveriesRedeliverApi(_WebhookSourceApi):
    """``POST /webhooks/deliveries/redeliver {"since", "until"[, "endpoint"]}``: send again
    every delivery of the range that has not succeeded → 202 with how many."""

    @extend_schema(operation_id="webhooks_deliveries_redeliver_range",
                   summary="Redeliver a time range", tags=_TAGS,
                   request=RedeliverRangeSerializer,
                   responses={202: RedeliveredSerializer, **_REDELIVER_RANGE})
    def post(self, request: Request) -> Response:
        return operations.deliveries_redeliver_answer(request, request_source(request))


class WebhookEndpointsApi(_WebhookSourceApi):
    """``GET /webhooks/endpoints``: your endpoints (never their secrets). ``POST``: add one
    → 201 with its signing secret (``whsec_…``), shown this once."""

    @extend_schema(operation_id="webhooks_endpoints_list", summary="List your endpoints",
                   tags=_TAGS,
                   responses={200: WebhookEndpointOutputSerializer(many=True), **_READ})
    def get(self, request: Request) -> Response:
        endpoints = endpoint_list(request_source(request))
        return Response(WebhookEndpointOutputSerializer(endpoints, many=True).data)

    @extend_schema(operation_id="webhooks_endpoints_create", summary="Add an endpoint",
                   tags=_TAGS, request=WebhookEndpointInputSerializer,
                   responses={201: WebhookEndpointCreatedSerializer, **_READ, **_INVALID})
    def post(self, request: Request) -> Response:
        return operations.endpoint_create_answer(request, request_source(request))


class WebhookEndpointDetailApi(_WebhookSourceApi):
    @extend_schema(operation_id="webhooks_endpoints_read", summary="Read an endpoint",
                   tags=_TAGS, responses={200: WebhookEndpointOutputSerializer, **_ONE})
    def get(self, request: Request, endpoint_id: int) -> Response:
        endpoint = operations.endpoint_found(request_source(request), endpoint_id)
        return Response(WebhookEndpointOutputSerializer(endpoint).data)

    @extend_schema(operation_id="webhooks_endpoints_update", summary="Change an endpoint",
                   tags=_TAGS, request=WebhookEndpointInputSerializer(partial=True),
                   responses={200: WebhookEndpointOutputSerializer, **_ONE, **_INVALID})
    def patch(self, request: Request, endpoint_id: int) -> Response:
        return operations.endpoint_update_answer(request, request_source(request), endpoint_id)

    @extend_schema(operation_id="webhooks_endpoints_delete", summary="Delete an endpoint",
                   tags=_TAGS, responses={204: None, **_ONE})
    def delete(self, request: Request, endpoint_id: int) -> Response:
        return operations.endpoint_delete_answer(request, request_source(request), endpoint_id)


class WebhookEndpointRotateApi(_WebhookSourceApi):
    """``POST /webhooks/endpoints/{id}/rotate``: a new signing secret, shown this once; the
    previous one keeps signing too (a second signature) for a day."""

    @extend_schema(operation_id="webhooks_endpoints_rotate", summary="Rotate the secret",
                   tags=_TAGS, request=None,
                   responses={200: WebhookEndpointCreatedSerializer, **_ONE})
    def post(self, request: Request, endpoint_id: int) -> Response:
        return operations.endpoint_rotate_answer(request, request_source(request), endpoint_id)
