"""Staff API for a source's webhook endpoints and its deliveries (webhooks and postbacks).

Staff token or session with Django model permissions (apps.core.staff_api): endpoints need
``webhooks.*_webhookendpoint``; reading deliveries ``view_webhookdelivery``, redelivering
``change_webhookdelivery``. A signing secret is in the answer that creates it (create,
rotate) and never again. Every change goes to the admin's history.
"""

from __future__ import annotations

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiParameter,
    OpenApiResponse,
    PolymorphicProxySerializer,
    extend_schema,
)
from rest_framework.request import Request
from rest_framework.response import Response

from apps.core.staff_api import (
    ERRORS_LIST,
    ERRORS_ONE,
    ERRORS_WRITE_ONE,
    PAGE_PARAMETERS,
    VALIDATION_ERRORS,
    ErrorDetailSerializer,
    StaffApi,
    StaffModelPermissions,
    or_404,
    paginated,
)
from apps.sources.models import Source
from apps.sources.selectors import source_get
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
from apps.webhooks.models import (
    DeliveryKind,
    DeliveryStatus,
    SourceEvent,
    WebhookDelivery,
    WebhookEndpoint,
)
from apps.webhooks.selectors import endpoint_list

_TAGS = ["Staff"]
_CHANGE = "%(app_label)s.change_%(model_name)s"
DELIVERY_FILTERS = [
    OpenApiParameter("event", str, enum=SourceEvent.values),
    OpenApiParameter("status", str, enum=DeliveryStatus.values),
    OpenApiParameter("kind", str, enum=DeliveryKind.values),
    OpenApiParameter("created_after", OpenApiTypes.DATETIME,
                     description="Event at or after (ISO 8601 date-time, e.g. "
                                 "2026-05-01T00:00:00Z)."),
    OpenApiParameter("created_before", OpenApiTypes.DATETIME,
                     description="Event before (ISO 8601 date-time)."),
]
_LIST_ONE = {**ERRORS_LIST,
             404: OpenApiResponse(ErrorDetailSerializer, "No such source, or no such page.")}
_REDELIVER_ONE = {
    **ERRORS_ONE,
    400: OpenApiResponse(ErrorDetailSerializer, "Its endpoint is disabled (switch it on "
                                                "first) or deleted."),
    409: OpenApiResponse(ErrorDetailSerializer, "Being sent right now."),
}
_REDELIVER_RANGE = {
    **ERRORS_WRITE_ONE,
    400: OpenApiResponse(
        PolymorphicProxySerializer("StaffRedeliverRangeRefused", serializers=[
            VALIDATION_ERRORS, ErrorDetailSerializer], resource_type_field_name=None),
        "Invalid input by field (until not after since, no such endpoint), or the "
        "endpoint is disabled."),
}


class ChangePermissions(StaffModelPermissions):
    """An action that changes rows (rotate, redeliver): ``change`` on the model."""

    perms_map = {**StaffModelPermissions.perms_map, "POST": [_CHANGE]}


class _SourceStaffApi(StaffApi):
    def _source(self, source_id: int) -> Source:
        return or_404(source_get(source_id))


class SourceWebhooksApi(_SourceStaffApi):
    """``GET /sources/{id}/webhooks``: the source's endpoints (never their secrets).
    ``POST``: add one → 201 with its signing secret in ``secret``, the only time it is
    shown."""

    permission_model = WebhookEndpoint

    @extend_schema(operation_id="sources_webhooks_list", summary="List webhook endpoints",
                   tags=_TAGS, parameters=PAGE_PARAMETERS,
                   responses={200: paginated("WebhookEndpoint",
                                             WebhookEndpointOutputSerializer(many=True)),
                              **_LIST_ONE})
    def get(self, request: Request, source_id: int) -> Response:
        return self.page(endpoint_list(self._source(source_id)), WebhookEndpointOutputSerializer)

    @extend_schema(operation_id="sources_webhooks_create", summary="Add a webhook endpoint",
                   tags=_TAGS, request=WebhookEndpointInputSerializer,
                   responses={201: WebhookEndpointCreatedSerializer, **ERRORS_WRITE_ONE})
    def post(self, request: Request, source_id: int) -> Response:
        return operations.endpoint_create_answer(request, self._source(source_id))


