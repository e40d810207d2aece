"""Field mapping: target paths, every transform, and payloads built from rules (no DB)."""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from uuid import UUID

import pytest

from apps.buyers.mapping import (
    MAX_LIST_INDEX,
    TRANSFORMS,
    MappingError,
    MappingRule,
    path_format,
    path_parse,
    path_split,
    payload_build,
    payload_trace,
    rules_validate,
    transform_apply,
    transforms_deriving_non_pii,
    transforms_keeping_value,
)

P = pytest.param
R = MappingRule
NOW = datetime(2025, 6, 1, 12, 0, tzinfo=UTC)
LEAD = {
    "first_name": "Jane", "last_name": "Public", "email": "jane@x.com",
    "phone": "+12125550147", "zip": "10001", "state": "NY", "date_of_birth": "1985-04-12",
    "homeowner": True, "vehicle_year": 2019, "credit_rating": "good",
}
CONTEXT = {
    "lead.id": "5d6c0a4e-8f0e-4c1e-9a51-0d5b2f1e7a10", "ping.token": "t-abc123",
    "ping.bid": Decimal("12.50"), "source.id": 7, "sub_id": "fb-42", "test": False, "now": NOW,
}


# --- paths ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("target", "steps"),
    [
        P("zip", ("zip",), id="flat-key"),
        P("Lead.FirstName", ("Lead", "FirstName"), id="dotted"),
        P("drivers[0].age", ("drivers", 0, "age"), id="list-of-objects"),
        P("contact.phones[1]", ("contact", "phones", 1), id="list-of-values"),
        P("matrix[0][2]", ("matrix", 0, 2), id="list-of-lists"),
        P("Lead.@id", ("Lead", "@id"), id="xml-attribute-key"),
        P("Lead.#text", ("Lead", "#text"), id="xml-text-key"),
        P("First Name", ("First Name",), id="inner-space"),
        P(f"a[{MAX_LIST_INDEX}]", ("a", MAX_LIST_INDEX), id="largest-index"),
        P(r"Lead\.FirstName", ("Lead.FirstName",), id="escaped-dot-is-one-key"),
        P(r"Lead\.Info.Zip", ("Lead.Info", "Zip"), id="escaped-dot-then-nesting"),
        P(r"a\[0\]", ("a[0]",), id="escaped-brackets"),
        P(r"dir\\name", ("dir\\name",), id="escaped-backslash"),
    ],
)
def test_path_parse_splits_keys_and_indexes(target, steps):
    assert path_parse(target) == steps
    assert path_format(steps) == target


@pytest.mark.parametrize(
    ("target", "message"),
    [
        P("", "empty", id="empty"),
        P("a..b", "position 2", id="empty-key"),
        P("a.", "position 2", id="trailing-dot"),
        P(".a", "position 1", id="leading-dot"),
        P("a[0]b", "position 5", id="key-glued-to-index"),
        P("a[-1]", "position 2", id="negative-index"),
        P("a[x]", "position 2", id="non-numeric-index"),
        P("a[", "position 2", id="unclosed-bracket"),
        P(" a", "leading or trailing spaces", id="padded-key"),
        P("a\nb", "position 2", id="control-character"),
        P("[0].a", "must start with a key", id="leading-index"),
        P(f"a[{MAX_LIST_INDEX + 1}]", "above", id="index-too-large"),
        P(r"a\b", "a backslash escapes only", id="backslash-escaping-nothing"),
        P("a\\", "a backslash escapes only", id="trailing-backslash"),
    ],
)
def test_path_parse_refuses_malformed_targets_with_a_message(target, message):
    with pytest.raises(MappingError, match=message):
        path_parse(target)


def test_path_split_allows_a_leading_index_for_documents_that_are_lists():
    assert path_split("[0].price") == (0, "price")


# --- transforms -----------------------------------------------------------------------------

