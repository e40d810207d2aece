"""Filters of the contract tools' pages (test ping, round trip, preview): an exchange laid
out for reading (``apps.auctions.admin.readable``) and exactly as it went over the wire."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django import template

from apps.auctions.admin.readable import body_readable, query_readable

register = template.Library()


def _content_type(headers: Mapping[str, str]) -> str:
    return next((value for name, value in headers.items()
                 if name.lower() == "content-type"), "")


def _headers(headers: Mapping[str, str]) -> str:
    return "".join(f"{name}: {value}\n" for name, value in headers.items())


@register.filter
def request_readable(request: Any) -> str:
    """A ``RequestView`` for reading: its request line and headers, then the body laid out
    (a query-string request: its parameters decoded, one per line)."""
    body = body_readable(request.body, _content_type(request.headers))
    if not body and "?" in request.url:
        body = query_readable(request.url)
    return f"{request.method} {request.url}\n{_headers(request.headers)}\n{body}".rstrip()


@register.filter
def request_exact(request: Any) -> str:
    """A ``RequestView`` as sent (secrets masked)."""
    return f"{request.method} {request.url}\n{_headers(request.headers)}\n{request.body}"


@register.filter
def response_readable(response: Any) -> str:
    """A ``ResponseView`` for reading: status line, headers, the body laid out."""
    status = response.status if response.status is not None else "—"
    body = body_readable(response.body, _content_type(response.headers))
    return f"HTTP {status}\n{_headers(response.headers)}\n{body}".rstrip()


@register.filter
def response_exact(response: Any) -> str:
    status = response.status if response.status is not None else "—"
    return f"HTTP {status}\n{_headers(response.headers)}\n{response.body}"
