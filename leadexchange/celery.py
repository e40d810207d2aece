"""Celery application.

Workers: ``celery -A leadexchange worker``; beat: ``celery -A leadexchange beat``.
"""

import os

from celery import Celery
from celery.signals import worker_process_init

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "leadexchange.settings")

app = Celery("leadexchange")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@worker_process_init.connect
def _tune_worker_process(**kwargs) -> None:
    """Each prefork child tunes itself like a web process (see apps.core.process)."""
    from apps.core.process import process_tune

    process_tune()