VALUE_CASES = [
    P("upper", "Jane", "", "JANE", id="upper"),
    P("upper", 2019, "", "2019", id="upper-number-as-text"),
    P("upper", ["a"], "", None, id="upper-list-skipped"),
    P("lower", "JANE@X.COM", "", "jane@x.com", id="lower"),
    P("title", "jane o'neil", "", "Jane O'Neil", id="title"),
    P("trim", "  Jane \t", "", "Jane", id="trim"),
    P("digits_only", "(212) 555-0147", "", "2125550147", id="digits-only"),
    P("digits_only", "no digits", "", None, id="digits-only-none-left"),
    P("phone_e164", "(212) 555-0147", "", "+12125550147", id="e164-from-national"),
    P("phone_e164", "1-212-555-0147", "", "+12125550147", id="e164-from-trunk-prefix"),
    P("phone_e164", 2125550147, "", "+12125550147", id="e164-from-int"),
    P("phone_e164", "+44 20 7183 8750", "", "+442071838750", id="e164-foreign"),
    P("phone_e164", "555-0147", "", None, id="e164-too-short"),
    P("phone_e164", "call me", "", None, id="e164-not-a-phone"),
    P("phone_e164", True, "", None, id="e164-bool"),
    P("phone_10", "+12125550147", "", "2125550147", id="phone-10"),
    P("phone_10", "+442071838750", "", None, id="phone-10-not-nanp"),
    P("phone_dashed", "+12125550147", "", "212-555-0147", id="phone-dashed"),
    P("phone_dashed", "212.555.0147", "", "212-555-0147", id="phone-dashed-from-dots"),
    P("date_format", "1985-04-12", "%m/%d/%Y", "04/12/1985", id="date-format-date"),
    P("date_format", "2024-01-02T03:04:05+00:00", "%Y%m%d %H:%M", "20240102 03:04",
      id="date-format-datetime"),
    P("date_format", "2024-01-02T03:04:05Z", "%H:%M:%S", "03:04:05", id="date-format-zulu"),
    P("date_format", date(1985, 4, 12), "%d.%m.%Y", "12.04.1985", id="date-format-object"),
    P("date_format", "12/04/1985", "%Y", None, id="date-format-not-iso"),
    P("date_format", 1985, "%Y", None, id="date-format-number"),
    P("value_map", "own", '{"own": "Y", "rent": "N"}', "Y", id="value-map-hit"),
    P("value_map", "other", '{"own": "Y"}', "other", id="value-map-passes-unmapped"),
    P("value_map", "other", '{"own": "Y", "*": "U"}', "U", id="value-map-star-default"),
    P("value_map", True, '{"true": "Yes"}', "Yes", id="value-map-bool-key"),
    P("value_map", 2019, '{"2019": "new"}', "new", id="value-map-number-key"),
    P("value_map", "good", '{"good": 700}', 700, id="value-map-to-number"),
    P("value_map", "unknown", '{"unknown": null}', None, id="value-map-to-null-skips"),
    P("split", "Jane Q Public", " |0", "Jane", id="split-first"),
    P("split", "Jane Q Public", " |-1", "Public", id="split-last"),
    P("split", "Jane", " |3", None, id="split-out-of-range"),
    P("split", "a, b", ",|1", "b", id="split-strips-parts"),
    P("split", "a|b|c", "||1", "b", id="split-on-bar"),
    P("join", ["a", "b"], ",", "a,b", id="join"),
    P("join", ["a", None, "b"], "-", "a-b", id="join-skips-none"),
    P("join", ["a", "b"], "", "ab", id="join-empty-separator"),
    P("join", "already", ",", "already", id="join-scalar-passes"),
    P("join", [], ",", None, id="join-empty-list"),
    P("join", [{"x": 1}], ",", None, id="join-objects-skipped"),
    P("default", None, "N/A", "N/A", id="default-missing"),
    P("default", "", "N/A", "N/A", id="default-empty"),
    P("default", "   ", "N/A", "N/A", id="default-blank"),
    P("default", "x", "N/A", "x", id="default-present"),
    P("default", 0, "N/A", 0, id="default-zero-is-a-value"),
    P("default", False, "N/A", False, id="default-false-is-a-value"),
    P("truncate", "abcdef", "3", "abc", id="truncate"),
    P("truncate", "ab", "5", "ab", id="truncate-short"),
    P("bool_yn", True, "", "Y", id="yn-true"),
    P("bool_yn", False, "", "N", id="yn-false"),
    P("bool_yn", "yes", "", "Y", id="yn-from-text"),
    P("bool_yn", "0", "", "N", id="yn-from-digit"),
    P("bool_yn", "maybe", "", None, id="yn-unreadable"),
    P("bool_yn", 2, "", None, id="yn-two"),
    P("bool_10", True, "", 1, id="10-true"),
    P("bool_10", "false", "", 0, id="10-from-text"),
    P("bool_text", True, "Yes|No", "Yes", id="text-true"),
    P("bool_text", False, "Yes|No", "No", id="text-false"),
    P("bool_text", False, "Own|", "", id="text-empty-false-word"),
    P("number", "2019", "", 2019, id="number-int-text"),
    P("number", "-3", "", -3, id="number-negative"),
    P("number", "12.50", "", Decimal("12.50"), id="number-decimal-text"),
    P("number", 7, "", 7, id="number-int"),
    P("number", Decimal("1.5"), "", Decimal("1.5"), id="number-decimal"),
    P("number", 0.1, "", Decimal("0.1"), id="number-float-exact"),
    P("number", "1e5", "", None, id="number-exponent"),
    P("number", "NaN", "", None, id="number-nan-text"),
    P("number", float("inf"), "", None, id="number-infinite"),
    P("number", "abc", "", None, id="number-junk"),
    P("number", True, "", None, id="number-bool"),
    P("string", 2019, "", "2019", id="string-int"),
    P("string", True, "", "true", id="string-bool"),
    P("string", Decimal("12.50"), "", "12.50", id="string-decimal"),
    P("string", Decimal("1E+2"), "", "100", id="string-decimal-no-exponent"),
    P("string", date(2020, 1, 2), "", "2020-01-02", id="string-date"),
    P("string", UUID(int=1), "", "00000000-0000-0000-0000-000000000001", id="string-uuid"),
    P("string", {"a": 1}, "", None, id="string-object"),
    P("prefix", "123", "ID-", "ID-123", id="prefix"),
    P("suffix", "123", "-x", "123-x", id="suffix"),
    P("zip5", "10001", "", "10001", id="zip5"),
    P("zip5", "10001-1234", "", "10001", id="zip5-plus4"),
    P("zip5", "100011234", "", "10001", id="zip5-plus4-glued"),
    P("zip5", 7429, "", "07429", id="zip5-int-lost-zero"),
    P("zip5", "1000", "", None, id="zip5-short"),
    P("zip5", 123456, "", None, id="zip5-int-too-large"),
    P("zip5", "ABCDE", "", None, id="zip5-letters"),
    # non-identifying values derived from PII (a ping may carry these)
    P("age_band", "1985-04-12", "18|25|35|45|55|65", "35-44", id="age-band-inner"),
    P("age_band", "2010-01-01", "18|25|35|45|55|65", "<18", id="age-band-below"),
    P("age_band", "1950-01-01", "18|25|35|45|55|65", "65+", id="age-band-above"),
    P("age_band", "2000-06-01", "18|25", "25+", id="age-band-on-an-edge"),
    P("age_band", "not a date", "18|25", None, id="age-band-unreadable"),
    P("birth_year", "1985-04-12", "", 1985, id="birth-year"),
    P("birth_year", date(1985, 4, 12), "", 1985, id="birth-year-date"),
    P("birth_year", "04/12/1985", "", None, id="birth-year-not-iso"),
    P("zip3", "10001-1234", "", "100", id="zip3"),
    P("zip3", 7429, "", "074", id="zip3-int-lost-zero"),
    P("zip3", "100", "", None, id="zip3-short"),
    P("phone_area_code", "+12125550147", "", "212", id="area-code"),
    P("phone_area_code", "(212) 555-0147", "", "212", id="area-code-national"),
    P("phone_area_code", "+442071838750", "", None, id="area-code-not-nanp"),
    P("email_domain", "Jane.Doe@Example.COM", "", "example.com", id="email-domain"),
    P("email_domain", "jane@localhost", "", None, id="email-domain-no-dot"),
    P("email_domain", "not an email", "", None, id="email-domain-junk"),
]


