"""Periodic work (Celery beat): due delivery retries, health pings of auto-paused contracts,
re-driving stuck leads, refreshing post-acceptance rates. Every job claims its rows with a
conditional UPDATE, so several beat/worker processes never do the same work twice."""

from __future__ import annotations

import logging
from datetime import timedelta

from django.conf import settings
from django.db.models import Count, Q
from django.utils import timezone

from apps.auctions.health import RULE_PAUSE_PREFIX, contract_resume
from apps.auctions.models import Auction, Post, PostOutcome
from apps.auctions.services.outcome import lead_error, lead_reconcile, post_retry_run
from apps.auctions.services.wire import AnswerFault, answer_outcome, wire_build
from apps.auctions.setups import contract_secrets, endpoint_setup
from apps.buyers.models import Contract, Endpoint, EndpointKind
from apps.buyers.oauth import FETCH_TIMEOUT_S
from apps.core.dispatch import task_enqueue
from apps.core.http import http_send
from apps.core.logging import kv
from apps.leads.models import Lead, LeadStatus
from apps.leads.selectors import lead_sample_fields

logger = logging.getLogger(__name__)


def post_retries_run_due(limit: int = 100) -> int:
    """Run the delivery retries that are due; returns how many ran."""
    due = list(Post.objects.filter(outcome=PostOutcome.RETRY, next_attempt_at__lte=timezone.now())
               .order_by("next_attempt_at").values_list("pk", flat=True)[:limit])
    return sum(post_retry_run(pk) is not None for pk in due)


def health_pings_run() -> list[int]:
    """Health-ping every auto-paused contract whose interval has passed; resume those whose
    ping endpoint answers readably within its slow threshold. Returns the resumed ids.
    A contract a routing rule paused is not pinged: its rule undoes the pause."""
    now = timezone.now()
    resumed = []
    paused = (Contract.objects.filter(auto_paused_at__isnull=False)
              .exclude(auto_pause_reason__startswith=RULE_PAUSE_PREFIX)
              .select_related("vertical"))
    for contract in paused:
        due = now - timedelta(seconds=contract.health_ping_interval_s)
        if not Contract.objects.filter(pk=contract.pk).filter(
                Q(last_health_ping_at__isnull=True) | Q(last_health_ping_at__lte=due)
        ).update(last_health_ping_at=now):
            continue  # another process is pinging it
        if contract_health_ping(contract):
            resumed.append(contract.pk)
    return resumed


def contract_health_ping(contract: Contract) -> bool:
    """Send one test ping (sample lead, ``test`` true); resume the contract when the answer
    is readable and fast enough. Returns whether it resumed."""
    endpoint = (Endpoint.objects.filter(contract=contract, kind=EndpointKind.PING).first()
                or Endpoint.objects.filter(contract=contract, kind=EndpointKind.POST).first())
    if endpoint is None:
        return contract_resume(contract.pk, "no endpoint to check; resumed by default")
    setup = endpoint_setup(endpoint, contract.mappings.filter(kind=endpoint.kind),
                           contract_secrets(contract))
    # The sample's PII sealed as in a live ping: a buyer that wants an age gets one.
    sealed = frozenset(contract.vertical.fields.filter(pii=True).values_list("key", flat=True))
    call = wire_build(setup, lead_sample_fields(contract.vertical, include_pii=True),
                      {"test": True, "lead.id": "health-check", "now": timezone.now().isoformat()},
                      sealed=sealed, token_wait=FETCH_TIMEOUT_S)
    if isinstance(call, str):
        return False
    response = http_send(call.request)
    answer = answer_outcome(setup, response)
    fault = answer.detail if isinstance(answer, AnswerFault) else ""
    healthy = not fault and response.latency_ms <= contract.slow_threshold_ms
    logger.info(kv("contract.health_ping", contract=contract.pk, healthy=healthy,
                   latency_ms=round(response.latency_ms, 1), detail=fault or "-"))
    if healthy:
        return contract_resume(
            contract.pk, f"health ping answered in {response.latency_ms:.0f} ms")
    return False


def leads_redrive() -> int:
    """Re-run leads a crashed process left behind; returns how many were re-driven.

    - a lead with a sale is finished as ``sold`` first (``lead_reconcile``), whatever else
      it looks like: a buyer took it, it is never auctioned again;
    - ``received`` for too long: its auction task was lost — enqueue it again;
    - ``auctioning`` for too long with no retry pending: the process died mid-auction. A post
      left ``sending`` becomes a retry due now (same buyer, same Idempotency-Key: the buyer
      may have taken it); otherwise the lead goes back to ``received`` and runs again —
      unless it already had ``LEAD_MAX_AUCTIONS`` auctions: a lead that kills every auction
      it enters becomes ``error`` (``lead.error`` to its source) instead of looping forever.
    """
    from apps.auctions.tasks import auction_run_task

    now = timezone.now()
    undecided = Lead.objects.filter(status__in=[LeadStatus.RECEIVED, LeadStatus.AUCTIONING])
    count = sum(lead_reconcile(pk) for pk in undecided.filter(sales__isnull=False)
                .values_list("pk", flat=True).distinct()[:500])
    received = Lead.objects.filter(
        status=LeadStatus.RECEIVED,
        received_at__lte=now - timedelta(seconds=settings.LEAD_REDRIVE_RECEIVED_S))
    for lead_id in received.values_list("pk", flat=True)[:500]:
        task_enqueue(auction_run_task, lead_id)
        count += 1
    stuck = Lead.objects.filter(
        status=LeadStatus.AUCTIONING,
        auction_started_at__lte=now - timedelta(seconds=settings.LEAD_REDRIVE_AUCTIONING_S),
    ).exclude(auctions__posts__outcome=PostOutcome.RETRY)
    for lead in stuck[:500]:
        auction = Auction.objects.filter(lead=lead).order_by("-started_at").first()
        sending = auction.posts.filter(outcome=PostOutcome.SENDING).first() if auction else None
        tries = Auction.objects.filter(lead=lead).count()
        if sending is not None:
            Post.objects.filter(pk=sending.pk, outcome=PostOutcome.SENDING).update(
                outcome=PostOutcome.RETRY, next_attempt_at=now)
        elif tries >= settings.LEAD_MAX_AUCTIONS:
            lead_error(lead, auction,
                       reason=f"The auction failed {tries} times; the lead was not sold.")
        elif Lead.objects.filter(pk=lead.pk, status=LeadStatus.AUCTIONING,
                                 auction_started_at=lead.auction_started_at).update(
                status=LeadStatus.RECEIVED):
            task_enqueue(auction_run_task, lead.pk)
        logger.warning(kv("lead.redriven", lead=lead.uuid, resumed_post=sending is not None,
                          tries=tries))
        count += 1
    return count


def acceptance_refresh() -> None:
    """Recompute every contract's rolling post-acceptance counts from the last N days."""
    since = timezone.now() - timedelta(days=settings.AUCTION_ACCEPTANCE_WINDOW_DAYS)
    counts = (Post.objects.filter(created_at__gte=since,
                                  outcome__in=[PostOutcome.ACCEPTED, PostOutcome.REJECTED])
              .values("contract_id")
              .annotate(total=Count("pk"),
                        accepted=Count("pk", filter=Q(outcome=PostOutcome.ACCEPTED))))
    seen = set()
    for row in counts:
        Contract.objects.filter(pk=row["contract_id"]).update(
            posts_recent=row["total"], accepted_recent=row["accepted"])
        seen.add(row["contract_id"])
    Contract.objects.exclude(pk__in=seen).filter(posts_recent__gt=0).update(
        posts_recent=0, accepted_recent=0)
