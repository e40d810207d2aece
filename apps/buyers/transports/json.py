"""The ``json`` wire format: a compact UTF-8 JSON body."""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import date, time
from decimal import Decimal
from typing import Any
from uuid import UUID

from apps.buyers.transports.spec import EndpointSpec, TransportError, WireRequest

CONTENT_TYPE = "application/json"


def json_build(endpoint: EndpointSpec, payload: Mapping[str, Any]) -> WireRequest:
    """Return the request carrying ``payload`` as compact JSON (UTF-8, no ASCII escaping).

    Decimals become numbers, dates/datetimes ISO 8601 strings, UUIDs strings. Raises
    ``TransportError(permanent=True)`` for NaN/infinite numbers and unencodable types.
    """
    try:
        text = _ENCODER.encode(payload)
    except (TypeError, ValueError) as error:
        # allow_nan=False raises ValueError; a non-string key that JSON cannot coerce,
        # TypeError. Neither goes away on a retry.
        raise TransportError(f"cannot encode the payload as JSON: {error}",
                             permanent=True) from None
    return WireRequest(endpoint.method.upper(), endpoint.url, {"Content-Type": CONTENT_TYPE},
                       text.encode())


def _encode_other(value: Any) -> Any:
    if isinstance(value, Decimal):
        if not value.is_finite():
            raise ValueError(f"{value} is not a finite number")
        # A whole Decimal stays an integer (2019, not 2019.0); JSON numbers carry no scale.
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, date | time):
        return value.isoformat()
    if isinstance(value, UUID):
        return str(value)
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


# One encoder for every request: json.dumps with options builds a new one per call.
_ENCODER = json.JSONEncoder(default=_encode_other, separators=(",", ":"), ensure_ascii=False,
                            allow_nan=False)
