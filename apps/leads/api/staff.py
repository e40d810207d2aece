"""Staff API for verticals, their field schema and their privacy settings.

It lives in the leads app, next to the vertical admin (apps.leads.admin), because a schema is
checked by the normalizers that will apply it to every lead (``parse_bounds``): a bound the
capture API cannot read would fail every submission, so it is refused here. (Apps import
only leftwards; buyers and sources cannot import the normalizers.) The public posting spec,
``GET /verticals/{slug}/spec``, stays in apps.sources.api.
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response

from apps.buyers.models import ContractFilter, FieldMapping
from apps.core.api import StrictTypesMixin
from apps.core.audit import audit_record
from apps.core.staff_api import (
    ERRORS_LIST,
    ERRORS_ONE,
    ERRORS_WRITE,
    ERRORS_WRITE_ONE,
    PAGE_PARAMETERS,
    PatchSerializerMixin,
    StaffApi,
    or_404,
    paginated,
)
from apps.leads.models import (
    RETENTION_DAYS_HELP,
    RETENTION_DAYS_MAX,
    RETENTION_DAYS_MIN,
    VerticalPrivacy,
)
from apps.leads.normalize import parse_bounds
from apps.leads.privacy import vertical_privacy_get, vertical_privacy_set
from apps.sources.models import FieldType, Vertical, VerticalField
from apps.sources.selectors import vertical_get_any, vertical_list
from apps.sources.services import vertical_create, vertical_update

_FIELD_COLUMNS = ["key", "label", "type", "required_for_ping", "required_for_post", "pii",
                  "choices", "min_value", "max_value", "example", "help_text"]
_VERTICAL_COLUMNS = ["slug", "name", "description", "is_active", "default_floor",
                     "dedupe_fields", "dedupe_match", "dedupe_window_days"]


class VerticalFieldSerializer(serializers.ModelSerializer):
    """One field of the schema; rows are kept in the order given."""

    choices = serializers.ListField(child=serializers.CharField(max_length=255), default=list)

    class Meta:
        model = VerticalField
        fields = _FIELD_COLUMNS
        validators: list = []  # (vertical, key) is checked across the rows below
        # a row is written whole: what it leaves out takes its default, not the old value
        extra_kwargs = {
            **{name: {"default": ""} for name in ("label", "min_value", "max_value",
                                                   "example", "help_text")},
            **{name: {"default": False} for name in ("required_for_ping",
                                                      "required_for_post", "pii")},
            "type": {"default": FieldType.TEXT},
        }

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if attrs.get("type") == FieldType.CHOICE and not attrs.get("choices"):
            raise serializers.ValidationError({"choices": "A choice field needs its allowed "
                                                          "values."})
        try:
            parse_bounds(attrs.get("type", FieldType.TEXT), attrs.get("min_value"),
                         attrs.get("max_value"))
        except ValueError as error:
            raise serializers.ValidationError({"min_value": str(error)}) from None
        return attrs


class VerticalInputSerializer(StrictTypesMixin, serializers.ModelSerializer):
    """A vertical with its whole schema (POST, PUT): ``fields`` replaces the schema; rows
    are matched by ``key``, and a key left out is removed."""

    dedupe_fields = serializers.ListField(
        child=serializers.CharField(max_length=63), default=list,
        help_text='Field keys that identify a consumer, e.g. ["email", "phone"].')
    # The schema's key is `fields`: DRF's metaclass takes declared fields off the class, so
    # this does not replace the Serializer.fields property; the stubs do not model that.
    fields = VerticalFieldSerializer(many=True, default=list)  # type: ignore[assignment]

    class Meta:
        model = Vertical
        fields = [*_VERTICAL_COLUMNS, "fields"]

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        vertical: Vertical | None = self.instance
        errors: dict[str, list[str]] = {}
        if "fields" in attrs:
            keys = [row["key"] for row in attrs["fields"]]
            for index, key in enumerate(keys):
                if key in keys[:index]:
                    errors[f"fields.{index}.key"] = [f"'{key}' is listed twice."]
            if vertical is not None:
                errors.update(_removed_in_use(vertical, set(keys)))
        else:
            keys = list(vertical.fields.values_list("key", flat=True)) if vertical else []
        for name in attrs.get("dedupe_fields", ()):
            if name not in keys:
                errors.setdefault("dedupe_fields", []).append(f"'{name}' is not a field.")
        if errors:
            raise serializers.ValidationError(errors)
        return attrs


class VerticalPatchSerializer(PatchSerializerMixin, VerticalInputSerializer):
    """PATCH: a key left out is left as it is; ``fields``, when present, replaces the
    schema (validated whole)."""


def _removed_in_use(vertical: Vertical, kept: set[str]) -> dict[str, list[str]]:
    """A field that contracts still map or filter on cannot be removed from under them."""
    removed = set(vertical.fields.values_list("key", flat=True)) - kept
    if not removed:
        return {}
    users = [f"'{key}' (mapped by {contract})" for key, contract in FieldMapping.objects.filter(
        contract__vertical=vertical, source__in=removed).values_list("source",
                                                                     "contract__name")]
    users += [f"'{key}' (filtered on by {contract})" for key, contract in
              ContractFilter.objects.filter(contract__vertical=vertical,
                                            field__in=removed).values_list("field",
                                                                           "contract__name")]
    if not users:
        return {}
    return {"fields": [f"Still used by contracts, change them first: "
                       f"{', '.join(sorted(set(users)))}."]}


class VerticalOutputSerializer(serializers.ModelSerializer):
    # The key `fields` again (see VerticalInputSerializer).
    fields = VerticalFieldSerializer(many=True, read_only=True)  # type: ignore[assignment]

    class Meta:
        model = Vertical
        fields = ["id", *_VERTICAL_COLUMNS, "created_at", "updated_at", "fields"]
        read_only_fields = fields


class VerticalsApi(StaffApi):
    """``GET /verticals``: one page of verticals, inactive ones too, with their fields
    (``sources.view_vertical``). ``POST /verticals``: create one with its schema
    (``sources.add_vertical``) → 201."""

    permission_model = Vertical

    @extend_schema(operation_id="verticals_list", summary="List verticals",
                   tags=["Staff"], parameters=PAGE_PARAMETERS,
                   responses={200: paginated("Vertical", VerticalOutputSerializer(many=True)),
                              **ERRORS_LIST})
    def get(self, request: Request) -> Response:
        return self.page(vertical_list(), VerticalOutputSerializer)

    @extend_schema(operation_id="verticals_create", summary="Create a vertical with its schema",
                   tags=["Staff"], request=VerticalInputSerializer,
                   responses={201: VerticalOutputSerializer, **ERRORS_WRITE})
    def post(self, request: Request) -> Response:
        serializer = VerticalInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        vertical = vertical_create(**serializer.validated_data)
        audit_record(request.user, vertical, "Added through the API.", action="add")
        return Response(VerticalOutputSerializer(vertical_get_any(vertical.slug)).data,
                        status=status.HTTP_201_CREATED)


class VerticalDetailApi(StaffApi):
    """``GET /verticals/{slug}`` (view), ``PUT`` (change: the whole vertical; ``fields``
    replaces the schema), ``PATCH`` (change: only what is given). A field that contracts
    still map or filter on cannot be removed (400)."""

    permission_model = Vertical

    @extend_schema(operation_id="verticals_read", summary="Read a vertical and its schema",
                   tags=["Staff"],
                   responses={200: VerticalOutputSerializer, **ERRORS_ONE})
    def get(self, request: Request, slug: str) -> Response:
        return Response(VerticalOutputSerializer(or_404(vertical_get_any(slug))).data)

    @extend_schema(operation_id="verticals_update", summary="Replace a vertical and its schema",
                   tags=["Staff"], request=VerticalInputSerializer,
                   responses={200: VerticalOutputSerializer, **ERRORS_WRITE_ONE})
    def put(self, request: Request, slug: str) -> Response:
        return self._update(request, slug, VerticalInputSerializer)

    @extend_schema(operation_id="verticals_partial_update",
                   summary="Change some attributes of a vertical, or its schema",
                   tags=["Staff"], request=VerticalPatchSerializer,
                   responses={200: VerticalOutputSerializer, **ERRORS_WRITE_ONE})
    def patch(self, request: Request, slug: str) -> Response:
        return self._update(request, slug, VerticalPatchSerializer)

    def _update(self, request: Request, slug: str, input_class) -> Response:
        vertical = or_404(vertical_get_any(slug))
        serializer = input_class(vertical, data=request.data)
        serializer.is_valid(raise_exception=True)
        vertical = vertical_update(vertical, **serializer.validated_data)
        changed = ", ".join(sorted(serializer.validated_data)) or "nothing"
        audit_record(request.user, vertical, f"Changed {changed} through the API.")
        return Response(VerticalOutputSerializer(vertical_get_any(vertical.slug)).data)


class VerticalPrivacySerializer(StrictTypesMixin, serializers.ModelSerializer):
    """A vertical's privacy settings (PUT: both; PATCH: what is given)."""

    retention_days = serializers.IntegerField(
        min_value=RETENTION_DAYS_MIN, max_value=RETENTION_DAYS_MAX, allow_null=True,
        default=None, help_text=RETENTION_DAYS_HELP)

    class Meta:
        model = VerticalPrivacy
        fields = ["suppression_enforced", "retention_days"]
        extra_kwargs = {"suppression_enforced": {"default": True}}