@pytest.mark.parametrize(("name", "value", "arg", "expected"), VALUE_CASES)
def test_transform_apply_turns_value_into_what_the_buyer_expects(name, value, arg, expected):
    result = transform_apply(name, value, arg, now=NOW)
    assert result == expected
    assert type(result) is type(expected)


@pytest.mark.parametrize(
    ("birth", "now", "years"),
    [
        P("1985-04-12", date(2025, 4, 11), 39, id="day-before-birthday"),
        P("1985-04-12", date(2025, 4, 12), 40, id="on-birthday"),
        P("2000-02-29", date(2025, 2, 28), 24, id="leap-day-not-yet"),
        P("2000-02-29", date(2025, 3, 1), 25, id="leap-day-passed"),
        P("1985-04-12", "2025-06-01T00:00:00+00:00", 40, id="now-as-iso-text"),
        P("1985-04-12T08:00:00", NOW, 40, id="birth-as-datetime"),
        P("2030-01-01", NOW, None, id="born-in-the-future"),
        P("not a date", NOW, None, id="unreadable-birth"),
    ],
)
def test_age_counts_whole_years_up_to_the_given_now(birth, now, years):
    assert transform_apply("age", birth, now=now) == years


def test_age_without_now_counts_up_to_today():
    # Only ever grows: deterministic whatever day the suite runs.
    assert transform_apply("age", "2000-01-01") >= 25


