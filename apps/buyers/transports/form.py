"""The ``form`` wire format: ``application/x-www-form-urlencoded``.

Also home of the flattening and scalar rendering that the ``query`` and ``xml`` formats share.
Nested payloads are flattened in the endpoint's key style (``KEY_STYLES``):
``{"lead": {"first_name": "Jane"}, "drivers": [{"age": 41}]}`` becomes

- ``brackets`` (PHP/Rails, the default): ``lead[first_name]=Jane&drivers[0][age]=41``;
- ``dotted`` (ASP.NET model binding): ``lead.first_name=Jane&drivers[0].age=41`` — the
  keys exactly as the mapping targets spell them;
- ``flat``: no nesting at all — every key is sent as it is, and a nested value is refused.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from datetime import date, time
from decimal import Decimal
from typing import Any
from urllib.parse import urlencode
from uuid import UUID

from apps.buyers.transports.spec import EndpointSpec, TransportError, WireRequest

CONTENT_TYPE = "application/x-www-form-urlencoded"
KEY_STYLES = ("brackets", "dotted", "flat")


def form_build(endpoint: EndpointSpec, payload: Mapping[str, Any]) -> WireRequest:
    """Return the request carrying ``payload`` as a form body, keys in the endpoint's
    ``key_style``.

    None values are left out and booleans are written ``true``/``false``. Raises
    ``TransportError(permanent=True)`` for a value that has no text form.
    """
    body = urlencode(form_pairs(payload, endpoint.key_style)).encode()
    return WireRequest(endpoint.method.upper(), endpoint.url, {"Content-Type": CONTENT_TYPE}, body)


def form_pairs(payload: Mapping[str, Any], key_style: str = "brackets"
               ) -> list[tuple[str, str]]:
    """Return ``payload`` as flat (name, text) pairs, nesting spelled in ``key_style`` (see
    the module docstring).

    None is left out, so are empty objects and lists. Raises ``TransportError(permanent=True)``
    for an unknown key style, for a nested value under ``flat``, and for a value that has no
    text form (see ``scalar_text``).
    """
    if key_style not in KEY_STYLES:
        raise TransportError(f"unknown key style {key_style!r} (known: "
                             f"{', '.join(KEY_STYLES)})", permanent=True)
    pairs: list[tuple[str, str]] = []
    for key, value in payload.items():
        _flatten(pairs, str(key), value, key_style)
    return pairs


def form_key(steps: Sequence[str | int], key_style: str) -> str:
    """The wire name of the value at ``steps`` (a parsed mapping target) in ``key_style``:
    ``("Lead", "FirstName")`` is ``Lead[FirstName]``, ``Lead.FirstName`` or — ``flat`` —
    refused. Raises ``TransportError(permanent=True)`` as ``form_pairs`` does."""
    if key_style not in KEY_STYLES:
        raise TransportError(f"unknown key style {key_style!r}", permanent=True)
    name = str(steps[0])
    for step in steps[1:]:
        name = _child(name, step, key_style)
    return name


def _child(name: str, step: str | int, key_style: str) -> str:
    if key_style == "flat":
        raise TransportError(f"key style flat sends single keys, but {name!r} holds an "
                             "object or a list", permanent=True)
    if isinstance(step, int) or key_style == "brackets":
        return f"{name}[{step}]"
    return f"{name}.{step}"


def _flatten(pairs: list[tuple[str, str]], name: str, value: Any, key_style: str) -> None:
    if value is None:
        return
    if isinstance(value, Mapping):
        for key, child in value.items():
            _flatten(pairs, _child(name, str(key), key_style), child, key_style)
    elif isinstance(value, list | tuple):
        for index, child in enumerate(value):
            _flatten(pairs, _child(name, index, key_style), child, key_style)
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
