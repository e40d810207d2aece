"""Public posting specs of verticals (JSON for code, HTML for people)."""

from __future__ import annotations

from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response

from apps.core.api import ApiView
from apps.sources.selectors import vertical_get, vertical_spec

_FIELD_SPEC = {
    "key": serializers.CharField(), "label": serializers.CharField(),
    "type": serializers.CharField(), "required_for_ping": serializers.BooleanField(),
    "required_for_post": serializers.BooleanField(), "pii": serializers.BooleanField(),
    "choices": serializers.ListField(child=serializers.CharField()),
    "min": serializers.CharField(allow_null=True), "max": serializers.CharField(allow_null=True),
    "example": serializers.CharField(allow_null=True), "help_text": serializers.CharField(),
}


class VerticalSpecApi(ApiView):
    authentication_classes: list = []
    permission_classes = [AllowAny]

    @extend_schema(
        operation_id="verticals_spec", summary="The posting spec of a vertical",
        responses={200: inline_serializer("VerticalSpec", {
            "vertical": serializers.SlugField(), "name": serializers.CharField(),
            "description": serializers.CharField(),
            "fields": inline_serializer("VerticalFieldSpec", _FIELD_SPEC, many=True),
        })},
    )
    def get(self, request: Request, slug: str) -> Response:
        vertical = vertical_get(slug)
        if vertical is None:
            raise Http404
        return Response(vertical_spec(vertical))


def vertical_spec_page(request: HttpRequest, slug: str) -> HttpResponse:
    vertical = vertical_get(slug)
    if vertical is None:
        raise Http404(f"No vertical '{slug}'.")
    return render(request, "sources/vertical_spec.html", {"spec": vertical_spec(vertical)})
