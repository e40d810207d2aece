"""A short-lived per-process cache of rows that change rarely and are read on hot paths."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Hashable
from typing import Any, TypeVar

from django.db.models import Model

M = TypeVar("M", bound=Model)
T = TypeVar("T")
TTL_S = 10.0
_lock = threading.Lock()
_rows: dict[tuple[type, int], tuple[float, Model]] = {}
_values: dict[Hashable, tuple[float, Any]] = {}


def cached_row(model: type[M], pk: int, *, ttl: float = TTL_S) -> M:
    """``model`` row ``pk``, at most ``ttl`` seconds old. For settings-like rows only (a
    vertical's floor, a source's budget): never for counters, caps or health, which are
    always read fresh, and never for money written to the books (re-read it there)."""
    now = time.monotonic()
    key = (model, pk)
    with _lock:
        hit = _rows.get(key)
    if hit is not None and hit[0] > now and isinstance(hit[1], model):
        return hit[1]
    row = model._default_manager.get(pk=pk)
    with _lock:
        _rows[key] = (now + ttl, row)
    return row


def cached_value(key: Hashable, load: Callable[[], T], *, ttl: float = TTL_S) -> T:
    """What ``load()`` returned for ``key``, at most ``ttl`` seconds ago: a settings-like
    read of several rows (a source's webhook endpoints), same rules as ``cached_row``.
    ``cached_value_forget(key)`` drops it in this process when this process changes it."""
    now = time.monotonic()
    with _lock:
        hit = _values.get(key)
    if hit is not None and hit[0] > now:
        return hit[1]
    value = load()
    with _lock:
        _values[key] = (now + ttl, value)
    return value


def cached_value_forget(key: Hashable) -> None:
    with _lock:
        _values.pop(key, None)


def cached_rows_clear() -> None:
    with _lock:
        _rows.clear()
        _values.clear()
