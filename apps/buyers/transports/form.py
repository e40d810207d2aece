"""The ``form`` wire format: ``application/x-www-form-urlencoded``, nested PHP/Rails style.

Also home of the flattening and scalar rendering that the ``query`` and ``xml`` formats share:
``{"lead": {"first_name": "Jane"}, "drivers": [{"age": 41}]}`` becomes
``lead[first_name]=Jane&drivers[0][age]=41``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from datetime import date, time
from decimal import Decimal
from typing import Any
from urllib.parse import urlencode
from uuid import UUID

from apps.buyers.transports.spec import EndpointSpec, TransportError, WireRequest

CONTENT_TYPE = "application/x-www-form-urlencoded"


def form_build(endpoint: EndpointSpec, payload: Mapping[str, Any]) -> WireRequest:
    """Return the request carrying ``payload`` as a form body.

    None values are left out and booleans are written ``true``/``false``. Raises
    ``TransportError(permanent=True)`` for a value that has no text form.
    """
    body = urlencode(form_pairs(payload)).encode()
    return WireRequest(endpoint.method.upper(), endpoint.url, {"Content-Type": CONTENT_TYPE}, body)


def form_pairs(payload: Mapping[str, Any]) -> list[tuple[str, str]]:
    """Return ``payload`` as flat (name, text) pairs, nesting spelled ``a[b][0]``.

    None is left out, so are empty objects and lists. Raises ``TransportError(permanent=True)``
    for a value that has no text form (see ``scalar_text``).
    """
    pairs: list[tuple[str, str]] = []
    for key, value in payload.items():
        _flatten(pairs, str(key), value)
    return pairs


def _flatten(pairs: list[tuple[str, str]], name: str, value: Any) -> None:
    if value is None:
        return
    if isinstance(value, Mapping):
        for key, child in value.items():
            _flatten(pairs, f"{name}[{key}]", child)
    elif isinstance(value, list | tuple):
        for index, child in enumerate(value):
            _flatten(pairs, f"{name}[{index}]", child)
    else:
        pairs.append((name, scalar_text(value)))


def scalar_text(value: Any) -> str:
    """Return the wire text of a scalar: booleans ``true``/``false``, Decimal without exponent,
    dates and datetimes in ISO 8601, UUIDs in their canonical form.

    Raises ``TransportError(permanent=True)`` for NaN/infinite numbers and for any other type.
    """
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | UUID):
        return str(value)
    if isinstance(value, Decimal) and value.is_finite():
        return format(value, "f")
    if isinstance(value, float) and math.isfinite(value):
        return repr(value)
    if isinstance(value, date | time):
        return value.isoformat()
    raise TransportError(f"cannot encode {value!r} ({type(value).__name__}) as text",
                         permanent=True)
