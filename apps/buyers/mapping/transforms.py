"""Named value transforms a mapping rule can apply, and the registry that finds them.

Each transform is one function ``(value, arg, now) -> value`` registered under its name with
the parser of its text argument. Arguments are parsed (and refused with ``MappingError``)
once per distinct ``(name, arg)``, so the per-lead cost is the function call alone.

Value contract: a transform never raises for the value it is given. It returns None when the
value cannot be transformed (a phone that is not a phone, a date that is not a date, a list
where text is expected) and the caller skips the rule, exactly as when the lead lacks the
field. Only ``default`` is called for a missing value.

The catalogue says two more things about each transform, which the save-time checks read:
``derives_non_pii`` — its result cannot identify the person whatever the input (an age, a
birth year, a ZIP3, an e-mail domain), so a ping may carry it even when it reads a PII field;
``keeps_value`` — its result still holds the whole input text (``trim``, ``prefix`` …), so a
buyer's ping token can travel through it unharmed. ``grammar`` is the argument's syntax as
staff read it in messages and pickers (empty: the transform takes no argument). The
transforms deriving non-identifying values from PII are registered from ``derived.py``.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from functools import lru_cache
from types import MappingProxyType
from typing import Any
from uuid import UUID

import phonenumbers

from apps.buyers.mapping.dates import strftime_format
from apps.buyers.mapping.errors import MappingError

# ``now`` reaches time-dependent transforms (``age``) as the context's "now": a date, an
# aware datetime or an ISO string; None means today in UTC.
Now = date | str | None
TransformFunc = Callable[[Any, Any, Now], Any]


@dataclass(frozen=True, slots=True)
class Transform:
    """A registered transform: its function, its argument parser, whether it sees None, and
    what the catalogue says of it (see the module docstring)."""

    func: TransformFunc
    parse_arg: Callable[[str], Any]
    accepts_missing: bool = False
    derives_non_pii: bool = False
    keeps_value: bool = False
    grammar: str = ""


TRANSFORMS: dict[str, Transform] = {}


def transform_apply(name: str, value: Any, arg: str = "", *, now: Now = None) -> Any:
    """Return ``value`` transformed by the transform ``name`` with its text argument ``arg``.

    Returns None when ``value`` is missing (None) or cannot be transformed; the mapping
    then skips the rule. ``now`` is the reference time of ``age`` (see ``Now``). Raises
    ``MappingError`` (field ``transform`` or ``arg``) for an unknown name or an unusable
    argument, whatever the value.
    """
    transform = transform_get(name)
    parsed = transform_arg_parse(name, arg)
    if value is None and not transform.accepts_missing:
        return None
    return transform.func(value, parsed, now)


def transform_get(name: str) -> Transform:
    """Return the registered transform ``name``; raise ``MappingError`` if there is none."""
    try:
        return TRANSFORMS[name]
    except KeyError:
        known = ", ".join(sorted(TRANSFORMS))
        raise MappingError(f"unknown transform {name!r} (known: {known})",
                           field="transform") from None


@lru_cache(maxsize=4096)
def transform_arg_parse(name: str, arg: str) -> Any:
    """Return the parsed argument of transform ``name``; raise ``MappingError`` if unusable."""
    try:
        return transform_get(name).parse_arg(arg)
    except MappingError as error:
        if error.field == "transform":
            raise
        raise MappingError(f"transform {name!r}: {error.message}", field="arg") from None


def _register(
    name: str, *, arg: Callable[[str], Any] | None = None, grammar: str = "",
    missing: bool = False, derives_non_pii: bool = False, keeps_value: bool = False,
) -> Callable[[TransformFunc], TransformFunc]:
    if (arg is None) != (not grammar):
        raise ValueError(f"transform {name!r}: an argument parser goes with its grammar")

    def decorate(func: TransformFunc) -> TransformFunc:
        TRANSFORMS[name] = Transform(func, arg or _no_arg, missing, derives_non_pii,
                                     keeps_value, grammar)
        return func

    return decorate


def transforms_deriving_non_pii() -> list[str]:
    """The names of the transforms a ping may apply to a PII field, sorted."""
    return sorted(name for name, transform in TRANSFORMS.items() if transform.derives_non_pii)


def transforms_keeping_value() -> list[str]:
    """The names of the transforms whose result still holds the whole input text, sorted."""
    return sorted(name for name, transform in TRANSFORMS.items() if transform.keeps_value)


# --- argument parsers: text -> parsed argument, or MappingError ----------------------------


def _no_arg(text: str) -> None:
    if text:
        raise MappingError(f"takes no argument, got {text!r}")


def _any_text(text: str) -> str:
    return text


def _some_text(text: str) -> str:
    if not text:
        raise MappingError("needs a non-empty argument")
    return text


def _length(text: str) -> int:
    if not text.isascii() or not text.isdigit() or int(text) < 1:
        raise MappingError(f"needs a positive whole number, got {text!r}")
    return int(text)


def _json_object(text: str) -> Mapping[str, Any]:
    try:
        table = json.loads(text, parse_float=Decimal)
    except (ValueError, RecursionError):
        raise MappingError(f"needs a JSON object like {{\"own\": \"Y\"}}, got {text!r}") from None
    if not isinstance(table, dict):
        raise MappingError(f"needs a JSON object, got {type(table).__name__}")
    for key, mapped in table.items():
        if isinstance(mapped, dict | list):
            raise MappingError(f"the value of {key!r} must be text, a number, a boolean or null")
    # Read-only: the parsed table is cached and shared by every lead.
    return MappingProxyType(table)


def _separator_and_index(text: str) -> tuple[str, int]:
    # rpartition: the separator itself may contain "|".
    separator, bar, index = text.rpartition("|")
    if not bar or not separator or not re.fullmatch(r"-?\d+", index):
        raise MappingError(f"needs '<separator>|<index>' like ' |0', got {text!r}")
    return separator, int(index)


def _true_false_words(text: str) -> tuple[str, str]:
    words = text.split("|")
    if len(words) != 2:
        raise MappingError(f"needs '<true>|<false>' like 'Yes|No', got {text!r}")
    return words[0], words[1]


# --- value readers: Any -> the wanted type, or None ----------------------------------------


def _text(value: Any) -> str | None:
    """The textual form of a scalar, as the wire would show it; None for containers."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | UUID):
        return str(value)
    if isinstance(value, Decimal):
        # "f": 1E+2 is written 100, as a buyer expects.
        return format(value, "f") if value.is_finite() else None
    if isinstance(value, float):
        return repr(value) if math.isfinite(value) else None
    if isinstance(value, date):
        return value.isoformat()
    return None


