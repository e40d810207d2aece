"""Validation and normalization of incoming lead field values.

Pure functions: no database, no Django settings. Each ``normalize_<type>`` takes the raw value
an affiliate sent (usually a JSON scalar) and returns a JSON-native canonical value (str, int
or bool), or raises :class:`NormalizationError`, whose ``message`` is shown to API clients.
Non-string garbage (dicts, lists, floats where a string is expected) raises it too, never
``TypeError``.

Missing values are the caller's business: check :func:`is_blank` first and decide whether the
field is required. A blank value that still reaches a normalizer gets "This field is required.".
"""

from __future__ import annotations

import ipaddress
import re
import unicodedata
from collections.abc import Callable, Mapping, Sequence
from datetime import date, datetime
from decimal import Decimal
from types import MappingProxyType
from typing import TypeVar
from urllib.parse import urlsplit, urlunsplit

import phonenumbers
import us
from dateutil.parser import parserinfo
from django.core.exceptions import ValidationError
from django.core.validators import EmailValidator, URLValidator


class NormalizationError(ValueError):
    """A value the client sent is invalid; ``message`` is human-readable and ends with a period."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def is_blank(value: object) -> bool:
    """True for None, "", whitespace-only strings and [] -- values that count as missing."""
    if isinstance(value, str):
        return not value.strip()
    return value is None or (isinstance(value, list) and not value)


def _clean_str(value: object, message: str, *, allow_int: bool = False) -> str:
    """Return ``value`` stripped; raise ``message`` for non-strings (ints pass if allowed)."""
    if is_blank(value):
        raise NormalizationError("This field is required.")
    # bool is an int subclass, but True is never a meaningful phone number, label or text.
    if allow_int and isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    if not isinstance(value, str):
        raise NormalizationError(message)
    return value.strip()


def _fold(text: str) -> str:
    """Case- and whitespace-insensitive key: " Own  Home " -> "own home"."""
    return " ".join(text.split()).casefold()


def normalize_text(value: object, *, max_length: int = 255) -> str:
    """Strip; turn CR/CRLF into LF; reject other control characters and text over ``max_length``.

    Ints are accepted and stringified (``"unit": 4``). Tab and newline are allowed; any other
    Unicode control character (notably NUL, which PostgreSQL cannot store) is rejected.
    """
    text = _clean_str(value, "Enter a valid text value.", allow_int=True)
    # Browsers submit textarea newlines as CRLF; store one canonical form.
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    if any(unicodedata.category(ch) == "Cc" and ch not in "\t\n" for ch in text):
        raise NormalizationError("Remove control characters from this value.")
    if len(text) > max_length:
        raise NormalizationError(
            f"Ensure this value has at most {max_length} characters (it has {len(text)})."
        )
    return text


class _LeadEmailValidator(EmailValidator):
    """Django's validator without IP-literal domains ("bob@[10.0.0.1]"); nobody can mail those."""

    def validate_domain_part(self, domain_part: str) -> bool:
        return bool(self.domain_regex.match(domain_part))


# Empty allowlist: Django accepts "user@localhost" by default, which is not a deliverable lead.
_email_validator = _LeadEmailValidator(allowlist=[])
EMAIL_MESSAGE = "Enter a valid email address."


def normalize_email(value: object) -> str:
    """Strip and lowercase the whole address; require a plain ``local@domain.tld`` <= 254 chars.

    Display-name forms ("Bob <bob@x.com>"), whitespace (also inside quotes), missing TLDs,
    localhost, IP literals and multiple "@" are rejected.
    """
    email = _clean_str(value, EMAIL_MESSAGE).lower()
    # 254 = the longest address usable in an SMTP path (RFC 5321 errata 1690).
    if len(email) > 254 or any(ch.isspace() for ch in email):
        raise NormalizationError(EMAIL_MESSAGE)
    try:
        _email_validator(email)
    except ValidationError:
        raise NormalizationError(EMAIL_MESSAGE) from None
    return email


