"""Source-facing lead API: submit a lead, list and read your own leads."""

from __future__ import annotations

import time
from typing import Any

import django_filters
from django.conf import settings
from django.http import QueryDict
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiParameter,
    OpenApiResponse,
    PolymorphicProxySerializer,
    extend_schema,
)
from rest_framework.pagination import CursorPagination
from rest_framework.request import Request
from rest_framework.response import Response

from apps.core.api import ApiView, cursor_paginated
from apps.core.clientip import client_ip
from apps.core.exceptions import ApplicationError, FieldErrors
from apps.core.filtering import queryset_filtered
from apps.core.staff_api import page_size_param
from apps.core.unstorable import StorableFormParser, StorableJSONParser
from apps.leads.api.serializers import (
    CaptureAcceptedSerializer,
    CaptureOutcomeSerializer,
    DetailSerializer,
    DuplicateSerializer,
    ErrorsSerializer,
    LeadOutputSerializer,
    SuppressedSerializer,
)
from apps.leads.idempotency import idempotent_call, request_fingerprint
from apps.leads.intake import SubmissionSerializer, form_ignored_keys, submission_from_form
from apps.leads.models import Lead, LeadStatus
from apps.leads.selectors import lead_get_for_source, lead_list_for_source
from apps.leads.services import lead_capture, lead_dispatch
from apps.sources.authentication import (
    IsActiveSource,
    SourceKeyAuthentication,
    SourceKeyThrottle,
    request_source,
    request_source_key,
)
from apps.sources.models import CaptureMode, PingMode


class SourceApi(ApiView):
    """Base of every endpoint a source calls with its API key."""

    authentication_classes = [SourceKeyAuthentication]
    permission_classes = [IsActiveSource]
    throttle_classes = [SourceKeyThrottle]


class LeadFilter(django_filters.FilterSet):
    status = django_filters.ChoiceFilter(choices=LeadStatus.choices)
    created_after = django_filters.IsoDateTimeFilter(field_name="received_at", lookup_expr="gte")
    created_before = django_filters.IsoDateTimeFilter(field_name="received_at", lookup_expr="lt")
    sub_id = django_filters.CharFilter()

    class Meta:
        model = Lead
        fields = ["status", "sub_id"]


class LeadPagination(CursorPagination):
    """Newest first, by an opaque ``cursor`` (404 for one this API did not give);
    ``page_size`` from 1 to 500 (400 otherwise)."""

    ordering: str | list[str] | tuple[str, ...] = "-received_at"  # DRF's own type
    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 500

    def get_page_size(self, request: Request) -> int:
        return page_size_param(request, name=self.page_size_query_param,
                               default=self.page_size, maximum=self.max_page_size)


_WHO = {
    401: OpenApiResponse(DetailSerializer, "Missing, unknown or revoked API key."),
    403: OpenApiResponse(DetailSerializer, "IP not allowed or source paused."),
    429: OpenApiResponse(DetailSerializer,
                         "Rate limit exceeded; the Retry-After header says how many seconds "
                         "to wait."),
}
_ERRORS = {
    **_WHO,
    400: OpenApiResponse(ErrorsSerializer, "Invalid input: every bad field listed by key."),
    403: OpenApiResponse(DetailSerializer,
                         "IP not allowed, source paused, vertical not allowed, or a ping-only "
                         "source posting directly (ping_required)."),
    409: OpenApiResponse(
        PolymorphicProxySerializer("CaptureConflict", serializers=[
            DuplicateSerializer, SuppressedSerializer, DetailSerializer],
            resource_type_field_name=None),
        "Duplicate lead, or a suppressed consumer (`status: suppressed`: the e-mail or phone "
        "asked not to be contacted; both recorded as such), or an Idempotency-Key already used "
        "with another body or still running."),
    413: OpenApiResponse(DetailSerializer, "Body too large."),
    415: OpenApiResponse(DetailSerializer, "Unsupported content type."),
}


