"""De-duplication: exact under concurrency because the database arbitrates.

Two rules (SPEC §3):
- the vertical's rule: the same consumer (its ``dedupe_fields``, any or all of them) inside
  ``dedupe_window_days``, whichever source sent it;
- resubmission: the same fields from the same source inside ``LEAD_RESUBMIT_WINDOW_SECONDS``.

Each rule becomes a claim key — a keyed digest (HMAC-SHA256 under ``PII_DIGEST_KEY``,
apps.core.pii), so no e-mail or phone is stored twice, and nobody without the key can confirm a
guessed address against a stored key — and a new lead must insert every key into
``DedupeClaim`` (unique). Of two identical leads inserted at the same moment the database lets
exactly one win; the loser sees the winner's claim. An expired claim is taken over with a
conditional UPDATE, which is just as exclusive.
Test leads get their own key space so they never block real traffic.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import connection

from apps.core.pii import pii_key
from apps.core.sql import sql_datetime, sql_rows
from apps.leads.models import DedupeClaim, Lead
from apps.sources.models import DedupeMatch, Vertical


@dataclass(frozen=True)
class ClaimKey:
    key: str
    expires_at: datetime


def _digest(*parts: object) -> str:
    message = "\x1f".join(str(p) for p in parts).encode()
    return hmac.new(pii_key(), message, hashlib.sha256).hexdigest()


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
    live claim (then none of this lead's claims are kept). Must run inside a transaction.

    One statement claims every free key (``INSERT … ON CONFLICT DO NOTHING RETURNING``: of
    two leads inserting the same key at once the database lets one in and the other wait for
    it); only a key already taken costs more — taking it over when expired, else reading its
    holder. No savepoints: a duplicate deletes the claims it made."""
    won = _claims_insert(lead, keys)
    for claim in keys:
        if claim.key in won:
            continue
        holder = _claim_taken(lead, claim, now)
        if holder is not None:
            DedupeClaim.objects.filter(lead=lead).delete()  # none of this lead's claims stay
            return holder
    return None


def _claims_insert(lead: Lead, keys: list[ClaimKey]) -> set[str]:
    """Insert the claims that are free, in key order; the keys inserted."""
    if not keys:
        return set()
    table, key = DedupeClaim._meta.db_table, connection.ops.quote_name("key")
    values = ", ".join(["(%s, %s, %s)"] * len(keys))
    params: list[object] = []
    for claim in keys:
        params += [claim.key, lead.pk, sql_datetime(claim.expires_at)]
    rows = sql_rows(f"INSERT INTO {table} ({key}, lead_id, expires_at) "  # noqa: S608
                    f"VALUES {values} ON CONFLICT ({key}) DO NOTHING RETURNING {key}", params)
    return {key for (key,) in rows}


def _claim_taken(lead: Lead, claim: ClaimKey, now: datetime) -> Lead | None:
    """A key another lead claimed: take it over if the claim expired (None), else its
    holder."""
    taken_over = DedupeClaim.objects.filter(key=claim.key, expires_at__lte=now).update(
        lead=lead, expires_at=claim.expires_at
    )
    if taken_over:
        return None
    existing = DedupeClaim.objects.select_related("lead").filter(key=claim.key).first()
    # The holder may have been deleted between our insert and this read; then try again.
    if existing is None:
        return None if _claims_insert(lead, [claim]) else _claim_taken(lead, claim, now)
    return existing.lead
