"""Lead capture: validate → normalize → enrich → de-duplicate → store (→ auction).

``lead_capture`` is the one entry point used by the API. It returns the HTTP answer as data
(status and body) instead of raising for bad input, because a rejected or duplicate
submission is still stored for reporting and its answer may be replayed by idempotency.
"""

from __future__ import annotations

import logging
import time
from concurrent.futures import FIRST_COMPLETED, Future, wait
from dataclasses import dataclass, replace
from datetime import datetime
from functools import partial
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from apps.core.dbconn import db_release
from apps.core.dispatch import background_submit, task_enqueue
from apps.core.exceptions import ApplicationError
from apps.core.handoff import handoff_send
from apps.core.logging import kv
from apps.core.sql import sql_insert_prepare
from apps.leads.consumers import consumer_keys, consumer_suppressed
from apps.leads.dedupe import dedupe_claim, dedupe_keys
from apps.leads.enrich import zip_lookup
from apps.leads.intake import envelope_validate, fields_validate, ignored_keys
from apps.leads.models import Lead, LeadStatus
from apps.sources.models import CaptureMode, FieldType, Source, SourceApiKey, Vertical
from apps.sources.selectors import vertical_for_source

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class CaptureAnswer:
    status_code: int
    body: dict[str, Any]
    lead: Lead
    # the submission's keys the platform did not use (apps.leads.intake.ignored_keys)
    ignored_fields: tuple[str, ...] = ()


def lead_capture(
    *,
    source: Source,
    api_key: SourceApiKey | None,
    data: dict[str, Any],
    client_ip: str | None,
) -> CaptureAnswer:
    """Capture one submission from ``source``.

    Answers 202 (stored, status ``received``), 400 (stored as ``rejected``; every bad key
    named), or 409: ``suppressed`` (the consumer's e-mail or phone is on the suppression list
    and the vertical enforces it; stored without its PII fields) or ``duplicate`` (stored with
    ``duplicate_of``); a 202 or 409 carries the keys it did not use in ``ignored_fields``.
    Raises ApplicationError 403 when the source may not post to the vertical. Writes nothing
    else on any path. Every stored lead carries its consumer's keyed digests.
    """
    envelope, errors = envelope_validate(data)
    slug = data.get("vertical") if isinstance(data.get("vertical"), str) else None
    vertical, allowed = vertical_for_source(slug, source) if slug else (None, False)
    if slug and vertical is None and "vertical" not in errors:
        errors["vertical"] = [f"Unknown vertical '{slug}'."]
    if vertical is not None and not allowed:
        raise ApplicationError(
            f"This source may not submit '{vertical.slug}' leads.",
            status_code=403, code="vertical_not_allowed",
        )

    raw_fields = data.get("fields")
    schema = list(vertical.fields.all()) if vertical is not None else []
    checked = fields_validate(schema, raw_fields if isinstance(raw_fields, dict) else {})
    errors.update(checked.errors)

    keys = consumer_keys(schema, checked.clean)  # in Python: no query, set on the insert
    lead = Lead(
        source=source, api_key=api_key, vertical=vertical, client_ip=client_ip,
        fields=checked.clean, email_digest=keys.email, phone_digest=keys.phone,
        sub_id=data["sub_id"] if isinstance(data.get("sub_id"), str) else "",
    )
    if errors or envelope is None or vertical is None:  # no vertical is always an error too
        return _reject(lead, errors)

    _fill_envelope(lead, envelope)
    if consumer_suppressed(vertical=vertical, keys=keys):
        return replace(_suppress(lead, schema),
                       ignored_fields=tuple(ignored_keys(data, (f.key for f in schema))))
    _enrich(lead, schema)
    return replace(_store(lead, vertical),
                   ignored_fields=tuple(ignored_keys(data, (f.key for f in schema))))


def _fill_envelope(lead: Lead, envelope: dict[str, Any]) -> None:
    lead.sub_id = envelope.get("sub_id", "")
    lead.sub_ids = envelope.get("sub_ids", {})
    lead.consent = {k: v for k, v in dict(envelope.get("consent", {})).items() if v != ""}
    if "one_to_one" in lead.consent and "consented_at" not in lead.consent:
        lead.consent["consented_at"] = timezone.now().isoformat()  # evidence needs a time
    lead.is_test = envelope.get("test", False)
    lead.consumer_ip = envelope.get("ip_address")
    lead.user_agent = envelope.get("user_agent", "")


