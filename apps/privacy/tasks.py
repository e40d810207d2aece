"""The background run of an erasure request (Celery, or the embedded default's thread), and
the periodic jobs of the privacy app: re-running lost erasures, the PII retention purge."""

from __future__ import annotations

from celery import shared_task


@shared_task(acks_late=True)
def erasure_run_task(request_id: int) -> None:
    from apps.privacy.services import erasure_run

    erasure_run(request_id=request_id)


@shared_task
def erasures_redrive() -> int:
    from apps.privacy.services import erasures_redrive as redrive

    return redrive()


@shared_task
def retention_purge() -> dict[str, int]:
    """One bounded run of the PII retention purge (``pii-retention`` in the beat schedule);
    returns the leads purged by vertical slug."""
    from apps.privacy.retention import retention_purge as purge

    return purge().purged
