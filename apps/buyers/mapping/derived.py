"""Transforms deriving a value that cannot identify the person from a PII field: an age or
age band or birth year from a birth date, a ZIP3, a phone's area code, an e-mail domain.

Their catalogue entries say ``derives_non_pii``: a ping may carry their result even when the
row reads a field the vertical marks as PII (the raw value itself never leaves on a ping;
see ``apps.buyers.mapping.apply``). Registered when the mapping package is imported.
"""

from __future__ import annotations

import itertools
import re
from datetime import UTC, datetime
from typing import Any

from apps.buyers.mapping.errors import MappingError
from apps.buyers.mapping.transforms import Now, _datetime, _nanp_digits, _register, _zip5


@_register("age", derives_non_pii=True)
def _age(value: Any, arg: None, now: Now) -> int | None:
    birth = _datetime(value)
    today = _datetime(now) if now is not None else datetime.now(UTC)
    if birth is None or today is None:
        return None
    years = today.year - birth.year - ((today.month, today.day) < (birth.month, birth.day))
    # A birth date in the future is a data error, not an age.
    return years if years >= 0 else None


def _age_bands(text: str) -> tuple[int, ...]:
    edges = text.split("|")
    if not all(edge.isascii() and edge.isdigit() for edge in edges) or not text:
        raise MappingError(f"needs ascending ages like '18|25|35|45|55|65', got {text!r}")
    bounds = tuple(int(edge) for edge in edges)
    if any(later <= earlier for earlier, later in itertools.pairwise(bounds)):
        raise MappingError(f"needs ascending ages like '18|25|35|45|55|65', got {text!r}")
    return bounds


@_register("age_band", arg=_age_bands, grammar="<age>|<age>|…, e.g. 18|25|35|45|55|65",
           derives_non_pii=True)
def _age_band(value: Any, arg: tuple[int, ...], now: Now) -> str | None:
    years = _age(value, None, now)
    if years is None:
        return None
    if years < arg[0]:
        return f"<{arg[0]}"
    for low, high in itertools.pairwise(arg):
        if years < high:
            return f"{low}-{high - 1}"
    return f"{arg[-1]}+"


@_register("birth_year", derives_non_pii=True)
def _birth_year(value: Any, arg: None, now: Now) -> int | None:
    birth = _datetime(value)
    return None if birth is None else birth.year


@_register("zip3", derives_non_pii=True)
def _zip3(value: Any, arg: None, now: Now) -> str | None:
    zip_code = _zip5(value, None, now)
    return None if zip_code is None else zip_code[:3]


@_register("phone_area_code", derives_non_pii=True)
def _phone_area_code(value: Any, arg: None, now: Now) -> str | None:
    digits = _nanp_digits(value)
    return None if digits is None else digits[:3]


_EMAIL = re.compile(r"[^@\s]+@([^@\s]+\.[^@\s]+)")


@_register("email_domain", derives_non_pii=True)
def _email_domain(value: Any, arg: None, now: Now) -> str | None:
    if not isinstance(value, str):
        return None
    match = _EMAIL.fullmatch(value.strip())
    return match.group(1).lower() if match else None
