"""Drafting a contract from a buyer's own documents, for staff: ``POST /contracts/draft``
turns pasted sample requests and answers (or a template of a common ping-post format) into
a contract document ready to ``POST /contracts``, plus what could not be matched;
``GET /contracts/templates`` lists the templates. Nothing is saved (apps.buyers.drafting).
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response

from apps.buyers.drafting import (
    MAX_SAMPLE,
    SAMPLE_FORMATS,
    TEMPLATES,
    DraftInvalid,
    EndpointSamples,
    contract_draft_build,
    template_samples,
)
from apps.buyers.models import Buyer, Contract
from apps.buyers.selectors import vertical_field_specs
from apps.core.api import StrictTypesMixin
from apps.core.exceptions import FieldErrors
from apps.core.staff_api import ERRORS_READ, ERRORS_WRITE, StaffApi
from apps.sources.models import Vertical

_TAGS = ["Staff"]


class EndpointSamplesSerializer(serializers.Serializer):
    url = serializers.URLField(max_length=1000, required=False, allow_blank=True, default="",
                               help_text="The buyer's URL for this request (a query-string "
                                         "sample may carry its own).")
    format = serializers.ChoiceField(choices=SAMPLE_FORMATS, required=False, allow_blank=True,
                                     default="", help_text="Detected from the sample when "
                                                           "left out.")
    request = serializers.CharField(max_length=MAX_SAMPLE, required=False, allow_blank=True,
                                    default="", trim_whitespace=False,
                                    help_text="The buyer's sample request: a JSON or XML "
                                              "body, a form body, or a URL with its query "
                                              "string.")
    answer = serializers.CharField(max_length=MAX_SAMPLE, required=False, allow_blank=True,
                                   default="", trim_whitespace=False,
                                   help_text="A sample answer saying yes (a bid for a "
                                             "ping, an acceptance for a post).")
    refusal = serializers.CharField(max_length=MAX_SAMPLE, required=False, allow_blank=True,
                                    default="", trim_whitespace=False,
                                    help_text="Optional: a sample answer saying no.")


class ContractDraftInputSerializer(StrictTypesMixin, serializers.Serializer):
    """What to draft from (a JSON body). Beyond what the schema says: ``vertical`` and
    ``buyer`` must exist, a template or a post sample ``request`` is needed, and each sample
    must read as its format (tests/api/schemathesis.toml)."""

    vertical = serializers.SlugRelatedField(slug_field="slug", queryset=Vertical.objects.all())
    buyer = serializers.PrimaryKeyRelatedField(queryset=Buyer.objects.all(), required=False,
                                               allow_null=True, default=None)
    name = serializers.CharField(max_length=128, required=False, allow_blank=True, default="")
    template = serializers.ChoiceField(
        choices=sorted(TEMPLATES), required=False, allow_blank=True, default="",
        help_text="Start from a template of a common format (GET /contracts/templates); "
                  "what ping and post give replaces the template's samples.")
    ping = EndpointSamplesSerializer(required=False, allow_null=True, default=None,
                                     help_text="Left out (without a template): a "
                                               "direct-post contract.")
    post = EndpointSamplesSerializer(required=False, allow_null=True, default=None)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if not attrs["template"]:
            errors = {}
            if attrs["post"] is None or not attrs["post"]["request"].strip():
                errors["post.request"] = ["Paste the buyer's sample post request (or choose "
                                          "a template)."]
            if attrs["ping"] is not None and not attrs["ping"]["request"].strip():
                errors["ping.request"] = ["Paste the buyer's sample ping request, or leave "
                                          "the ping out for a direct-post contract."]
            if errors:
                raise serializers.ValidationError(errors)
        return attrs


class UnmatchedSerializer(serializers.Serializer):
    where = serializers.CharField(help_text="Where it belongs in the contract document "
                                            "(endpoints.ping.mappings, …).")
    key = serializers.CharField(help_text="The sample's key (a mapping target) or setting.")
    value = serializers.CharField(allow_blank=True, help_text="The sample's value.")
    reason = serializers.CharField()


class ContractDraftSerializer(serializers.Serializer):
    contract = serializers.JSONField(help_text="The contract document, ready to POST to "
                                               "/contracts (add buyer when not given); it "
                                               "starts in testing.")
    unmatched = UnmatchedSerializer(many=True, help_text="What the draft leaves to staff.")
    notes = serializers.ListField(child=serializers.CharField())


class TemplateSerializer(serializers.Serializer):
    slug = serializers.CharField()
    label = serializers.CharField()  # type: ignore[assignment]  # (Field.label: its title)
    description = serializers.CharField()


def _samples(data: dict[str, Any] | None) -> EndpointSamples | None:
    if data is None:
        return None
    return EndpointSamples(request=data["request"], answer=data["answer"],
                           refusal=data["refusal"], url=data["url"],
                           body_format=data["format"])


class ContractDraftApi(StaffApi):
    """``POST /contracts/draft`` (``buyers.add_contract``): draft a contract from the
    buyer's samples or a template → 200 ``{"contract", "unmatched", "notes"}``; 400
    naming a sample that cannot be read (``ping.request`` …). Nothing is saved."""

    permission_model = Contract

    @extend_schema(operation_id="contracts_draft", summary="Draft a contract from samples",
                   tags=_TAGS, request=ContractDraftInputSerializer,
                   responses={200: ContractDraftSerializer, **ERRORS_WRITE})
    def post(self, request: Request) -> Response:
        serializer = ContractDraftInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        ping, post = _samples(data["ping"]), _samples(data["post"])
        if data["template"]:
            ping, post = template_samples(data["template"], ping=ping, post=post)
        assert post is not None  # validated: a post sample or a template
        try:
            draft = contract_draft_build(
                vertical=data["vertical"].slug, fields=vertical_field_specs(data["vertical"]),
                ping=ping, post=post, buyer=data["buyer"].pk if data["buyer"] else None,
                name=data["name"])
        except DraftInvalid as error:
            raise FieldErrors({error.field: [error.message]}) from None
        return Response(ContractDraftSerializer({
            "contract": draft.document, "unmatched": draft.unmatched,
            "notes": draft.notes}).data)


class ContractTemplatesApi(StaffApi):
    """``GET /contracts/templates`` (``buyers.view_contract``): the templates of common
    ping-post formats that ``POST /contracts/draft`` starts from ("-style" approximations
    of those formats' public shapes)."""

    permission_model = Contract

    @extend_schema(operation_id="contracts_templates", summary="Templates to draft from",
                   tags=_TAGS, responses={200: TemplateSerializer(many=True), **ERRORS_READ})
    def get(self, request: Request) -> Response:
        return Response(TemplateSerializer(list(TEMPLATES.values()), many=True).data)
