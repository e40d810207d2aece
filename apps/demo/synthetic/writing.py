"""Writing the simulated rows: COPY on PostgreSQL (a writer thread beside the simulation),
bulk_create elsewhere, timestamps kept as simulated."""

from __future__ import annotations

import json
import queue
import threading
import time
from collections.abc import Callable

from django.db import connection, transaction
from django.db.models import DateField, Model

from apps.auctions.models import HealthEvent, Ping, Post, Sale
from apps.core.sealing import SEALED_FIELDS
from apps.demo.synthetic.simulation import JSON_COLUMNS, _Rows
from apps.leads.models import Lead

# --- writing ------------------------------------------------------------------------------


def _ids(model: type[Model], n: int) -> list[int]:
    """``n`` fresh primary keys (sequence values on PostgreSQL; past the maximum else)."""
    table = model._meta.db_table
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SELECT nextval(pg_get_serial_sequence(%s, 'id')) "
                           "FROM generate_series(1, %s)", [table, n])
            return [row[0] for row in cursor.fetchall()]
        cursor.execute(f"SELECT COALESCE(MAX(id), 0) FROM {table}")  # noqa: S608 - our table
        first = cursor.fetchone()[0] + 1
    return list(range(first, first + n))


class _TimestampsAsGiven:
    """Lets ``bulk_create`` keep the given ``created_at``/``received_at``/``updated_at``
    (``auto_now_add``/``auto_now`` overwrite them otherwise) while the block runs."""

    FIELDS: tuple[tuple[type[Model], str], ...] = (
        (Lead, "received_at"), (Lead, "updated_at"), (Ping, "created_at"), (Post, "created_at"),
        (Sale, "created_at"), (HealthEvent, "created_at"))

    def __enter__(self) -> None:
        self.saved: list[tuple[DateField, bool, bool]] = []
        for model, name in self.FIELDS:
            f = model._meta.get_field(name)
            if not isinstance(f, DateField):  # DateTimeField included
                raise TypeError(f"{model.__name__}.{name} is not a date field")
            self.saved.append((f, f.auto_now, f.auto_now_add))
            f.auto_now = f.auto_now_add = False

    def __exit__(self, *exc) -> None:
        for f, auto_now, auto_now_add in self.saved:
            f.auto_now, f.auto_now_add = auto_now, auto_now_add


def _orm_write(rows: _Rows) -> None:
    with transaction.atomic(), _TimestampsAsGiven():
        for model, columns, data in rows.tables():
            model._default_manager.bulk_create([model(**dict(zip(columns, row, strict=True)))
                                       for row in data], batch_size=2000)


def _copy_write(rows: _Rows, *, unchecked: bool = False) -> None:
    """PostgreSQL: one COPY per table, in one transaction. ``unchecked`` (superusers only)
    skips the foreign-key triggers, which otherwise take two thirds of the time: the rows
    reference each other by construction (the ORM path, used by the tests, keeps every
    check), and a lost batch costs nothing, hence no synchronous commit either."""
    dumps = json.dumps
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SET LOCAL synchronous_commit = off")
        if unchecked:
            cursor.execute("SET LOCAL session_replication_role = replica")
        for model, columns, data in rows.tables():
            if not data:
                continue
            # sealed columns (apps.core.sealing) are written as the ORM would write them
            sealed = {i: field for i, name in enumerate(columns)
                      if isinstance(field := model._meta.get_field(name), SEALED_FIELDS)}
            as_json = [i for i, name in enumerate(columns)
                       if name in JSON_COLUMNS and i not in sealed]
            sql = f"COPY {model._meta.db_table} ({', '.join(columns)}) FROM STDIN"
            with cursor.cursor.copy(sql) as copy:
                for row in data:
                    if as_json or sealed:
                        values = list(row)
                        for i in as_json:
                            values[i] = dumps(values[i])
                        for i, field in sealed.items():
                            values[i] = field.column_text(values[i])
                        copy.write_row(values)
                    else:
                        copy.write_row(row)


def _superuser() -> bool:
    with connection.cursor() as cursor:
        cursor.execute("SELECT rolsuper FROM pg_roles WHERE rolname = current_user")
        return bool(cursor.fetchone()[0])


class _Writer:
    """Writes batches on a thread (and connection) of its own while the next batch is being
    simulated: the database works on one core while Python works on the other."""

    def __init__(self, write: Callable[[_Rows], None]) -> None:
        self.write, self.seconds = write, 0.0
        self.error: Exception | None = None  # the write's, re-raised in the caller's thread
        self.queue: queue.Queue[_Rows | None] = queue.Queue(maxsize=1)
        self.thread = threading.Thread(target=self._run, name="synthetic-writer", daemon=True)
        self.thread.start()

    def _run(self) -> None:
        try:
            while (rows := self.queue.get()) is not None:
                if self.error is None:  # after a failure, drain so put() never blocks
                    lap = time.perf_counter()
                    try:
                        self.write(rows)
                    except Exception as exc:  # re-raised in the caller's thread
                        self.error = exc
                    self.seconds += time.perf_counter() - lap
        finally:
            connection.close()

    def put(self, rows: _Rows) -> None:
        if self.error is not None:
            raise self.error
        self.queue.put(rows)

    def close(self, *, raising: bool = True) -> None:
        self.queue.put(None)
        self.thread.join()
        if raising and self.error is not None:
            raise self.error
