"""Offline enrichment of leads from data bundled with maintained packages (no network)."""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

import zipcodes


@dataclass(frozen=True, slots=True)
class ZipInfo:
    """Where a 5-digit ZIP code is: USPS city, 2-letter state, county and IANA timezone.

    ``state`` is the USPS code and may be a military one (AA/AE/AP) or a freely associated
    state (FM/MH/PW). ``county``/``timezone`` are None where the data set has none
    (territories, military ZIPs).
    """

    zip: str
    city: str
    state: str
    county: str | None
    timezone: str | None


# functools.cache makes the lazy build thread-safe enough: two threads racing on the first
# call may both build the index, but they build identical immutable ones and one wins.
@functools.cache
def _zip_index() -> Mapping[str, ZipInfo]:
    return MappingProxyType(
        {
            row["zip_code"]: ZipInfo(
                zip=row["zip_code"],
                city=row["city"],
                state=row["state"],
                county=row["county"] or None,
                timezone=row["timezone"] or None,
            )
            for row in zipcodes.list_all()
            # Retired ZIPs no longer receive mail; treat them like unknown ones.
            if row["active"]
        }
    )


def zip_lookup(zip5: str) -> ZipInfo | None:
    """Return the :class:`ZipInfo` for an active 5-digit ZIP, or None if unknown or retired.

    Expects a normalized ZIP (see ``apps.leads.normalize.normalize_zip``); any other input
    simply finds nothing. The first call loads the bundled data and builds the index (~0.6 s,
    so warm it at process start); later calls are a dict lookup.
    """
    return _zip_index().get(zip5)