ARG_CASES = [
    P("truncate", "", "positive whole number", id="truncate-empty"),
    P("truncate", "0", "positive whole number", id="truncate-zero"),
    P("truncate", "-1", "positive whole number", id="truncate-negative"),
    P("truncate", "x", "positive whole number", id="truncate-text"),
    P("date_format", "", "non-empty", id="date-format-empty"),
    P("date_format", "MM/DD/YYYY", "'%m/%d/%Y'", id="date-format-us-spelling"),
    P("date_format", "YYYY-MM-DDTHH:mm:ss", "'%Y-%m-%dT%H:%M:%S'", id="date-format-iso-tokens"),
    P("date_format", "%d/%m/YYYY", "'%d/%m/%Y'", id="date-format-half-translated"),
    P("date_format", "M/D/YYYY", "'%-m/%-d/%Y'", id="date-format-unpadded"),
    P("date_format", "birthday", "takes a strftime format", id="date-format-no-directive"),
    P("date_format", "100%%", "takes a strftime format", id="date-format-only-percent"),
    P("date_format", "%Q", "'%Q' in '%Q' is not a strftime directive", id="date-format-typo"),
    P("date_format", "%Y-%", "'%' in", id="date-format-stray-percent"),
    P("date_format", "%-B", "'%-B'", id="date-format-unpadded-month-name"),
    P("age_band", "", "ascending ages", id="age-band-empty"),
    P("age_band", "25|18", "ascending ages", id="age-band-descending"),
    P("age_band", "18-25", "ascending ages", id="age-band-wrong-separator"),
    P("value_map", "own=Y", "JSON object", id="value-map-not-json"),
    P("value_map", "[1]", "JSON object", id="value-map-array"),
    P("value_map", '{"a": {"b": 1}}', "must be text", id="value-map-nested"),
    P("split", "|0", "<separator>|<index>", id="split-empty-separator"),
    P("split", " ", "<separator>|<index>", id="split-no-index"),
    P("split", " |x", "<separator>|<index>", id="split-bad-index"),
    P("bool_text", "Yes", "<true>|<false>", id="bool-text-one-word"),
    P("bool_text", "a|b|c", "<true>|<false>", id="bool-text-three-words"),
    P("prefix", "", "non-empty", id="prefix-empty"),
    P("suffix", "", "non-empty", id="suffix-empty"),
    P("upper", "x", "takes no argument", id="no-arg-transform-given-one"),
    P("age", "years", "takes no argument", id="age-given-argument"),
]


