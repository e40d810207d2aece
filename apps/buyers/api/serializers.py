"""Shapes of the buyer-management API: buyers, and contracts with their nested rules.

A contract is read and written as one document::

    {"buyer": 3, "vertical": "auto-insurance", "name": "…", "mode": "ping_post", …,
     "filters": [{"field", "operator", "value"}], "caps": [{"period", "metric", "limit"}],
     "schedule": [{"weekday", "opens_at", "closes_at"}],
     "endpoints": {"ping": {"url", "method", "body_format", "headers", "auth_type", …,
                            "response": {"format", "success_path", "price_path", …},
                            "mappings": [{"target", "source", "constant", "transform", "arg"}]},
                   "post": {…}},
     "secrets": {"api_key": "…"}}  (write-only; read back as "secret_names")

Input serializers validate the shape (field by field) and then the contract as a whole with
``apps.buyers.validation.contract_draft_errors`` — the very check the admin runs — so both
refuse the same misconfigurations. Every error is reported under the dotted path of the
payload: the draft's ``mappings.post.2.source`` becomes ``endpoints.post.mappings.2.source``
and its ``endpoints.ping.price_path`` becomes ``endpoints.ping.response.price_path``.
Nothing here writes: views hand ``validated_data`` to the services.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Mapping
from typing import Any

from django.contrib.auth import get_user_model
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from apps.buyers.mapping import SECRET_NAME, TRANSFORMS, transforms_deriving_non_pii
from apps.buyers.models import (
    AuthType,
    BodyFormat,
    Buyer,
    CapMetric,
    ConstantType,
    Contract,
    ContractCap,
    ContractFilter,
    ContractMode,
    Endpoint,
    EndpointKind,
    FieldMapping,
    KeyStyle,
    ResponseFormat,
    ScheduleWindow,
)
from apps.buyers.validation import ContractDraft, contract_draft_errors, wire_key
from apps.core.api import StrictTypesMixin
from apps.core.staff_api import PatchSerializerMixin
from apps.sources.models import Source, Vertical

_HEADER_NAME = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]+\Z")
# Response-rule settings as the draft (model) names them -> their name under "response".
_RESPONSE_NAMES = {"response_format": "format", "format": "format",
                   "success_statuses": "success_statuses", "success_values": "success_values",
                   "success_path": "success_path", "success_regex": "success_regex",
                   "price_path": "price_path", "token_path": "token_path",
                   "reason_path": "reason_path"}
_TEST_FLAG = {"test_flag": "none", "test_flag_key": "", "test_flag_value": "",
              "test_flag_type": "string"}
_ENDPOINT_COLUMNS = ("url", "sandbox_url", "method", "body_format", "key_style", "xml_root",
                     "headers", "timeout_ms",
                     "auth_type", "auth_name", "auth_username", "oauth_token_url",
                     "response_format", "success_statuses", "success_path", "success_values",
                     "success_regex", "price_path", "token_path", "reason_path")


# --- buyers ---


class BuyerInputSerializer(StrictTypesMixin, serializers.ModelSerializer):
    """A buyer's editable attributes; ``account_manager`` is a staff user's id (or null)."""

    account_manager = serializers.PrimaryKeyRelatedField(
        queryset=get_user_model().objects.filter(is_staff=True), allow_null=True,
        required=False)

    class Meta:
        model = Buyer
        fields = ["company", "status", "account_manager", "timezone", "quality_multiplier",
                  "dedupe_window_days", "contact_email", "notes"]


class BuyerOutputSerializer(serializers.ModelSerializer):
    class Meta:
        model = Buyer
        fields = ["id", "company", "status", "account_manager", "timezone",
                  "quality_multiplier", "dedupe_window_days", "contact_email", "notes",
                  "created_at", "updated_at"]
        read_only_fields = fields


# --- contract rule rows ---


class FilterRowSerializer(serializers.ModelSerializer):
    value = serializers.JSONField(required=False, allow_null=True, default=None,
                                  help_text="A value, a list for in/not_in, [low, high] for "
                                            "between; omit for exists/not_exists.")

    class Meta:
        model = ContractFilter
        fields = ["field", "operator", "value"]


class CapRowSerializer(serializers.ModelSerializer):
    metric = serializers.ChoiceField(choices=CapMetric.choices, default=CapMetric.LEADS)
    limit = serializers.DecimalField(max_digits=12, decimal_places=2, min_value=0)

    class Meta:
        model = ContractCap
        fields = ["period", "metric", "limit"]
        validators: list = []  # (contract, period, metric) is checked across the rows below


class ScheduleRowSerializer(serializers.ModelSerializer):
    class Meta:
        model = ScheduleWindow
        fields = ["weekday", "opens_at", "closes_at"]


class MappingRowSerializer(serializers.ModelSerializer):
    """One key of the payload; rows are applied in the order given."""

    # the field is named like DRF's Field.source attribute, which the stubs type as str
    source = serializers.CharField(max_length=63, allow_blank=True, default="",  # type: ignore[assignment]
                                   help_text="A lead field key or @context (@ping.token, "
                                             "@lead.id …); empty for a constant.")
    constant = serializers.CharField(max_length=1000, allow_blank=True, allow_null=True,
                                     default=None)
    constant_type = serializers.ChoiceField(
        choices=ConstantType.choices, default=ConstantType.STRING,
        help_text="How the constant is sent: integer 12, decimal 12.50, boolean true/false, "
                  "null (with an empty constant) — not as text.")
    transform = serializers.ChoiceField(
        choices=["", *sorted(TRANSFORMS)], allow_blank=True, default="",
        help_text="Applied to the value before it is sent; empty: the value as it is. "
                  "On a ping, a PII field is read only through a transform that derives a "
                  f"non-identifying value ({', '.join(transforms_deriving_non_pii())}).")
    arg = serializers.CharField(
        max_length=1000, allow_blank=True, default="",
        help_text="The transform's argument; by transform: " + "; ".join(
            f"{name}: {TRANSFORMS[name].grammar}" for name in sorted(TRANSFORMS)
            if TRANSFORMS[name].grammar) + "; the others take none.")

    class Meta:
        model = FieldMapping
        fields = ["target", "source", "constant", "constant_type", "transform", "arg"]


class MappingRowOutputSerializer(MappingRowSerializer):
    wire_key = serializers.SerializerMethodField(
        help_text="Form and query bodies: the exact key the row is sent under, in the "
                  "endpoint's key style; null for json and xml bodies.")

    class Meta(MappingRowSerializer.Meta):
        fields = [*MappingRowSerializer.Meta.fields, "wire_key"]

    def get_wire_key(self, row: FieldMapping) -> str | None:
        endpoint: Endpoint = self.context["endpoint"]
        return wire_key(row.target, body_format=endpoint.body_format,
                        key_style=endpoint.key_style)


class ResponseRulesSerializer(serializers.Serializer):
    """How the endpoint's answers are read: paths are JSON paths (``a.b[0].c``), XPath
    (``/response/@price``) for XML, keys for form, regexes for text."""

    format = serializers.ChoiceField(choices=ResponseFormat.choices, source="response_format",
                                     default=ResponseFormat.JSON)
    success_statuses = serializers.ListField(
        child=serializers.IntegerField(min_value=100, max_value=599), default=list,
        help_text="HTTP statuses that may succeed; empty: 200, 201, 202.")
    success_path = serializers.CharField(max_length=255, allow_blank=True, default="")
    success_values = serializers.ListField(child=serializers.CharField(max_length=255),
                                           default=list)
    success_regex = serializers.CharField(max_length=255, allow_blank=True, default="")
    price_path = serializers.CharField(max_length=255, allow_blank=True, default="")
    token_path = serializers.CharField(max_length=255, allow_blank=True, default="")
    reason_path = serializers.CharField(max_length=255, allow_blank=True, default="")


def _headers_check(headers: dict[str, str]) -> None:
    for name, value in headers.items():
        if not _HEADER_NAME.match(name):
            raise serializers.ValidationError(f"{name!r} is not a valid header name.")
        if "\r" in value or "\n" in value:
            raise serializers.ValidationError(f"The value of {name} has a line break.")


class _EndpointFields(serializers.Serializer):
    url = serializers.URLField(max_length=1000)
    sandbox_url = serializers.URLField(
        max_length=1000, allow_blank=True, default="",
        help_text="Where test requests go when the contract's test_flag is sandbox.")
    method = serializers.ChoiceField(choices=["POST", "GET", "PUT"], default="POST")
    body_format = serializers.ChoiceField(choices=BodyFormat.choices, default=BodyFormat.JSON)
    xml_root = serializers.CharField(max_length=64, allow_blank=True, default="lead")
    key_style = serializers.ChoiceField(
        choices=KeyStyle.choices, default=KeyStyle.BRACKETS,
        help_text="Form and query bodies: how a nested target (Lead.FirstName) is spelled on "
                  "the wire — brackets Lead[FirstName], dotted Lead.FirstName, or flat "
                  "(single keys only). Escape a literal . or [ in a target with a backslash.")
    headers = serializers.DictField(child=serializers.CharField(allow_blank=True,
                                                                max_length=1000),
                                    default=dict, validators=[_headers_check])
    timeout_ms = serializers.IntegerField(min_value=1, max_value=60_000, default=1000)
    auth_type = serializers.ChoiceField(choices=AuthType.choices, default=AuthType.NONE)
    auth_name = serializers.CharField(max_length=128, allow_blank=True, default="",
                                      help_text="Header name or query parameter name.")
    auth_username = serializers.CharField(max_length=255, allow_blank=True, default="",
                                          help_text="Basic user or OAuth2 client id.")
    oauth_token_url = serializers.URLField(max_length=1000, allow_blank=True, default="")


class EndpointInputSerializer(_EndpointFields):
    """One endpoint, written whole: an omitted setting takes its default — except
    ``auth_secret``, which is never shown, so omitting it keeps the stored secret."""

    auth_secret = serializers.CharField(
        max_length=1000, allow_blank=True, required=False, write_only=True,
        help_text="Token, password or client secret; omit to keep the stored one.")
    response = ResponseRulesSerializer(source="*", required=False)
    mappings = MappingRowSerializer(many=True, default=list)

    def to_internal_value(self, data: Any) -> dict[str, Any]:
        if isinstance(data, Mapping) and "response" not in data:
            data = {**data, "response": {}}  # so the rules take their defaults
        return super().to_internal_value(data)


class EndpointsInputSerializer(serializers.Serializer):
    ping = EndpointInputSerializer(required=False)
    post = EndpointInputSerializer(required=False)

    def to_internal_value(self, data: Any) -> dict[str, Any]:
        if isinstance(data, Mapping):
            unknown = sorted(set(data) - set(EndpointKind.values))
            if unknown:
                raise serializers.ValidationError(
                    {key: ["Unknown endpoint kind; use ping or post."] for key in unknown})
        return super().to_internal_value(data)


class EndpointOutputSerializer(_EndpointFields):
    auth_secret_set = serializers.SerializerMethodField()
    response = ResponseRulesSerializer(source="*")
    mappings = serializers.SerializerMethodField()

    def get_auth_secret_set(self, endpoint: Endpoint) -> bool:
        return bool(endpoint.auth_secret)

    @extend_schema_field(MappingRowOutputSerializer(many=True))
    def get_mappings(self, endpoint: Endpoint) -> list[dict[str, Any]]:
        rows = self.context["mappings"].get(endpoint.kind, [])
        return list(MappingRowOutputSerializer(rows, many=True,
                                               context={"endpoint": endpoint}).data)


class EndpointsOutputSerializer(serializers.Serializer):
    ping = EndpointOutputSerializer(required=False)
    post = EndpointOutputSerializer(required=False)


# --- contracts ---


class ContractInputSerializer(StrictTypesMixin, serializers.ModelSerializer):
    """A whole contract (POST, PUT): the nested sets it omits are written empty (``filters``,
    ``caps``, ``schedule``, ``allowed_sources``, ``blocked_sources``); ``endpoints`` is
    required."""

    buyer = serializers.PrimaryKeyRelatedField(queryset=Buyer.objects.all())
    vertical = serializers.SlugRelatedField(slug_field="slug", queryset=Vertical.objects.all())
    allowed_sources = serializers.PrimaryKeyRelatedField(
        queryset=Source.objects.all(), many=True, default=list,
        help_text="Source ids; empty: every source.")
    blocked_sources = serializers.PrimaryKeyRelatedField(
        queryset=Source.objects.all(), many=True, default=list)
    filters = FilterRowSerializer(many=True, default=list)
    caps = CapRowSerializer(many=True, default=list)
    schedule = ScheduleRowSerializer(many=True, default=list,
                                     help_text="Weekly open hours; empty: always open.")
    endpoints = EndpointsInputSerializer()
    secrets = serializers.DictField(
        child=serializers.CharField(max_length=1000, allow_null=True, trim_whitespace=False),
        required=False, write_only=True,
        help_text="Secret values by name (letters, digits, _), read by mapping rows as "
                  "@secret.<name> and by URLs and header values as {secret.<name>}. Never "
                  "returned (see secret_names). A name given sets that secret, null deletes "
                  "it; names left out are kept, on PUT too.")

    class Meta:
        model = Contract
        fields = ["buyer", "vertical", "name", "status", "mode", "fixed_price", "min_bid",
                  "bid_multiplier", "bid_penalty", "priority", "weight", "traffic_share_pct",
                  "exclusive", "shared_max_sales", "is_secondary", "accepts_test_leads",
                  "consent_brand", "test_flag", "test_flag_key", "test_flag_value",
                  "test_flag_type", "allowed_sources", "blocked_sources", "slow_threshold_ms",
                  "slow_count", "error_count", "health_ping_interval_s", "filters", "caps",
                  "schedule", "endpoints", "secrets"]

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        errors: dict[str, list[str]] = {}
        contract: Contract | None = self.instance

        def current(name: str, default: Any = None) -> Any:
            if name in attrs:
                return attrs[name]
            return getattr(contract, name) if contract is not None else default

        if current("mode", ContractMode.PING_POST) == ContractMode.DIRECT_POST and current(
                "fixed_price") is None:
            errors["fixed_price"] = ["A direct-post contract needs a fixed price."]
        seen: set[tuple[str, str]] = set()
        for index, cap in enumerate(attrs.get("caps", ())):
            key = (cap["period"], cap["metric"])
            if key in seen:
                errors[f"caps.{index}.period"] = [
                    f"A second {cap['metric']} cap per {cap['period']}; keep one."]
            seen.add(key)
        for name in attrs.get("secrets", {}):
            if not SECRET_NAME.fullmatch(name):
                errors[f"secrets.{name}"] = [
                    "A secret's name is letters, digits and _, not starting with a digit "
                    "(api_key)."]
        for path, messages in contract_draft_errors(self._draft(attrs, current)).items():
            errors.setdefault(_api_path(path), []).extend(messages)
        if errors:
            raise serializers.ValidationError(errors)
        return attrs

    def _draft(self, attrs: dict[str, Any], current) -> ContractDraft:
        """The contract as it would be saved: the submitted sets, the stored ones for the
        sets a PATCH leaves out."""
        contract: Contract | None = self.instance
        vertical: Vertical = current("vertical")
        fields = list(vertical.fields.values_list("key", "pii"))
        endpoints: dict[str, Mapping[str, Any]]
        mappings: dict[str, list[Mapping[str, Any]]]
        if "endpoints" in attrs:
            endpoints = {kind: {k: v for k, v in spec.items() if k != "mappings"}
                         for kind, spec in attrs["endpoints"].items()}
            mappings = {kind: spec["mappings"] for kind, spec in attrs["endpoints"].items()}
        else:
            # a PATCH without endpoints: only an existing contract can be patched
            assert contract is not None
            endpoints = {row["kind"]: row for row in
                         contract.endpoints.values("kind", *_ENDPOINT_COLUMNS)}
            mappings = defaultdict(list)
            for row in contract.mappings.order_by("position", "id").values(
                    "kind", "target", "source", "constant", "constant_type", "transform",
                    "arg"):
                mappings[row["kind"]].append(row)
        if "filters" in attrs:
            filters = attrs["filters"]
        else:
            assert contract is not None  # as above
            filters = list(contract.filters.values("field", "operator", "value"))
        secrets = set(contract.secrets.values_list("name", flat=True)) if contract else set()
        for name, value in attrs.get("secrets", {}).items():
            (secrets.discard if value is None else secrets.add)(name)
        return ContractDraft(
            mode=current("mode", ContractMode.PING_POST),
            field_keys=frozenset(key for key, _ in fields),
            pii_keys=frozenset(key for key, pii in fields if pii),
            endpoints=endpoints, mappings=dict(mappings), filters=filters,
            secret_names=frozenset(secrets),
            test_flag={name: current(name, default) for name, default in _TEST_FLAG.items()})


def endpoints_merge_patch(contract: Contract, patch: Any) -> Any:
    """A PATCH's ``endpoints`` applied to the contract's stored endpoints as a JSON Merge
    Patch (RFC 7396): an object is merged key by key (``{"ping": {"timeout_ms": 1500}}``
    changes that one setting), ``null`` removes a key (an endpoint, a header), anything
    else — a list such as ``mappings`` included — replaces the stored value. The result is
    the whole ``endpoints`` document (as read, which a PUT takes back unchanged), validated
    as a PUT's would be; anything but an object is returned as it is, for validation to
    refuse. The stored auth secret, never shown, is kept unless the patch sets one."""
    if not isinstance(patch, Mapping):
        return patch
    stored = ContractOutputSerializer(contract).data["endpoints"]
    return _merge({kind: endpoint for kind, endpoint in stored.items() if endpoint}, patch)


def _merge(target: Any, patch: Any) -> Any:
    if not isinstance(patch, Mapping):
        return patch
    merged = dict(target) if isinstance(target, Mapping) else {}
    for key, value in patch.items():
        if value is None:
            merged.pop(key, None)
        else:
            merged[key] = _merge(merged.get(key), value)
    return merged


class ContractPatchSerializer(PatchSerializerMixin, ContractInputSerializer):
    """PATCH: a key left out is left as it is; a nested set that is present replaces the
    stored one and is validated whole."""


def _api_path(path: str) -> str:
    """A draft problem path in the payload's own terms (see the module docstring)."""
    parts = path.split(".")
    if parts[0] == "mappings" and len(parts) > 1:
        return ".".join(["endpoints", parts[1], "mappings", *parts[2:]])
    if parts[0] == "endpoints" and len(parts) > 2 and parts[2] in _RESPONSE_NAMES:
        return ".".join(["endpoints", parts[1], "response", _RESPONSE_NAMES[parts[2]],
                         *parts[3:]])
    return path


