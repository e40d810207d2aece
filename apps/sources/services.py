"""Writes for sources and their API keys."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from django.db import transaction
from django.utils import timezone

from apps.core.keys import NewKey, key_generate
from apps.sources.models import Source, SourceApiKey, Vertical, VerticalField

SOURCE_KEY_NAMESPACE = "lx"


def source_key_create(*, source: Source, name: str = "default", new_key: NewKey | None = None
                      ) -> tuple[SourceApiKey, str]:
    """Create an API key for ``source``; returns the row and the clear key (shown once)."""
    new_key = new_key or key_generate(SOURCE_KEY_NAMESPACE)
    row = SourceApiKey.objects.create(
        source=source, name=name, prefix=new_key.prefix, digest=new_key.digest
    )
    return row, new_key.key


@transaction.atomic
def source_create(*, name: str, verticals: Iterable[Vertical] = (), **attributes
                  ) -> tuple[Source, str]:
    """Create a source with one API key; returns the source and the clear key (shown once)."""
    source = Source(name=name, **attributes)
    source.full_clean()
    source.save()
    source.verticals.set(verticals)
    _, key = source_key_create(source=source)
    return source, key


def source_key_revoke(*, api_key: SourceApiKey) -> None:
    """Revoke a key at once; requests with it get 401 from now on. Idempotent."""
    SourceApiKey.objects.filter(pk=api_key.pk, revoked_at__isnull=True).update(
        revoked_at=timezone.now()
    )


@transaction.atomic
def source_key_rotate(*, api_key: SourceApiKey) -> tuple[SourceApiKey, str]:
    """Replace ``api_key`` with a new key of the same name; the old one is revoked."""
    source_key_revoke(api_key=api_key)
    return source_key_create(source=api_key.source, name=api_key.name)


@transaction.atomic
def source_update(source: Source, *, verticals: Iterable[Vertical] | None = None,
                  **attributes: Any) -> Source:
    """Change the given attributes of ``source`` (and its allowed verticals when given).
    Its keys are untouched: they change only through the key services."""
    for name, value in attributes.items():
        setattr(source, name, value)
    source.full_clean()
    source.save()
    if verticals is not None:
        source.verticals.set(verticals)
    return source


@transaction.atomic
def vertical_create(*, fields: Sequence[Mapping[str, Any]] = (), **attributes: Any
                    ) -> Vertical:
    """Create a vertical with its field schema (rows in the given order)."""
    vertical = Vertical.objects.create(**attributes)
    _vertical_fields_set(vertical, fields)
    return vertical


@transaction.atomic
def vertical_update(vertical: Vertical, *, fields: Sequence[Mapping[str, Any]] | None = None,
                    **attributes: Any) -> Vertical:
    """Change the given attributes; ``fields`` (when given) replaces the schema: rows are
    matched by key (a kept field keeps its row), ordered as given, and keys left out are
    removed. The capture API and the posting spec read the new schema at once."""
    for name, value in attributes.items():
        setattr(vertical, name, value)
    vertical.save()
    if fields is not None:
        _vertical_fields_set(vertical, fields)
    return vertical


def _vertical_fields_set(vertical: Vertical, rows: Sequence[Mapping[str, Any]]) -> None:
    keys = [row["key"] for row in rows]
    vertical.fields.exclude(key__in=keys).delete()
    for position, row in enumerate(rows):
        VerticalField.objects.update_or_create(
            vertical=vertical, key=row["key"],
            defaults={**{k: v for k, v in row.items() if k != "key"}, "position": position})
