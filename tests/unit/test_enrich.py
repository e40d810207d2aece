"""ZIP enrichment from the bundled ``zipcodes`` data set (offline)."""

from __future__ import annotations

import dataclasses
from concurrent.futures import ThreadPoolExecutor

import pytest
import zipcodes

from apps.leads import enrich
from apps.leads.enrich import ZipInfo, zip_lookup

P = pytest.param


@pytest.mark.parametrize(
    ("zip5", "info"),
    [
        P(
            "77429",
            ZipInfo("77429", "Cypress", "TX", "Harris County", "America/Chicago"),
            id="texas",
        ),
        P(
            "10001",
            ZipInfo("10001", "New York", "NY", "New York County", "America/New_York"),
            id="new-york",
        ),
        P(
            "00501",
            ZipInfo("00501", "Holtsville", "NY", "Suffolk County", "America/New_York"),
            id="leading-zeros",
        ),
        P(
            "20500",
            ZipInfo("20500", "Washington", "DC", "District of Columbia", "America/New_York"),
            id="district-of-columbia",
        ),
        P(
            "00601",
            ZipInfo("00601", "Adjuntas", "PR", "Adjuntas Municipio", "America/Puerto_Rico"),
            id="puerto-rico",
        ),
        P(
            "99950",
            ZipInfo(
                "99950",
                "Ketchikan",
                "AK",
                "Prince of Wales-Outer Ketchikan Borough",
                "America/Sitka",
            ),
            id="alaska-timezone",
        ),
        P(
            "96799",
            ZipInfo("96799", "Pago Pago", "AS", None, "Pacific/Pago_Pago"),
            id="territory-without-county-gives-none",
        ),
        P(
            "09001",
            ZipInfo("09001", "Apo", "AE", None, None),
            id="military-without-county-or-timezone",
        ),
    ],
)
def test_zip_lookup_returns_city_state_county_timezone(zip5, info):
    assert zip_lookup(zip5) == info


@pytest.mark.parametrize(
    "zip5",
    [
        P("01133", id="inactive-zip"),
        P("00000", id="unknown-zip"),
        P("99999", id="unknown-high-zip"),
        P("7742", id="four-digits"),
        P("77429-1234", id="not-normalized-zip-plus-4"),
        P(" 77429", id="not-stripped"),
        P("", id="empty"),
    ],
)
def test_zip_lookup_returns_none_for_inactive_unknown_or_unnormalized_zips(zip5):
    assert zip_lookup(zip5) is None


def test_inactive_zip_really_is_in_the_data_set_but_inactive():
    # Guards the "inactive -> None" test above against the data set dropping the row.
    row = next(z for z in zipcodes.list_all() if z["zip_code"] == "01133")
    assert row["active"] is False


def test_zip_info_is_immutable():
    info = zip_lookup("77429")
    with pytest.raises(dataclasses.FrozenInstanceError):
        info.city = "Houston"  # type: ignore[misc]


def test_index_is_built_once_and_reused(monkeypatch):
    calls = []
    real_list_all = zipcodes.list_all

    def counting_list_all():
        calls.append(1)
        return real_list_all()

    monkeypatch.setattr(zipcodes, "list_all", counting_list_all)
    enrich._zip_index.cache_clear()
    try:
        first = zip_lookup("77429")
        assert zip_lookup("77429") is first
        assert zip_lookup("10001") is not None
        assert len(calls) == 1
    finally:
        enrich._zip_index.cache_clear()  # drop the index built through the patched function


def test_concurrent_first_lookups_agree():
    enrich._zip_index.cache_clear()
    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(zip_lookup, ["77429"] * 16))
    assert all(r == results[0] for r in results)
    assert results[0] is not None and results[0].state == "TX"
