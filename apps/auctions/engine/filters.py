"""Contract filters: does a lead pass ``field operator value``?

Values are compared by meaning, not by spelling: numbers as decimals ("2019" equals 2019),
booleans by truth ("yes" equals true), text case-insensitively. ISO dates compare correctly
as text. A filter on a missing field fails, except ``not_exists`` (and ``ne``/``not_in``,
which a missing value satisfies).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from decimal import Decimal, InvalidOperation
from functools import lru_cache
from typing import Any

from apps.auctions.engine.types import FilterRule

_MISSING = object()
_TRUE = {"true", "yes", "y", "1", "on"}
_FALSE = {"false", "no", "n", "0", "off"}
_OPERATORS = frozenset({"eq", "ne", "in", "not_in", "gt", "gte", "lt", "lte", "between",
                        "contains", "regex", "exists", "not_exists"})


def _comparable(value: Any) -> Any:
    """A canonical form: Decimal for numbers, bool for booleans, lower-case text otherwise."""
    if isinstance(value, bool):
        return value
    if isinstance(value, (int, float, Decimal)):
        number = Decimal(str(value))
        if number.is_finite():
            return number
    text = str(value).strip()
    try:
        number = Decimal(text)
    except InvalidOperation:
        pass
    else:
        # "NaN"/"Infinity" stay text: comparing a NaN Decimal raises InvalidOperation.
        if number.is_finite():
            return number
    lowered = text.lower()
    if lowered in _TRUE:
        return True
    if lowered in _FALSE:
        return False
    return lowered


def _truth(value: Any) -> bool | None:
    """A canonical value as a boolean: 1 and 0 are spellings of true and false too."""
    if isinstance(value, bool):
        return value
    if isinstance(value, Decimal) and value in (0, 1):
        return value == 1
    return None


def _equal(a: Any, b: Any) -> bool:
    left, right = _comparable(a), _comparable(b)
    if isinstance(left, bool) or isinstance(right, bool):
        truth = _truth(left)
        return truth is not None and truth == _truth(right)
    return left == right


def _order(a: Any, b: Any) -> tuple[Any, Any] | None:
    """Both sides in a comparable pair, or None when they cannot be ordered."""
    left, right = _comparable(a), _comparable(b)
    if isinstance(left, Decimal) and isinstance(right, Decimal):
        return left, right
    if isinstance(left, str) and isinstance(right, str):
        return left, right
    return None


@lru_cache(maxsize=1024)
def _regex(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern, re.IGNORECASE)


def _as_list(value: Any) -> list[Any]:
    return list(value) if isinstance(value, (list, tuple, set, frozenset)) else [value]


def filter_passes(rule: FilterRule, values: Mapping[str, Any]) -> bool:
    """True when the lead ``values`` satisfy ``rule``. Never raises for odd data: a value that
    cannot be compared fails the filter. Unknown operators raise ValueError (a
    misconfiguration the admin refuses on save)."""
    op = rule.operator
    if op not in _OPERATORS:
        raise ValueError(f"Unknown filter operator {op!r}.")
    value = values.get(rule.field, _MISSING)
    if value is None:
        value = _MISSING
    if op == "exists":
        return value is not _MISSING
    if op == "not_exists":
        return value is _MISSING
    if op == "ne":
        return value is _MISSING or not _equal(value, rule.value)
    if op == "not_in":
        return value is _MISSING or not any(_equal(value, v) for v in _as_list(rule.value))
    if value is _MISSING:
        return False
    if op == "eq":
        return _equal(value, rule.value)
    if op == "in":
        return any(_equal(value, v) for v in _as_list(rule.value))
    if op == "contains":
        return str(rule.value).lower() in str(value).lower()
    if op == "regex":
        try:
            return _regex(str(rule.value)).search(str(value)) is not None
        except re.error:  # a bad pattern fails its filter instead of breaking the auction
            return False
    if op == "between":
        bounds = _as_list(rule.value)
        if len(bounds) != 2:
            return False
        low, high = _order(value, bounds[0]), _order(value, bounds[1])
        return low is not None and high is not None and low[1] <= low[0] and high[0] <= high[1]
    pair = _order(value, rule.value)
    if op in {"gt", "gte", "lt", "lte"}:
        if pair is None:
            return False
        left, right = pair
        return {"gt": left > right, "gte": left >= right,
                "lt": left < right, "lte": left <= right}[op]
    raise AssertionError(f"operator {op!r} is in _OPERATORS but not handled")


def filters_pass(rules: tuple[FilterRule, ...], values: Mapping[str, Any]) -> FilterRule | None:
    """The first rule the lead fails, or None when it passes them all."""
    for rule in rules:
        if not filter_passes(rule, values):
            return rule
    return None
