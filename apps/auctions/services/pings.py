"""Source-side ping-post: ``source_ping`` (step one, non-PII fields) and ``ping_post``
(step two, the full lead).

A ping runs the same auction pieces as a lead's first round — eligibility, the parallel ping
round under a deadline (the source's ping budget), ranking — and holds what it found in the
database until ``expires_at``: the ranking with the buyers' ping tokens (``SourcePing``) and
the cap room of the best offer (``CapHold``, counted by every cap check). The post goes
through the capture pipeline (validation, dedupe) and then ``auction_run`` from that
ranking, so the reserved winner gets the post with its token, fallback and the secondary
re-ping work as for any lead, and the source is paid what the ping promised when the
reserved buyer takes it.
"""

from __future__ import annotations

import logging
import random
import time
import uuid
from collections.abc import Sequence
from datetime import timedelta
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.utils import timezone

from apps.auctions.caps import cap_hold, cap_holds_release
from apps.auctions.engine import LeadFacts, Offer, post_plan, rank_bids, select_eligible
from apps.auctions.health import health_observe
from apps.auctions.models import SourcePing, SourcePingStatus
from apps.auctions.services.consent import picks_check, ping_brands, taking_part
from apps.auctions.services.pinging import ping_round
from apps.auctions.services.reserved import round_dump
from apps.auctions.services.run import auction_floor
from apps.auctions.setups import ContractSetup, contract_setups, vertical_pii_keys
from apps.core.exceptions import ApplicationError, FieldErrors
from apps.core.logging import kv
from apps.leads.intake import envelope_validate, fields_validate
from apps.leads.services import lead_capture, lead_dispatch
from apps.sources.models import CaptureMode, PingMode, Source, SourceApiKey, Vertical
from apps.sources.selectors import vertical_for_source

logger = logging.getLogger(__name__)

Answer = tuple[int, dict[str, Any]]
_POLL_FIRST, _POLL_MAX = 0.01, 0.1


def source_ping(*, source: Source, data: Any) -> SourcePing:
    """Ping the buyers with ``data`` (``vertical``, non-PII ``fields``, ``sub_id``, ``test``)
    and return the stored ping: ``bid`` with the source's payout and the room held until
    ``expires_at``, or ``no_bid``. Answers within the source's ping budget however slow the
    buyers are. Raises FieldErrors (400: every bad key named, a PII field among them),
    ApplicationError 403 (source may not ping, or not this vertical)."""
    if source.ping_mode == PingMode.POST_ONLY:
        raise ApplicationError("This source posts leads directly; pings are not enabled.",
                               status_code=403, code="ping_not_allowed")
    vertical, fields, sub_id, is_test, one_to_one = _ping_validate(source, data)
    started, t0 = timezone.now(), time.monotonic()
    ping_deadline = t0 + max(0.05, (source.ping_budget_ms - settings.AUCTION_RESERVE_MS) / 1000)
    public_id = uuid.uuid4()
    setups = {s.terms.id: s for s in contract_setups(vertical.pk, started)}
    # one-to-one consent: only the contracts that take part are pinged (and listed)
    facts = LeadFacts(fields=fields, source_id=source.pk, sub_id=sub_id, is_test=is_test,
                      floor=auction_floor(vertical, source),
                      consent_brands=taking_part(setups) if one_to_one else None)
    rng = random.Random()
    eligibility = select_eligible(facts, [s.terms for s in setups.values()
                                          if not s.terms.is_secondary],
                                  now=started, rng=rng)
    context = {"lead.id": str(public_id), "source.id": source.pk, "sub_id": sub_id,
               "test": is_test, "now": started.isoformat()}
    results, observations = ping_round([setups[t.id] for t in eligibility.eligible], fields,
                                       context, deadline=ping_deadline,
                                       sealed=vertical_pii_keys(vertical.pk))
    terms = {t.id: t for t in eligibility.eligible}
    ranking = rank_bids([r.bid for r in results if r.bid is not None], terms,
                        floor=facts.floor, rng=rng)
    bids_at = timezone.now()
    expires_at = bids_at + timedelta(seconds=source.ping_ttl_seconds)
    ping = SourcePing.objects.create(
        uuid=public_id, source=source, vertical=vertical, fields=fields, sub_id=sub_id,
        is_test=is_test, status=SourcePingStatus.NO_BID, started_at=started, bids_at=bids_at,
        expires_at=expires_at)
    promised = _reserve(ping, post_plan(ranking), setups, source, bids_at)
    if promised is not None:
        ping.status, ping.bid = SourcePingStatus.BID, promised[1]
    ping.round = round_dump(results, eligibility.excluded, ranking,
                            promised[0] if promised else {})
    if one_to_one:
        ping.round["brands"] = ping_brands(ranking, setups) if promised else []
    ping.save(update_fields=["status", "bid", "round"])
    health_observe(observations)
    logger.info(kv("ping.answered", ping=ping.uuid, source=source.pk, vertical=vertical.slug,
                   eligible=len(eligibility.eligible), bids=len(ranking.ranked),
                   status=ping.status))
    return ping