class LeadsApi(SourceApi):
    parser_classes = [StorableJSONParser, StorableFormParser]

    @extend_schema(
        operation_id="leads_submit", tags=["Sources"],
        summary="Submit a lead",
        request={"application/json": SubmissionSerializer,
                 "application/x-www-form-urlencoded": SubmissionSerializer},
        parameters=[
            OpenApiParameter("Idempotency-Key", str, OpenApiParameter.HEADER,
                             description="Same key and body: same answer, no second lead."),
            OpenApiParameter("mode", str, enum=["sync", "async"],
                             description="Wait for the outcome (sync) or not (async)."),
        ],
        responses={200: CaptureOutcomeSerializer, 202: CaptureAcceptedSerializer, **_ERRORS},
    )
    def post(self, request: Request) -> Response:
        started = time.monotonic()
        source, api_key = request_source(request), request_source_key(request)
        if source.ping_mode == PingMode.PING_ONLY:
            raise ApplicationError("This source pings first: POST /api/v1/pings, then post "
                                   "the lead to its ping.", status_code=403,
                                   code="ping_required")
        mode = request.query_params.get("mode", source.default_mode)
        if mode not in CaptureMode.values:
            raise FieldErrors({"mode": [f"Use one of: {', '.join(CaptureMode.values)}."]})
        _check_body_size(request)
        data, is_form = _submission_data(request)
        key = request.headers.get("Idempotency-Key")

        def capture() -> tuple[int, dict[str, Any]]:
            captured = lead_capture(source=source, api_key=api_key, data=data,
                                    client_ip=client_ip(request))
            answer = captured
            if answer.status_code == 202:
                answer = lead_dispatch(answer.lead, mode=mode,
                                       deadline=started + source.time_budget_ms / 1000)
            body = dict(answer.body)
            if "status_url" in body:
                body["status_url"] = request.build_absolute_uri(body["status_url"])
            if answer.status_code in (200, 202, 409):
                ignored = captured.ignored_fields
                body["ignored_fields"] = form_ignored_keys(ignored) if is_form else list(ignored)
            return answer.status_code, body

        if key is None:
            status_code, body = capture()
        else:
            if not 1 <= len(key) <= 255:
                raise FieldErrors({"Idempotency-Key": ["Use 1 to 255 characters."]})
            status_code, body = idempotent_call(source=source, key=key,
                                                fingerprint=request_fingerprint(data),
                                                work=capture)
        return Response(body, status=status_code)

    @extend_schema(
        operation_id="leads_list", summary="List your leads", tags=["Sources"],
        description="Your leads, newest first, a page at a time: follow `next` (an absolute "
                    "URL carrying an opaque `cursor`) until it is null.",
        parameters=[
            OpenApiParameter("status", str, enum=LeadStatus.values),
            OpenApiParameter("created_after", OpenApiTypes.DATETIME,
                             description="Received at or after (ISO 8601 date-time, e.g. "
                                         "2026-05-01T00:00:00Z)."),
            OpenApiParameter("created_before", OpenApiTypes.DATETIME,
                             description="Received before (ISO 8601 date-time)."),
            OpenApiParameter("sub_id", str, description="Your tracking id, exactly."),
            OpenApiParameter("cursor", str, description="From a `next` or `previous` URL."),
            OpenApiParameter("page_size", {"type": "integer", "minimum": 1, "maximum": 500},
                             description="Leads per page (default 50, max 500)."),
        ],
        responses={
            200: cursor_paginated("Lead", LeadOutputSerializer(many=True)),
            400: OpenApiResponse(ErrorsSerializer, "A bad filter or page_size, by name."),
            404: OpenApiResponse(DetailSerializer, "A cursor this API did not give."),
            **_WHO,
        },
    )
    def get(self, request: Request) -> Response:
        leads = queryset_filtered(LeadFilter, request.query_params,
                                  lead_list_for_source(request_source(request)))
        paginator = LeadPagination()
        page: list[Lead] | None = paginator.paginate_queryset(leads, request, view=self)
        data = LeadOutputSerializer(page, many=True, context={"request": request}).data
        return paginator.get_paginated_response(data)


class LeadDetailApi(SourceApi):
    @extend_schema(operation_id="leads_read", summary="Read one of your leads", tags=["Sources"],
                   responses={200: LeadOutputSerializer,
                              404: OpenApiResponse(DetailSerializer,
                                                   "No lead of yours has this id."),
                              **_WHO})
    def get(self, request: Request, lead_id) -> Response:
        lead = lead_get_for_source(request_source(request), lead_id)
        if lead is None:
            raise ApplicationError("Lead not found.", status_code=404, code="not_found")
        return Response(LeadOutputSerializer(lead, context={"request": request}).data)


def _check_body_size(request: Request) -> None:
    try:
        length = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        length = 0
    if length > settings.LEAD_MAX_BODY_BYTES:
        raise ApplicationError(
            f"Request body is larger than {settings.LEAD_MAX_BODY_BYTES} bytes.",
            status_code=413, code="body_too_large",
        )


def _submission_data(request: Request) -> tuple[dict[str, Any], bool]:
    """The submission as a JSON-shaped dict, whatever the content type (415/400 otherwise),
    and whether it came form-encoded."""
    data = request.data  # DRF: 415 for other content types, 400 for malformed JSON
    if isinstance(data, QueryDict):
        return submission_from_form(data), True
    if not isinstance(data, dict):
        raise FieldErrors({"body": ["Expected a JSON object."]})
    return data, False