PHONE_MESSAGE = (
    "Enter a valid US phone number, e.g. 212-555-0147 or +1 212 555 0147 (another country: "
    "+ and its country code)."
)
# phonenumbers skips leading junk ("call me 2125550123"); we want the field to *be* a number.
_PHONE_START = re.compile(r"[+(\d]")


def normalize_phone(value: object, *, region: str = "US") -> str:
    """Return the number in E.164 ("+12125550123") if phonenumbers deems it valid, or raise.

    Without a leading "+" the number is read as a ``region`` number; with "+" (or the region's
    international prefix, "011" for US) any country is accepted. Punctuation, a leading trunk
    "1" and vanity letters ("1-800-FLOWERS") are fine. An extension ("x45", "ext. 45") is
    dropped: E.164 cannot carry one and buyers dial the main line, so rejecting the lead over
    it would be worse. Valid numbers of other NANP regions (PR, CA, ...) are accepted with the
    default region. Ints are accepted (JSON numbers); floats are not (spreadsheet damage).
    """
    raw = _clean_str(value, PHONE_MESSAGE, allow_int=True)
    if not _PHONE_START.match(raw):
        raise NormalizationError(PHONE_MESSAGE)
    try:
        number = phonenumbers.parse(raw, region)
    except phonenumbers.NumberParseException:
        raise NormalizationError(PHONE_MESSAGE) from None
    if not phonenumbers.is_valid_number(number):
        raise NormalizationError(PHONE_MESSAGE)
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


ZIP_MESSAGE = "Enter a valid 5-digit ZIP code, e.g. 10001 (ZIP+4 such as 10001-1234 is accepted)."
_ZIP = re.compile(r"(\d{5})(?:[- ]?\d{4})?", re.ASCII)  # ASCII: "\d" also matches non-Latin digits


def normalize_zip(value: object) -> str:
    """Return the 5-digit ZIP from "77429", "77429-1234", "77429 1234" or "774291234".

    An int up to 99999 is zero-padded (a JSON number lost the leading zero: 7429 -> "07429").
    Larger ints are rejected: a 9-digit int may be a ZIP+4 that also lost a zero. A 4-digit
    *string* is rejected, since strings keep their zeros. Only the format is checked here;
    whether the ZIP exists is :func:`apps.leads.enrich.zip_lookup`'s business.
    """
    if isinstance(value, int) and not isinstance(value, bool):
        if 0 <= value <= 99999:
            return f"{value:05d}"
        raise NormalizationError(ZIP_MESSAGE)
    match = _ZIP.fullmatch(_clean_str(value, ZIP_MESSAGE))
    if match is None:
        raise NormalizationError(ZIP_MESSAGE)
    return match.group(1)


# Exact names and codes only: us.states.lookup() matches names phonetically, turning typos
# such as "Taxes" into Texas and "Main" into Maine -- not acceptable for routing leads.
_STATES: Mapping[str, str] = MappingProxyType(
    {_fold(s.abbr): s.abbr for s in us.states.STATES_AND_TERRITORIES}
    | {_fold(s.name): s.abbr for s in us.states.STATES_AND_TERRITORIES}
)


STATE_MESSAGE = "Enter a valid US state: its 2-letter code or its name, e.g. TX or Texas."


def normalize_state(value: object) -> str:
    """Return the USPS code ("TX") of a state, DC or territory given by code or full name.

    Case, surrounding/repeated whitespace and periods are ignored ("d.c." -> "DC").
    Military codes (AA/AE/AP), freely associated states and FIPS numbers are rejected.
    """
    text = _clean_str(value, STATE_MESSAGE)
    code = _STATES.get(_fold(text.replace(".", "")))
    if code is None:
        raise NormalizationError(STATE_MESSAGE)
    return code


