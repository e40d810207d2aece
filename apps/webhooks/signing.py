"""Standard Webhooks signatures (https://www.standardwebhooks.com/, the spec's "Signature
scheme"): a pure module, no Django.

- A secret is ``whsec_`` + base64 of the key bytes; the HMAC key is the decoded part.
- The signed content is ``{webhook-id}.{webhook-timestamp}.{body}`` (timestamp in whole
  seconds since the epoch), the signature ``v1,`` + base64(HMAC-SHA256(key, content)).
- ``webhook-signature`` lists one signature per live secret, space-separated, so a receiver
  holding either the new or the previous secret (during a rotation) verifies the message.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets

SECRET_PREFIX = "whsec_"  # noqa: S105 - the format's prefix, not a secret
_KEY_BYTES = 32


def secret_generate() -> str:
    """A new signing secret: ``whsec_`` + base64 of 32 random bytes."""
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(_KEY_BYTES)).decode()


def secret_key(secret: str) -> bytes:
    """The HMAC key of ``secret`` (the base64-decoded part after ``whsec_``). Raises
    ``ValueError`` for a secret that is not ``whsec_`` + base64."""
    if not secret.startswith(SECRET_PREFIX):
        raise ValueError("a signing secret starts with whsec_")
    return base64.b64decode(secret[len(SECRET_PREFIX):], validate=True)


def signature(secret: str, msg_id: str, timestamp: int, body: bytes) -> str:
    """``v1,<base64 HMAC-SHA256>`` of ``msg_id.timestamp.body`` under ``secret``."""
    content = f"{msg_id}.{timestamp}.".encode() + body
    digest = hmac.new(secret_key(secret), content, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def signed_headers(secrets_: list[str], msg_id: str, timestamp: int, body: bytes
                   ) -> dict[str, str]:
    """The three Standard Webhooks headers for ``body``, signed with every secret given."""
    return {
        "webhook-id": msg_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": " ".join(signature(s, msg_id, timestamp, body) for s in secrets_),
    }
