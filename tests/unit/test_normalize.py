"""Tables of written forms -> canonical values (or the message) for every lead field type."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from decimal import Decimal
from functools import partial

import pytest

from apps.leads.normalize import (
    BOUNDED_TYPES,
    NORMALIZERS,
    NormalizationError,
    is_blank,
    normalize_boolean,
    normalize_choice,
    normalize_date,
    normalize_decimal,
    normalize_email,
    normalize_integer,
    normalize_ip,
    normalize_jornaya_leadid,
    normalize_phone,
    normalize_state,
    normalize_text,
    normalize_trustedform_cert_url,
    normalize_url,
    normalize_value,
    normalize_zip,
    parse_bounds,
)

P = pytest.param
CERT_ID = "454a35b802f3e7b63ffabb4efedb7c6ebe67886c"
CERT_URL = f"https://cert.trustedform.com/{CERT_ID}"
PING_URL = (
    "https://ping.trustedform.com/0.HJDqajg8vVF20hwiDBJ92kct5idepgBM4vHylmh43kShfWSZKwm8HI37"
    "KqPToi0y3dhTIQ3N.uOjUbzs7aKNUWivkGh7I9Q.50hgmcLFsDabNx1wtZZPdQ"
)
LEADID = "0A1B2C3D-4E5F-6A7B-8C9D-0E1F2A3B4C5D"


def rejection(normalizer, value, *args, **kwargs) -> str:
    """Call ``normalizer`` expecting a NormalizationError; return its message."""
    with pytest.raises(NormalizationError) as excinfo:
        normalizer(value, *args, **kwargs)
    message = excinfo.value.message
    assert message.endswith("."), message
    return message


def assert_programming_error(func, *args, **kwargs) -> None:
    # NormalizationError subclasses ValueError; schema/programming errors must be plain ones
    # so the capture service does not report them to the client as a field error.
    with pytest.raises(ValueError) as excinfo:
        func(*args, **kwargs)
    assert not isinstance(excinfo.value, NormalizationError)


# --- blank and garbage, for every field type ----------------------------------------------


@pytest.mark.parametrize(
    ("value", "blank"),
    [
        P(None, True, id="none"),
        P("", True, id="empty-string"),
        P("  \t\n ", True, id="whitespace-only"),
        P([], True, id="empty-list"),
        P("x", False, id="text"),
        P(0, False, id="zero"),
        P(False, False, id="false"),
        P(["x"], False, id="non-empty-list"),
        P({}, False, id="empty-dict-is-garbage-not-missing"),
    ],
)
def test_is_blank_counts_none_empty_whitespace_and_empty_list_as_missing(value, blank):
    assert is_blank(value) is blank


@pytest.mark.parametrize("field_type", sorted(NORMALIZERS))
@pytest.mark.parametrize("value", [None, "", "   ", []], ids=["none", "empty", "spaces", "list"])
def test_blank_value_reaching_a_normalizer_is_required(field_type, value):
    message = rejection(partial(normalize_value, field_type, choices=("a",)), value)
    assert message == "This field is required."


@pytest.mark.parametrize("field_type", sorted(NORMALIZERS))
@pytest.mark.parametrize(
    "garbage",
    [
        P({"value": "x"}, id="dict"),
        P(["x"], id="list"),
        P(("x",), id="tuple"),
        P(b"77429", id="bytes"),
        P(object(), id="object"),
        P({1, 2}, id="set"),
    ],
)
def test_non_string_garbage_is_a_normalization_error_never_type_error(field_type, garbage):
    rejection(partial(normalize_value, field_type, choices=("a", "b")), garbage)


def test_normalizers_cover_exactly_the_schema_field_types():
    assert set(NORMALIZERS) == {
        "text",
        "email",
        "phone",
        "zip",
        "state",
        "date",
        "integer",
        "decimal",
        "boolean",
        "choice",
        "url",
        "ip",
    }


@pytest.mark.parametrize(
    ("field_type", "value"),
    [
        P("text", "hello", id="text"),
        P("email", "a@example.com", id="email"),
        P("phone", "2125550123", id="phone"),
        P("zip", 7429, id="zip"),
        P("state", "texas", id="state"),
        P("date", date(1985, 4, 12), id="date"),
        P("integer", "42", id="integer"),
        P("decimal", 12.5, id="decimal"),
        P("boolean", "yes", id="boolean"),
        P("choice", "A", id="choice"),
        P("url", "https://example.com", id="url"),
        P("ip", "192.0.2.1", id="ip"),
    ],
)
def test_results_are_json_native_for_the_jsonfield(field_type, value):
    result = normalize_value(field_type, value, choices=("a",))
    assert type(result) in (str, int, bool)
    assert json.loads(json.dumps(result)) == result


def test_unknown_field_type_is_a_programming_error():
    assert_programming_error(normalize_value, "colour", "red")


# --- phone --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "e164"),
    [
        P("(212) 555-0123", "+12125550123", id="parens-and-dash"),
        P("(212)555-0123", "+12125550123", id="parens-no-space"),
        P("212.555.0123", "+12125550123", id="dots"),
        P("212 555 0123", "+12125550123", id="spaces"),
        P("212-555-0123", "+12125550123", id="dashes"),
        P("212/555-0123", "+12125550123", id="slash"),
        P("2125550123", "+12125550123", id="ten-digits"),
        P("12125550123", "+12125550123", id="eleven-digits-with-trunk-1"),
        P("1-212-555-0123", "+12125550123", id="trunk-1-dashes"),
        P("+1 212 555 0123", "+12125550123", id="plus-1-spaces"),
        P("+1 (212) 555-0123", "+12125550123", id="plus-1-parens"),
        P("+1-212-555-0123", "+12125550123", id="plus-1-dashes"),
        P("212-555-0123 ext. 45", "+12125550123", id="extension-dropped"),
        P("212-555-0123 x45", "+12125550123", id="x-extension-dropped"),
        P(2125550123, "+12125550123", id="json-int"),
        P(12125550123, "+12125550123", id="json-int-with-trunk-1"),
        P("  2125550123\t", "+12125550123", id="surrounding-whitespace"),
        P("(713) 555-0199", "+17135550199", id="houston"),
        P("1-800-FLOWERS", "+18003569377", id="vanity-letters"),
        P("787-555-0123", "+17875550123", id="puerto-rico-nanp"),
        P("416-555-0123", "+14165550123", id="canada-nanp"),
        P("+44 20 7946 0958", "+442079460958", id="uk-with-plus"),
        P("+52 55 1234 5678", "+525512345678", id="mexico-with-plus"),
        P("+61 2 9374 4000", "+61293744000", id="australia-with-plus"),
        P("011 44 20 7946 0958", "+442079460958", id="us-international-prefix"),
    ],
)
def test_phone_written_forms_normalize_to_e164(raw, e164):
    assert normalize_phone(raw) == e164


@pytest.mark.parametrize(
    "raw",
    [
        P("555-0123", id="seven-digits-no-area-code"),
        P("12345", id="too-short"),
        P("212555012", id="nine-digits"),
        P("212-555-01234", id="eleven-digits-not-trunk-1"),
        P("212 555 0123 4", id="extra-digit"),
        P("123-456-7890", id="area-code-starting-with-1"),
        P("555-555-5555", id="area-code-555"),
        P("000-000-0000", id="zeros"),
        P("212-055-0123", id="exchange-starting-with-0"),
        P("911", id="service-code"),
        P("call me", id="words"),
        P("aaaaaaaaaa", id="letters-only"),
        P("phone 2125550123", id="leading-text"),
        P("2125550123abc", id="trailing-letters"),
        P("2125550123, 7135550123", id="two-numbers"),
        P("+999 123", id="unknown-country-code"),
        P("+44 20 7946 095", id="uk-too-short"),
        P("-2125550123", id="negative"),
        P(-2125550123, id="negative-int"),
        P(2125550123.0, id="float"),
        P(True, id="bool"),
    ],
)
def test_phone_rejects_invalid_numbers_and_garbage(raw):
    assert rejection(normalize_phone, raw) == (
        "Enter a valid US phone number, e.g. 212-555-0147 or +1 212 555 0147 (another "
        "country: + and its country code).")


def test_phone_region_decides_how_national_numbers_are_read():
    assert normalize_phone("020 7946 0958", region="GB") == "+442079460958"
    rejection(normalize_phone, "020 7946 0958")  # not a US number


# --- email --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "email"),
    [
        P("bob@example.com", "bob@example.com", id="plain"),
        P("  Bob@Example.COM ", "bob@example.com", id="strip-and-lowercase-whole-address"),
        P("First.Last+tag@Sub.Example.co.uk", "first.last+tag@sub.example.co.uk", id="plus-tag"),
        P("o'brien@example.com", "o'brien@example.com", id="apostrophe"),
        P("bob@bücher.de", "bob@bücher.de", id="idn-domain"),
    ],
)
def test_email_is_stripped_and_lowercased(raw, email):
    assert normalize_email(raw) == email


@pytest.mark.parametrize(
    "raw",
    [
        P("Bob <bob@example.com>", id="display-name"),
        P("bob@example", id="missing-tld"),
        P("bob@localhost", id="localhost"),
        P("bob@[192.168.0.1]", id="ip-literal"),
        P("bob @example.com", id="space-in-local-part"),
        P('"bob smith"@example.com', id="quoted-space"),
        P("bob@exa mple.com", id="space-in-domain"),
        P("bob@@example.com", id="double-at"),
        P("bob@x@example.com", id="two-ats"),
        P("bob.example.com", id="no-at"),
        P("@example.com", id="no-local-part"),
        P("bob@", id="no-domain"),
        P("bob@example..com", id="empty-label"),
        P("a" * 64 + "@" + "b" * 63 + "." + "c" * 63 + "." + "d" * 63 + ".com", id="over-254"),
        P(42, id="int"),
    ],
)
def test_email_rejects_malformed_addresses(raw):
    assert rejection(normalize_email, raw) == "Enter a valid email address."


# --- zip ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "zip5"),
    [
        P("77429", "77429", id="five-digits"),
        P(" 77429 ", "77429", id="whitespace"),
        P("77429-1234", "77429", id="zip-plus-4"),
        P("77429 1234", "77429", id="zip-plus-4-space"),
        P("774291234", "77429", id="nine-digits"),
        P("00501", "00501", id="leading-zeros-string"),
        P(77429, "77429", id="int"),
        P(7429, "07429", id="int-lost-leading-zero"),
        P(501, "00501", id="int-lost-two-zeros"),
    ],
)
def test_zip_normalizes_to_five_digits(raw, zip5):
    assert normalize_zip(raw) == zip5


@pytest.mark.parametrize(
    "raw",
    [
        P("7429", id="four-digit-string"),
        P("774", id="three-digits"),
        P("abcde", id="letters"),
        P("7742a", id="letter-inside"),
        P("77429-", id="dangling-dash"),
        P("77429-12", id="short-plus-4"),
        P("77429-12345", id="long-plus-4"),
        P("٧٧٤٢٩", id="non-ascii-digits"),
        P(123456789, id="nine-digit-int-ambiguous"),
        P(100000, id="six-digit-int"),
        P(-1, id="negative-int"),
        P(77429.0, id="float"),
        P(True, id="bool"),
    ],
)
def test_zip_rejects_malformed_codes(raw):
    assert rejection(normalize_zip, raw) == (
        "Enter a valid 5-digit ZIP code, e.g. 10001 (ZIP+4 such as 10001-1234 is accepted).")


# --- state --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "code"),
    [
        P("TX", "TX", id="code"),
        P("tx", "TX", id="lowercase-code"),
        P(" Texas ", "TX", id="name-with-whitespace"),
        P("texas", "TX", id="lowercase-name"),
        P("TEXAS", "TX", id="uppercase-name"),
        P("new  york", "NY", id="repeated-whitespace"),
        P("District of Columbia", "DC", id="dc-name"),
        P("DC", "DC", id="dc-code"),
        P("D.C.", "DC", id="dc-with-periods"),
        P("PR", "PR", id="territory-code"),
        P("Puerto Rico", "PR", id="territory-name"),
        P("guam", "GU", id="guam"),
        P("U.S. Virgin Islands".removeprefix("U.S. "), "VI", id="virgin-islands"),
    ],
)
def test_state_normalizes_to_usps_code(raw, code):
    assert normalize_state(raw) == code


@pytest.mark.parametrize(
    "raw",
    [
        P("Taxes", id="phonetic-typo-not-guessed"),
        P("Main", id="maine-typo-not-guessed"),
        P("Tex", id="abbreviation"),
        P("XX", id="unknown-code"),
        P("AE", id="military"),
        P("MH", id="freely-associated-state"),
        P("48", id="fips-string"),
        P(48, id="fips-int"),
        P("Washington DC", id="city-name"),
    ],
)
def test_state_rejects_unknown_values(raw):
    assert rejection(normalize_state, raw) == (
        "Enter a valid US state: its 2-letter code or its name, e.g. TX or Texas.")


# --- date ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "raw",
    [
        P("1985-04-12", id="iso"),
        P(" 1985-04-12 ", id="iso-whitespace"),
        P("1985-4-12", id="iso-no-padding"),
        P("1985/04/12", id="year-first-slashes"),
        P("04/12/1985", id="us-month-first"),
        P("4/12/1985", id="us-no-padding"),
        P("04-12-1985", id="us-dashes"),
        P("April 12, 1985", id="month-name"),
        P("april 12 1985", id="month-name-no-comma"),
        P("Apr. 12, 1985", id="month-abbreviation"),
        P("April 12th, 1985", id="ordinal-day"),
        P("12 Apr 1985", id="day-first-month-name"),
        P("12 April, 1985", id="day-first-month-name-comma"),
        P("1985-04-12T10:00:00Z", id="datetime-utc"),
        P("1985-04-12T23:30:00-05:00", id="datetime-offset-keeps-written-date"),
        P("1985-04-12 10:00:00", id="datetime-space"),
        P(date(1985, 4, 12), id="date-object"),
        P(datetime(1985, 4, 12, 23, 59, tzinfo=UTC), id="datetime-object"),
    ],
)
def test_date_written_forms_normalize_to_iso(raw):
    assert normalize_date(raw) == "1985-04-12"


def test_date_month_abbreviation_sept():
    assert normalize_date("Sept 3, 2001") == "2001-09-03"


@pytest.mark.parametrize(
    "raw",
    [
        P("02/30/1985", id="february-30"),
        P("1985-02-29", id="not-a-leap-year"),
        P("13/01/1985", id="day-first-is-month-13"),
        P("1985-13-01", id="month-13"),
        P("5", id="bare-number"),
        P(5, id="int"),
        P(19850412, id="int-yyyymmdd"),
        P("19850412", id="compact-digits"),
        P("12.04.1985", id="dotted-european"),
        P("1985-04", id="no-day"),
        P("April 1985", id="month-and-year"),
        P("Foo 12, 1985", id="unknown-month-name"),
        P("1985-04-12T25:00:00", id="bad-time"),
        P("1985-04-12 garbage", id="datetime-garbage"),
        P("next tuesday", id="words"),
        P("1985-04/12", id="mixed-separators"),
        P(1985.0, id="float"),
    ],
)
def test_date_rejects_impossible_and_ambiguous_values(raw):
    assert rejection(normalize_date, raw) == (
        "Enter a valid date as YYYY-MM-DD, e.g. 1985-04-12 (also accepted: MM/DD/YYYY, "
        "YYYY/MM/DD, April 12, 1985 and 12 Apr 1985).")


@pytest.mark.parametrize("raw", ["04/12/85", "4-12-85", "April 12, 85"])
def test_date_two_digit_years_are_rejected_with_their_own_message(raw):
    message = rejection(normalize_date, raw)
    assert message == "Enter the date with a four-digit year, as YYYY-MM-DD, e.g. 1985-04-12."


# --- integer / decimal --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "number"),
    [
        P(42, 42, id="int"),
        P("42", 42, id="string"),
        P(" 42 ", 42, id="whitespace"),
        P("42.0", 42, id="integral-decimal-string"),
        P(42.0, 42, id="integral-float"),
        P("+7", 7, id="plus-sign"),
        P("-7", -7, id="negative"),
        P("0", 0, id="zero"),
        P("1,000", 1000, id="thousands-separator"),
        P(Decimal("5"), 5, id="decimal-object"),
    ],
)
def test_integer_accepts_integral_values(raw, number):
    result = normalize_integer(raw)
    assert result == number
    assert type(result) is int


@pytest.mark.parametrize(
    "raw",
    [
        P("42.5", id="fraction-string"),
        P(42.5, id="fraction-float"),
        P(True, id="true-is-not-an-integer"),
        P(False, id="false-is-not-an-integer"),
        P("abc", id="letters"),
        P("1e3", id="exponent"),
        P("4 2", id="inner-space"),
        P("1,00", id="bad-grouping"),
        P("NaN", id="nan-string"),
        P(float("inf"), id="infinite-float"),
        P("٤٢", id="non-ascii-digits"),
        P("9" * 65, id="absurdly-long"),
    ],
)
def test_integer_rejects_non_integral_values(raw):
    assert rejection(normalize_integer, raw) == "Enter a whole number."


@pytest.mark.parametrize(
    ("raw", "text"),
    [
        P("12.50", "12.50", id="keeps-trailing-zero"),
        P(12.5, "12.5", id="float-shortest-repr"),
        P(0.1, "0.1", id="float-no-binary-expansion"),
        P("$1,200.50", "1200.50", id="currency-and-grouping"),
        P("$ 5", "5", id="currency-space"),
        P("1200", "1200", id="integer-string"),
        P(1200, "1200", id="int"),
        P("-3.5", "-3.5", id="negative"),
        P("+3.5", "3.5", id="plus-dropped"),
        P(".5", "0.5", id="leading-dot"),
        P("-0.00", "0.00", id="negative-zero"),
        P(1e-7, "0.0000001", id="never-exponent-notation"),
        P(Decimal("1.10"), "1.10", id="decimal-object"),
    ],
)
def test_decimal_normalizes_to_exact_string(raw, text):
    assert normalize_decimal(raw) == text


@pytest.mark.parametrize(
    "raw",
    [
        P("NaN", id="nan"),
        P("Infinity", id="infinity"),
        P("-inf", id="minus-inf"),
        P(float("nan"), id="nan-float"),
        P(Decimal("Infinity"), id="infinite-decimal"),
        P("1e3", id="exponent"),
        P("1,2", id="european-decimal-comma"),
        P("12.5.0", id="two-dots"),
        P("(5.00)", id="accounting-negative"),
        P("5 USD", id="currency-suffix"),
        P("$", id="only-currency"),
        P(True, id="bool"),
    ],
)
def test_decimal_rejects_non_numbers(raw):
    assert rejection(normalize_decimal, raw) == "Enter a valid number."


# --- boolean / choice ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "flag"),
    [
        P(True, True, id="true"),
        P(False, False, id="false"),
        P(1, True, id="int-1"),
        P(0, False, id="int-0"),
        P("true", True, id="true-string"),
        P("FALSE", False, id="false-uppercase"),
        P(" Yes ", True, id="yes-whitespace"),
        P("no", False, id="no"),
        P("Y", True, id="y"),
        P("n", False, id="n"),
        P("1", True, id="string-1"),
        P("0", False, id="string-0"),
        P("on", True, id="on"),
        P("OFF", False, id="off"),
    ],
)
def test_boolean_accepts_common_spellings(raw, flag):
    assert normalize_boolean(raw) is flag


@pytest.mark.parametrize(
    "raw",
    [
        P(2, id="int-2"),
        P(-1, id="int-minus-1"),
        P(1.0, id="float"),
        P("maybe", id="maybe"),
        P("t", id="t"),
        P("yes please", id="sentence"),
    ],
)
def test_boolean_rejects_anything_else(raw):
    assert rejection(normalize_boolean, raw).startswith("Enter a valid boolean")


HOMEOWNER = ("Own Home", "Rent", "Live With Family")


@pytest.mark.parametrize(
    ("raw", "choice"),
    [
        P("Rent", "Rent", id="exact"),
        P("RENT", "Rent", id="case-insensitive"),
        P("  own  home ", "Own Home", id="whitespace-tolerant"),
        P("live with family", "Live With Family", id="lowercase"),
    ],
)
def test_choice_returns_the_canonical_spelling(raw, choice):
    assert normalize_choice(raw, HOMEOWNER) == choice


def test_choice_compares_json_numbers_as_text():
    assert normalize_choice(700, ["680", "700"]) == "700"


@pytest.mark.parametrize(
    "raw",
    [P("own", id="prefix"), P("renting", id="other-word"), P(True, id="bool"), P(3.0, id="float")],
)
def test_choice_rejects_values_outside_the_choices_and_lists_them(raw):
    message = rejection(normalize_choice, raw, HOMEOWNER)
    assert message == "Select a valid choice. Allowed values: Own Home, Rent, Live With Family."


def test_choice_without_choices_is_a_programming_error():
    assert_programming_error(normalize_choice, "x", [])


# --- text ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "text"),
    [
        P("  Jane  ", "Jane", id="strip"),
        P("line 1\r\nline 2\rline 3", "line 1\nline 2\nline 3", id="crlf-to-lf"),
        P("a\tb\nc", "a\tb\nc", id="tab-and-newline-kept"),
        P("Zoë 🏠", "Zoë 🏠", id="unicode-kept"),
        P(4, "4", id="int-stringified"),
    ],
)
def test_text_is_stripped_and_newlines_canonical(raw, text):
    assert normalize_text(raw) == text


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        P("a\x00b", "Remove control characters from this value.", id="nul"),
        P("a\x1bb", "Remove control characters from this value.", id="escape"),
        P("a\x7fb", "Remove control characters from this value.", id="delete"),
        P("x" * 256, "Ensure this value has at most 255 characters (it has 256).", id="too-long"),
        P(4.5, "Enter a valid text value.", id="float"),
        P(True, "Enter a valid text value.", id="bool"),
    ],
)
def test_text_rejects_control_characters_and_overlong_values(raw, message):
    assert rejection(normalize_text, raw) == message


def test_text_max_length_is_configurable():
    assert normalize_text("abc", max_length=3) == "abc"
    rejection(normalize_text, "abcd", max_length=3)


# --- url / ip -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "url"),
    [
        P("https://example.com", "https://example.com", id="https"),
        P(" http://example.com/landing?utm=x ", "http://example.com/landing?utm=x", id="strip"),
        P("HTTP://Example.COM/Path?Q=1", "http://example.com/Path?Q=1", id="scheme-host-lowered"),
        P("https://User@Example.com:8443/x", "https://User@example.com:8443/x", id="userinfo-kept"),
        P("http://192.0.2.1:8080/form", "http://192.0.2.1:8080/form", id="ip-host"),
    ],
)
def test_url_accepts_absolute_http_urls(raw, url):
    assert normalize_url(raw) == url


@pytest.mark.parametrize(
    "raw",
    [
        P("ftp://example.com", id="ftp"),
        P("javascript:alert(1)", id="javascript"),
        P("www.example.com", id="no-scheme"),
        P("https://", id="no-host"),
        P("http://exa mple.com", id="space"),
        P("http://example", id="no-tld"),
        P(123, id="int"),
    ],
)
def test_url_rejects_non_http_and_malformed_urls(raw):
    assert rejection(normalize_url, raw) == (
        "Enter a valid http(s) URL, e.g. https://www.example.com/quote.")


@pytest.mark.parametrize(
    ("raw", "ip"),
    [
        P("192.0.2.1", "192.0.2.1", id="ipv4"),
        P(" 192.0.2.1 ", "192.0.2.1", id="whitespace"),
        P("2001:0db8:0000:0000:0000:0000:0000:0001", "2001:db8::1", id="ipv6-compressed"),
        P("2001:DB8::1", "2001:db8::1", id="ipv6-lowercased"),
        P("::1", "::1", id="ipv6-loopback"),
        P("::ffff:192.0.2.1", "192.0.2.1", id="ipv4-mapped-unwrapped"),
    ],
)
def test_ip_returns_compressed_form(raw, ip):
    assert normalize_ip(raw) == ip


@pytest.mark.parametrize(
    "raw",
    [
        P("256.1.1.1", id="octet-too-big"),
        P("192.0.2", id="three-octets"),
        P("1.2.3.4.5", id="five-octets"),
        P("01.2.3.4", id="leading-zero-octet"),
        P("192.0.2.1/24", id="network"),
        P("2001:db8:::1", id="bad-ipv6"),
        P("localhost", id="hostname"),
        P(3221225985, id="int"),
    ],
)
def test_ip_rejects_invalid_addresses(raw):
    assert rejection(normalize_ip, raw) == "Enter a valid IPv4 or IPv6 address."


# --- TrustedForm / Jornaya ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "url"),
    [
        P(CERT_URL, CERT_URL, id="canonical"),
        P(f"  {CERT_URL}\n", CERT_URL, id="whitespace"),
        P(f"http://cert.trustedform.com/{CERT_ID}", CERT_URL, id="http-upgraded"),
        P(f"HTTPS://CERT.TrustedForm.com/{CERT_ID.upper()}", CERT_URL, id="case-lowered"),
        P(f"{CERT_URL}/", CERT_URL, id="trailing-slash"),
        P(PING_URL, PING_URL, id="ping-url-token-kept"),
        P(PING_URL.replace("https://ping.", "http://PING."), PING_URL, id="ping-url-normalized"),
    ],
)
def test_trustedform_cert_url_is_canonicalized(raw, url):
    assert normalize_trustedform_cert_url(raw) == url


@pytest.mark.parametrize(
    "raw",
    [
        P(CERT_URL[:-1], id="39-hex"),
        P(CERT_URL + "a", id="41-hex"),
        P(CERT_URL[:-1] + "g", id="non-hex"),
        P(CERT_ID, id="bare-id-without-url"),
        P("https://cert.trustedform.com/", id="no-id"),
        P(f"https://cert.trustedform.com.evil.example/{CERT_ID}", id="look-alike-host"),
        P(f"https://evil.example/cert.trustedform.com/{CERT_ID}", id="host-in-path"),
        P(f"https://cert.staging.trustedform.com/{CERT_ID}", id="staging-host"),
        P(f"{CERT_URL}?shared_token=abc", id="query-string"),
        P(f"ftp://cert.trustedform.com/{CERT_ID}", id="ftp"),
        P(f"https://ping.trustedform.com/{CERT_ID}", id="ping-host-with-cert-id"),
        P("https://ping.trustedform.com/0.", id="ping-without-token"),
    ],
)
def test_trustedform_cert_url_rejects_other_urls(raw):
    message = rejection(normalize_trustedform_cert_url, raw)
    assert message == (
        "Enter a valid TrustedForm certificate URL: https://cert.trustedform.com/ and the 40 hex "
        "digits of the certificate id, e.g. "
        "https://cert.trustedform.com/2a5f8c3e9b1d4f6a8c0e2b4d6f8a0c2e4b6d8f0a.")


@pytest.mark.parametrize(
    "raw",
    [
        P(LEADID, id="upper"),
        P(LEADID.lower(), id="lower-uppercased"),
        P(f" {LEADID.lower()} ", id="whitespace"),
    ],
)
def test_jornaya_leadid_is_uppercased(raw):
    assert normalize_jornaya_leadid(raw) == LEADID


@pytest.mark.parametrize(
    "raw",
    [
        P(LEADID.replace("-", ""), id="no-hyphens"),
        P("{" + LEADID + "}", id="braces"),
        P("urn:uuid:" + LEADID, id="urn"),
        P(LEADID[:-1], id="short-last-group"),
        P(LEADID[:-1] + "G", id="non-hex"),
        P("0A1B2C3D4-E5F-6A7B-8C9D-0E1F2A3B4C5D", id="misplaced-hyphen"),
        P(12345, id="int"),
    ],
)
def test_jornaya_leadid_rejects_malformed_tokens(raw):
    assert rejection(normalize_jornaya_leadid, raw) == (
        "Enter a valid Jornaya LeadiD token: 36 characters, hex digits in groups of 8-4-4-4-12 "
        "joined by hyphens, e.g. 4B1A8C9E-2F3D-4E5A-9B6C-7D8E9F0A1B2C.")


# --- bounds -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("field_type", "value", "bounds", "result"),
    [
        P("integer", "18", {"min_value": 18}, 18, id="integer-min-inclusive"),
        P("integer", 65, {"min_value": "18", "max_value": "65"}, 65, id="integer-max-inclusive"),
        P("decimal", "$0.50", {"min_value": "0.5"}, "0.50", id="decimal-min-as-string"),
        P("decimal", 99.99, {"max_value": Decimal("100")}, "99.99", id="decimal-max-decimal"),
        P("date", "01/01/1900", {"min_value": "1900-01-01"}, "1900-01-01", id="date-min-iso"),
        P("date", "2000-01-01", {"max_value": date(2000, 1, 1)}, "2000-01-01", id="date-max-obj"),
        P("text", "ab", {"min_value": 2}, "ab", id="text-min-length"),
        P("text", "x" * 300, {"max_value": "500"}, "x" * 300, id="text-max-replaces-255"),
        P("integer", "5", {"min_value": "", "max_value": ""}, 5, id="blank-bounds-ignored"),
    ],
)
def test_values_within_bounds_pass(field_type, value, bounds, result):
    assert normalize_value(field_type, value, **bounds) == result


@pytest.mark.parametrize(
    ("field_type", "value", "bounds", "message"),
    [
        P(
            "integer",
            "17",
            {"min_value": 18},
            "Ensure this value is greater than or equal to 18.",
            id="integer-below-min",
        ),
        P(
            "integer",
            66,
            {"max_value": "65"},
            "Ensure this value is less than or equal to 65.",
            id="integer-above-max",
        ),
        P(
            "decimal",
            "0.49",
            {"min_value": "0.50"},
            "Ensure this value is greater than or equal to 0.50.",
            id="decimal-below-min",
        ),
        P(
            "decimal",
            "$1,000,000.01",
            {"max_value": 1000000},
            "Ensure this value is less than or equal to 1000000.",
            id="decimal-above-max",
        ),
        P(
            "date",
            "12/31/1899",
            {"min_value": "1900-01-01"},
            "Ensure this date is on or after 1900-01-01.",
            id="date-before-min",
        ),
        P(
            "date",
            "2030-01-01",
            {"max_value": date(2029, 12, 31)},
            "Ensure this date is on or before 2029-12-31.",
            id="date-after-max",
        ),
        P(
            "text",
            "a",
            {"min_value": 2},
            "Ensure this value has at least 2 characters (it has 1).",
            id="text-too-short",
        ),
        P(
            "text",
            "abcd",
            {"max_value": 3},
            "Ensure this value has at most 3 characters (it has 4).",
            id="text-too-long",
        ),
    ],
)
def test_values_outside_bounds_are_rejected_with_a_message(field_type, value, bounds, message):
    assert rejection(partial(normalize_value, field_type, **bounds), value) == message


@pytest.mark.parametrize(
    ("field_type", "bounds"),
    [
        P("email", {"max_value": 3}, id="bounds-on-unbounded-type"),
        P("integer", {"min_value": "eighteen"}, id="malformed-number"),
        P("date", {"min_value": "01/01/00"}, id="malformed-date"),
        P("integer", {"min_value": 10, "max_value": 1}, id="min-above-max"),
    ],
)
def test_bad_schema_bounds_are_programming_errors(field_type, bounds):
    assert_programming_error(parse_bounds, field_type, **bounds)
    assert_programming_error(normalize_value, field_type, "1", **bounds)


def test_parse_bounds_returns_comparable_values():
    assert parse_bounds("integer", "18", "65") == (Decimal(18), Decimal(65))
    assert parse_bounds("date", "1900-01-01", None) == (date(1900, 1, 1), None)
    assert parse_bounds("text", None, "500") == (None, 500)
    assert parse_bounds("phone") == (None, None)
    assert sorted(BOUNDED_TYPES) == ["date", "decimal", "integer", "text"]


def test_the_start_up_warm_up_has_a_valid_sample_for_every_field_type() -> None:
    """``normalizers_warm`` (run by ``process_tune``) feeds each normalizer one valid value;
    a field type added without a sample would be compiled in its first lead's request."""
    from apps.leads.normalize import _WARM_SAMPLES, NORMALIZERS, normalizers_warm

    assert set(_WARM_SAMPLES) == set(NORMALIZERS)
    normalizers_warm()  # every sample is valid: nothing raises