class ContractOutputSerializer(serializers.ModelSerializer):
    """A contract with every rule; secrets are never shown (``auth_secret_set`` says
    whether one is stored)."""

    buyer: serializers.PrimaryKeyRelatedField[Buyer] = serializers.PrimaryKeyRelatedField(
        read_only=True)
    vertical: serializers.SlugRelatedField[Vertical] = serializers.SlugRelatedField(
        slug_field="slug", read_only=True)
    allowed_sources: serializers.PrimaryKeyRelatedField[Source] = (
        serializers.PrimaryKeyRelatedField(many=True, read_only=True))
    blocked_sources: serializers.PrimaryKeyRelatedField[Source] = (
        serializers.PrimaryKeyRelatedField(many=True, read_only=True))
    filters = FilterRowSerializer(many=True, read_only=True)
    caps = CapRowSerializer(many=True, read_only=True)
    schedule = ScheduleRowSerializer(many=True, read_only=True)
    endpoints = serializers.SerializerMethodField()
    secret_names = serializers.SerializerMethodField()

    class Meta:
        model = Contract
        fields = ["id", "buyer", "vertical", "name", "status", "mode", "fixed_price",
                  "min_bid", "bid_multiplier", "bid_penalty", "priority", "weight",
                  "traffic_share_pct", "exclusive", "shared_max_sales", "is_secondary",
                  "accepts_test_leads", "consent_brand", "test_flag", "test_flag_key",
                  "test_flag_value", "test_flag_type", "allowed_sources", "blocked_sources",
                  "slow_threshold_ms", "slow_count", "error_count", "health_ping_interval_s",
                  "auto_paused_at", "auto_pause_reason", "created_at", "updated_at",
                  "filters", "caps", "schedule", "endpoints", "secret_names"]
        read_only_fields = fields

    @extend_schema_field(serializers.ListField(child=serializers.CharField()))
    def get_secret_names(self, contract: Contract) -> list[str]:
        """The names of the stored secrets; their values are never returned."""
        return sorted(secret.name for secret in contract.secrets.all())

    @extend_schema_field(EndpointsOutputSerializer)
    def get_endpoints(self, contract: Contract) -> dict[str, Any]:
        mappings: dict[str, list[FieldMapping]] = defaultdict(list)
        for row in contract.mappings.all():
            mappings[row.kind].append(row)
        by_kind = {endpoint.kind: endpoint for endpoint in contract.endpoints.all()}
        return EndpointsOutputSerializer(by_kind, context={"mappings": mappings}).data
