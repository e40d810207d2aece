"""Real ``celery worker`` processes on the test database, as README's production section runs
them, for the reliability tests: start one, stop it (warm) or kill it (``kill -9`` of its
whole process group), read what it logged."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from django.db import connection

REPO = Path(__file__).resolve().parents[2]
# README, "Supervising the workers": the steps that only serve remote control and monitoring
# are off (nothing here uses them; gossip's teardown is where a broker restart went wrong)
PRODUCTION_OPTIONS = ("--without-gossip", "--without-mingle", "--without-heartbeat")


def database_url_of_tests() -> str:
    """The URL of the database the test runs on (the test database, not DATABASE_URL's)."""
    db = connection.settings_dict
    return f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}"


def worker_start(broker: str, *options: str, new_session: bool = False,
                 **env: str) -> subprocess.Popen:
    """A `celery worker` subprocess (prefork, 2 processes) on the test database; ``env``
    adds to its environment. With ``new_session`` it leads a process group of its own, so
    ``worker_kill`` takes its children too, as a machine or container dying would."""
    env = {
        **os.environ,
        "DATABASE_URL": database_url_of_tests(),
        "CELERY_BROKER_URL": broker,
        "HTTP_ALLOWED_NETWORKS": "127.0.0.1/32",
        **env,
    }
    # a file, not a pipe: a pipe nobody reads would stall a chatty worker (closed by
    # worker_stop / worker_log)
    log = tempfile.TemporaryFile(mode="w+")  # noqa: SIM115
    worker = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "leadexchange", "worker", "--pool", "prefork",
         "--concurrency", "2", *options],
        cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT, text=True,
        start_new_session=new_session)
    worker.log = log
    return worker


def worker_log(worker: subprocess.Popen) -> str:
    """What ``worker`` logged (closes its log: call once, after it ended)."""
    with worker.log:
        worker.log.seek(0)
        return worker.log.read()


def worker_stop(worker: subprocess.Popen) -> str:
    """Stop ``worker`` (warm shutdown) and return what it logged."""
    if worker.poll() is None:
        worker.terminate()
    try:
        worker.wait(timeout=20)
    except subprocess.TimeoutExpired:
        worker.kill()
        worker.wait()
    return worker_log(worker)


def worker_kill(worker: subprocess.Popen) -> None:
    """``kill -9`` the worker's whole process group (started with ``new_session``)."""
    os.killpg(worker.pid, signal.SIGKILL)
    worker.wait(timeout=10)


def wait_for(predicate: Callable[[], bool], timeout: float = 30.0, *, every: float = 0.2,
             tick: Callable[[], object] | None = None) -> bool:
    """Poll ``predicate`` until it holds (True) or ``timeout`` s pass (False); ``tick`` runs
    between polls (beat's jobs, as production runs them)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        if tick is not None:
            tick()
        time.sleep(every)
    return False
