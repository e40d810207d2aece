"""The embedded default's Celery beat: run the periodic tasks in this process, on schedule.

Production runs ``celery -A leadexchange beat`` and workers instead; this loop exists so the
embedded default (no broker) still retries deliveries, health-pings paused contracts and
re-drives stuck leads."""

from __future__ import annotations

import logging
import os
import socket
import time

from celery import current_app
from django.conf import settings
from django.core.management.base import BaseCommand
from django.db import close_old_connections

from apps.core.heartbeat import heartbeat_beat
from apps.core.logging import kv

logger = logging.getLogger(__name__)


class Command(BaseCommand):
    help = "Run the Celery beat schedule in-process (embedded default, no broker)."

    def handle(self, *args, **options) -> None:
        current_app.loader.import_default_modules()
        schedule = {name: (entry["task"], float(entry["schedule"]))
                    for name, entry in settings.CELERY_BEAT_SCHEDULE.items()}
        due = dict.fromkeys(schedule, 0.0)
        me, beat_due = f"{socket.gethostname()}:{os.getpid()}", 0.0
        while True:
            now = time.monotonic()
            if now >= beat_due:  # alive, for /metrics (a no-op without Redis)
                beat_due = now + settings.WORKER_HEARTBEAT_INTERVAL_S
                heartbeat_beat("scheduler", me)
            for name, (task_name, every) in schedule.items():
                if now < due[name]:
                    continue
                due[name] = now + every
                close_old_connections()
                try:
                    current_app.tasks[task_name]()
                except Exception:  # one failing job must not stop the others
                    logger.exception(kv("periodic.failed", task=task_name))
            time.sleep(max(0.1, min([*due.values(), beat_due]) - time.monotonic()))