def _enrich(lead: Lead, schema: list) -> None:
    """City/state/county/time zone from the ZIP (offline table). A missing city or state field
    is filled in; a state that disagrees with the ZIP is flagged, not changed."""
    zip_key = next((f.key for f in schema if f.type == FieldType.ZIP), None)
    info = zip_lookup(lead.fields[zip_key]) if zip_key and zip_key in lead.fields else None
    if info is None:
        return
    lead.enrichment = {"city": info.city, "state": info.state, "county": info.county,
                       "timezone": info.timezone}
    keys = {f.key for f in schema}
    for name, value in (("city", info.city), ("state", info.state)):
        if name in keys and name not in lead.fields:
            lead.fields[name] = value
    if lead.fields.get("state") not in (None, info.state):
        lead.enrichment["state_mismatch"] = True


def _completed_now(lead: Lead) -> datetime:
    """The moment a lead decided at capture completes: now, read after the insert stamped
    ``received_at`` (``auto_now_add``), and never before it even if the wall clock stepped
    back in between — reports subtract the two."""
    return max(timezone.now(), lead.received_at)


def _reject(lead: Lead, errors: dict[str, list[str]]) -> CaptureAnswer:
    lead.status, lead.errors, lead.message = LeadStatus.REJECTED, errors, "Invalid input."
    with transaction.atomic():
        lead.save()
        lead.completed_at = _completed_now(lead)
        lead.save(update_fields=["completed_at"])
    logger.info(kv("lead.rejected", lead=lead.uuid, source=lead.source_id,
                   bad_fields=",".join(sorted(errors))))
    return CaptureAnswer(400, {"errors": errors, "id": str(lead.uuid)}, lead)


SUPPRESSED_DETAIL = "This consumer asked not to be contacted (suppression list)."


def _suppress(lead: Lead, schema: list) -> CaptureAnswer:
    """Store the refusal for the reports, without what identifies the consumer (the PII
    fields, the consumer's IP and browser, the consent tokens): only its digests."""
    private = pii_keys(schema)
    lead.fields = {k: v for k, v in lead.fields.items() if k not in private}
    lead.consumer_ip, lead.user_agent, lead.consent = None, "", {}
    lead.status, lead.message = LeadStatus.SUPPRESSED, "Suppressed consumer."
    lead.errors = {"suppressed": [SUPPRESSED_DETAIL]}
    with transaction.atomic():
        lead.save()
        lead.completed_at = _completed_now(lead)
        lead.save(update_fields=["completed_at"])
    logger.info(kv("lead.suppressed", lead=lead.uuid, source=lead.source_id))
    return CaptureAnswer(409, {"status": "suppressed", "id": str(lead.uuid),
                               "detail": SUPPRESSED_DETAIL}, lead)


def pii_keys(schema: list) -> frozenset[str]:
    """The keys of a vertical's fields that identify a person: its ``pii`` fields, and every
    e-mail and phone field even if the flag was forgotten."""
    return frozenset(f.key for f in schema
                     if f.pii or f.type in (FieldType.EMAIL, FieldType.PHONE))


def _store(lead: Lead, vertical: Vertical) -> CaptureAnswer:
    now = timezone.now()
    keys = dedupe_keys(vertical=vertical, source_id=lead.source_id, fields=lead.fields,
                       is_test=lead.is_test, now=now)
    # The lead's values (sealed, JSON) are worked out before the transaction: on SQLite it
    # holds the database's one write turn, which every capture in every process waits for.
    insert = sql_insert_prepare(lead)  # the ORM's insert, built once (every capture stores one)
    with transaction.atomic():
        insert.run()
        holder = dedupe_claim(lead=lead, keys=keys, now=now)
        if holder is not None:
            lead.status, lead.duplicate_of = LeadStatus.DUPLICATE, holder
            lead.message, lead.completed_at = "Duplicate lead.", _completed_now(lead)
            lead.save(update_fields=["status", "duplicate_of", "message", "completed_at"])
    if holder is not None:
        logger.info(kv("lead.duplicate", lead=lead.uuid, source=lead.source_id,
                       duplicate_of=holder.uuid))
        return CaptureAnswer(409, {"status": "duplicate", "duplicate_of": str(holder.uuid),
                                   "id": str(lead.uuid), "detail": "Duplicate lead."}, lead)
    logger.info(kv("lead.received", lead=lead.uuid, source=lead.source_id,
                   vertical=vertical.slug, test=lead.is_test))
    return CaptureAnswer(202, _pending_body(lead), lead)


