"""De-duplication: exact under concurrency because the database arbitrates.

Two rules (SPEC §3):
- the vertical's rule: the same consumer (its ``dedupe_fields``, any or all of them) inside
  ``dedupe_window_days``, whichever source sent it;
- resubmission: the same fields from the same source inside ``LEAD_RESUBMIT_WINDOW_SECONDS``.

Each rule becomes a claim key — a SHA-256 digest, so no e-mail or phone is stored twice — and a
new lead must insert every key into ``DedupeClaim`` (unique). Of two identical leads inserted
at the same moment the database lets exactly one win; the loser sees the winner's claim. An
expired claim is taken over with a conditional UPDATE, which is just as exclusive.
Test leads get their own key space so they never block real traffic.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import IntegrityError, transaction

from apps.leads.models import DedupeClaim, Lead
from apps.sources.models import DedupeMatch, Vertical


@dataclass(frozen=True)
class ClaimKey:
    key: str
    expires_at: datetime


def _digest(*parts: object) -> str:
    return hashlib.sha256("\x1f".join(str(p) for p in parts).encode()).hexdigest()


def dedupe_keys(
    *, vertical: Vertical, source_id: int, fields: dict, is_test: bool, now: datetime
) -> list[ClaimKey]:
    """The claim keys a new lead must own, in a fixed order (so concurrent claimers lock
    rows in the same order and cannot deadlock)."""
    space = "test" if is_test else "live"
    keys = [
        ClaimKey(
            _digest(space, "payload", source_id, vertical.pk,
                    json.dumps(fields, sort_keys=True, default=str)),
            now + timedelta(seconds=settings.LEAD_RESUBMIT_WINDOW_SECONDS),
        )
    ]
    if vertical.dedupe_window_days and vertical.dedupe_fields:
        expires = now + timedelta(days=vertical.dedupe_window_days)
        present = [(name, fields[name]) for name in vertical.dedupe_fields if name in fields]
        if vertical.dedupe_match == DedupeMatch.ALL:
            if len(present) == len(vertical.dedupe_fields):
                keys.append(ClaimKey(_digest(space, "consumer", vertical.pk, present), expires))
        else:
            keys.extend(
                ClaimKey(_digest(space, "consumer", vertical.pk, name, value), expires)
                for name, value in present
            )
    return sorted(keys, key=lambda claim: claim.key)


def consumer_digests(vertical: Vertical, fields: dict) -> list[str]:
    """Digests identifying the consumer of a lead (one per dedupe field present), used to
    remember which buyers bought whom without storing the e-mail or phone again."""
    return [_digest("buyer", vertical.pk, name, fields[name])
            for name in vertical.dedupe_fields if name in fields]


def dedupe_claim(*, lead: Lead, keys: list[ClaimKey], now: datetime) -> Lead | None:
    """Claim every key for ``lead``. Returns None when all were won, or the lead that holds a
    live claim (then none of this lead's claims are kept). Must run inside a transaction."""
    with transaction.atomic():  # a savepoint: on a duplicate, drop the keys claimed so far
        for claim in keys:
            holder = _claim_one(lead, claim, now)
            if holder is not None:
                transaction.set_rollback(True)
                return holder
    return None


def _claim_one(lead: Lead, claim: ClaimKey, now: datetime) -> Lead | None:
    try:
        with transaction.atomic():
            DedupeClaim.objects.create(key=claim.key, lead=lead, expires_at=claim.expires_at)
        return None
    except IntegrityError:
        pass
    taken_over = DedupeClaim.objects.filter(key=claim.key, expires_at__lte=now).update(
        lead=lead, expires_at=claim.expires_at
    )
    if taken_over:
        return None
    existing = DedupeClaim.objects.select_related("lead").filter(key=claim.key).first()
    # The holder may have been deleted between our insert and this read; then retry once.
    if existing is None:
        return _claim_one(lead, claim, now)
    return existing.lead
