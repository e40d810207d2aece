"""A served process does its slow one-time work at start-up, not in its first request."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import apps

ROOT = Path(apps.__file__).parent.parent

START_LIKE_WSGI = """
import json, django
django.setup()
from apps.leads.enrich import _zip_index
before = _zip_index.cache_info().currsize
from apps.core.process import process_tune
process_tune()
print(json.dumps([before, _zip_index.cache_info().currsize]))
"""


def test_process_tune_builds_the_zip_index_the_leads_app_registered() -> None:
    """``process_tune`` (called by wsgi.py, asgi.py and every Celery child) runs the leads
    app's warm-up, so the first lead does not pay ~0.6 s for the ZIP index — while core
    itself imports nothing of leads (tests/unit/test_app_layering.py)."""
    env = {"DJANGO_SECRET_KEY": "test-only-key", **os.environ,
           "DJANGO_SETTINGS_MODULE": "leadexchange.settings", "PYTHONPATH": str(ROOT)}
    done = subprocess.run([sys.executable, "-c", START_LIKE_WSGI], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout.strip().splitlines()[-1]) == [0, 1]
