"""The demo dataset: the ``auto-insurance`` vertical, two sources with well-known keys, and a
staff login. Loading it twice changes nothing. Demo only: the keys and the ``admin``/``admin``
login are published in the README, so never load this into a production database."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from django.contrib.auth import get_user_model
from django.db import transaction

from apps.core.keys import key_from_parts
from apps.sources.models import FieldType, Source, SourceApiKey, Vertical, VerticalField
from apps.sources.services import SOURCE_KEY_NAMESPACE, source_key_create

AUTO_INSURANCE_FIELDS: list[dict] = [
    # key, type, flags, extra — in the order affiliates see them in the spec
    {"key": "first_name", "type": FieldType.TEXT, "pii": True, "required_for_post": True,
     "example": "Jane"},
    {"key": "last_name", "type": FieldType.TEXT, "pii": True, "required_for_post": True,
     "example": "Doe"},
    {"key": "email", "type": FieldType.EMAIL, "pii": True, "required_for_post": True,
     "example": "jane.doe@example.com"},
    {"key": "phone", "type": FieldType.PHONE, "pii": True, "required_for_post": True,
     "example": "(212) 555-0147"},
    {"key": "address", "type": FieldType.TEXT, "pii": True, "example": "12 Main St"},
    {"key": "city", "type": FieldType.TEXT, "example": "New York",
     "help_text": "Filled in from the ZIP code when missing."},
    {"key": "state", "type": FieldType.STATE, "example": "NY",
     "help_text": "Two-letter code or name; filled in from the ZIP code when missing."},
    {"key": "zip", "type": FieldType.ZIP, "required_for_ping": True, "required_for_post": True,
     "example": "10001"},
    {"key": "date_of_birth", "type": FieldType.DATE, "pii": True, "required_for_post": True,
     "min_value": "1900-01-01", "example": "1985-04-12"},
    {"key": "gender", "type": FieldType.CHOICE, "choices": ["male", "female", "other"],
     "example": "female"},
    {"key": "marital_status", "type": FieldType.CHOICE,
     "choices": ["single", "married", "divorced", "widowed"], "example": "married"},
    {"key": "credit_rating", "type": FieldType.CHOICE,
     "choices": ["excellent", "good", "fair", "poor"], "example": "good"},
    {"key": "homeowner", "type": FieldType.BOOLEAN, "example": "true"},
    {"key": "currently_insured", "type": FieldType.BOOLEAN, "required_for_ping": True,
     "example": "true"},
    {"key": "current_insurer", "type": FieldType.TEXT, "example": "Progressive"},
    {"key": "vehicle_year", "type": FieldType.INTEGER, "required_for_ping": True,
     "min_value": "1981", "max_value": "2028", "example": "2019"},
    {"key": "vehicle_make", "type": FieldType.TEXT, "required_for_ping": True,
     "example": "Toyota"},
    {"key": "vehicle_model", "type": FieldType.TEXT, "example": "Camry"},
    {"key": "accidents", "type": FieldType.INTEGER, "min_value": "0", "max_value": "20",
     "example": "0", "help_text": "At-fault accidents in the last 5 years."},
]


@dataclass(frozen=True)
class DemoSource:
    name: str
    prefix: str  # 8 characters, the visible part of the key
    secret: str
    payout_model: str
    payout_value: Decimal

    @property
    def key(self) -> str:
        return key_from_parts(SOURCE_KEY_NAMESPACE, self.prefix, self.secret).key


DEMO_SOURCES = [
    DemoSource("Acme Affiliates", "demoacme", "demo-only-acme-affiliates-key",
               "revshare", Decimal("70.00")),
    DemoSource("Blue Landing Pages", "demoblue", "demo-only-blue-landing-key",
               "fixed", Decimal("12.00")),
]
DEMO_STAFF = ("admin", "admin")


@dataclass(frozen=True)
class DemoSummary:
    vertical: Vertical
    source_keys: list[tuple[str, str]]  # (source name, clear key)
    staff_login: tuple[str, str]


@transaction.atomic
def demo_data_load() -> DemoSummary:
    """Create or refresh the demo rows; idempotent."""
    vertical, _ = Vertical.objects.update_or_create(
        slug="auto-insurance",
        defaults={"name": "Auto insurance", "default_floor": Decimal("1.00"),
                  "dedupe_fields": ["email", "phone"], "dedupe_window_days": 30,
                  "description": "Consumers shopping for car insurance quotes."},
    )
    for position, spec in enumerate(AUTO_INSURANCE_FIELDS):
        VerticalField.objects.update_or_create(
            vertical=vertical, key=spec["key"],
            defaults={**{k: v for k, v in spec.items() if k != "key"}, "position": position},
        )

    keys = []
    for demo in DEMO_SOURCES:
        source, _ = Source.objects.get_or_create(
            name=demo.name,
            defaults={"payout_model": demo.payout_model, "payout_value": demo.payout_value},
        )
        source.verticals.add(vertical)
        if not SourceApiKey.objects.filter(prefix=demo.prefix).exists():
            source_key_create(source=source, name="demo",
                              new_key=key_from_parts(SOURCE_KEY_NAMESPACE, demo.prefix,
                                                     demo.secret))
        keys.append((demo.name, demo.key))

    username, password = DEMO_STAFF
    user, created = get_user_model().objects.get_or_create(
        username=username, defaults={"is_staff": True, "is_superuser": True}
    )
    if created:
        user.set_password(password)
        user.save()
    return DemoSummary(vertical=vertical, source_keys=keys, staff_login=DEMO_STAFF)
