"""The background run of an erasure request (Celery, or the embedded default's thread)."""

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