@pytest.mark.parametrize(("name", "arg", "message"), ARG_CASES)
def test_transform_apply_refuses_unusable_argument_whatever_the_value(name, arg, message):
    with pytest.raises(MappingError, match=message) as excinfo:
        transform_apply(name, "value", arg)
    assert excinfo.value.field == "arg"
    assert name in excinfo.value.message


@pytest.mark.parametrize("name", ["", "uper", "UPPER"])
def test_transform_apply_refuses_unknown_transform(name):
    with pytest.raises(MappingError, match="unknown transform") as excinfo:
        transform_apply(name, "x")
    assert excinfo.value.field == "transform"


VALID_ARGS = {
    "date_format": "%Y", "value_map": '{"a": "b"}', "split": " |0", "join": ",",
    "age_band": "18|25|35",
    "default": "d", "truncate": "3", "bool_text": "Yes|No", "prefix": "p", "suffix": "s",
}
GARBAGE = [
    P({"a": 1}, id="object"), P([{"a": 1}], id="list-of-objects"), P(object(), id="instance"),
    P(float("nan"), id="nan"), P(b"bytes", id="bytes"), P("", id="empty"),
    P("\x00\ud800", id="control-and-surrogate"), P(10**30, id="huge-int"),
]


@pytest.mark.parametrize("name", sorted(TRANSFORMS))
@pytest.mark.parametrize("value", GARBAGE)
def test_every_transform_skips_or_passes_garbage_but_never_raises(name, value):
    transform_apply(name, value, VALID_ARGS.get(name, ""), now=NOW)


@pytest.mark.parametrize("name", sorted(set(TRANSFORMS) - {"default"}))
def test_every_transform_but_default_skips_a_missing_value(name):
    assert transform_apply(name, None, VALID_ARGS.get(name, "")) is None


def test_every_registered_transform_is_in_the_value_table():
    tested = {case.values[0] for case in VALUE_CASES}
    assert tested | {"age"} == set(TRANSFORMS)


# --- payloads -------------------------------------------------------------------------------


def test_payload_build_without_rules_is_a_copy_of_the_values():
    payload = payload_build([], LEAD, CONTEXT)
    assert payload == LEAD
    assert payload is not LEAD


def test_payload_build_nests_objects_and_lists_by_target_path():
    rules = [
        R("Lead.FirstName", "first_name"),
        R("Lead.Contact.Email", "email", transform="lower"),
        R("drivers[0].age", "date_of_birth", transform="age"),
        R("drivers[0].credit", "credit_rating", transform="upper"),
        R("contact.phones[1]", "phone", transform="phone_dashed"),
    ]
    assert payload_build(rules, LEAD, CONTEXT) == {
        "Lead": {"FirstName": "Jane", "Contact": {"Email": "jane@x.com"}},
        "drivers": [{"age": 40, "credit": "GOOD"}],
        "contact": {"phones": [None, "212-555-0147"]},
    }


def test_payload_build_pads_lists_and_fills_earlier_slots_later():
    rules = [R("v[2]", "zip"), R("v[0]", "state"), R("d[1].y", "state"), R("d[0].x", "zip")]
    assert payload_build(rules, LEAD, CONTEXT) == {
        "v": ["NY", None, "10001"], "d": [{"x": "10001"}, {"y": "NY"}]}


