"""factory_boy factories for the domain; ``source_with_key`` returns a source and its key."""

from __future__ import annotations

from decimal import Decimal

import factory

from apps.sources.models import FieldType, Source, Vertical, VerticalField
from apps.sources.services import source_key_create

# A compact vertical schema that exercises every field type the capture API normalizes.
STANDARD_FIELDS: list[dict] = [
    {"key": "first_name", "type": FieldType.TEXT, "pii": True, "required_for_post": True},
    {"key": "last_name", "type": FieldType.TEXT, "pii": True},
    {"key": "email", "type": FieldType.EMAIL, "pii": True, "required_for_post": True},
    {"key": "phone", "type": FieldType.PHONE, "pii": True, "required_for_post": True},
    {"key": "address", "type": FieldType.TEXT, "pii": True},
    {"key": "city", "type": FieldType.TEXT},
    {"key": "state", "type": FieldType.STATE},
    {"key": "zip", "type": FieldType.ZIP, "required_for_ping": True},
    {"key": "date_of_birth", "type": FieldType.DATE, "pii": True, "min_value": "1900-01-01"},
    {"key": "vehicle_year", "type": FieldType.INTEGER, "min_value": "1981",
     "max_value": "2028"},
    {"key": "homeowner", "type": FieldType.BOOLEAN},
    {"key": "credit_rating", "type": FieldType.CHOICE,
     "choices": ["excellent", "good", "fair", "poor"]},
    {"key": "income", "type": FieldType.DECIMAL},
    {"key": "website", "type": FieldType.URL},
    {"key": "ip", "type": FieldType.IP},
]


def valid_fields(**overrides) -> dict:
    """A lead that passes STANDARD_FIELDS; override or drop (``key=None``) any value."""
    fields = {
        "first_name": "Jane", "last_name": "Doe", "email": "Jane.Doe@Example.com",
        "phone": "(212) 555-0147", "address": "12 Main St", "zip": "10001",
        "date_of_birth": "1985-04-12", "vehicle_year": 2019, "homeowner": "yes",
        "credit_rating": "Good", "income": "$52,000.00",
    }
    fields.update(overrides)
    return {k: v for k, v in fields.items() if v is not None}


class VerticalFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Vertical
        django_get_or_create = ["slug"]
        skip_postgeneration_save = True

    slug = factory.Sequence(lambda n: f"vertical-{n}")
    name = factory.LazyAttribute(lambda o: o.slug.replace("-", " ").title())
    default_floor = Decimal("1.00")
    dedupe_fields = ["email", "phone"]
    dedupe_window_days = 30

    @factory.post_generation
    def schema(self, create: bool, extracted: list[dict] | None, **kwargs) -> None:
        if not create:
            return
        for position, spec in enumerate(extracted if extracted is not None else STANDARD_FIELDS):
            VerticalField.objects.get_or_create(vertical=self, key=spec["key"], defaults={
                **{k: v for k, v in spec.items() if k != "key"}, "position": position})


class SourceFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Source
        skip_postgeneration_save = True

    name = factory.Sequence(lambda n: f"Source {n}")

    @factory.post_generation
    def verticals(self, create: bool, extracted, **kwargs) -> None:
        if create and extracted:
            self.verticals.set(extracted)


def source_with_key(*verticals: Vertical, **attributes) -> tuple[Source, str]:
    source = SourceFactory(verticals=list(verticals), **attributes)
    _, key = source_key_create(source=source)
    return source, key
