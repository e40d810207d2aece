"""Synthetic consumers: names, places, vehicles and credit, and the appeal that moves
how buyers treat them."""

from __future__ import annotations

import random

from apps.leads.enrich import zip_lookup
from apps.leads.normalize import DATE_MESSAGE, EMAIL_MESSAGE, PHONE_MESSAGE, ZIP_MESSAGE

# --- consumers ----------------------------------------------------------------------------

FIRST = ("James", "Mary", "Robert", "Patricia", "John", "Jennifer", "Michael", "Linda",
         "David", "Elizabeth", "William", "Barbara", "Richard", "Susan", "Joseph", "Jessica",
         "Thomas", "Sarah", "Carlos", "Karen", "Daniel", "Lisa", "Matthew", "Nancy", "Anthony",
         "Sandra", "Mark", "Ashley", "Luis", "Emily", "Kevin", "Maria", "Brian", "Aisha")
LAST = ("Smith", "Johnson", "Williams", "Brown", "Jones", "Garcia", "Miller", "Davis",
        "Rodriguez", "Martinez", "Hernandez", "Lopez", "Gonzalez", "Wilson", "Anderson",
        "Thomas", "Taylor", "Moore", "Jackson", "Martin", "Lee", "Perez", "Thompson", "White",
        "Harris", "Clark", "Lewis", "Robinson", "Walker", "Young", "Nguyen", "Patel")
ZIPS = ("10001", "11201", "02108", "19103", "20001", "30303", "33101", "33602", "32801",
        "60601", "48201", "44113", "43215", "46204", "53202", "55401", "63101", "64106",
        "70112", "75201", "77002", "78701", "78205", "73102", "80202", "84111", "85004",
        "89101", "87102", "90012", "94103", "92101", "95814", "97204", "98101", "28202",
        "27601", "29201", "37203", "40202", "35203", "23219", "21202", "06103", "07102")
MAKES = {"Toyota": ("Camry", "Corolla", "RAV4"), "Honda": ("Civic", "Accord", "CR-V"),
         "Ford": ("F-150", "Escape", "Focus"), "Chevrolet": ("Silverado", "Malibu", "Equinox"),
         "Nissan": ("Altima", "Rogue"), "Hyundai": ("Elantra", "Tucson"), "Tesla": ("Model 3",)}
CREDIT = (("excellent", 1.0), ("good", 0.75), ("fair", 0.45), ("poor", 0.15))
INSURERS = ("Progressive", "GEICO", "State Farm", "Allstate", "Liberty Mutual", "USAA")
AGENTS = ("Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) Mobile/15E148",
          "Mozilla/5.0 (Windows NT 10.0; Win64; x64) Chrome/124.0 Safari/537.36",
          "Mozilla/5.0 (Linux; Android 14; Pixel 8) Chrome/124.0 Mobile Safari/537.36")
# (invalid keys, message, weight): each invalid key is a rejection reason in the reports.
# The capture's own messages (apps.leads.normalize), so synthetic rejections read like real ones.
REJECTIONS = (
    (("phone",), PHONE_MESSAGE, 30), (("email",), EMAIL_MESSAGE, 25), (("zip",), ZIP_MESSAGE, 15),
    (("date_of_birth",), DATE_MESSAGE, 10),
    (("first_name", "last_name"), "This field is required.", 12),
    (("currently_insured",), "This field is required.", 8),
)


def _consumer(rng: random.Random, n: int, auto: bool, places: list) -> tuple[dict, dict, float]:
    """A consumer's normalized fields, the ZIP enrichment and its appeal (0–1) to buyers."""
    first, last = rng.choice(FIRST), rng.choice(LAST)
    zip5, city, state, enrichment = rng.choice(places)
    credit, score = CREDIT[min(3, int(rng.random() ** 1.3 * 4))]
    insured = rng.random() < 0.7
    fields = {"first_name": first, "last_name": last,
              "email": f"{first}.{last}.{n}@example.com".lower(),
              "phone": f"+1{rng.randint(201, 989)}555{rng.randint(100, 199):04d}",
              "address": f"{rng.randint(1, 9999)} Main St", "city": city, "state": state,
              "zip": zip5, "date_of_birth": f"{rng.randint(1950, 2005)}-"
              f"{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}",
              "credit_rating": credit, "currently_insured": insured}
    appeal = 0.55 * score + (0.2 if insured else 0.0)
    if auto:
        make = rng.choice(list(MAKES))
        year, accidents = rng.randint(1998, 2026), min(4, int(rng.expovariate(3.0)))
        fields.update(gender=rng.choice(("male", "female")), vehicle_year=year,
                      marital_status=rng.choice(("single", "married", "divorced")),
                      homeowner=rng.random() < 0.6, vehicle_make=make,
                      vehicle_model=rng.choice(MAKES[make]), accidents=accidents)
        if insured:
            fields["current_insurer"] = rng.choice(INSURERS)
        appeal += 0.25 * (year - 1998) / 28 - 0.12 * accidents
    else:
        value = int(rng.lognormvariate(12.6, 0.5)) // 1000 * 1000
        fields.update(property_type=rng.choice(("single_family", "single_family", "condo",
                                                "townhouse", "mobile_home")),
                      year_built=rng.randint(1920, 2024), home_value=value,
                      claims=min(3, int(rng.expovariate(4.0))))
        appeal += min(0.25, value / 1_600_000) - 0.1 * fields["claims"]
    return fields, enrichment, min(1.0, max(0.0, appeal + rng.gauss(0, 0.12)))


def _places() -> list[tuple[str, str, str, dict]]:
    places = []
    for zip5 in ZIPS:
        info = zip_lookup(zip5)
        if info is not None:
            places.append((zip5, info.city, info.state,
                           {"city": info.city, "state": info.state, "county": info.county,
                            "timezone": info.timezone}))
    return places or [("10001", "New York", "NY", {})]
