"""Secret API keys: generated once, shown once, stored as a SHA-256 digest with a visible prefix.

A key looks like ``lx_<prefix>_<secret>``. The prefix (8 characters) is stored in clear and
indexed so a request finds its row in one lookup; the whole key is stored only as a digest.
The keys carry 190+ bits of randomness, so a fast digest is enough (no password stretching);
the comparison is constant-time.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import string
from dataclasses import dataclass

PREFIX_LENGTH = 8
_PREFIX_ALPHABET = string.ascii_lowercase + string.digits


@dataclass(frozen=True)
class NewKey:
    key: str  # the full secret: show it once, never store it
    prefix: str
    digest: str


def key_digest(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def key_generate(namespace: str = "lx") -> NewKey:
    prefix = "".join(secrets.choice(_PREFIX_ALPHABET) for _ in range(PREFIX_LENGTH))
    key = f"{namespace}_{prefix}_{secrets.token_urlsafe(24)}"
    return NewKey(key=key, prefix=prefix, digest=key_digest(key))


def key_from_parts(namespace: str, prefix: str, secret: str) -> NewKey:
    """A key with a chosen prefix and secret (demo data only: stable, documented demo keys)."""
    key = f"{namespace}_{prefix}_{secret}"
    return NewKey(key=key, prefix=prefix, digest=key_digest(key))


def key_prefix(key: str) -> str | None:
    """The lookup prefix of a presented key, or None when it cannot be one of ours."""
    parts = key.split("_", 2)
    if len(parts) != 3 or len(parts[1]) != PREFIX_LENGTH or not parts[2]:
        return None
    return parts[1]


def key_matches(key: str, digest: str) -> bool:
    return hmac.compare_digest(key_digest(key), digest)
