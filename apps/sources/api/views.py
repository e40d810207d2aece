"""Public posting specs of verticals (JSON for code, HTML for people)."""

from __future__ import annotations

import json

from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response

from apps.core.api import ApiView
from apps.core.staff_api import ErrorDetailSerializer
from apps.sources.models import DedupeMatch, FieldType
from apps.sources.posting_spec import vertical_posting_spec
from apps.sources.selectors import vertical_get, vertical_spec

_FIELD_SPEC: dict[str, serializers.Field] = {
    "key": serializers.CharField(), "label": serializers.CharField(),
    "type": serializers.ChoiceField(choices=FieldType.values),
    "required_for_ping": serializers.BooleanField(
        help_text="Buyers need it to bid (never PII: pings carry no personal data)."),
    "required_for_post": serializers.BooleanField(
        help_text="Buyers need it to take the lead."),
    "required": serializers.BooleanField(
        help_text="Send it in every lead you post to /api/v1/leads (required for the ping or "
                  "for the post)."),
    "pii": serializers.BooleanField(),
    "choices": serializers.ListField(child=serializers.CharField()),
    "min": serializers.CharField(allow_null=True), "max": serializers.CharField(allow_null=True),
    "example": serializers.CharField(allow_null=True),
    "format": serializers.CharField(help_text="What the value may look like."),
    "help_text": serializers.CharField(allow_blank=True),
}
_KEY_FORMAT: dict[str, serializers.Field] = {
    "key": serializers.CharField(), "format": serializers.CharField()}


class VerticalSpecApi(ApiView):
    authentication_classes: list = []
    permission_classes = [AllowAny]

    @extend_schema(
        operation_id="verticals_spec", summary="The posting spec of a vertical",
        description="Everything an affiliate codes against, always current: the fields "
                    "(required ones, formats, examples), the two-step ping and post, the "
                    "envelope, the consent formats (one-to-one consent included), "
                    "the duplicate rules and every answer of POST /api/v1/leads with an "
                    "example body. The same spec is a page at /verticals/{slug}/spec.",
        tags=["Sources"], auth=[],
        responses={
            200: inline_serializer("VerticalSpec", {
                "vertical": serializers.SlugField(), "name": serializers.CharField(),
                "description": serializers.CharField(allow_blank=True),
                "fields": inline_serializer("VerticalFieldSpec", _FIELD_SPEC, many=True),
                "submit": inline_serializer("PostingSubmit", {
                    "method": serializers.CharField(), "path": serializers.CharField(),
                    "auth": serializers.CharField(),
                    "content_types": serializers.ListField(child=serializers.CharField()),
                    "required_fields": serializers.ListField(child=serializers.CharField()),
                    "note": serializers.CharField(),
                }),
                "ping": inline_serializer("PostingPing", {
                    "method": serializers.CharField(), "path": serializers.CharField(),
                    "post_path": serializers.CharField(),
                    "required_fields": serializers.ListField(child=serializers.CharField()),
                    "note": serializers.CharField(),
                }),
                "envelope": inline_serializer("PostingEnvelopeKey", _KEY_FORMAT, many=True),
                "consent": inline_serializer("PostingConsentKey", {
                    **_KEY_FORMAT, "example": serializers.CharField()}, many=True),
                "duplicates": inline_serializer("PostingDuplicates", {
                    "fields": serializers.ListField(child=serializers.CharField()),
                    "match": serializers.ChoiceField(choices=DedupeMatch.values),
                    "window_days": serializers.IntegerField(min_value=0),
                    "resubmit_window_seconds": serializers.IntegerField(min_value=0),
                    "rule": serializers.CharField(),
                }),
                "answers": inline_serializer("PostingAnswer", {
                    "status": serializers.IntegerField(), "when": serializers.CharField(),
                    "body": serializers.DictField(),
                }, many=True),
            }),
            404: ErrorDetailSerializer,
        },
    )
    def get(self, request: Request, slug: str) -> Response:
        vertical = vertical_get(slug)
        if vertical is None:
            raise Http404
        return Response(vertical_posting_spec(vertical, vertical_spec(vertical)))


def vertical_spec_page(request: HttpRequest, slug: str) -> HttpResponse:
    vertical = vertical_get(slug)
    if vertical is None:
        raise Http404(f"No vertical '{slug}'.")
    spec = vertical_posting_spec(vertical, vertical_spec(vertical))
    example = {"vertical": spec["vertical"], "fields": {
        f["key"]: f["example"] for f in spec["fields"] if f["required"] and f["example"]}}
    return render(request, "sources/vertical_spec.html", {
        "spec": spec, "base_url": request.build_absolute_uri("/").rstrip("/"),
        # shown inside '…' in a shell command
        "example_json": json.dumps(example, indent=2).replace("'", "'\\''"),
        "answers": [{**a, "body_json": json.dumps(a["body"], indent=2)}
                    for a in spec["answers"]],
    })