_TRUE_WORDS = frozenset({"true", "1", "yes", "y", "on"})
_FALSE_WORDS = frozenset({"false", "0", "no", "n", "off"})


def _boolean(value: Any) -> bool | None:
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    if isinstance(value, str):
        word = value.strip().lower()
        if word in _TRUE_WORDS:
            return True
        if word in _FALSE_WORDS:
            return False
    return None


def _datetime(value: Any) -> datetime | None:
    if isinstance(value, datetime):
        return value
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day)
    if isinstance(value, str):
        try:
            return datetime.fromisoformat(value.strip())
        except ValueError:
            return None
    return None


@lru_cache(maxsize=1024)
def _phone(text: str) -> phonenumbers.PhoneNumber | None:
    # Cached: parsing costs tens of microseconds and the same number is mapped for every
    # buyer of a lead.
    try:
        number = phonenumbers.parse(text, "US")
    except phonenumbers.NumberParseException:
        return None
    return number if phonenumbers.is_valid_number(number) else None


def _nanp_digits(value: Any) -> str | None:
    """The 10-digit national number of a US/NANP phone, or None."""
    number = _phone_of(value)
    if number is None or number.country_code != 1:
        return None
    return str(number.national_number)


def _phone_of(value: Any) -> phonenumbers.PhoneNumber | None:
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    return _phone(value.strip()) if isinstance(value, str) else None


# --- the transforms -------------------------------------------------------------------------


@_register("upper")
def _upper(value: Any, arg: None, now: Now) -> str | None:
    text = _text(value)
    return None if text is None else text.upper()


@_register("lower")
def _lower(value: Any, arg: None, now: Now) -> str | None:
    text = _text(value)
    return None if text is None else text.lower()


@_register("title")
def _title(value: Any, arg: None, now: Now) -> str | None:
    text = _text(value)
    return None if text is None else text.title()


@_register("trim", keeps_value=True)
def _trim(value: Any, arg: None, now: Now) -> str | None:
    text = _text(value)
    return None if text is None else text.strip()


_NOT_DIGIT = re.compile(r"[^0-9]")


@_register("digits_only")
def _digits_only(value: Any, arg: None, now: Now) -> str | None:
    text = _text(value)
    if text is None:
        return None
    # Text without a single digit is no value at all, not an empty string.
    return _NOT_DIGIT.sub("", text) or None


@_register("phone_e164")
def _phone_e164(value: Any, arg: None, now: Now) -> str | None:
    number = _phone_of(value)
    if number is None:
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


@_register("phone_10")
def _phone_10(value: Any, arg: None, now: Now) -> str | None:
    return _nanp_digits(value)


