"""``Idempotency-Key``: the same key and body get the same answer, without a second lead.

The record is inserted (and committed) *before* the work, so the database's unique index
decides which of several concurrent twins does the work; the others wait for its answer and
replay it. A different body under a used key is a 409. If the worker fails with an exception
its record is deleted so the client may retry with the same key.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from apps.core.exceptions import ApplicationError
from apps.core.pii import pii_key
from apps.leads.models import IdempotencyRecord
from apps.sources.models import Source

Answer = tuple[int, dict[str, Any]]

_POLL_FIRST, _POLL_MAX = 0.01, 0.1


def request_fingerprint(data: Any) -> str:
    """A keyed digest (HMAC-SHA256 under ``PII_DIGEST_KEY``) of the parsed request body: key
    order and whitespace do not matter, and a body that holds a consumer's data cannot be
    confirmed by guessing it without the key."""
    canonical = json.dumps(data, sort_keys=True, separators=(",", ":"), default=str)
    return hmac.new(pii_key(), canonical.encode(), hashlib.sha256).hexdigest()


def idempotent_call(*, source: Source, key: str, fingerprint: str, work: Callable[[], Answer]
                    ) -> Answer:
    """Run ``work`` once per ``(source, key)``; return its answer, or the stored answer of the
    first call. Raises ApplicationError 409 on a different body or a twin still running after
    ``IDEMPOTENCY_WAIT_SECONDS``."""
    deadline = time.monotonic() + settings.IDEMPOTENCY_WAIT_SECONDS
    pause = _POLL_FIRST
    while True:
        record = _record_insert(source, key, fingerprint)
        if record is not None:
            return _record_run(record, work)
        existing = IdempotencyRecord.objects.filter(source=source, key=key).first()
        if existing is None:
            continue  # the first call failed and released the key: take it
        if existing.fingerprint != fingerprint:
            raise ApplicationError(
                "This Idempotency-Key was already used with a different request body.",
                status_code=409, code="idempotency_conflict",
            )
        answer = _stored_answer(existing)
        if answer is not None:
            return answer
        if time.monotonic() >= deadline:
            raise ApplicationError(
                "A request with this Idempotency-Key is still being processed; retry later.",
                status_code=409, code="idempotency_in_progress", headers={"Retry-After": "1"},
            )
        time.sleep(pause)
        pause = min(pause * 2, _POLL_MAX)


def _record_insert(source: Source, key: str, fingerprint: str) -> IdempotencyRecord | None:
    expired = timezone.now() - timedelta(hours=settings.IDEMPOTENCY_TTL_HOURS)
    IdempotencyRecord.objects.filter(source=source, key=key, created_at__lt=expired).delete()
    try:
        with transaction.atomic():
            return IdempotencyRecord.objects.create(
                source=source, key=key, fingerprint=fingerprint
            )
    except IntegrityError:
        return None


def _stored_answer(record: IdempotencyRecord) -> Answer | None:
    """The answer a completed record replays, or None while its first call is running
    (``_record_run`` writes the three columns together)."""
    if record.completed_at is None or record.status_code is None or record.response is None:
        return None
    return record.status_code, record.response


def _record_run(record: IdempotencyRecord, work: Callable[[], Answer]) -> Answer:
    try:
        status_code, body = work()
    except BaseException:
        record.delete()
        raise
    record.status_code, record.response, record.completed_at = status_code, body, timezone.now()
    record.save(update_fields=["status_code", "response", "completed_at"])
    return status_code, body
