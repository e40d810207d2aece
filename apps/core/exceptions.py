"""Domain errors and the one DRF exception handler that turns every error into a clear 4xx.

Error bodies:
- validation: ``400 {"errors": {"fields.email": ["Enter a valid email address."], ...}}`` —
  nested serializer errors are flattened to dotted keys so every bad field is named;
- anything else: ``{"detail": "<human message>", "code": "<machine code>", ...extra}``.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.http import Http404
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