DATE_MESSAGE = (
    "Enter a valid date as YYYY-MM-DD, e.g. 1985-04-12 (also accepted: MM/DD/YYYY, YYYY/MM/DD, "
    "April 12, 1985 and 12 Apr 1985)."
)
_DATE_PATTERNS = tuple(
    re.compile(p, re.IGNORECASE | re.ASCII)
    for p in (
        r"(?P<y>\d{4})([-/])(?P<m>\d{1,2})\2(?P<d>\d{1,2})",
        # US order is month first; "-" is as common as "/" in US data entry.
        r"(?P<m>\d{1,2})([-/])(?P<d>\d{1,2})\2(?P<y>\d{4})",
        r"(?P<m>[a-z]+)\.?\s+(?P<d>\d{1,2})(?:st|nd|rd|th)?,?\s+(?P<y>\d{4})",
        r"(?P<d>\d{1,2})(?:st|nd|rd|th)?\s+(?P<m>[a-z]+)\.?,?\s+(?P<y>\d{4})",
    )
)
_TWO_DIGIT_YEAR = re.compile(
    r"\d{1,2}([-/])\d{1,2}\1\d{2}|[a-z]+\.?\s+\d{1,2},?\s+\d{2}", re.IGNORECASE | re.ASCII
)
_ISO_DATETIME = re.compile(r"\d{4}-\d{2}-\d{2}[T ].+", re.ASCII)
# parserinfo knows English month names and abbreviations ("Sept", "apr") in any case.
_MONTHS = parserinfo()


def _parse_date(text: str) -> date:
    if _ISO_DATETIME.fullmatch(text):
        try:
            # The calendar date as written, without timezone conversion: date fields are
            # birth dates and the like, not instants.
            return datetime.fromisoformat(text).date()
        except ValueError:
            raise NormalizationError(DATE_MESSAGE) from None
    if _TWO_DIGIT_YEAR.fullmatch(text):
        raise NormalizationError(
            "Enter the date with a four-digit year, as YYYY-MM-DD, e.g. 1985-04-12.")
    for pattern in _DATE_PATTERNS:
        if match := pattern.fullmatch(text):
            month = match["m"]
            month_number = int(month) if month.isdigit() else _MONTHS.month(month) or 0
            try:
                return date(int(match["y"]), month_number, int(match["d"]))
            except ValueError:  # February 30th, month 13, unknown month name
                break
    raise NormalizationError(DATE_MESSAGE)


def normalize_date(value: object) -> str:
    """Return an ISO date ("1985-04-12") from the common written forms, or raise.

    Accepted: ISO dates and datetimes (the date part as written), YYYY/MM/DD, US month-first
    MM/DD/YYYY or M-D-YYYY, "April 12, 1985", "Apr 12 1985", "12 Apr 1985", and ``date`` or
    ``datetime`` objects. Two-digit years get their own message: the century guess is often
    wrong for birth dates. Bare numbers ("5", 19850412) and impossible dates are rejected.
    """
    if isinstance(value, datetime):
        return value.date().isoformat()
    if isinstance(value, date):
        return value.isoformat()
    return _parse_date(_clean_str(value, DATE_MESSAGE)).isoformat()


NUMBER_MESSAGE = "Enter a valid number."
INTEGER_MESSAGE = "Enter a whole number."
# Optional sign and "$", thousands separators only in correct groups ("1,2" may be a European
# decimal), optional fraction. No exponent: "2.12E+09" in form data is spreadsheet damage.
_NUMBER = re.compile(
    r"[+-]?(?:\$\s*)?(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d*)?|[+-]?(?:\$\s*)?\.\d+", re.ASCII
)


def _to_decimal(value: object, message: str) -> Decimal:
    if isinstance(value, bool):
        raise NormalizationError(message)
    if isinstance(value, int | Decimal):
        number = Decimal(value)
    elif isinstance(value, float):
        # repr() is the shortest round-tripping form: 12.5 -> "12.5", not the binary expansion.
        number = Decimal(repr(value))
    else:
        text = _clean_str(value, message)
        # The length cap keeps hostile input from making us build huge numbers.
        if len(text) > 64 or not _NUMBER.fullmatch(text):
            raise NormalizationError(message)
        number = Decimal(re.sub(r"[$,\s]", "", text))
    if not number.is_finite():
        raise NormalizationError(message)
    return number


