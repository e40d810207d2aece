"""What every staff endpoint (the buyer-management API) shares: who may call it, the error
and page shapes, and their OpenAPI descriptions.

- Authentication: a staff token (``Authorization: Bearer lxs_…``) or a staff session. A
  source API key (``lx_…``) authenticates nobody here, so it gets 401 and never data.
- Authorization: an active staff user holding the Django model permission for the request
  (GET/HEAD/OPTIONS need ``view_*``, POST ``add_*``, PUT/PATCH ``change_*``, DELETE
  ``delete_*``; an action endpoint such as *pause* states its own map). The roles are groups
  (apps/reports/migrations/0002_roles.py); superusers hold every permission.
- Bodies are JSON (``application/json``); lists are paginated by page number
  (``?page=&page_size=``, both checked: a bad one is a 400, a page past the last a 404).

Lives in core, not in one app's api package, because the staff APIs of several apps use it
and apps import only leftwards.
"""

from __future__ import annotations

from typing import TypeVar

from django.db.models import Model, QuerySet
from django.http import Http404
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, inline_serializer
from rest_framework import serializers
from rest_framework.authentication import SessionAuthentication
from rest_framework.fields import empty
from rest_framework.pagination import PageNumberPagination
from rest_framework.parsers import JSONParser
from rest_framework.permissions import DjangoModelPermissions
from rest_framework.request import Request
from rest_framework.response import Response

from apps.core.api import ApiView
from apps.core.authentication import StaffTokenAuthentication
from apps.core.exceptions import FieldErrors

T = TypeVar("T")
_VIEW = "%(app_label)s.view_%(model_name)s"


class StaffModelPermissions(DjangoModelPermissions):
    """DRF's model permissions, reads included, for the model the view declares as
    ``permission_model``. An action endpoint (pause, rotate …) subclasses it with its own
    ``perms_map``."""

    perms_map = {
        "GET": [_VIEW],
        "OPTIONS": [_VIEW],
        "HEAD": [_VIEW],
        "POST": ["%(app_label)s.add_%(model_name)s"],
        "PUT": ["%(app_label)s.change_%(model_name)s"],
        "PATCH": ["%(app_label)s.change_%(model_name)s"],
        "DELETE": ["%(app_label)s.delete_%(model_name)s"],
    }

    def has_permission(self, request: Request, view) -> bool:
        user = request.user
        if not user or not user.is_authenticated or not user.is_staff or not user.is_active:
            return False
        model: type[Model] = view.permission_model
        method = request.method
        if method is None:  # only a hand-built HttpRequest has none
            return False
        return user.has_perms(self.get_required_permissions(method, model))


class StaffApi(ApiView):
    """Base of every staff endpoint; subclasses set ``permission_model``."""

    authentication_classes = [StaffTokenAuthentication, SessionAuthentication]
    permission_classes = [StaffModelPermissions]
    # JSON only: the bodies nest (contract rules, vertical fields), which a flat form cannot
    # say; any other content type is a 415.
    # JSON only. Unstorable text is a 400 naming it, from the input serializers
    # (StrictTypesMixin): only what they read is checked, as only that is kept.
    parser_classes = [JSONParser]
    permission_model: type[Model]

    def page(self, queryset: QuerySet, output: type[serializers.BaseSerializer]) -> Response:
        """One page of ``queryset`` rendered by ``output`` (``StaffPagination``)."""
        paginator = StaffPagination()
        rows = paginator.paginate_queryset(queryset, self.request, view=self)
        return paginator.get_paginated_response(output(rows, many=True).data)


def or_404(found: T | None) -> T:
    """What a selector found, or a 404."""
    if found is None:
        raise Http404
    return found


class PatchSerializerMixin(serializers.Serializer):
    """PATCH for an input serializer with nested sets: every top-level key becomes optional
    and default-free (left out = left as it is), while a nested set that is present is
    validated whole, defaults included. (DRF's ``partial=True`` would also skip the required
    fields and the defaults of the nested rows, and half rows would be written.)"""

    def get_fields(self) -> dict[str, serializers.Field]:
        fields = super().get_fields()
        for field in fields.values():
            field.required = False
            field.default = empty
        return fields


def page_size_param(request: Request, *, name: str, default: int, maximum: int) -> int:
    """The page size a request asks for: a whole number from 1 to ``maximum`` (``default``
    when absent), else a 400 naming ``name``. DRF's paginators silently fall back to the
    default instead, which the OpenAPI schema (minimum, maximum) would contradict."""
    return _whole_param(request, name, default=default, maximum=maximum)


def _whole_param(request: Request, name: str, *, default: int, maximum: int | None) -> int:
    raw = request.query_params.get(name)
    if raw is None:
        return default
    top = f" to {maximum}" if maximum else " or more"
    if not raw.isdecimal() or not 1 <= int(raw) <= (maximum or int(raw)):
        raise FieldErrors({name: [f"Enter a whole number from 1{top}."]})
    return int(raw)


class StaffPagination(PageNumberPagination):
    """Page numbers from 1 (400 for anything else, 404 past the last page); ``page_size``
    from 1 to 500 (400 otherwise)."""

    page_size = 100
    page_size_query_param = "page_size"
    max_page_size = 500

    def get_page_size(self, request: Request) -> int:
        return page_size_param(request, name=self.page_size_query_param,
                               default=self.page_size, maximum=self.max_page_size)

    def paginate_queryset(self, queryset, request: Request, view=None):
        _whole_param(request, self.page_query_param, default=1, maximum=None)
        return super().paginate_queryset(queryset, request, view)


PAGE_PARAMETERS = [
    OpenApiParameter("page", {"type": "integer", "minimum": 1},
                     description="Page number (1-based)."),
    OpenApiParameter("page_size", {"type": "integer", "minimum": 1, "maximum": 500},
                     description="Items per page (default 100, max 500)."),
]


def paginated(name: str, item: serializers.Serializer) -> serializers.Serializer:
    """The OpenAPI shape of one page of ``item``s (``StaffPagination``)."""
    return inline_serializer(f"Paginated{name}List", {
        "count": serializers.IntegerField(),
        "next": serializers.URLField(allow_null=True),
        "previous": serializers.URLField(allow_null=True),
        "results": item,
    })


# Inline, because a serializer class cannot declare a field named ``errors`` without
# shadowing (for the type checker) its own ``errors`` property.
VALIDATION_ERRORS = inline_serializer("ValidationErrors", {
    "errors": serializers.DictField(
        child=serializers.ListField(child=serializers.CharField()),
        help_text='Messages by dotted field path, e.g. {"endpoints.ping.response.price_path": '
                  '["…"]}.'),
})


class ErrorDetailSerializer(serializers.Serializer):
    detail = serializers.CharField()
    code = serializers.CharField()


ERRORS_READ = {
    401: OpenApiResponse(ErrorDetailSerializer, "No or invalid staff credentials."),
    403: OpenApiResponse(ErrorDetailSerializer, "Missing the model permission."),
}
ERRORS_ONE = {**ERRORS_READ, 404: OpenApiResponse(ErrorDetailSerializer, "Not found.")}
ERRORS_WRITE = {400: OpenApiResponse(VALIDATION_ERRORS,
                                     "Invalid input: every problem by dotted field path."),
                **ERRORS_READ}
ERRORS_WRITE_ONE = {**ERRORS_WRITE, **ERRORS_ONE}
ERRORS_LIST = {400: OpenApiResponse(VALIDATION_ERRORS,
                                    "A bad filter, page or page_size, by name."),
               **ERRORS_READ,
               404: OpenApiResponse(ErrorDetailSerializer, "No such page.")}
