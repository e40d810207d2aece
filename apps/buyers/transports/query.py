"""The ``query`` wire format: the payload rides in the URL's query string, the body is empty."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import urlencode, urlsplit, urlunsplit

from apps.buyers.transports.form import form_pairs
from apps.buyers.transports.spec import EndpointSpec, WireRequest


def query_build(endpoint: EndpointSpec, payload: Mapping[str, Any]) -> WireRequest:
    """Return a request with ``payload`` appended to the URL's query string, flattened like a
    form in the endpoint's key style (``lead[first_name]=Jane``), and no body.

    The method is GET, unless the endpoint names a method other than POST/GET: POST is the
    endpoint default and cannot mean a query-string buyer wants a body-less POST. Parameters
    already in the URL are kept, first. Raises ``TransportError(permanent=True)`` for a
    value that has no text form.
    """
    method = endpoint.method.upper()
    if method in ("GET", "POST"):
        method = "GET"
    return WireRequest(method, url_extend(endpoint.url, form_pairs(payload, endpoint.key_style)),
                       {}, b"")


def url_extend(url: str, pairs: Sequence[tuple[str, str]]) -> str:
    """Return ``url`` with ``pairs`` appended to its query string, existing parameters kept
    byte for byte (a buyer's pre-encoded configuration must not be re-encoded)."""
    if not pairs:
        return url
    parts = urlsplit(url)
    extra = urlencode(pairs)
    query = f"{parts.query}&{extra}" if parts.query else extra
    return urlunsplit(parts._replace(query=query))