def normalize_integer(value: object) -> int:
    """Return an int from 42, 42.0, "42", " 42 ", "42.0", "1,000" (the decimal grammar).

    Fractions ("42.5"), bools, exponents ("1e3"), NaN/Infinity and non-numbers are rejected.
    """
    number = _to_decimal(value, INTEGER_MESSAGE)
    if number != number.to_integral_value():
        raise NormalizationError(INTEGER_MESSAGE)
    return int(number)


def normalize_decimal(value: object) -> str:
    """Return an exact decimal string: "12.50" -> "12.50", 12.5 -> "12.5", "$1,200.50" -> "1200.50".

    Never goes through float arithmetic; the given scale is kept (trailing zeros stay); a "+",
    "$", thousands separators and the sign of zero are dropped. NaN/Infinity are rejected.
    """
    number = _to_decimal(value, NUMBER_MESSAGE)
    if number.is_zero():
        number = abs(number)  # "-0.00" -> "0.00"
    return format(number, "f")  # "f": never exponent notation ("1E-7")


_BOOLEANS = MappingProxyType(
    dict.fromkeys(("true", "yes", "y", "1", "on"), True)
    | dict.fromkeys(("false", "no", "n", "0", "off"), False)
)
BOOLEAN_MESSAGE = "Enter a valid boolean: true/false, yes/no, y/n, 1/0 or on/off."


def normalize_boolean(value: object) -> bool:
    """Return a bool from a bool, the ints 1/0, or (any case) true/false, yes/no, y/n, on/off."""
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    result = _BOOLEANS.get(_clean_str(value, BOOLEAN_MESSAGE).casefold())
    if result is None:
        raise NormalizationError(BOOLEAN_MESSAGE)
    return result


def normalize_choice(value: object, choices: Sequence[str]) -> str:
    """Return the canonical spelling from ``choices`` that matches ``value``.

    Matching ignores case and surrounding/repeated whitespace; ints are compared as text (a
    JSON 700 matches the choice "700"). Empty ``choices`` is a programming error (ValueError).
    """
    if not choices:
        raise ValueError("normalize_choice() needs at least one choice")
    message = f"Select a valid choice. Allowed values: {', '.join(map(str, choices))}."
    key = _fold(_clean_str(value, message, allow_int=True))
    for choice in map(str, choices):
        if _fold(choice) == key:
            return choice
    raise NormalizationError(message)


_url_validator = URLValidator(schemes=["http", "https"])
URL_MESSAGE = "Enter a valid http(s) URL, e.g. https://www.example.com/quote."


def normalize_url(value: object) -> str:
    """Return an absolute http(s) URL with scheme and host lowercased, the rest as sent."""
    url = _clean_str(value, URL_MESSAGE)
    try:
        _url_validator(url)
    except ValidationError:
        raise NormalizationError(URL_MESSAGE) from None
    parts = urlsplit(url)
    userinfo, at, host = parts.netloc.rpartition("@")
    netloc = userinfo + at + host.lower()
    return urlunsplit(parts._replace(scheme=parts.scheme.lower(), netloc=netloc))


def normalize_ip(value: object) -> str:
    """Return the compressed form of an IPv4 or IPv6 address string ("2001:db8::1").

    IPv4-mapped IPv6 ("::ffff:192.0.2.1") becomes plain IPv4 so the same client compares
    equal whether or not it came through a dual-stack proxy. Ints are rejected.
    """
    text = _clean_str(value, "Enter a valid IPv4 or IPv6 address.")
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        raise NormalizationError("Enter a valid IPv4 or IPv6 address.") from None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return str(address)


TRUSTEDFORM_MESSAGE = (
    "Enter a valid TrustedForm certificate URL: https://cert.trustedform.com/ and the 40 hex "
    "digits of the certificate id, e.g. https://cert.trustedform.com/"
    "2a5f8c3e9b1d4f6a8c0e2b4d6f8a0c2e4b6d8f0a."
)
_TRUSTEDFORM_CERT = re.compile(r"https?://cert\.trustedform\.com/([0-9a-f]{40})/?", re.IGNORECASE)
# Ping URLs carry an opaque, case-sensitive token: "0." then dot-separated base64url parts.
_TRUSTEDFORM_PING = re.compile(
    r"https?://ping\.trustedform\.com/(0\.[\w-]+(?:\.[\w-]+)*)", re.IGNORECASE | re.ASCII
)


