"""Buyer-facing returns API (``Authorization: Bearer lxb_…``): file a return, list and read
your own. Another buyer's return is a 404; so is a lead that was never sold to you."""

from __future__ import annotations

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.parsers import JSONParser
from rest_framework.request import Request
from rest_framework.response import Response

from apps.billing.api.serializers import (
    ReturnFilter,
    ReturnInputSerializer,
    ReturnOutputSerializer,
    filter_dates_check,
)
from apps.billing.authentication import (
    BuyerKeyAuthentication,
    BuyerKeyThrottle,
    IsBuyer,
    request_buyer,
)
from apps.billing.models import Return, ReturnChannel, ReturnStatus
from apps.billing.selectors import return_get_for_buyer, return_list_for_buyer
from apps.billing.services import return_submit
from apps.core.api import ApiView, cursor_paginated
from apps.core.filtering import queryset_filtered
from apps.core.staff_api import or_404
from apps.leads.api.serializers import DetailSerializer, ErrorsSerializer
from apps.leads.api.views import LeadPagination

_TAGS = ["Buyers"]
_WHO = {401: OpenApiResponse(DetailSerializer, "Missing, unknown or revoked buyer API key."),
        429: OpenApiResponse(DetailSerializer, "Rate limit exceeded; the Retry-After header "
                                               "says how many seconds to wait.")}
RETURN_FILTERS = [
    OpenApiParameter("status", str, enum=ReturnStatus.values),
    OpenApiParameter("from", OpenApiTypes.DATE, description="Filed on or after this day "
                                                            "(UTC, e.g. 2026-05-01)."),
    OpenApiParameter("to", OpenApiTypes.DATE, description="Filed on or before this day (UTC)."),
]
_FILED = OpenApiExample("A return", value={
    "id": 42, "lead_id": "3f2b8c1e-7a4d-4e0b-9a51-2c8e6f1d9b70", "reason": "bad_contact",
    "comment": "Phone disconnected.", "status": "pending", "credit": "24.00", "note": "",
    "created_at": "2026-05-04T14:03:11Z", "decided_at": None}, response_only=True)


class ReturnPagination(LeadPagination):
    """Newest first by an opaque ``cursor``; ``page_size`` from 1 to 500."""

    ordering = ("-created_at", "-id")


class BuyerApi(ApiView):
    """Base of every endpoint a buyer calls with its API key (JSON bodies only)."""

    authentication_classes = [BuyerKeyAuthentication]
    permission_classes = [IsBuyer]
    throttle_classes = [BuyerKeyThrottle]
    parser_classes = [JSONParser]  # unstorable text: the input serializers (StrictTypesMixin)


class ReturnsApi(BuyerApi):
    @extend_schema(
        operation_id="returns_create", summary="Return a lead", tags=_TAGS,
        request=ReturnInputSerializer,
        examples=[OpenApiExample("Return a lead", request_only=True, value={
            "lead_id": "3f2b8c1e-7a4d-4e0b-9a51-2c8e6f1d9b70", "reason": "bad_contact",
            "comment": "Phone disconnected."}), _FILED],
        responses={
            201: ReturnOutputSerializer,
            400: OpenApiResponse(ErrorsSerializer, "Invalid input by field; an unknown "
                                                   "reason lists the valid codes."),
            404: OpenApiResponse(DetailSerializer, "not_your_lead: no such lead was sold to "
                                                   "you."),
            409: OpenApiResponse(DetailSerializer, "already_returned: this sale has a return "
                                                   "(any status)."),
            415: OpenApiResponse(DetailSerializer, "Not a JSON body."),
            422: OpenApiResponse(DetailSerializer, "return_window_closed (the contract's "
                                                   "window, in days, has passed) or "
                                                   "return_cap_reached (too many returns "
                                                   "for the contract's sales)."),
            **_WHO})
    def post(self, request: Request) -> Response:
        serializer = ReturnInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        filed = return_submit(buyer=request_buyer(request), lead_uuid=data["lead_id"],
                              reason=data["reason"], comment=data["comment"],
                              channel=ReturnChannel.API)
        return Response(ReturnOutputSerializer(filed).data, status=status.HTTP_201_CREATED)

    @extend_schema(
        operation_id="returns_list", summary="List your returns", tags=_TAGS,
        parameters=[*RETURN_FILTERS,
                    OpenApiParameter("cursor", str, description="From a `next` or `previous` "
                                                                "URL."),
                    OpenApiParameter("page_size", {"type": "integer", "minimum": 1,
                                                   "maximum": 500},
                                     description="Returns per page (default 50, max 500).")],
        responses={200: cursor_paginated("Return", ReturnOutputSerializer(many=True)),
                   400: OpenApiResponse(ErrorsSerializer, "A bad filter or page_size, by "
                                                          "name."),
                   404: OpenApiResponse(DetailSerializer, "A cursor this API did not give."),
                   **_WHO})
    def get(self, request: Request) -> Response:
        filter_dates_check(request.query_params)
        rows = queryset_filtered(ReturnFilter, request.query_params,
                                 return_list_for_buyer(request_buyer(request)))
        paginator = ReturnPagination()
        page: list[Return] | None = paginator.paginate_queryset(rows, request, view=self)
        return paginator.get_paginated_response(ReturnOutputSerializer(page, many=True).data)


class ReturnDetailApi(BuyerApi):
    @extend_schema(operation_id="returns_read", summary="Read one of your returns", tags=_TAGS,
                   examples=[_FILED],
                   responses={200: ReturnOutputSerializer,
                              404: OpenApiResponse(DetailSerializer, "Not yours, or no such "
                                                                     "return."),
                              **_WHO})
    def get(self, request: Request, return_id: int) -> Response:
        found = or_404(return_get_for_buyer(request_buyer(request), return_id))
        return Response(ReturnOutputSerializer(found).data)
