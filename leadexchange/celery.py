"""Celery application.

Workers: ``celery -A leadexchange worker``; beat: ``celery -A leadexchange beat``.
"""

import os

from celery import Celery, bootsteps
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


class HeartbeatStep(bootsteps.StartStopStep):
    """The worker says it is alive (``apps.core.heartbeat``) every
    ``WORKER_HEARTBEAT_INTERVAL_S`` from its own timer, so a worker whose event loop is stuck
    stops beating; ``/readyz`` fails when no worker beat recently."""

    requires = ("celery.worker.components:Timer",)

    def __init__(self, worker, **kwargs) -> None:
        super().__init__(worker, **kwargs)
        self.tref = None

    def start(self, worker) -> None:
        from django.conf import settings

        from apps.core.heartbeat import heartbeat_beat

        heartbeat_beat("worker", worker.hostname)
        self.tref = worker.timer.call_repeatedly(
            settings.WORKER_HEARTBEAT_INTERVAL_S, heartbeat_beat, ("worker", worker.hostname))

    def stop(self, worker) -> None:
        if self.tref is not None:
            self.tref.cancel()
            self.tref = None


app.steps["worker"].add(HeartbeatStep)
