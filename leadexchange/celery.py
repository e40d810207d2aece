"""Celery application.

Workers: ``celery -A leadexchange worker``; beat: ``celery -A leadexchange beat``.
"""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "leadexchange.settings")

app = Celery("leadexchange")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
