"""Contract filters: every operator over the ways a lead spells its values (no database)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from apps.auctions.engine import FilterRule, filter_passes, filters_pass

P = pytest.param
LEAD = {
    "year": "2019",
    "amount": 2500,
    "price": Decimal("19.99"),
    "ratio": 0.5,
    "homeowner": True,
    "smoker": "no",
    "state": "CA",
    "city": "San Francisco",
    "dob": "1985-07-14",
    "moved_on": date(2024, 2, 29),
    "zip": "94105",
    "empty": "",
    "nothing": None,
    "nan": "NaN",
    "car": "Infinity",
}


def passes(field: str, operator: str, value: object = None, lead: dict | None = None) -> bool:
    return filter_passes(FilterRule(field, operator, value), LEAD if lead is None else lead)


@pytest.mark.parametrize(("field", "value", "expected"), [
    P("year", 2019, True, id="text-number-equals-int"),
    P("year", "2019.0", True, id="text-number-equals-text-with-decimals"),
    P("amount", "2500", True, id="int-equals-text-number"),
    P("amount", " 2500 ", True, id="surrounding-blanks-ignored"),
    P("price", "19.990", True, id="decimal-equals-text-with-trailing-zero"),
    P("ratio", "0.50", True, id="float-equals-text"),
    P("year", 2020, False, id="different-number"),
    P("state", "ca", True, id="text-case-insensitive"),
    P("city", "SAN FRANCISCO", True, id="text-with-space-case-insensitive"),
    P("state", "NY", False, id="different-text"),
    P("homeowner", "yes", True, id="true-equals-yes"),
    P("homeowner", "1", True, id="true-equals-text-one"),
    P("homeowner", 1, True, id="true-equals-int-one"),
    P("homeowner", "TRUE", True, id="true-equals-upper-text"),
    P("homeowner", "no", False, id="true-differs-from-no"),
    P("homeowner", "maybe", False, id="true-differs-from-text"),
    P("homeowner", 2, False, id="true-differs-from-two"),
    P("smoker", False, True, id="no-equals-false"),
    P("smoker", "0", True, id="no-equals-text-zero"),
    P("smoker", "off", True, id="no-equals-off"),
    P("smoker", True, False, id="no-differs-from-true"),
    P("dob", "1985-07-14", True, id="iso-date-text"),
    P("moved_on", "2024-02-29", True, id="date-object-equals-iso-text"),
    P("missing", "x", False, id="missing-field-fails"),
    P("nothing", "None", False, id="none-value-is-missing"),
    P("nan", "nan", True, id="nan-is-text"),
    P("car", "INFINITY", True, id="infinity-is-text"),
])
def test_eq_compares_values_by_meaning(field: str, value: object, expected: bool) -> None:
    assert passes(field, "eq", value) is expected


@pytest.mark.parametrize(("field", "value", "expected"), [
    P("year", "2019", False, id="same-number"),
    P("year", 2018, True, id="other-number"),
    P("state", "ca", False, id="same-text-other-case"),
    P("state", "TX", True, id="other-text"),
    P("homeowner", "yes", False, id="same-boolean"),
    P("homeowner", "0", True, id="other-boolean"),
    P("missing", "x", True, id="missing-field-passes"),
    P("nothing", "x", True, id="none-value-passes"),
])
def test_ne_is_the_negation_of_eq_and_passes_a_missing_value(
    field: str, value: object, expected: bool,
) -> None:
    assert passes(field, "ne", value) is expected


@pytest.mark.parametrize(("field", "values", "expected"), [
    P("state", ["ny", "ca"], True, id="text-in-list-any-case"),
    P("state", ("NY", "TX"), False, id="text-not-in-tuple"),
    P("state", frozenset({"ca"}), True, id="set-of-choices"),
    P("state", "CA", True, id="scalar-is-a-one-item-list"),
    P("year", [2018, 2019], True, id="text-number-in-int-list"),
    P("amount", ["2500.00", "3000"], True, id="int-in-text-number-list"),
    P("homeowner", ["yes"], True, id="boolean-in-list"),
    P("state", [], False, id="empty-list-never-matches"),
    P("missing", ["CA"], False, id="missing-field-fails"),
    P("nothing", ["None"], False, id="none-value-fails"),
])
def test_in_matches_any_listed_value(field: str, values: object, expected: bool) -> None:
    assert passes(field, "in", values) is expected


@pytest.mark.parametrize(("field", "values", "expected"), [
    P("state", ["ny", "ca"], False, id="text-in-list"),
    P("state", ["NY", "TX"], True, id="text-not-in-list"),
    P("year", ["2019"], False, id="number-in-list"),
    P("state", [], True, id="empty-list-always-passes"),
    P("missing", ["CA"], True, id="missing-field-passes"),
    P("nothing", ["CA"], True, id="none-value-passes"),
])
def test_not_in_is_the_negation_of_in_and_passes_a_missing_value(
    field: str, values: object, expected: bool,
) -> None:
    assert passes(field, "not_in", values) is expected


@pytest.mark.parametrize(("field", "operator", "value", "expected"), [
    P("year", "gt", 2018, True, id="gt-text-number-over-int"),
    P("year", "gt", "2019", False, id="gt-equal-is-not-greater"),
    P("year", "gte", "2019", True, id="gte-equal"),
    P("year", "lt", "2020", True, id="lt-text-numbers"),
    P("year", "lt", 2019, False, id="lt-equal-is-not-less"),
    P("year", "lte", 2019, True, id="lte-equal"),
    P("amount", "gt", "999", True, id="numbers-not-compared-as-text"),
    P("amount", "lt", "10000", True, id="int-under-text-number"),
    P("price", "gte", "19.99", True, id="decimal-gte-text"),
    P("price", "gt", 19.98, True, id="decimal-gt-float"),
    P("ratio", "lte", "0.5", True, id="float-lte-text"),
    P("dob", "gt", "1980-01-01", True, id="iso-date-after"),
    P("dob", "lt", "1985-07-15", True, id="iso-date-before-next-day"),
    P("dob", "gte", "1985-07-14", True, id="iso-date-same-day"),
    P("dob", "lt", "1985-07-14", False, id="iso-date-not-before-itself"),
    P("moved_on", "gte", "2024-01-01", True, id="date-object-against-iso-text"),
    P("city", "gt", "Oakland", True, id="text-ordered-case-insensitively"),
    P("city", "lt", "san jose", True, id="text-lt-case-insensitive"),
    P("year", "gt", "abc", False, id="number-against-text-fails"),
    P("homeowner", "gt", 0, False, id="boolean-cannot-be-ordered"),
    P("missing", "gt", 0, False, id="missing-field-fails"),
    P("nothing", "lt", 10, False, id="none-value-fails"),
    P("nan", "gt", 0, False, id="nan-cannot-be-ordered"),
    P("nan", "lt", 0, False, id="nan-is-not-less-either"),
])
def test_ordering_operators_compare_numbers_dates_and_text(
    field: str, operator: str, value: object, expected: bool,
) -> None:
    assert passes(field, operator, value) is expected


@pytest.mark.parametrize(("field", "bounds", "expected"), [
    P("year", [2010, 2020], True, id="inside"),
    P("year", ["2019", "2025"], True, id="lower-bound-inclusive"),
    P("year", ("2000", 2019), True, id="upper-bound-inclusive-tuple"),
    P("year", [2020, 2025], False, id="below"),
    P("year", [2000, 2018], False, id="above"),
    P("year", [2020, 2010], False, id="reversed-bounds-match-nothing"),
    P("price", ["19.5", "20"], True, id="decimal-inside-text-bounds"),
    P("dob", ["1980-01-01", "1989-12-31"], True, id="iso-date-inside"),
    P("dob", ["1990-01-01", "1999-12-31"], False, id="iso-date-outside"),
    P("year", [2010], False, id="one-bound-is-a-misconfiguration"),
    P("year", [2010, 2015, 2020], False, id="three-bounds-is-a-misconfiguration"),
    P("year", 2019, False, id="scalar-bound"),
    P("year", ["abc", 2020], False, id="bound-of-another-kind"),
    P("missing", [0, 10], False, id="missing-field-fails"),
    P("nothing", [0, 10], False, id="none-value-fails"),
])
def test_between_is_inclusive_and_needs_two_bounds(
    field: str, bounds: object, expected: bool,
) -> None:
    assert passes(field, "between", bounds) is expected


@pytest.mark.parametrize(("field", "operator", "value", "expected"), [
    P("city", "contains", "francisco", True, id="contains-case-insensitive"),
    P("city", "contains", "FRAN", True, id="contains-upper"),
    P("city", "contains", "Oakland", False, id="contains-absent"),
    P("zip", "contains", 941, True, id="contains-number-in-text"),
    P("amount", "contains", "50", True, id="contains-in-a-number"),
    P("missing", "contains", "x", False, id="contains-missing-field-fails"),
    P("nothing", "contains", "one", False, id="contains-none-value-fails"),
    P("zip", "regex", r"^94\d{3}$", True, id="regex-anchored"),
    P("zip", "regex", r"^90", False, id="regex-no-match"),
    P("city", "regex", "^san ", True, id="regex-case-insensitive"),
    P("city", "regex", "cisco", True, id="regex-searches-anywhere"),
    P("amount", "regex", r"^\d+$", True, id="regex-over-a-number"),
    P("missing", "regex", ".*", False, id="regex-missing-field-fails"),
    P("nothing", "regex", ".*", False, id="regex-none-value-fails"),
])
def test_contains_and_regex_match_text_case_insensitively(
    field: str, operator: str, value: object, expected: bool,
) -> None:
    assert passes(field, operator, value) is expected


@pytest.mark.parametrize(("field", "exists"), [
    P("state", True, id="text"),
    P("smoker", True, id="false-boolean-text-is-a-value"),
    P("empty", True, id="blank-text-is-a-value"),
    P("missing", False, id="missing-field"),
    P("nothing", False, id="none-value"),
])
def test_exists_and_not_exists_look_only_at_presence(field: str, exists: bool) -> None:
    assert passes(field, "exists") is exists
    assert passes(field, "not_exists") is not exists


@pytest.mark.parametrize("operator", [
    P("equals", id="spelled-out"),
    P("EQ", id="upper-case"),
    P("", id="empty"),
    P("startswith", id="not-supported"),
])
@pytest.mark.parametrize("field", [
    P("state", id="present-field"),
    P("missing", id="missing-field"),
    P("nothing", id="none-value"),
])
def test_it_raises_value_error_for_an_unknown_operator(operator: str, field: str) -> None:
    with pytest.raises(ValueError, match="Unknown filter operator"):
        passes(field, operator, "CA")


CA = FilterRule("state", "eq", "CA")
RECENT = FilterRule("year", "gte", 2015)
NOT_SMOKER = FilterRule("smoker", "eq", False)
HAS_EMAIL = FilterRule("email", "exists")


@pytest.mark.parametrize(("rules", "failed"), [
    P((), None, id="no-rules-pass"),
    P((CA, RECENT, NOT_SMOKER), None, id="all-pass"),
    P((HAS_EMAIL,), HAS_EMAIL, id="single-failure"),
    P((CA, HAS_EMAIL, RECENT), HAS_EMAIL, id="failure-in-the-middle"),
    P((FilterRule("state", "eq", "NY"), HAS_EMAIL), FilterRule("state", "eq", "NY"),
      id="first-of-two-failures"),
    P((CA, RECENT, FilterRule("year", "lt", 2000)), FilterRule("year", "lt", 2000),
      id="last-rule-fails"),
])
def test_filters_pass_returns_the_first_failing_rule(
    rules: tuple[FilterRule, ...], failed: FilterRule | None,
) -> None:
    assert filters_pass(rules, LEAD) == failed


def test_filters_pass_stops_at_the_first_failure() -> None:
    # The second rule has an unknown operator: it would raise if it were evaluated.
    rules = (FilterRule("state", "eq", "NY"), FilterRule("state", "bogus", "CA"))
    assert filters_pass(rules, LEAD) == rules[0]