def test_payload_build_writes_constants_and_context_values():
    rules = [
        R("vendor", constant="ACME"), R("blank", constant=""),
        R("lead_id", "@lead.id"), R("sub", "@sub_id"), R("is_test", "@test", transform="bool_10"),
        R("price", "@ping.bid"), R("sent", "@now", transform="date_format", arg="%Y-%m-%d"),
        R("year", constant="2019", transform="number"),
    ]
    assert payload_build(rules, LEAD, CONTEXT) == {
        "vendor": "ACME", "blank": "", "lead_id": CONTEXT["lead.id"], "sub": "fb-42",
        "is_test": 0, "price": Decimal("12.50"), "sent": "2025-06-01", "year": 2019}


def test_ping_token_is_carried_into_the_post_under_the_buyers_key():
    rules = [R("Lead.PingRef", "@ping.token"), R("Lead.Email", "email")]
    assert payload_build(rules, LEAD, CONTEXT) == {
        "Lead": {"PingRef": "t-abc123", "Email": "jane@x.com"}}


def test_payload_build_skips_missing_values_and_untransformable_ones():
    rules = [
        R("ref", "@ping.token"), R("nick", "nickname"), R("phone", "email", transform="phone_10"),
        R("zip", "zip"),
    ]
    context = {"ping.token": None, "now": NOW}
    assert payload_build(rules, {**LEAD, "nickname": None}, context) == {"zip": "10001"}


def test_payload_build_default_supplies_a_missing_value():
    rules = [R("sub", "@sub_id", transform="default", arg="none"),
             R("income", "income", transform="default", arg="0")]
    assert payload_build(rules, LEAD, {}) == {"sub": "none", "income": "0"}


def test_payload_build_reads_now_as_iso_text_for_age():
    rules = [R("age", "date_of_birth", transform="age")]
    assert payload_build(rules, LEAD, {"now": "2025-04-11T23:59:59+00:00"}) == {"age": 39}


def test_payload_build_conflict_is_refused_even_when_a_value_is_missing():
    # Conflicts are a property of the targets: a lead lacking one field must not hide them.
    rules = [R("a", "zip"), R("a.b", "missing_field")]
    with pytest.raises(MappingError, match="both as a value and as an object"):
        payload_build(rules, LEAD, CONTEXT)


INVALID_RULES = [
    P([R("a", "zip"), R("a.b", "state")], 1, "target", "both as a value and as an object",
      id="value-then-object"),
    P([R("a.b", "zip"), R("a", "state")], 1, "target", "both as an object and as a value",
      id="object-then-value"),
    P([R("a[0]", "zip"), R("a.b", "state")], 1, "target", "both as a list and as an object",
      id="list-then-object"),
    P([R("a.b", "zip"), R("a[0]", "state")], 1, "target", "both as an object and as a list",
      id="object-then-list"),
    P([R("a[0]", "zip"), R("a[0].b", "state")], 1, "target", "both as a value and as an object",
      id="list-item-value-then-object"),
    P([R("a", "zip"), R("a", "state")], 1, "target", "written by two rules", id="same-target"),
    P([R("a..b", "zip")], 0, "target", "target:", id="bad-path"),
    P([R("a", "")], 0, "source", "source field or a constant", id="no-source-no-constant"),
    P([R("a", "zip", constant="x")], 0, "constant", "not both", id="source-and-constant"),
    P([R("a", "@ping.price")], 0, "source", "unknown context value", id="unknown-context"),
    P([R("a", "zip", transform="zip9")], 0, "transform", "unknown transform",
      id="unknown-transform"),
    P([R("a", "zip", transform="truncate", arg="-2")], 0, "arg", "positive whole number",
      id="bad-arg"),
    P([R("a", "zip", arg="3")], 0, "arg", "without a transform", id="arg-without-transform"),
    P([R("a", "@secret.")], 0, "source", "unknown context value", id="secret-without-name"),
    P([R("a", "@secret.api-key")], 0, "source", "unknown context value",
      id="secret-name-not-an-identifier"),
    P([R("a", constant="12.5", constant_type="integer")], 0, "constant",
      "'12.5' is not an integer", id="integer-constant-not-whole"),
    P([R("a", constant="twelve", constant_type="decimal")], 0, "constant",
      "not a decimal", id="decimal-constant-junk"),
    P([R("a", constant="yes", constant_type="boolean")], 0, "constant",
      "not a boolean", id="boolean-constant-not-true-false"),
    P([R("a", constant="x", constant_type="null")], 0, "constant", "null constant has no value",
      id="null-constant-with-value"),
    P([R("a", constant_type="null", transform="upper")], 0, "transform", "no transform",
      id="null-constant-with-transform"),
    P([R("a", "zip", constant_type="integer")], 0, "constant_type", "applies to constants",
      id="type-on-a-source-row"),
    P([R("a", constant="1", constant_type="float")], 0, "constant_type",
      "unknown constant type", id="unknown-constant-type"),
]