@_register("phone_dashed")
def _phone_dashed(value: Any, arg: None, now: Now) -> str | None:
    digits = _nanp_digits(value)
    return None if digits is None else f"{digits[:3]}-{digits[3:6]}-{digits[6:]}"


@_register("date_format", arg=strftime_format, grammar="<strftime format>, e.g. %m/%d/%Y")
def _date_format(value: Any, arg: str, now: Now) -> str | None:
    moment = _datetime(value)
    return None if moment is None else moment.strftime(arg)


@_register("value_map", arg=_json_object,
           grammar='<JSON object>, e.g. {"own": "Y", "rent": "N", "*": "U"}')
def _value_map(value: Any, arg: Mapping[str, Any], now: Now) -> Any:
    key = _text(value)
    if key is not None and key in arg:
        return arg[key]
    return arg.get("*", value)


@_register("split", arg=_separator_and_index, grammar="<separator>|<index>, e.g.  |0")
def _split(value: Any, arg: tuple[str, int], now: Now) -> str | None:
    text = _text(value)
    if text is None:
        return None
    separator, index = arg
    parts = text.split(separator)
    if not -len(parts) <= index < len(parts):
        return None
    return parts[index].strip() or None


@_register("join", arg=_any_text, grammar="<separator>, e.g. ,", keeps_value=True)
def _join(value: Any, arg: str, now: Now) -> str | None:
    if not isinstance(value, list | tuple):
        return _text(value)
    texts: list[str] = []
    for item in value:
        text = _text(item) if item is not None else ""
        if text is None:
            return None
        if text:
            texts.append(text)
    return arg.join(texts) or None


@_register("default", arg=_any_text, grammar="<text used when the value is missing>",
           missing=True, keeps_value=True)
def _default(value: Any, arg: str, now: Now) -> Any:
    if value is None or (isinstance(value, str) and not value.strip()):
        return arg
    return value


@_register("truncate", arg=_length, grammar="<length>, e.g. 50")
def _truncate(value: Any, arg: int, now: Now) -> str | None:
    text = _text(value)
    return None if text is None else text[:arg]


@_register("bool_yn")
def _bool_yn(value: Any, arg: None, now: Now) -> str | None:
    flag = _boolean(value)
    return None if flag is None else ("Y" if flag else "N")


@_register("bool_10")
def _bool_10(value: Any, arg: None, now: Now) -> int | None:
    flag = _boolean(value)
    return None if flag is None else int(flag)


@_register("bool_text", arg=_true_false_words, grammar="<true>|<false>, e.g. Yes|No")
def _bool_text(value: Any, arg: tuple[str, str], now: Now) -> str | None:
    flag = _boolean(value)
    return None if flag is None else arg[0] if flag else arg[1]


_INTEGER = re.compile(r"[-+]?[0-9]+")
_DECIMAL = re.compile(r"[-+]?(?:[0-9]+\.[0-9]*|\.[0-9]+)")


@_register("number")
def _number(value: Any, arg: None, now: Now) -> int | Decimal | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, Decimal):
        return value if value.is_finite() else None
    if isinstance(value, float):
        # Through repr() so 0.1 stays 0.1 instead of its binary expansion.
        return Decimal(repr(value)) if math.isfinite(value) else None
    if not isinstance(value, str):
        return None
    text = value.strip()
    if _INTEGER.fullmatch(text):
        return int(text)
    # The pattern admits only what Decimal() reads; exponents, NaN and Infinity stay out.
    return Decimal(text) if _DECIMAL.fullmatch(text) else None


@_register("string", keeps_value=True)
def _string(value: Any, arg: None, now: Now) -> str | None:
    return _text(value)


@_register("prefix", arg=_some_text, grammar="<text>", keeps_value=True)
def _prefix(value: Any, arg: str, now: Now) -> str | None:
    text = _text(value)
    return None if text is None else arg + text


@_register("suffix", arg=_some_text, grammar="<text>", keeps_value=True)
def _suffix(value: Any, arg: str, now: Now) -> str | None:
    text = _text(value)
    return None if text is None else text + arg


_ZIP = re.compile(r"([0-9]{5})(?:[- ]?[0-9]{4})?")


@_register("zip5")
def _zip5(value: Any, arg: None, now: Now) -> str | None:
    # An int lost its leading zero on the way through JSON: 7429 is ZIP 07429.
    if isinstance(value, int) and not isinstance(value, bool):
        return f"{value:05d}" if 0 <= value <= 99999 else None
    if not isinstance(value, str):
        return None
    match = _ZIP.fullmatch(value.strip())
    return match.group(1) if match else None
