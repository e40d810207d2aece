"""The periodic rollup refresh (Celery beat, or `run_periodic` in the embedded default)."""

from __future__ import annotations

from celery import shared_task


@shared_task
def reports_rollup() -> None:
    from apps.reports.services import rollup_recent

    rollup_recent()
