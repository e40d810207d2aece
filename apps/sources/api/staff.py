"""Staff API for sources and their API keys.

A clear API key exists only in the response that creates it (``POST /sources``,
``POST /sources/{id}/keys``, ``…/rotate``): it is stored as a digest and never shown again;
keys are listed by their visible prefix. Staff token or session, Django model permissions
(apps.core.staff_api); every change is written to the admin's history.
"""

from __future__ import annotations

from django.contrib.auth import get_user_model
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response

from apps.core.api import StrictTypesMixin
from apps.core.audit import audit_record
from apps.core.exceptions import FieldErrors
from apps.core.staff_api import (
    ERRORS_LIST,
    ERRORS_ONE,
    ERRORS_WRITE,
    ERRORS_WRITE_ONE,
    PAGE_PARAMETERS,
    StaffApi,
    StaffModelPermissions,
    or_404,
    paginated,
)
from apps.sources.models import Source, SourceApiKey, Vertical
from apps.sources.selectors import source_get, source_key_get, source_list
from apps.sources.services import (
    source_create,
    source_key_create,
    source_key_revoke,
    source_key_rotate,
    source_update,
)

_ADD = "%(app_label)s.add_%(model_name)s"
_CHANGE = "%(app_label)s.change_%(model_name)s"


class SourceKeySerializer(serializers.ModelSerializer):
    """A key as staff may see it: its name and visible prefix, never the secret or digest."""

    display = serializers.CharField(source="__str__", read_only=True,
                                    help_text="The key's visible part, e.g. lx_ab12cd34_….")

    class Meta:
        model = SourceApiKey
        fields = ["id", "name", "prefix", "display", "created_at", "last_used_at",
                  "revoked_at"]
        read_only_fields = fields


class SourceInputSerializer(StrictTypesMixin, serializers.ModelSerializer):
    """A source's attributes; ``verticals`` by slug, ``account_manager`` a staff user's id
    (or null). ``postback_url_template`` is checked when saved: an unknown macro or a
    refused address is a 400 naming it. Webhook endpoints have their own endpoints
    (``/sources/{id}/webhooks``)."""

    verticals = serializers.SlugRelatedField(slug_field="slug", queryset=Vertical.objects.all(),
                                             many=True, required=False)
    ip_allowlist = serializers.ListField(
        child=serializers.CharField(max_length=64), required=False,
        help_text='CIDRs allowed to submit, e.g. ["203.0.113.0/24"]; empty: any address.')
    account_manager = serializers.PrimaryKeyRelatedField(
        queryset=get_user_model().objects.filter(is_staff=True), allow_null=True,
        required=False)

    class Meta:
        model = Source
        fields = ["name", "status", "verticals", "ip_allowlist", "rate_limit_per_minute",
                  "payout_model", "payout_value", "floor_price", "default_mode",
                  "time_budget_ms", "postback_url_template", "account_manager"]

    def validate_ip_allowlist(self, value: list[str]) -> list[str]:
        Source._meta.get_field("ip_allowlist").run_validators(value)
        return value


class SourceOutputSerializer(serializers.ModelSerializer):
    verticals: serializers.SlugRelatedField[Vertical] = serializers.SlugRelatedField(
        slug_field="slug", many=True, read_only=True)
    keys = SourceKeySerializer(source="api_keys", many=True, read_only=True)

    class Meta:
        model = Source
        fields = ["id", "name", "status", "verticals", "ip_allowlist", "rate_limit_per_minute",
                  "payout_model", "payout_value", "floor_price", "default_mode",
                  "time_budget_ms", "postback_url_template", "account_manager", "created_at",
                  "updated_at", "keys"]
        read_only_fields = fields


class SourceCreatedSerializer(SourceOutputSerializer):
    api_key = serializers.SerializerMethodField(
        help_text="The new source's API key, in clear: shown this once, never again.")

    class Meta(SourceOutputSerializer.Meta):
        fields = [*SourceOutputSerializer.Meta.fields, "api_key"]
        read_only_fields = fields

    def get_api_key(self, source: Source) -> str:
        return self.context["api_key"]


class KeyInputSerializer(StrictTypesMixin, serializers.Serializer):
    name = serializers.CharField(max_length=64, default="default",
                                 help_text="What the key is for (a site, a partner's server).")


class NewKeySerializer(serializers.Serializer):
    key = SourceKeySerializer()
    api_key = serializers.CharField(help_text="The key in clear: shown this once, never again.")


class RotatedKeySerializer(NewKeySerializer):
    revoked = SourceKeySerializer(help_text="The key it replaces, revoked from now on.")


class SourcesApi(StaffApi):
    """``GET /sources``: one page of sources with their keys (``sources.view_source``).
    ``POST /sources``: create a source and its first API key (``sources.add_source``) → 201
    with the clear key in ``api_key``, the only time it is shown."""

    permission_model = Source

    @extend_schema(operation_id="sources_list", summary="List sources", tags=["Staff"],
                   parameters=PAGE_PARAMETERS,
                   responses={200: paginated("Source", SourceOutputSerializer(many=True)),
                              **ERRORS_LIST})
    def get(self, request: Request) -> Response:
        return self.page(source_list(), SourceOutputSerializer)

    @extend_schema(operation_id="sources_create", summary="Create a source and its first key",
                   tags=["Staff"], request=SourceInputSerializer,
                   responses={201: SourceCreatedSerializer, **ERRORS_WRITE})
    def post(self, request: Request) -> Response:
        serializer = SourceInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        source, key = source_create(**serializer.validated_data)
        audit_record(request.user, source, "Added through the API, with a first API key.",
                     action="add")
        return Response(SourceCreatedSerializer(source_get(source.pk),
                                                context={"api_key": key}).data,
                        status=status.HTTP_201_CREATED)


