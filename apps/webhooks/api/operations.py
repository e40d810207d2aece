"""What the staff and the source-facing webhook endpoints both do, for one source: the
views differ only in who the caller is (a staff user with model permissions, or the source
itself with its API key), how they find the source, and how lists are paginated."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db.models import QuerySet
from rest_framework import status
from rest_framework.request import Request
from rest_framework.response import Response

from apps.core.audit import audit_record
from apps.core.exceptions import ApplicationError, FieldErrors
from apps.core.filtering import queryset_filtered
from apps.core.staff_api import or_404
from apps.sources.models import Source
from apps.webhooks.api.serializers import (
    DeliveryFilter,
    RedeliveredSerializer,
    RedeliverRangeSerializer,
    WebhookDeliveryDetailSerializer,
    WebhookEndpointCreatedSerializer,
    WebhookEndpointInputSerializer,
    WebhookEndpointOutputSerializer,
)
from apps.webhooks.models import WebhookDelivery, WebhookEndpoint
from apps.webhooks.selectors import delivery_get, delivery_list, endpoint_get
from apps.webhooks.services import (
    deliveries_redeliver,
    delivery_redeliver,
    endpoint_create,
    endpoint_delete,
    endpoint_secret_rotate,
    endpoint_update,
)


def _staff(request: Request) -> Any:
    """The staff user behind the request for the audit log, or None for a source."""
    return None if isinstance(request.user, Source) else request.user


def _model_errors(error: DjangoValidationError) -> FieldErrors:
    return FieldErrors({key: list(messages) for key, messages in
                        error.message_dict.items()} if hasattr(error, "error_dict")
                       else {"body": list(error.messages)})


def endpoint_found(source: Source, endpoint_id: int) -> WebhookEndpoint:
    return or_404(endpoint_get(source, endpoint_id))


def delivery_found(source: Source, msg_id: str) -> WebhookDelivery:
    found = delivery_get(source, msg_id)
    if found is None:
        raise ApplicationError("Delivery not found.", status_code=404, code="not_found")
    return found


def endpoint_create_answer(request: Request, source: Source) -> Response:
    serializer = WebhookEndpointInputSerializer(data=request.data)
    serializer.is_valid(raise_exception=True)
    try:
        endpoint, secret = endpoint_create(source=source, **serializer.validated_data)
    except DjangoValidationError as error:
        raise _model_errors(error) from None
    audit_record(_staff(request), endpoint, "Added through the API.", action="add")
    return Response(WebhookEndpointCreatedSerializer(endpoint, context={"secret": secret}).data,
                    status=status.HTTP_201_CREATED)


def endpoint_update_answer(request: Request, source: Source, endpoint_id: int) -> Response:
    endpoint = endpoint_found(source, endpoint_id)
    serializer = WebhookEndpointInputSerializer(endpoint, data=request.data, partial=True)
    serializer.is_valid(raise_exception=True)
    try:
        endpoint_update(endpoint, **serializer.validated_data)
    except DjangoValidationError as error:
        raise _model_errors(error) from None
    changed = ", ".join(sorted(serializer.validated_data)) or "nothing"
    audit_record(_staff(request), endpoint, f"Changed {changed} through the API.")
    return Response(WebhookEndpointOutputSerializer(endpoint).data)


def endpoint_delete_answer(request: Request, source: Source, endpoint_id: int) -> Response:
    endpoint = endpoint_found(source, endpoint_id)
    audit_record(_staff(request), endpoint, "Deleted through the API.", action="delete")
    endpoint_delete(endpoint)
    return Response(status=status.HTTP_204_NO_CONTENT)


def endpoint_rotate_answer(request: Request, source: Source, endpoint_id: int) -> Response:
    endpoint = endpoint_found(source, endpoint_id)
    secret = endpoint_secret_rotate(endpoint)
    audit_record(_staff(request), endpoint, "Rotated the signing secret through the API.")
    return Response(WebhookEndpointCreatedSerializer(endpoint, context={"secret": secret}).data)


def deliveries_filtered(request: Request, source: Source) -> QuerySet[WebhookDelivery]:
    """The source's deliveries under the request's filters (400 naming a bad or empty
    filter)."""
    return queryset_filtered(DeliveryFilter, request.query_params, delivery_list(source))


def delivery_redeliver_answer(request: Request, source: Source, msg_id: str) -> Response:
    delivery = delivery_found(source, msg_id)
    delivery_redeliver(delivery)
    audit_record(_staff(request), delivery.endpoint or source,
                 f"Redelivered {delivery.msg_id} through the API.")
    return Response(WebhookDeliveryDetailSerializer(delivery_found(source, msg_id)).data,
                    status=status.HTTP_202_ACCEPTED)


def deliveries_redeliver_answer(request: Request, source: Source) -> Response:
    serializer = RedeliverRangeSerializer(data=request.data)
    serializer.is_valid(raise_exception=True)
    data = serializer.validated_data
    endpoint = None
    if data.get("endpoint") is not None:
        endpoint = endpoint_get(source, data["endpoint"])
        if endpoint is None:
            raise FieldErrors({"endpoint": ["No endpoint of this source has that id."]})
    count = deliveries_redeliver(source, since=data["since"], until=data["until"],
                                 endpoint=endpoint)
    audit_record(_staff(request), source,
                 f"Redelivered {count} webhook deliveries from {data['since']:%Y-%m-%d %H:%M} "
                 f"to {data['until']:%Y-%m-%d %H:%M} through the API.")
    return Response(RedeliveredSerializer({"redelivered": count}).data,
                    status=status.HTTP_202_ACCEPTED)
