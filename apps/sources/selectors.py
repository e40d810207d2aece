"""Reads for sources, keys and vertical schemas."""

from __future__ import annotations

import functools
import threading
from datetime import timedelta
from typing import cast

from django.db.models import Prefetch, QuerySet
from django.utils import timezone

from apps.core.keys import key_matches, key_prefix
from apps.core.sql import sql_columns, sql_models, sql_rows
from apps.sources.models import Source, SourceApiKey, Vertical, VerticalField

# last_used_at is bookkeeping, not a counter: refresh it at most this often per key.
_LAST_USED_RESOLUTION = timedelta(minutes=1)
# vertical_get's per-process schemas: slug -> ((id, updated_at), vertical with its fields)
_schemas: dict[str, tuple[tuple[int, str], Vertical]] = {}
_schemas_lock = threading.Lock()


def source_key_authenticate(key: str) -> SourceApiKey | None:
    """The live key row (with its source) that ``key`` proves, or None (unknown, wrong secret
    or revoked). Touches ``last_used_at`` at most once a minute."""
    prefix = key_prefix(key)
    if prefix is None:
        return None
    found = sql_models(_key_query(), [prefix], SourceApiKey, Source)
    if not found:
        return None
    row, source = cast(tuple[SourceApiKey, Source], found[0])
    if not key_matches(key, row.digest):
        return None
    row.source = source
    now = timezone.now()
    if row.last_used_at is None or now - row.last_used_at > _LAST_USED_RESOLUTION:
        SourceApiKey.objects.filter(pk=row.pk).update(last_used_at=now)
    return row


@functools.cache
def _key_query() -> str:
    """The live key with that prefix and its source, in one read on every request of a
    source (plain SQL: the ORM's select_related query cost more CPU to build than to run)."""
    keys, sources = SourceApiKey._meta, Source._meta
    return (f"SELECT {sql_columns(SourceApiKey, 'k')}, {sql_columns(Source, 's')} "  # noqa: S608
            f"FROM {keys.db_table} k JOIN {sources.db_table} s ON s.id = k.source_id "
            "WHERE k.prefix = %s AND k.revoked_at IS NULL")  # the prefix is unique


def vertical_get(slug: str) -> Vertical | None:
    """An active vertical with its fields prefetched (in schema order), or None.

    Each process keeps the loaded schema and checks only the vertical's version (its
    ``updated_at``, which saving it in the admin or the API moves) with one indexed read.
    Treat the result as read-only: threads share it."""
    rows = sql_rows(f"SELECT id, updated_at FROM {Vertical._meta.db_table} "  # noqa: S608
                    "WHERE slug = %s AND is_active = %s", [slug, True])
    return _schema(slug, rows[0]) if rows else None


def vertical_for_source(slug: str, source: Source) -> tuple[Vertical | None, bool]:
    """``vertical_get(slug)`` and whether ``source`` may send its leads, in the one read
    every capture and source ping makes before it validates: (None, False) when there is
    no such active vertical."""
    rows = sql_rows(_vertical_for_source_query(), [source.pk, slug, True])
    if not rows:
        return None, False
    return _schema(slug, rows[0][:2]), bool(rows[0][2])


@functools.cache
def _vertical_for_source_query() -> str:
    """``vertical_for_source``'s statement, built once per process (our table names)."""
    through = Source.verticals.through._meta
    source_column = through.get_field("source").column
    vertical_column = through.get_field("vertical").column
    return (f"SELECT v.id, v.updated_at, EXISTS (SELECT 1 FROM {through.db_table} t "  # noqa: S608
            f"WHERE t.{source_column} = %s AND t.{vertical_column} = v.id) "
            f"FROM {Vertical._meta.db_table} v WHERE v.slug = %s AND v.is_active = %s")


def _schema(slug: str, row: tuple) -> Vertical | None:
    """The vertical of ``row`` (its id and ``updated_at``) with its fields: this process's
    copy while the version is the same, else loaded again."""
    version = (row[0], str(row[1]))
    with _schemas_lock:
        hit = _schemas.get(slug)
    if hit is not None and hit[0] == version:
        return hit[1]
    vertical = (
        Vertical.objects.filter(pk=version[0])
        .prefetch_related(Prefetch("fields", queryset=VerticalField.objects.order_by("position",
                                                                                       "id")))
        .first()
    )
    if vertical is not None:
        with _schemas_lock:
            _schemas[slug] = (version, vertical)
    return vertical


def vertical_schemas_clear() -> None:
    """Forget every loaded schema in this process (tests that edit fields in place)."""
    with _schemas_lock:
        _schemas.clear()


def vertical_spec(vertical: Vertical) -> dict:
    """The posting spec affiliates code against, built from the live schema rows."""
    return {
        "vertical": vertical.slug,
        "name": vertical.name,
        "description": vertical.description,
        "fields": [
            {
                "key": f.key,
                "label": f.label or f.key.replace("_", " ").capitalize(),
                "type": f.type,
                "required_for_ping": f.required_for_ping,
                "required_for_post": f.required_for_post,
                "pii": f.pii,
                "choices": f.choices,
                "min": f.min_value or None,
                "max": f.max_value or None,
                "example": f.example or None,
                "help_text": f.help_text,
            }
            for f in vertical.fields.all()
        ],
    }


def _sources() -> QuerySet[Source]:
    return Source.objects.prefetch_related(
        "verticals", Prefetch("api_keys", queryset=SourceApiKey.objects.order_by("-created_at",
                                                                                 "-pk")))


def source_list() -> QuerySet[Source]:
    """Every source (staff), with its verticals and keys (never the clear keys: only their
    digests are stored)."""
    return _sources().order_by("name", "pk")


def source_get(source_id: int) -> Source | None:
    return _sources().filter(pk=source_id).first()


def source_key_get(source: Source, key_id: int) -> SourceApiKey | None:
    """One of ``source``'s keys (another source's key id is not found)."""
    return SourceApiKey.objects.select_related("source").filter(source=source, pk=key_id).first()


def _verticals() -> QuerySet[Vertical]:
    return Vertical.objects.prefetch_related(
        Prefetch("fields", queryset=VerticalField.objects.order_by("position", "id")))


def vertical_list() -> QuerySet[Vertical]:
    """Every vertical (staff: inactive ones too) with its fields in schema order."""
    return _verticals().order_by("name", "pk")


def vertical_get_any(slug: str) -> Vertical | None:
    """A vertical by slug, active or not (staff), with its fields in schema order."""
    return _verticals().filter(slug=slug).first()
