"""Wire formats: an endpoint's configuration and a mapped payload -> one HTTP request.

One module per body format (``json``, ``form``, ``xml``, ``query``), registered in
``ENCODERS``; a new format is a module with one ``<format>_build(endpoint, payload)``
function and a line here. Pure: nothing is sent, no settings are read.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import replace
from typing import Any
from urllib.parse import urlsplit

from apps.buyers.transports.auth import (
    DEFAULT_EXPIRES_IN,
    auth_apply,
    basic_authorization,
    oauth_token_parse,
    oauth_token_request,
)
from apps.buyers.transports.form import KEY_STYLES, form_build, form_key, form_pairs, scalar_text
from apps.buyers.transports.json import json_build
from apps.buyers.transports.query import query_build, url_extend
from apps.buyers.transports.secrets import (
    CREDENTIAL_PARAMS,
    MASK,
    PLACEHOLDER,
    SecretMask,
    is_credential_param,
    placeholders_fill,
)
from apps.buyers.transports.spec import (
    AUTH_TYPES,
    AuthSpec,
    EndpointSpec,
    TransportError,
    WireRequest,
)
from apps.buyers.transports.xml import xml_build

Encoder = Callable[[EndpointSpec, Mapping[str, Any]], WireRequest]

ENCODERS: dict[str, Encoder] = {
    "json": json_build,
    "form": form_build,
    "xml": xml_build,
    "query": query_build,
}
BODY_FORMATS = tuple(ENCODERS)

# RFC 9110 token characters: anything else in a header name is a typo or an injection.
_HEADER_NAME = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")
_HEADER_VALUE_FORBIDDEN = re.compile(r"[\r\n\x00]")


def request_build(
    endpoint: EndpointSpec,
    payload: Mapping[str, Any],
    *,
    oauth_token: str | None = None,
    extra_headers: Mapping[str, str] | None = None,
    secrets: Mapping[str, str] | None = None,
) -> WireRequest:
    """Return the HTTP request that delivers ``payload`` to ``endpoint``.

    Headers, later ones replacing earlier ones of the same name (case-insensitively): the
    format's ``Content-Type``, the endpoint's own headers (so a ``Content-Type`` the endpoint
    sets wins), the auth headers, then ``extra_headers`` (the caller's request id,
    idempotency key). ``oauth_token`` is the caller's cached access token for ``oauth2``.
    ``{secret.<name>}`` placeholders in the URL (percent-encoded) and in the endpoint's
    header values are filled from ``secrets``.

    Raises ``TransportError``: permanent for an unknown body format, a URL that is not
    http(s), a header name or value that could split the request, an unencodable payload,
    incomplete auth settings or a placeholder naming no secret; not permanent for
    ``oauth2`` without ``oauth_token``.
    """
    encoder = ENCODERS.get(endpoint.body_format)
    if encoder is None:
        raise TransportError(f"unknown body format {endpoint.body_format!r} (known: "
                             f"{', '.join(BODY_FORMATS)})", permanent=True)
    secrets = secrets or {}
    if "{secret." in endpoint.url:
        endpoint = replace(endpoint, url=placeholders_fill(endpoint.url, secrets, url=True))
    parts = urlsplit(endpoint.url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise TransportError(f"{endpoint.url!r} is not an http(s) URL", permanent=True)
    request = encoder(endpoint, payload)
    auth_headers, url = auth_apply(endpoint.auth, request.url, oauth_token)
    headers = request.headers
    for layer in (endpoint.headers, auth_headers, extra_headers or {}):
        for name, value in layer.items():
            _header_check(name, value)
            if layer is endpoint.headers and "{secret." in value:
                value = placeholders_fill(value, secrets, url=False)
                _header_check(name, value)
            _header_set(headers, name, value)
    return WireRequest(request.method, url, headers, request.body)


def _header_check(name: str, value: str) -> None:
    # Headers come from a JSON column: a number or null there is a typo, not a value.
    if not isinstance(name, str) or not _HEADER_NAME.fullmatch(name):
        raise TransportError(f"{name!r} is not a valid header name", permanent=True)
    if not isinstance(value, str):
        raise TransportError(f"header {name!r} must be text, not {value!r}", permanent=True)
    if _HEADER_VALUE_FORBIDDEN.search(value):
        raise TransportError(f"header {name!r} holds a line break or NUL", permanent=True)


def _header_set(headers: dict[str, str], name: str, value: str) -> None:
    lowered = name.lower()
    for existing in [key for key in headers if key.lower() == lowered]:
        del headers[existing]
    headers[name] = value


__all__ = [
    "AUTH_TYPES",
    "BODY_FORMATS",
    "CREDENTIAL_PARAMS",
    "DEFAULT_EXPIRES_IN",
    "ENCODERS",
    "KEY_STYLES",
    "MASK",
    "PLACEHOLDER",
    "AuthSpec",
    "EndpointSpec",
    "SecretMask",
    "TransportError",
    "WireRequest",
    "basic_authorization",
    "form_key",
    "form_pairs",
    "is_credential_param",
    "oauth_token_parse",
    "oauth_token_request",
    "placeholders_fill",
    "request_build",
    "scalar_text",
    "url_extend",
]