def _ping_validate(source: Source, data: Any
                   ) -> tuple[Vertical, dict[str, Any], str, bool, bool]:
    if not isinstance(data, dict):
        raise FieldErrors({"body": ["Expected a JSON object."]})
    errors: dict[str, list[str]] = {}
    slug, raw = data.get("vertical"), data.get("fields", {})
    sub_id, is_test = data.get("sub_id", ""), data.get("test", False)
    one_to_one = data.get("one_to_one", False)
    if not isinstance(one_to_one, bool):
        errors["one_to_one"] = ["Must be a valid boolean."]
    vertical, allowed = (vertical_for_source(slug, source) if isinstance(slug, str) and slug
                         else (None, False))
    if not isinstance(slug, str) or not slug:
        errors["vertical"] = ["This field is required."]
    elif vertical is None:
        errors["vertical"] = [f"Unknown vertical '{slug}'."]
    if not isinstance(raw, dict):
        errors["fields"] = ["Expected an object of field values."]
        raw = {}
    if not isinstance(sub_id, str) or len(sub_id) > 255:
        errors["sub_id"] = ["A string of at most 255 characters."]
    if not isinstance(is_test, bool):
        errors["test"] = ["Must be a valid boolean."]
    if vertical is None:
        raise FieldErrors(errors or {"vertical": ["This field is required."]})
    if not allowed:
        raise ApplicationError(f"This source may not submit '{vertical.slug}' leads.",
                               status_code=403, code="vertical_not_allowed")
    schema = list(vertical.fields.all())
    for spec in schema:
        if spec.pii and raw.get(spec.key) not in (None, ""):
            errors[f"fields.{spec.key}"] = [
                "Personal data is not allowed in a ping: send it with the post."]
    checked = fields_validate([f for f in schema if not f.pii], raw, ping=True)
    errors.update({k: v for k, v in checked.errors.items() if k not in errors})
    if errors:
        raise FieldErrors(errors)
    return (vertical, checked.clean, sub_id if isinstance(sub_id, str) else "", bool(is_test),
            one_to_one is True)


def _reserve(ping: SourcePing, plan: Sequence[Offer], setups: dict[int, ContractSetup],
             source: Source, now) -> tuple[dict[int, Decimal], Decimal] | None:
    """Hold the cap room of the best offer whose room is still free (another lead may have
    taken it since eligibility read the caps); the payout promised per reserved contract and
    the ping's bid (what the source earns), or None when no offer could be held."""
    for offer in plan:
        held = ping.is_test or all(
            cap_hold(setups[r.terms.id].caps, price=r.bid.amount, now=now, ping_id=ping.pk,
                     contract_id=r.terms.id, expires_at=ping.expires_at)
            for r in offer.bids)
        if not held:
            cap_holds_release(ping.pk)
            continue
        total = sum((r.bid.amount for r in offer.bids), Decimal(0))
        payout = Decimal(0) if ping.is_test else source.payout_for(total)
        return {r.terms.id: payout for r in offer.bids if not offer.shared}, payout
    return None