class SourceWebhookDetailApi(_SourceStaffApi):
    """``GET``, ``PATCH`` (change what is given; ``is_active: true`` switches a disabled
    endpoint back on) and ``DELETE /sources/{id}/webhooks/{endpoint_id}``."""

    permission_model = WebhookEndpoint

    @extend_schema(operation_id="sources_webhooks_read", summary="Read a webhook endpoint",
                   tags=_TAGS, responses={200: WebhookEndpointOutputSerializer, **ERRORS_ONE})
    def get(self, request: Request, source_id: int, endpoint_id: int) -> Response:
        endpoint = operations.endpoint_found(self._source(source_id), endpoint_id)
        return Response(WebhookEndpointOutputSerializer(endpoint).data)

    @extend_schema(operation_id="sources_webhooks_update", summary="Change a webhook endpoint",
                   tags=_TAGS, request=WebhookEndpointInputSerializer(partial=True),
                   responses={200: WebhookEndpointOutputSerializer, **ERRORS_WRITE_ONE})
    def patch(self, request: Request, source_id: int, endpoint_id: int) -> Response:
        return operations.endpoint_update_answer(request, self._source(source_id), endpoint_id)

    @extend_schema(operation_id="sources_webhooks_delete", summary="Delete a webhook endpoint",
                   tags=_TAGS, responses={204: None, **ERRORS_ONE})
    def delete(self, request: Request, source_id: int, endpoint_id: int) -> Response:
        return operations.endpoint_delete_answer(request, self._source(source_id), endpoint_id)


class SourceWebhookRotateApi(_SourceStaffApi):
    """``POST /sources/{id}/webhooks/{endpoint_id}/rotate``: a new signing secret, shown
    this once; the previous one keeps signing too for ``WEBHOOK_SECRET_GRACE_S``
    (``webhooks.change_webhookendpoint``)."""

    permission_model = WebhookEndpoint
    permission_classes = [ChangePermissions]

    @extend_schema(operation_id="sources_webhooks_rotate", summary="Rotate the signing secret",
                   tags=_TAGS, request=None,
                   responses={200: WebhookEndpointCreatedSerializer, **ERRORS_ONE})
    def post(self, request: Request, source_id: int, endpoint_id: int) -> Response:
        return operations.endpoint_rotate_answer(request, self._source(source_id), endpoint_id)


class SourceDeliveriesApi(_SourceStaffApi):
    """``GET /sources/{id}/deliveries``: the source's webhook and postback deliveries,
    newest first, filtered by event, status, kind and when the event happened."""

    permission_model = WebhookDelivery

    @extend_schema(operation_id="sources_deliveries_list", summary="List deliveries",
                   tags=_TAGS, parameters=[*PAGE_PARAMETERS, *DELIVERY_FILTERS],
                   responses={200: paginated("WebhookDelivery",
                                             WebhookDeliverySerializer(many=True)),
                              **_LIST_ONE})
    def get(self, request: Request, source_id: int) -> Response:
        source = self._source(source_id)
        return self.page(operations.deliveries_filtered(request, source), WebhookDeliverySerializer)


class SourceDeliveryDetailApi(_SourceStaffApi):
    """``GET /sources/{id}/deliveries/{delivery_id}``: one delivery with every attempt
    (status, latency, the receiver's answer, truncated)."""

    permission_model = WebhookDelivery

    @extend_schema(operation_id="sources_deliveries_read", summary="Read a delivery",
                   tags=_TAGS, responses={200: WebhookDeliveryDetailSerializer, **ERRORS_ONE})
    def get(self, request: Request, source_id: int, delivery_id: str) -> Response:
        delivery = operations.delivery_found(self._source(source_id), delivery_id)
        return Response(WebhookDeliveryDetailSerializer(delivery).data)


class SourceDeliveryRedeliverApi(_SourceStaffApi):
    """``POST /sources/{id}/deliveries/{delivery_id}/redeliver``: send it again now, as a
    new round of attempts, same ``webhook-id`` → 202 (``webhooks.change_webhookdelivery``).
    409 while it is being sent; 400 when its endpoint is disabled or deleted."""

    permission_model = WebhookDelivery
    permission_classes = [ChangePermissions]

    @extend_schema(operation_id="sources_deliveries_redeliver", summary="Redeliver a delivery",
                   tags=_TAGS, request=None,
                   responses={202: WebhookDeliveryDetailSerializer, **_REDELIVER_ONE})
    def post(self, request: Request, source_id: int, delivery_id: str) -> Response:
        return operations.delivery_redeliver_answer(request, self._source(source_id),
                                                    delivery_id)


class SourceDeliveriesRedeliverApi(_SourceStaffApi):
    """``POST /sources/{id}/deliveries/redeliver {"since", "until"[, "endpoint"]}``: send
    again every delivery of that time range that has not succeeded → 202 with how many
    (``webhooks.change_webhookdelivery``)."""

    permission_model = WebhookDelivery
    permission_classes = [ChangePermissions]

    @extend_schema(operation_id="sources_deliveries_redeliver_range",
                   summary="Redeliver a time range", tags=_TAGS,
                   request=RedeliverRangeSerializer,
                   responses={202: RedeliveredSerializer, **_REDELIVER_RANGE})
    def post(self, request: Request, source_id: int) -> Response:
        return operations.deliveries_redeliver_answer(request, self._source(source_id))