def normalize_trustedform_cert_url(value: object) -> str:
    """Return "https://cert.trustedform.com/<40 lowercase hex>" or a canonical ping URL.

    The scheme becomes https (TrustedForm serves nothing else), the host lowercase, and a
    trailing slash is dropped. Ping URLs ("https://ping.trustedform.com/0.<token>") keep their
    token unchanged; they can be verified but not claimed. Mobile/Facebook certificate ids,
    staging hosts, query strings and fragments are rejected.
    """
    url = _clean_str(value, TRUSTEDFORM_MESSAGE)
    if match := _TRUSTEDFORM_CERT.fullmatch(url):
        return f"https://cert.trustedform.com/{match.group(1).lower()}"
    if match := _TRUSTEDFORM_PING.fullmatch(url):
        return f"https://ping.trustedform.com/{match.group(1)}"
    raise NormalizationError(TRUSTEDFORM_MESSAGE)


JORNAYA_MESSAGE = (
    "Enter a valid Jornaya LeadiD token: 36 characters, hex digits in groups of 8-4-4-4-12 "
    "joined by hyphens, e.g. 4B1A8C9E-2F3D-4E5A-9B6C-7D8E9F0A1B2C."
)
_JORNAYA = re.compile(r"[0-9A-F]{8}-[0-9A-F]{4}-[0-9A-F]{4}-[0-9A-F]{4}-[0-9A-F]{12}")


def normalize_jornaya_leadid(value: object) -> str:
    """Return the upper-cased Jornaya LeadiD token (8-4-4-4-12 hex digits, hyphens required).

    No UUID version/variant check: LeadiD tokens are only UUID-shaped.
    """
    token = _clean_str(value, JORNAYA_MESSAGE).upper()
    if not _JORNAYA.fullmatch(token):
        raise NormalizationError(JORNAYA_MESSAGE)
    return token


NORMALIZERS: Mapping[str, Callable[..., object]] = MappingProxyType(
    {
        "text": normalize_text,
        "email": normalize_email,
        "phone": normalize_phone,
        "zip": normalize_zip,
        "state": normalize_state,
        "date": normalize_date,
        "integer": normalize_integer,
        "decimal": normalize_decimal,
        "boolean": normalize_boolean,
        "choice": normalize_choice,
        "url": normalize_url,
        "ip": normalize_ip,
    }
)
# One valid value per field type (choice: its own choices): what ``normalizers_warm`` feeds
# through each normalizer once at process start.
_WARM_SAMPLES: Mapping[str, tuple[object, Sequence[str]]] = MappingProxyType({
    "text": ("a", ()), "email": ("warm.up@example.com", ()), "phone": ("212-555-0147", ()),
    "zip": ("10001", ()), "state": ("NY", ()), "date": ("2000-01-31", ()),
    "integer": ("1", ()), "decimal": ("1.5", ()), "boolean": ("yes", ()),
    "choice": ("a", ("a",)), "url": ("https://example.com/a", ()), "ip": ("203.0.113.7", ()),
})


def normalizers_warm() -> None:
    """Run every normalizer once, so a process compiles their regular expressions and loads
    the phone metadata at start-up (``process_tune``) rather than in its first leads' requests:
    Django's email validator compiles its patterns lazily (~30 ms), once per thread that gets
    there first, and a new process's first burst has dozens of such threads."""
    for field_type, (sample, choices) in _WARM_SAMPLES.items():
        normalize_value(field_type, sample, choices=choices)


# Field types whose schema may set min_value/max_value.
BOUNDED_TYPES = frozenset({"text", "integer", "decimal", "date"})
Bound = int | Decimal | date
# One field's bounds are all of one type: a length (text), a number or a date.
_B = TypeVar("_B", int, Decimal, date)


