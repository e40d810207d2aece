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


FIRST_LEAD_AFTER_START = """
import json, re, sys, django
django.setup()
from apps.core.process import process_tune
process_tune()
compiled = []
compile_pattern = re._compiler.compile
re._compiler.compile = lambda pattern, flags: compiled.append(pattern) or compile_pattern(
    pattern, flags)
modules = set(sys.modules)
from django.urls import resolve, reverse
from apps.leads.normalize import normalize_value
resolve("/api/v1/leads")
reverse("api:lead-detail", kwargs={"lead_id": "5b0c4a8e-2b1e-4f7a-9a51-0c9f1f4b8e11"})
compiled.clear()  # the URL patterns' own, small and compiled as they are first matched
for field_type, value in [("email", "ann.lee@example.org"), ("phone", "(415) 555-0132"),
                          ("zip", "94103"), ("state", "ca"), ("date", "1990-07-04"),
                          ("url", "http://example.org/x"), ("ip", "198.51.100.4")]:
    normalize_value(field_type, value)
print(json.dumps([sorted(set(sys.modules) - modules), [str(p)[:60] for p in compiled]]))
"""


def test_a_new_process_s_first_lead_finds_the_urls_and_normalizers_ready() -> None:
    """After ``process_tune`` the first lead's request imports no module and its
    normalizers compile no regular expression: the URLconf (every view module, ~0.15 s),
    the reverse lookup and the normalizers' patterns (Django's email validator, ~30 ms,
    compiled by each thread that reaches it first) are built at start-up by the core and
    leads apps' warm-ups."""
    env = {"DJANGO_SECRET_KEY": "test-only-key", **os.environ,
           "DJANGO_SETTINGS_MODULE": "leadexchange.settings", "PYTHONPATH": str(ROOT)}
    done = subprocess.run([sys.executable, "-c", FIRST_LEAD_AFTER_START], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    imported, compiled = json.loads(done.stdout.strip().splitlines()[-1])
    assert (imported, compiled) == ([], [])
