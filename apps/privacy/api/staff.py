"""Staff API for consumer privacy: erase a consumer, read the erasure record, suppress a
consumer who opted out.

Staff token or session with Django model permissions (apps.core.staff_api): erasing needs
``privacy.add_erasurerequest``, reading erasures ``privacy.view_erasurerequest``, an opt-out
``leads.add_suppressedconsumer`` (account managers hold the three, managers only the read:
apps/privacy/migrations/0003_role_permissions.py).
"""

from __future__ import annotations

from django.db.models import QuerySet
from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.request import Request
from rest_framework.response import Response

from apps.core.staff_api import (
    ERRORS_LIST,
    ERRORS_ONE,
    ERRORS_WRITE,
    PAGE_PARAMETERS,
    StaffApi,
    or_404,
    paginated,
)
from apps.leads.consumers import consumer_opt_out
from apps.leads.models import SuppressedConsumer
from apps.privacy.api.serializers import (
    ConsumerInputSerializer,
    ErasureSerializer,
    SuppressionAddedSerializer,
)
from apps.privacy.models import ErasureRequest
from apps.privacy.services import erasure_request

_TAGS = ["Staff"]


def _consumer(request: Request) -> tuple[str | None, str | None]:
    """The e-mail and phone of the body (400 for a non-string or an over-long one)."""
    serializer = ConsumerInputSerializer(data=request.data)
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data.get("email"), serializer.validated_data.get("phone")


def _erasures() -> QuerySet[ErasureRequest]:
    return ErasureRequest.objects.select_related("requested_by").order_by("-requested_at", "-pk")


class ErasuresApi(StaffApi):
    """``POST /staff/erasures {"email", "phone"}`` (either or both): erase every lead of that
    consumer, across sources and verticals, and suppress it → 202 with the request (its
    ``status`` turns ``done`` when the background run ends; read it back by id). Repeating
    it is harmless: the repeat erases nothing more. ``GET``: the requests, newest first."""

    permission_model = ErasureRequest

    @extend_schema(operation_id="staff_erasures_create", summary="Erase a consumer",
                   tags=_TAGS, request=ConsumerInputSerializer,
                   responses={202: ErasureSerializer, **ERRORS_WRITE})
    def post(self, request: Request) -> Response:
        email, phone = _consumer(request)
        row = erasure_request(email=email, phone=phone, requested_by=request.user, channel="api")
        return Response(ErasureSerializer(row).data, status=status.HTTP_202_ACCEPTED)

    @extend_schema(operation_id="staff_erasures_list", summary="List erasure requests",
                   tags=_TAGS, parameters=PAGE_PARAMETERS,
                   responses={200: paginated("Erasure", ErasureSerializer(many=True)),
                              **ERRORS_LIST})
    def get(self, request: Request) -> Response:
        return self.page(_erasures(), ErasureSerializer)


class ErasureDetailApi(StaffApi):
    """``GET /staff/erasures/{id}``: one erasure request, with how many leads it erased."""

    permission_model = ErasureRequest

    @extend_schema(operation_id="staff_erasures_read", summary="Read an erasure request",
                   tags=_TAGS, responses={200: ErasureSerializer, **ERRORS_ONE})
    def get(self, request: Request, erasure_id: int) -> Response:
        return Response(ErasureSerializer(or_404(_erasures().filter(pk=erasure_id).first())).data)


class SuppressionsApi(StaffApi):
    """``POST /staff/suppressions {"email", "phone"}``: the consumer opted out — its new
    leads are refused (``409 suppressed``) in every vertical that enforces suppression.
    Existing leads are kept (erase them with ``/staff/erasures``)."""

    permission_model = SuppressedConsumer

    @extend_schema(operation_id="staff_suppressions_create", summary="Suppress a consumer",
                   tags=_TAGS, request=ConsumerInputSerializer,
                   responses={201: SuppressionAddedSerializer, **ERRORS_WRITE})
    def post(self, request: Request) -> Response:
        email, phone = _consumer(request)
        added = consumer_opt_out(email=email, phone=phone)
        return Response(SuppressionAddedSerializer({"added": added}).data,
                        status=status.HTTP_201_CREATED)