def _date_bound(bound: object) -> date:
    return date.fromisoformat(normalize_date(bound))


def _number_bound(bound: object) -> Decimal:
    return _to_decimal(bound, NUMBER_MESSAGE)


def parse_bounds(
    field_type: str, min_value: object = None, max_value: object = None
) -> tuple[Bound | None, Bound | None]:
    """Parse a field's schema bounds into comparable values (blank bounds -> None).

    Raises ``ValueError`` with an admin-readable message when bounds are set on a type outside
    :data:`BOUNDED_TYPES`, are malformed, or min > max. The schema model's ``clean()`` should
    call this so a bad schema is refused when saved rather than failing every capture.
    """
    if field_type not in BOUNDED_TYPES and not (is_blank(min_value) and is_blank(max_value)):
        raise ValueError(f"{field_type} fields do not take min/max values")
    if field_type == "date":
        return _bounds(_date_bound, field_type, min_value, max_value)
    if field_type == "text":
        return _bounds(normalize_integer, field_type, min_value, max_value)  # a length
    return _bounds(_number_bound, field_type, min_value, max_value)


def _bounds(
    parse: Callable[[object], _B], field_type: str, min_value: object, max_value: object
) -> tuple[_B | None, _B | None]:
    """Both bounds parsed by ``parse``; ValueError if one is malformed or min > max."""
    low, high = (_parse_bound(parse, field_type, bound) for bound in (min_value, max_value))
    if low is not None and high is not None and low > high:
        raise ValueError("The minimum must not be greater than the maximum.")
    return low, high


def _parse_bound(parse: Callable[[object], _B], field_type: str, bound: object) -> _B | None:
    if is_blank(bound):
        return None
    try:
        return parse(bound)
    except NormalizationError:
        raise ValueError(f"{bound!r} is not a valid bound for a {field_type} field") from None


def normalize_value(
    field_type: str,
    value: object,
    *,
    choices: Sequence[str] = (),
    min_value: object = None,
    max_value: object = None,
) -> object:
    """Normalize ``value`` as ``field_type``, then enforce the schema's bounds.

    Bounds (see :func:`parse_bounds`): numeric for integer/decimal, ISO date (str or ``date``)
    for date, length for text (``max_value`` replaces the default 255-character limit).
    ``choices`` is only used by choice fields. Unknown field types and bad bounds raise plain
    ``ValueError``: they are schema/programming errors, not the client's.
    """
    normalizer = NORMALIZERS.get(field_type)
    if normalizer is None:
        raise ValueError(f"unknown field type {field_type!r}")
    # Bounds are parsed (and a bad schema refused) before the value is looked at.
    if field_type == "text":
        shortest, longest = _bounds(normalize_integer, field_type, min_value, max_value)
        text = normalize_text(value, max_length=255 if longest is None else longest)
        if shortest is not None and len(text) < shortest:
            raise NormalizationError(
                f"Ensure this value has at least {shortest} characters (it has {len(text)})."
            )
        return text
    if field_type == "date":
        first, last = _bounds(_date_bound, field_type, min_value, max_value)
        iso_day = normalize_date(value)
        day = date.fromisoformat(iso_day)
        if first is not None and day < first:
            raise NormalizationError(f"Ensure this date is on or after {first.isoformat()}.")
        if last is not None and day > last:
            raise NormalizationError(f"Ensure this date is on or before {last.isoformat()}.")
        return iso_day
    if field_type in ("integer", "decimal"):
        low, high = _bounds(_number_bound, field_type, min_value, max_value)
        result: int | str = (
            normalize_integer(value) if field_type == "integer" else normalize_decimal(value)
        )
        number = Decimal(result)
        if low is not None and number < low:
            raise NormalizationError(f"Ensure this value is greater than or equal to {low:f}.")
        if high is not None and number > high:
            raise NormalizationError(f"Ensure this value is less than or equal to {high:f}.")
        return result
    parse_bounds(field_type, min_value, max_value)  # only refuses bounds: this type has none
    if field_type == "choice":
        return normalize_choice(value, choices)
    return normalizer(value)