def lead_dispatch(lead: Lead, *, mode: str, deadline: float,
                  ping_id: int | None = None) -> CaptureAnswer:
    """Start the auction of a freshly received lead and answer the source.

    ``async``: queued, ``202`` at once. ``sync``: wait for the outcome until ``deadline``
    (``time.monotonic()``, the end of the source's budget): ``200`` with ``sold``/``unsold``
    and the payout (never the buyer or its price), or ``202 auctioning`` when the budget ran
    out first — the auction then finishes in the background and the status URL tells.
    ``ping_id``: the source pinged this lead first; its auction starts from that ping's
    reserved ranking.
    """
    # The auction is reached only through its task: queued (async), or its body run here
    # (sync) with the source's deadline — ``.run`` skips Celery's request bookkeeping
    # (~15 µs), which an in-process call does not need.
    from apps.auctions.tasks import auction_run_task

    if mode == CaptureMode.ASYNC:
        task_enqueue(auction_run_task, lead.pk)  # a pinged lead is always answered sync
        return CaptureAnswer(202, _pending_body(lead), lead)
    decided: Lead | None = None
    if settings.RUN_TASKS_INLINE:
        decided = auction_run_task.run(lead.pk, deadline=deadline, ping_id=ping_id)
    elif settings.SYNC_AUCTION_EXECUTOR != "celery" or not _on_worker(lead, deadline, ping_id):
        # here, on the auction pool (a worker's outcome is read from the database below);
        # the answer waits for the outcome, not for the auction's bookkeeping after it
        outcome: Future[Lead] = Future()
        future = background_submit(
            partial(auction_run_task.run, deadline=deadline, ping_id=ping_id,
                    on_decided=outcome.set_result), lead.pk)
        db_release()  # the wait is for the network, not for the database
        wait((outcome, future), timeout=max(0.0, deadline - time.monotonic()),
             return_when=FIRST_COMPLETED)  # out of budget: answer 202, the auction goes on
        if outcome.done():
            decided = outcome.result()
        elif future.done():  # it ended undecided (another process had claimed it) or raised
            decided = future.result()
    if decided is not None:  # the auction's own read of the lead once it was decided
        lead = decided
    else:
        lead.refresh_from_db()
    if lead.status in (LeadStatus.SOLD, LeadStatus.UNSOLD):
        return CaptureAnswer(200, {
            "id": str(lead.uuid), "status": lead.status,
            "payout": f"{lead.payout or 0:.2f}", "message": lead.message,
        }, lead)
    return CaptureAnswer(202, _pending_body(lead), lead)


def _on_worker(lead: Lead, deadline: float, ping_id: int | None) -> bool:
    """Run the auction on a Celery worker and wait for it until ``deadline``; False when no
    broker took it (the caller runs it here: a sync lead is never left waiting for one)."""
    from apps.auctions.tasks import auction_run_task

    db_release()  # the wait is for the worker, not for the database
    try:
        handoff_send(auction_run_task, lead.pk, ping_id=ping_id,
                     deadline_at=time.time() + (deadline - time.monotonic()),
                     wait_s=deadline - time.monotonic())
    except Exception as error:  # the broker is down: the web process runs it itself
        logger.warning(kv("lead.handoff_failed", lead=lead.uuid, error=type(error).__name__))
        return False
    return True


def _pending_body(lead: Lead) -> dict[str, Any]:
    return {"id": str(lead.uuid), "status": lead.status, "status_url": lead.get_absolute_url()}
