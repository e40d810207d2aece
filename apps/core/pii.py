"""Keys for personal data, and the keyed digests made with them.

A *keyed digest* is HMAC-SHA256 under ``settings.PII_DIGEST_KEY`` of a normalized value and
its kind (``email``, ``phone``): it finds every lead of a consumer, keeps the suppression list
and records an erasure without the e-mail or phone itself. Unlike a plain SHA-256, nobody
without the key can confirm a guessed address against a stored digest.

Key handling lives in ``pii_key`` so that encrypting PII fields at rest can take its key the
same way (a setting of its own, required from the environment once ``DATABASE_URL`` is set,
generated once in ``var/`` by the embedded default: leadexchange/settings.py). Values are
normalized by the caller (apps.leads.normalize) — the digest only sees canonical text.
"""

from __future__ import annotations

import hashlib
import hmac
from functools import cache

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

DIGEST_LENGTH = 64  # hex characters of an HMAC-SHA256


@cache
def _key_bytes(name: str, value: str) -> bytes:
    if not value:
        raise ImproperlyConfigured(f"{name} is empty.")
    return value.encode()


def pii_key(name: str = "PII_DIGEST_KEY") -> bytes:
    """The bytes of the key setting ``name``. Raises ImproperlyConfigured when it is empty.
    (Read on each call, so a test overriding the setting gets its own key.)"""
    return _key_bytes(name, getattr(settings, name, ""))


def pii_digest(kind: str, value: str) -> str:
    """The keyed digest (64 hex characters) of a normalized ``value`` of ``kind``. The kind is
    part of the message, so an e-mail and a phone never share a digest."""
    message = f"{kind}\x1f{value}".encode()
    return hmac.new(pii_key(), message, hashlib.sha256).hexdigest()