@pytest.mark.parametrize(("rules", "position", "field", "message"), INVALID_RULES)
def test_rules_validate_names_the_first_bad_rule_and_field(rules, position, field, message):
    with pytest.raises(MappingError, match=message) as excinfo:
        rules_validate(rules)
    assert excinfo.value.rule == position
    assert excinfo.value.field == field
    assert excinfo.value.message.startswith(f"rule {position + 1} ({rules[position].target!r})")


def test_rules_validate_accepts_every_context_key_and_transform():
    rules = [R(f"c{i}", f"@{key}") for i, key in enumerate(
        ("lead.id", "ping.token", "ping.bid", "source.id", "sub_id", "test", "now"))]
    rules += [R(f"t_{name}", "zip", transform=name, arg=VALID_ARGS.get(name, ""))
              for name in TRANSFORMS]
    rules_validate(rules)


def test_payload_build_types_constants_as_the_buyer_reads_them():
    rules = [
        R("s", constant="false"), R("i", constant=" -12 ", constant_type="integer"),
        R("d", constant="12.50", constant_type="decimal"),
        R("t", constant="True", constant_type="boolean"),
        R("f", constant="false", constant_type="boolean"),
        R("n", constant="", constant_type="null"), R("n2", constant_type="null"),
    ]
    payload = payload_build(rules, LEAD, CONTEXT)
    assert payload == {"s": "false", "i": -12, "d": Decimal("12.50"), "t": True, "f": False,
                       "n": None, "n2": None}
    assert [type(payload[k]) for k in ("i", "d", "t", "f")] == [int, Decimal, bool, bool]


def test_payload_build_reads_secrets_from_the_context():
    rules = [R("auth.token", "@secret.api_token"), R("vendor", "@secret.vendor_id",
                                                         transform="number")]
    context = {**CONTEXT, "secret.api_token": "tok-9", "secret.vendor_id": "77"}
    assert payload_build(rules, LEAD, context) == {"auth": {"token": "tok-9"}, "vendor": 77}


PII = frozenset({"first_name", "last_name", "email", "phone", "date_of_birth"})


def test_a_sealed_field_reaches_the_payload_only_as_a_derived_value():
    rules = [
        R("age", "date_of_birth", transform="age"),
        R("birth_year", "date_of_birth", transform="birth_year"),
        R("band", "date_of_birth", transform="age_band", arg="18|25|35|45|55|65"),
        R("area", "phone", transform="phone_area_code"),
        R("domain", "email", transform="email_domain"),
        R("zip3", "zip", transform="zip3"),
        # none of these may carry a PII value out, whatever the rows say
        R("dob", "date_of_birth"), R("dob_us", "date_of_birth", transform="date_format",
                                     arg="%m/%d/%Y"),
        R("mail", "email", transform="lower"), R("name", "first_name", transform="default",
                                                 arg="x"),
    ]
    payload = payload_build(rules, LEAD, CONTEXT, sealed=PII)
    assert payload == {"age": 40, "birth_year": 1985, "band": "35-44", "area": "212",
                       "domain": "x.com", "zip3": "100"}