class VerticalPrivacyPatchSerializer(PatchSerializerMixin, VerticalPrivacySerializer):
    """PATCH: a key left out is left as it is."""


class VerticalPrivacyApi(StaffApi):
    """``GET /verticals/{slug}/privacy`` (``leads.view_verticalprivacy``): whether the
    vertical refuses suppressed consumers' leads, and how many days its leads keep their PII
    (``null``: forever; the ``pii-retention`` job purges older ones). ``PUT`` / ``PATCH``
    (``leads.change_verticalprivacy``) change them."""

    permission_model = VerticalPrivacy

    @extend_schema(operation_id="verticals_privacy_read",
                   summary="Read a vertical's privacy settings", tags=["Staff"],
                   responses={200: VerticalPrivacySerializer, **ERRORS_ONE})
    def get(self, request: Request, slug: str) -> Response:
        vertical = or_404(vertical_get_any(slug))
        return Response(VerticalPrivacySerializer(vertical_privacy_get(vertical)).data)

    @extend_schema(operation_id="verticals_privacy_update",
                   summary="Replace a vertical's privacy settings", tags=["Staff"],
                   request=VerticalPrivacySerializer,
                   responses={200: VerticalPrivacySerializer, **ERRORS_WRITE_ONE})
    def put(self, request: Request, slug: str) -> Response:
        return self._update(request, slug, VerticalPrivacySerializer)

    @extend_schema(operation_id="verticals_privacy_partial_update",
                   summary="Change some of a vertical's privacy settings", tags=["Staff"],
                   request=VerticalPrivacyPatchSerializer,
                   responses={200: VerticalPrivacySerializer, **ERRORS_WRITE_ONE})
    def patch(self, request: Request, slug: str) -> Response:
        return self._update(request, slug, VerticalPrivacyPatchSerializer)

    def _update(self, request: Request, slug: str, input_class) -> Response:
        vertical = or_404(vertical_get_any(slug))
        serializer = input_class(data=request.data)
        serializer.is_valid(raise_exception=True)
        privacy = vertical_privacy_set(vertical, **serializer.validated_data)
        changed = ", ".join(sorted(serializer.validated_data)) or "nothing"
        audit_record(request.user, vertical, f"Changed privacy ({changed}) through the API.")
        return Response(VerticalPrivacySerializer(privacy).data)