def ping_post(*, source: Source, api_key: SourceApiKey | None, ping_id: Any, data: Any,
              client_ip: str | None, deadline: float) -> Answer:
    """Post the full lead of ping ``ping_id``: the answer of a sync lead (``200`` sold or
    unsold with the payout, ``202`` when ``deadline`` passed first), or the capture's 400 /
    409 duplicate. A second post of the same ping replays the first answer. Raises
    ApplicationError 404 (no such ping of this source), 410 ``ping_expired``, 409
    ``ping_mismatch`` (naming the fields that differ from the ping) or
    ``ping_post_in_progress``."""
    ping = SourcePing.objects.select_related("vertical").filter(
        uuid=ping_id, source=source).first()
    if ping is None:
        raise ApplicationError("No ping of yours has this id.", status_code=404,
                               code="not_found")
    if not isinstance(data, dict):
        raise FieldErrors({"body": ["Expected a JSON object."]})
    data = {"vertical": ping.vertical.slug, **data}
    _, errors = envelope_validate(data)
    if errors:  # a malformed post is a 400, whatever became of the ping
        raise FieldErrors(errors)
    if ping.posted_at is None:
        if ping.expires_at <= timezone.now():
            cap_holds_release(ping.pk)
            raise ApplicationError("This ping expired; ping again.", status_code=410,
                                   code="ping_expired",
                                   extra={"expires_at": ping.expires_at.isoformat()})
        differing = _mismatches(ping, data)
        if differing:
            raise ApplicationError(
                f"The post differs from the ping in: {', '.join(differing)}.",
                status_code=409, code="ping_mismatch", extra={"fields": differing})
        if "brands" in ping.round:  # one-to-one: the picks must be among the listed brands
            errors = picks_check(ping.round["brands"], data.get("consent"))
            if errors:
                raise FieldErrors(errors)
        if SourcePing.objects.filter(pk=ping.pk, posted_at__isnull=True).update(
                posted_at=timezone.now()):
            return _post_run(ping, source, api_key, data, client_ip, deadline)
    return _first_answer(ping)


def _mismatches(ping: SourcePing, data: dict[str, Any]) -> list[str]:
    """The pinged values the post changes (compared normalized), by dotted key."""
    differing = []
    if data.get("vertical") != ping.vertical.slug:
        differing.append("vertical")
    raw = data["fields"] if isinstance(data.get("fields"), dict) else {}
    schema = [f for f in ping.vertical.fields.all() if f.key in ping.fields]
    posted = fields_validate(schema, raw).clean
    differing += [f"fields.{key}" for key, value in ping.fields.items()
                  if posted.get(key) != value]
    if bool(data.get("test", False)) != ping.is_test:
        differing.append("test")
    return differing


def _post_run(ping: SourcePing, source: Source, api_key: SourceApiKey | None,
              data: dict[str, Any], client_ip: str | None, deadline: float) -> Answer:
    captured = lead_capture(source=source, api_key=api_key, data=data, client_ip=client_ip)
    if captured.status_code == 400:
        # nothing was sold and the ping is still good: the source may fix the lead and post
        SourcePing.objects.filter(pk=ping.pk).update(posted_at=None)
        return captured.status_code, dict(captured.body)
    answer = captured
    if captured.status_code == 202:
        SourcePing.objects.filter(pk=ping.pk).update(lead=captured.lead)
        answer = lead_dispatch(captured.lead, mode=CaptureMode.SYNC, deadline=deadline,
                               ping_id=ping.pk)
    else:  # a duplicate or suppressed: nothing goes to the buyers, the held room goes back
        cap_holds_release(ping.pk)
    body = dict(answer.body)
    SourcePing.objects.filter(pk=ping.pk).update(answer_status=answer.status_code,
                                                 answer=body)
    logger.info(kv("ping.posted", ping=ping.uuid, lead=answer.lead.uuid,
                   status=body.get("status")))
    return answer.status_code, body


def _first_answer(ping: SourcePing) -> Answer:
    """The answer of the post that claimed ``ping`` (waiting while it runs)."""
    wait_until = time.monotonic() + settings.IDEMPOTENCY_WAIT_SECONDS
    pause = _POLL_FIRST
    while True:
        row = SourcePing.objects.filter(pk=ping.pk).values(
            "answer_status", "answer", "posted_at").first()
        if row and row["answer_status"] is not None:
            return row["answer_status"], dict(row["answer"] or {})
        if row and row["posted_at"] is None:  # the first post was invalid: this one may go
            raise ApplicationError("The previous post of this ping was invalid; post again.",
                                   status_code=409, code="ping_post_in_progress",
                                   headers={"Retry-After": "1"})
        if time.monotonic() >= wait_until:
            raise ApplicationError("A post of this ping is still being processed.",
                                   status_code=409, code="ping_post_in_progress",
                                   headers={"Retry-After": "1"})
        time.sleep(pause)
        pause = min(pause * 2, _POLL_MAX)
