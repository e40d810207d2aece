"""Domain errors and the one DRF exception handler that turns every error into a clear 4xx.

Error bodies:
- validation: ``400 {"errors": {"fields.email": ["Enter a valid email address."], ...}}`` —
  nested serializer errors are flattened to dotted keys so every bad field is named;
- anything else: ``{"detail": "<human message>", "code": "<machine code>", ...extra}``.

Every ``/api/`` path answers JSON, also where DRF does not run: an unknown path, a malformed
id or a trailing slash (``api_not_found``, the last route under ``/api/``), and Django's own
400/403/500 handlers (``bad_request``, ``permission_denied``, ``server_error``).
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.http import (
    Http404,
    HttpRequest,
    HttpResponse,
    HttpResponsePermanentRedirect,
    JsonResponse,
)
from django.urls import Resolver404, resolve
from django.views import defaults
from django.views.decorators.csrf import csrf_exempt
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler


class ApplicationError(Exception):
    """A business rule refused the request. Views never catch it: the handler renders it."""

    def __init__(
        self,
        detail: str,
        *,
        status_code: int = status.HTTP_400_BAD_REQUEST,
        code: str = "invalid",
        extra: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(detail)
        self.detail = detail
        self.status_code = status_code
        self.code = code
        self.extra = extra or {}
        self.headers = headers or {}

    def body(self) -> dict[str, Any]:
        return {"detail": self.detail, "code": self.code, **self.extra}


class FieldErrors(ApplicationError):
    """Input failed validation; ``errors`` maps a dotted field path to its messages."""

    def __init__(self, errors: dict[str, list[str]], extra: dict[str, Any] | None = None) -> None:
        super().__init__("Invalid input.", code="invalid", extra=extra)
        self.errors = errors

    def body(self) -> dict[str, Any]:
        return {"errors": self.errors, **self.extra}


def flatten_errors(detail: Any, path: str = "") -> dict[str, list[str]]:
    """Flatten DRF's nested error detail into ``{"a.b.0.c": ["message", ...]}``."""
    if isinstance(detail, dict):
        flat: dict[str, list[str]] = {}
        for key, value in detail.items():
            name = "body" if key == "non_field_errors" and not path else str(key)
            flat.update(flatten_errors(value, f"{path}.{name}" if path else name))
        return flat
    if isinstance(detail, list) and any(isinstance(item, (dict, list)) for item in detail):
        flat = {}
        for index, item in enumerate(detail):
            if item:
                flat.update(flatten_errors(item, f"{path}.{index}" if path else str(index)))
        return flat
    messages = detail if isinstance(detail, list) else [detail]
    return {path or "body": [str(message) for message in messages]}


def api_exception_handler(exc: Exception, context: dict) -> Response | None:
    if isinstance(exc, ApplicationError):
        return Response(exc.body(), status=exc.status_code, headers=exc.headers)
    if isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied()
    if isinstance(exc, exceptions.ValidationError):
        return Response({"errors": flatten_errors(exc.detail)}, status=exc.status_code)
    if isinstance(exc, exceptions.ParseError):
        return Response({"errors": {"body": [str(exc.detail)]}}, status=exc.status_code)
    response = exception_handler(exc, context)
    if response is not None and isinstance(exc, exceptions.APIException):
        response.data = {"detail": str(exc.detail), "code": exc.get_codes()}
    return response


# --- Answers Django gives outside DRF's views, kept JSON under /api/ --------------------------

API_PREFIX = "/api/"


def _json_error(detail: str, code: str, status_code: int) -> JsonResponse:
    return JsonResponse({"detail": detail, "code": code}, status=status_code)


@csrf_exempt  # nothing is changed here; a CSRF 403 page would hide the JSON 404
def api_not_found(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
    """``404 {"detail", "code": "not_found"}`` for any ``/api/`` path no view serves, whatever
    the method: a malformed id (``/leads/not-a-uuid``, ``/buyers/abc``), an unknown path, or an
    API path with a trailing slash (API paths have none), which the detail then names.

    The pages under /api/ that do end in a slash (``/api/docs/``, ``/api/schema/``) keep
    Django's APPEND_SLASH redirect, which this catch-all would otherwise swallow."""
    path = request.path
    if path.endswith("/"):
        twin = path[:-1]
        if twin != API_PREFIX.rstrip("/") and _serves(twin):
            return _json_error(f"Not found. Did you mean {twin} (no trailing slash)?",
                               "not_found", 404)
    elif settings.APPEND_SLASH and _serves(f"{path}/"):
        query = request.META.get("QUERY_STRING")
        return HttpResponsePermanentRedirect(f"{path}/" + (f"?{query}" if query else ""))
    return _json_error("Not found.", "not_found", 404)


def _serves(path: str) -> bool:
    """Whether a view other than the /api/ catch-all serves ``path``."""
    try:
        match = resolve(path)
    except Resolver404:
        return False
    return match.func is not api_not_found


def server_error(request: HttpRequest) -> HttpResponse:
    """Django's ``handler500``: JSON under ``/api/``, the plain page elsewhere."""
    if request.path.startswith(API_PREFIX):
        return _json_error("Server error.", "server_error", 500)
    return defaults.server_error(request)


def bad_request(request: HttpRequest, exception: Exception) -> HttpResponse:
    """Django's ``handler400`` (e.g. a forbidden Host header): JSON under ``/api/``."""
    if request.path.startswith(API_PREFIX):
        return _json_error("Bad request.", "bad_request", 400)
    return defaults.bad_request(request, exception)


def permission_denied(request: HttpRequest, exception: Exception) -> HttpResponse:
    """Django's ``handler403``: JSON under ``/api/``."""
    if request.path.startswith(API_PREFIX):
        return _json_error("You do not have permission to perform this action.",
                           "permission_denied", 403)
    return defaults.permission_denied(request, exception)
