"""Retention: per vertical, the PII of leads older than ``VerticalPrivacy.retention_days``
is purged by a periodic job (``pii-retention`` in the beat schedule), leaving the non-PII
facts the reports count.

The purge uses the erasure's scrub (``leads_scrub``) and marks the leads the same way
(``erased_at``), but it is not an erasure: the consumer is not suppressed (a new lead of
them is welcome), and the buyers' purchase records of the consumer that are still running
stay until they expire. Only final leads are purged: a lead still in its auction is left to
finish and purged by a later run.

Work is bounded: ``PRIVACY_ERASE_BATCH`` leads per short transaction (PostgreSQL: rows
another transaction holds are skipped, not waited for), at most ``RETENTION_MAX_BATCHES``
batches per run; a vertical left unfinished is continued by the next run. A
``RetentionMark`` per vertical remembers where the purged leads end, so a run does not read
them again.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Min
from django.utils import timezone

from apps.core.logging import kv
from apps.leads.models import FINAL_STATUSES, Lead, VerticalPrivacy
from apps.privacy.models import RetentionMark
from apps.privacy.scrub import Schemas, leads_scrub, scrub_batch_size

logger = logging.getLogger(__name__)


@dataclass
class RetentionRun:
    """What one run of the purge did: leads purged by vertical slug (every vertical it got
    to, 0 included), and whether it got through all of them (False: the batch budget ran
    out, the next run continues)."""

    purged: dict[str, int] = field(default_factory=dict)
    finished: bool = True

    @property
    def total(self) -> int:
        return sum(self.purged.values())


def retention_purge(*, now: datetime | None = None) -> RetentionRun:
    """Purge the PII of every final lead received more than its vertical's
    ``retention_days`` before ``now`` (default: the current time) that still holds it, a
    batch per transaction, verticals in id order, within ``RETENTION_MAX_BATCHES`` batches.
    Idempotent: a purged lead is not read again; a second run right after purges 0. Raises
    nothing of its own (a database error propagates; the committed batches stay done)."""
    now = now or timezone.now()
    run = RetentionRun()
    schemas: Schemas = {}
    budget = int(settings.RETENTION_MAX_BATCHES)
    # 0 would purge every final lead at once: the forms refuse it, and so does this filter
    kept_days = (VerticalPrivacy.objects.filter(retention_days__gte=1).order_by("vertical_id")
                 .values_list("vertical_id", "vertical__slug", "retention_days"))
    for vertical_id, slug, days in kept_days:
        if days is None:  # excluded by the filter; for the type checker
            continue
        purged, budget, done = _vertical_purge(vertical_id, now - timedelta(days=days), budget,
                                               schemas)
        run.purged[slug] = purged
        if purged:
            logger.info(kv("privacy.retention_purged", vertical=slug, leads=purged, days=days,
                           finished=done))
        if not done:
            run.finished = False
            break
    logger.info(kv("privacy.retention_run", leads=run.total, verticals=len(run.purged),
                   finished=run.finished))
    return run


def _vertical_purge(vertical_id: int, cutoff: datetime, budget: int,
                    schemas: Schemas) -> tuple[int, int, bool]:
    """Purge one vertical's leads received before ``cutoff`` within ``budget`` batches;
    returns (leads purged, batches left, whether none is left to purge now)."""
    mark = RetentionMark.objects.filter(vertical_id=vertical_id).values_list(
        "scanned_before", flat=True).first()
    holding = Lead.objects.filter(vertical_id=vertical_id, received_at__lt=cutoff,
                                  erased_at__isnull=True)
    if mark is not None:
        holding = holding.filter(received_at__gte=mark)
    size, purged = scrub_batch_size(), 0
    while budget > 0:
        budget -= 1
        with transaction.atomic():
            batch = list(holding.filter(status__in=FINAL_STATUSES)
                         .select_for_update(skip_locked=True)
                         .order_by("received_at", "pk")[:size])
            if batch:
                leads_scrub(batch, schemas, consumer_gone=False)
                purged += len(batch)
        if len(batch) < size:
            break
    else:
        return purged, budget, False
    # What is left before the cutoff (a lead still in its auction, one another transaction
    # held) keeps the mark from passing it; the mark never moves back (a longer retention
    # set later finds the older leads purged already).
    left = holding.aggregate(first=Min("received_at"))["first"]
    scanned = left or (max(cutoff, mark) if mark is not None else cutoff)
    RetentionMark.objects.update_or_create(vertical_id=vertical_id,
                                           defaults={"scanned_before": scanned})
    return purged, budget, True
