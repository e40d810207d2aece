"""DJANGO_SECRET_KEY and PII_DIGEST_KEY: production refuses to start without either; the
embedded default (no DATABASE_URL) generates each once, keeps it in var/ (0600) and reuses it."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from leadexchange.settings import VAR_DIR, embedded_secret_key

REPO = Path(__file__).resolve().parents[2]
OLD_PUBLIC_DEFAULT = "embedded-default-insecure-key-set-DJANGO_SECRET_KEY-in-production"
PRINT_KEY = "from django.conf import settings; print(settings.SECRET_KEY)"


def _manage(*args: str, **env: str) -> subprocess.CompletedProcess:
    clean = {k: v for k, v in os.environ.items()
             if k not in ("DJANGO_SECRET_KEY", "PII_DIGEST_KEY", "DATABASE_URL", "REDIS_URL",
                          "CELERY_BROKER_URL")}
    return subprocess.run([sys.executable, "manage.py", *args], cwd=REPO, env={**clean, **env},
                          capture_output=True, text=True, timeout=60)


def test_production_without_a_secret_key_refuses_to_start():
    done = _manage("check", DATABASE_URL="postgres://leadexchange@127.0.0.1:5432/leadexchange")

    assert done.returncode != 0
    assert "ImproperlyConfigured: DJANGO_SECRET_KEY is not set." in done.stderr


def test_production_with_a_secret_key_starts():
    done = _manage("shell", "-v0", "-c", PRINT_KEY, DJANGO_SECRET_KEY="k" * 10 + "-production-key",
                   PII_DIGEST_KEY="p" * 10 + "-production-key",
                   DATABASE_URL="postgres://leadexchange@127.0.0.1:5432/leadexchange")

    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "kkkkkkkkkk-production-key"


def test_the_embedded_default_keeps_one_generated_key_across_starts():
    first = _manage("shell", "-v0", "-c", PRINT_KEY)
    second = _manage("shell", "-v0", "-c", PRINT_KEY)

    assert first.returncode == 0, first.stderr
    key = first.stdout.strip()
    assert key == second.stdout.strip() == (VAR_DIR / "secret_key").read_text().strip()
    assert key != OLD_PUBLIC_DEFAULT
    assert len(key) >= 50


def test_the_embedded_key_is_generated_once_with_mode_0600(tmp_path):
    path = tmp_path / "var" / "secret_key"

    key = embedded_secret_key(path)

    assert len(key) >= 50
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert embedded_secret_key(path) == key
    assert embedded_secret_key(tmp_path / "other" / "secret_key") != key
    assert [p.name for p in path.parent.iterdir()] == ["secret_key"]  # no scratch file left


def test_processes_starting_together_agree_on_one_key(tmp_path):
    path = tmp_path / "secret_key"

    with ProcessPoolExecutor(max_workers=4) as pool:
        keys = set(pool.map(embedded_secret_key, [path] * 16))

    assert keys == {path.read_text().strip()}


PRINT_PII_KEY = "from django.conf import settings; print(settings.PII_DIGEST_KEY)"


def test_production_without_a_pii_digest_key_refuses_to_start():
    done = _manage("check", DJANGO_SECRET_KEY="k" * 10 + "-production-key",
                   DATABASE_URL="postgres://leadexchange@127.0.0.1:5432/leadexchange")

    assert done.returncode != 0
    assert "ImproperlyConfigured: PII_DIGEST_KEY is not set." in done.stderr


def test_the_embedded_default_keeps_its_own_pii_digest_key_apart_from_the_secret_key():
    first = _manage("shell", "-v0", "-c", PRINT_PII_KEY)
    second = _manage("shell", "-v0", "-c", PRINT_PII_KEY)

    assert first.returncode == 0, first.stderr
    key = first.stdout.strip()
    assert key == second.stdout.strip() == (VAR_DIR / "pii_digest_key").read_text().strip()
    assert key != (VAR_DIR / "secret_key").read_text().strip()
    assert stat.S_IMODE((VAR_DIR / "pii_digest_key").stat().st_mode) == 0o600
