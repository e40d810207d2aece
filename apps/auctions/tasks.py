"""Celery tasks: thin wrappers that load by id and call one service. Idempotent: each service
claims its work with a conditional UPDATE, so a redelivered task does nothing twice."""

from __future__ import annotations

from celery import shared_task


@shared_task(acks_late=True)
def auction_run_task(lead_id: int) -> None:
    """An async lead's auction, or a re-driven one (a sync capture calls the service on its
    own thread pool, with the source's deadline)."""
    from apps.auctions.services import auction_run

    auction_run(lead_id)


@shared_task
def post_retries_due() -> int:
    from apps.auctions.services.maintenance import post_retries_run_due

    return post_retries_run_due()


@shared_task
def health_pings() -> None:
    from apps.auctions.services.maintenance import health_pings_run

    health_pings_run()


@shared_task
def leads_redrive() -> int:
    from apps.auctions.services.maintenance import leads_redrive as redrive

    return redrive()


@shared_task
def acceptance_refresh() -> None:
    from apps.auctions.services.maintenance import acceptance_refresh as refresh

    refresh()
