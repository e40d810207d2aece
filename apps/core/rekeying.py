"""Key rotation: every sealed column re-sealed under the key ring's first key, in batches,
while the platform runs (``manage.py rotate_keys``; apps.core.sealing).

A row is *stale* when one of its sealed columns holds a value sealed under another key, or a
value stored in clear (written before sealing existed). The scan reads the raw column text
(no decryption) a batch of ids at a time; each stale batch is re-saved in one short
transaction holding its rows (``SELECT … FOR UPDATE`` on PostgreSQL, the writer lock on
SQLite), so a concurrent change to the same row is never overwritten with an older value.
Once ``stale_count()`` is all zeros the older keys can leave ``PII_ENCRYPTION_KEYS``.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterator
from typing import Any

from django.apps import apps
from django.db import connection, models, transaction

from apps.core.logging import kv
from apps.core.sealing import PREFIX, SEALED_FIELDS, SealedJSONField, keyring, sealed_key_id

logger = logging.getLogger(__name__)

Column = tuple[type[models.Model], list[models.Field]]


def sealed_columns() -> list[Column]:
    """Every model with sealed fields, and those fields, in a stable order."""
    found: list[Column] = []
    for model in apps.get_models():
        fields: list[models.Field] = [f for f in model._meta.concrete_fields
                                      if isinstance(f, SEALED_FIELDS)]
        if fields:
            found.append((model, fields))
    return sorted(found, key=lambda column: column[0]._meta.label)


def _stored_token(field: models.Field, raw: Any) -> str | None:
    """The sealed text a raw column value holds, "" for a value that needs no seal (NULL, an
    empty text), or None for a value stored in clear."""
    if raw is None or raw == "":
        return ""
    if isinstance(field, SealedJSONField):
        if isinstance(raw, (bytes, memoryview)):
            raw = bytes(raw).decode()
        if isinstance(raw, str) and raw.startswith('"' + PREFIX):
            return str(json.loads(raw))
        return None
    return raw if isinstance(raw, str) and raw.startswith(PREFIX) else None


def _is_stale(field: models.Field, raw: Any, primary: str) -> bool:
    token = _stored_token(field, raw)
    return token is None or (token != "" and sealed_key_id(token) != primary)


def _scan(model: type[models.Model], fields: list[models.Field], batch: int,
          ) -> Iterator[list[Any]]:
    """The ids of stale rows, a list per ``batch`` rows scanned (possibly empty)."""
    quote = connection.ops.quote_name
    pk = quote(str(model._meta.pk.column))
    head = (f"SELECT {pk}, {', '.join(quote(str(f.column)) for f in fields)} "  # noqa: S608
            f"FROM {quote(model._meta.db_table)}")
    primary, last = keyring().primary, None
    while True:
        with connection.cursor() as cursor:
            if last is None:
                cursor.execute(f"{head} ORDER BY {pk} LIMIT %s", [batch])
            else:
                cursor.execute(f"{head} WHERE {pk} > %s ORDER BY {pk} LIMIT %s", [last, batch])
            rows = cursor.fetchall()
        if not rows:
            return
        last = rows[-1][0]
        yield [row[0] for row in rows
               if any(_is_stale(f, raw, primary) for f, raw in zip(fields, row[1:],
                                                                   strict=True))]


def stale_count(batch: int = 2000) -> dict[str, int]:
    """Per model label, how many rows still hold a value not sealed under the primary key."""
    return {model._meta.label: sum(len(ids) for ids in _scan(model, fields, batch))
            for model, fields in sealed_columns()}


def keys_rotate(*, batch: int = 500,
                progress: Callable[[str, int], None] | None = None) -> dict[str, int]:
    """Re-seal every stale row under the primary key; per model label, the rows re-sealed."""
    done: dict[str, int] = {}
    for model, fields in sealed_columns():
        label, names = model._meta.label, [f.name for f in fields]
        done[label] = 0
        for ids in _scan(model, fields, batch):
            if not ids:
                continue
            with transaction.atomic():
                rows = list(model._default_manager.select_for_update()
                            .filter(pk__in=ids).only("pk", *names))
                model._default_manager.bulk_update(rows, names)
            done[label] += len(rows)
            if progress is not None:
                progress(label, done[label])
        if done[label]:
            logger.info(kv("sealing.rotated", model=label, rows=done[label]))
    return done