class SourceDetailApi(StaffApi):
    """``GET /sources/{id}`` (view; keys listed by prefix, never in clear), ``PUT`` /
    ``PATCH`` (change; ``PATCH`` changes only what is given). Keys change only through the
    key endpoints."""

    permission_model = Source

    @extend_schema(operation_id="sources_read", summary="Read a source",
                   tags=["Staff"],
                   responses={200: SourceOutputSerializer, **ERRORS_ONE})
    def get(self, request: Request, source_id: int) -> Response:
        return Response(SourceOutputSerializer(or_404(source_get(source_id))).data)

    @extend_schema(operation_id="sources_update", summary="Replace a source's attributes",
                   tags=["Staff"], request=SourceInputSerializer,
                   responses={200: SourceOutputSerializer, **ERRORS_WRITE_ONE})
    def put(self, request: Request, source_id: int) -> Response:
        return self._update(request, source_id, partial=False)

    @extend_schema(operation_id="sources_partial_update", summary="Change some attributes",
                   tags=["Staff"], request=SourceInputSerializer(partial=True),
                   responses={200: SourceOutputSerializer, **ERRORS_WRITE_ONE})
    def patch(self, request: Request, source_id: int) -> Response:
        return self._update(request, source_id, partial=True)

    def _update(self, request: Request, source_id: int, *, partial: bool) -> Response:
        source = or_404(source_get(source_id))
        serializer = SourceInputSerializer(source, data=request.data, partial=partial)
        serializer.is_valid(raise_exception=True)
        source_update(source, **serializer.validated_data)
        changed = ", ".join(sorted(serializer.validated_data)) or "nothing"
        audit_record(request.user, source, f"Changed {changed} through the API.")
        return Response(SourceOutputSerializer(source_get(source_id)).data)


class _KeyApi(StaffApi):
    """Base of the key endpoints: permissions on ``SourceApiKey``; a key is found only under
    its own source (404 otherwise)."""

    permission_model = SourceApiKey

    def _key(self, source_id: int, key_id: int) -> SourceApiKey:
        return or_404(source_key_get(or_404(source_get(source_id)), key_id))


class SourceKeysApi(_KeyApi):
    """``POST /sources/{id}/keys``: issue another key for the source
    (``sources.add_sourceapikey``) → 201 with the clear key, shown this once."""

    @extend_schema(operation_id="sources_keys_create", summary="Issue a new API key",
                   tags=["Staff"], request=KeyInputSerializer,
                   responses={201: NewKeySerializer, **ERRORS_WRITE_ONE})
    def post(self, request: Request, source_id: int) -> Response:
        source = or_404(source_get(source_id))
        serializer = KeyInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        row, key = source_key_create(source=source, **serializer.validated_data)
        audit_record(request.user, source, f"Issued API key {row} through the API.")
        return Response(NewKeySerializer({"key": row, "api_key": key}).data,
                        status=status.HTTP_201_CREATED)


class RotatePermissions(StaffModelPermissions):
    """Rotating issues a key and revokes one: ``add`` and ``change`` on API keys."""

    perms_map = {**StaffModelPermissions.perms_map, "POST": [_ADD, _CHANGE]}


class RevokePermissions(StaffModelPermissions):
    """Revoking changes a key: ``change`` on API keys."""

    perms_map = {**StaffModelPermissions.perms_map, "POST": [_CHANGE]}


class SourceKeyRotateApi(_KeyApi):
    """``POST /sources/{id}/keys/{key_id}/rotate``: revoke the key at once and issue its
    replacement under the same name (``sources.add_sourceapikey`` and
    ``sources.change_sourceapikey``) → 200 with the new clear key, shown this once. A
    revoked key cannot be rotated (400)."""

    permission_classes = [RotatePermissions]

    @extend_schema(operation_id="sources_keys_rotate", summary="Rotate an API key",
                   tags=["Staff"], request=None,
                   responses={200: RotatedKeySerializer, **ERRORS_WRITE_ONE})
    def post(self, request: Request, source_id: int, key_id: int) -> Response:
        old = self._key(source_id, key_id)
        if old.is_revoked:
            raise FieldErrors({"key": ["This key is revoked; issue a new one instead."]})
        row, key = source_key_rotate(api_key=old)
        old.refresh_from_db()
        audit_record(request.user, old.source, f"Rotated API key {old} to {row} through the API.")
        return Response(RotatedKeySerializer({"key": row, "api_key": key, "revoked": old}).data)


class SourceKeyRevokeApi(_KeyApi):
    """``POST /sources/{id}/keys/{key_id}/revoke``: requests with the key get 401 from now
    on (``sources.change_sourceapikey``) → 200 with the key. Idempotent."""

    permission_classes = [RevokePermissions]

    @extend_schema(operation_id="sources_keys_revoke", summary="Revoke an API key",
                   tags=["Staff"], request=None,
                   responses={200: SourceKeySerializer, **ERRORS_ONE})
    def post(self, request: Request, source_id: int, key_id: int) -> Response:
        api_key = self._key(source_id, key_id)
        source_key_revoke(api_key=api_key)
        api_key.refresh_from_db()
        audit_record(request.user, api_key.source, f"Revoked API key {api_key} through the API.")
        return Response(SourceKeySerializer(api_key).data)