def test_without_rules_the_sealed_fields_are_left_out():
    assert payload_build([], LEAD, CONTEXT, sealed=PII) == {
        k: v for k, v in LEAD.items() if k not in PII}


def test_payload_trace_names_every_row_that_came_out_empty_and_why():
    rules = [
        R("zip", "zip"), R("nick", "nickname"), R("phone", "state", transform="phone_10"),
        R("blank", constant=""), R("mail", "email"), R("age", "date_of_birth", transform="age"),
    ]
    payload, empty = payload_trace(rules, {**LEAD, "nickname": None}, CONTEXT,
                                   sealed=frozenset({"email", "date_of_birth"}))
    assert payload == {"zip": "10001", "blank": "", "age": 40}
    assert [(row.position, row.target, row.reason) for row in empty] == [
        (1, "nick", "no value for 'nickname'"),
        (2, "phone", "'phone_10' cannot use the value of 'state'"),
        (3, "blank", "the constant is empty"),
        (4, "mail", "'email' is personal data: a ping carries only a non-identifying value "
                    "derived from it"),
    ]


def test_the_catalogue_says_which_transforms_derive_non_pii_and_keep_a_value():
    assert transforms_deriving_non_pii() == ["age", "age_band", "birth_year", "email_domain",
                                             "phone_area_code", "zip3"]
    assert transforms_keeping_value() == ["default", "join", "prefix", "string", "suffix",
                                          "trim"]
    assert all(TRANSFORMS[name].grammar for name in VALID_ARGS)
    assert not any(TRANSFORMS[name].grammar for name in set(TRANSFORMS) - set(VALID_ARGS))


def test_payload_build_with_twelve_rules_matches_a_buyer_spec():
    assert payload_build(TWELVE_RULES, LEAD, CONTEXT) == {
        "Lead": {"FirstName": "JANE", "LastName": "Public", "Email": "jane@x.com",
                 "Phone": "2125550147", "Zip": "10001", "State": "NY",
                 "Homeowner": "Y", "CreditRating": "Good"},
        "Vehicles": [{"Year": 2019}],
        "Drivers": [{"Age": 40, "BirthDate": "04/12/1985"}],
        "PingRef": "t-abc123",
    }


TWELVE_RULES = [
    R("Lead.FirstName", "first_name", transform="upper"),
    R("Lead.LastName", "last_name"),
    R("Lead.Email", "email", transform="lower"),
    R("Lead.Phone", "phone", transform="phone_10"),
    R("Lead.Zip", "zip", transform="zip5"),
    R("Lead.State", "state"),
    R("Lead.Homeowner", "homeowner", transform="bool_yn"),
    R("Lead.CreditRating", "credit_rating", transform="value_map",
      arg='{"good": "Good", "poor": "Poor", "*": "Fair"}'),
    R("Vehicles[0].Year", "vehicle_year", transform="number"),
    R("Drivers[0].Age", "date_of_birth", transform="age"),
    R("Drivers[0].BirthDate", "date_of_birth", transform="date_format", arg="%m/%d/%Y"),
    R("PingRef", "@ping.token"),
]


def test_mapping_package_imports_without_django():
    code = ("import sys, apps.buyers.mapping; "
            "sys.exit(any(m.split('.')[0] == 'django' for m in sys.modules))")
    repo = Path(__file__).resolve().parents[2]
    assert subprocess.run([sys.executable, "-c", code], cwd=repo, check=False).returncode == 0
