"""Production installs ``requirements/base.txt`` alone (README, step 1): everything the web,
worker and beat processes import must be pinned there, not only in ``dev.txt``. (A worker once
died on its first task with ``No module named 'packaging'``: kombu's Redis transport imports
it without declaring it, and the tests never noticed because ``dev.txt`` pulled it in.)

The check imports what the production processes import in a child process where every
installed distribution that ``base.txt`` does not pin is hidden, as on a machine that
installed ``base.txt`` only; optional imports (``try: import pygments``) still work there."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]

BASE_ONLY = """
import re, sys
from importlib.metadata import packages_distributions

def canonical(name):
    return re.sub(r"[-_.]+", "-", name).lower()

pinned = {canonical(m.group(1)) for line in open("requirements/base.txt")
          if (m := re.match(r"^([A-Za-z0-9_.\\-]+)==", line))}
owners = packages_distributions()

class HideUnpinned:
    def find_spec(self, name, path=None, target=None):
        top = name.split(".")[0]
        dists = owners.get(top)
        if dists and not any(canonical(d) in pinned for d in dists):
            raise ModuleNotFoundError(f"No module named {top!r} (not in base.txt)", name=top)
        return None

sys.meta_path.insert(0, HideUnpinned())

import django
django.setup()
import leadexchange.celery, leadexchange.wsgi
import kombu.transport.redis, celery.backends.redis, celery.beat, celery.apps.worker
import gunicorn.app.wsgiapp, gunicorn.workers.gthread
import importlib, pkgutil, apps
for module in pkgutil.walk_packages(apps.__path__, "apps."):
    if ".migrations" not in module.name:
        importlib.import_module(module.name)
"""


def test_the_production_processes_run_on_base_txt_alone():
    env = {"DJANGO_SETTINGS_MODULE": "leadexchange.settings", "PATH": "/usr/bin:/bin"}
    child = subprocess.run([sys.executable, "-c", BASE_ONLY], cwd=REPO, env=env,
                           capture_output=True, text=True)

    assert child.returncode == 0, child.stderr[-2000:]
