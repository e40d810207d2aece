"""Sealing: personal data and secrets encrypted at rest, with a key ring.

A *sealed* value is ``sealed:v1:<key id>:<base64url(nonce ‖ ciphertext ‖ tag)>``: AES-256-GCM
(an authenticated cipher, from ``cryptography``) over the UTF-8 text, with a 96-bit random
nonce and the column's *purpose* (``lead.fields``, ``post.request_body``, …) as associated
data, so a value copied into another column does not open there.

``settings.PII_ENCRYPTION_KEYS`` is the key ring: ``id:secret`` entries, the first one seals,
every one opens. Each AES key is derived from its secret with HKDF-SHA256 (the id in the
info), so a secret is any long random text an operator can paste into an environment. To
rotate: put a new entry first, deploy, run ``manage.py rotate_keys`` (it re-seals every row
still under another key, in batches, while the platform runs), then drop the old entry.
The embedded default keeps one local key in ``var/`` (leadexchange/settings.py).

Model fields (``SealedJSONField``, ``SealedTextField``) seal on every write — ``save``,
``update``, ``bulk_update``, ``bulk_create`` — and open on every read; a value stored before
sealing existed (clear JSON, clear text) still reads, and ``rotate_keys`` seals it.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from django import forms
from django.conf import settings
from django.core import checks
from django.core.exceptions import ImproperlyConfigured
from django.db import connection, models

PREFIX = "sealed:v1:"
_NONCE = 12
MIN_SECRET_LENGTH = 32


class SealError(ValueError):
    """A sealed value that no key of the ring opens (a key removed too early, or tampering)."""


@dataclass(frozen=True)
class KeyRing:
    primary: str
    ciphers: dict[str, AESGCM]


def _derive(key_id: str, secret: str) -> AESGCM:
    key = HKDF(algorithm=hashes.SHA256(), length=32, salt=None,
               info=b"leadexchange seal " + key_id.encode()).derive(secret.encode())
    return AESGCM(key)


@lru_cache(maxsize=4)
def _ring(entries: tuple[str, ...]) -> KeyRing:
    ciphers: dict[str, AESGCM] = {}
    for entry in entries:
        key_id, sep, secret = entry.strip().partition(":")
        if not sep or not key_id or not key_id.isalnum():
            raise ImproperlyConfigured(
                "PII_ENCRYPTION_KEYS entries are id:secret, the id letters and digits "
                f"(got an entry starting {key_id[:8]!r}).")
        if len(secret) < MIN_SECRET_LENGTH:
            raise ImproperlyConfigured(
                f"PII_ENCRYPTION_KEYS: the secret of key {key_id!r} is shorter than "
                f"{MIN_SECRET_LENGTH} characters.")
        if key_id in ciphers:
            raise ImproperlyConfigured(f"PII_ENCRYPTION_KEYS: key {key_id!r} is listed twice.")
        ciphers[key_id] = _derive(key_id, secret)
    if not ciphers:
        raise ImproperlyConfigured("PII_ENCRYPTION_KEYS is empty.")
    return KeyRing(primary=next(iter(ciphers)), ciphers=ciphers)


@checks.register(checks.Tags.security)
def keyring_check(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    """``manage.py check`` (and every server's start) refuses a malformed key ring, instead
    of the first lead finding out."""
    try:
        keyring()
    except ImproperlyConfigured as exc:
        return [checks.Error(str(exc), id="leadexchange.E001",
                             hint="PII_ENCRYPTION_KEYS: README, Encryption at rest.")]
    return []


def keyring() -> KeyRing:
    """The ring of ``settings.PII_ENCRYPTION_KEYS`` (read on each call, built once per value,
    so a test overriding the setting gets its own ring)."""
    return _ring(tuple(settings.PII_ENCRYPTION_KEYS))


def is_sealed(value: Any) -> bool:
    return isinstance(value, str) and value.startswith(PREFIX)


def sealed_key_id(token: str) -> str:
    """The id of the key that sealed ``token``."""
    return token[len(PREFIX):].partition(":")[0]


def seal(text: str, *, purpose: str) -> str:
    """``text`` sealed under the primary key, bound to ``purpose``."""
    ring = keyring()
    nonce = os.urandom(_NONCE)
    body = ring.ciphers[ring.primary].encrypt(nonce, text.encode(), purpose.encode())
    return f"{PREFIX}{ring.primary}:{base64.urlsafe_b64encode(nonce + body).decode()}"


def unseal(token: str, *, purpose: str) -> str:
    """The text sealed in ``token``. Raises SealError when no key of the ring opens it."""
    key_id, _, payload = token[len(PREFIX):].partition(":")
    cipher = keyring().ciphers.get(key_id)
    if cipher is None:
        raise SealError(f"Sealed under key {key_id!r}, which PII_ENCRYPTION_KEYS no longer "
                        "lists: put it back and run rotate_keys before removing it.")
    try:
        raw = base64.urlsafe_b64decode(payload)
        return cipher.decrypt(raw[:_NONCE], raw[_NONCE:], purpose.encode()).decode()
    except (InvalidTag, binascii.Error, ValueError) as exc:
        raise SealError(f"A value sealed under key {key_id!r} does not open for "
                        f"{purpose!r}: altered, or copied from another column.") from exc


class _Sealed:
    """What both sealed fields share: the ``purpose`` their values are bound to, kept in
    migrations like any field option."""

    def __init__(self, *args: Any, purpose: str, **kwargs: Any) -> None:
        self.purpose = purpose
        super().__init__(*args, **kwargs)

    def deconstruct(self) -> Any:
        name, path, args, kwargs = super().deconstruct()  # type: ignore[misc]
        kwargs["purpose"] = self.purpose
        return name, path, args, kwargs


class SealedJSONField(_Sealed, models.JSONField):
    """A JSON value stored sealed: the column holds one JSON string, the sealed JSON text.
    Nothing inside it can be queried (no key lookups): used for values only ever read whole
    (a lead's fields, its consent, a stored API answer)."""

    def get_db_prep_value(self, value: Any, connection: Any, prepared: bool = False) -> Any:
        if value is None or hasattr(value, "as_sql") or isinstance(value, models.Value):
            return super().get_db_prep_value(value, connection, prepared)
        return super().get_db_prep_value(self._token(value), connection, True)

    def column_text(self, value: Any) -> str | None:
        """The column's text for ``value``, for a bulk loader that bypasses the ORM (COPY)."""
        return None if value is None else json.dumps(self._token(value))

    def _token(self, value: Any) -> str:
        text = json.dumps(value, cls=self.encoder, separators=(",", ":"))
        return seal(text, purpose=self.purpose)

    def from_db_value(self, value: Any, expression: Any, connection: Any) -> Any:
        value = super().from_db_value(value, expression, connection)
        if is_sealed(value):
            return json.loads(unseal(value, purpose=self.purpose), cls=self.decoder)
        return value


class SealedTextField(_Sealed, models.TextField):
    """Text stored sealed; the empty text stays empty (it tells nothing). With a
    ``max_length`` (checked by forms, not the column: sealing lengthens the text) its form
    field is a one-line input, as a CharField's."""

    def get_db_prep_value(self, value: Any, connection: Any, prepared: bool = False) -> Any:
        return self.column_text(super().get_db_prep_value(value, connection, prepared))

    def column_text(self, value: Any) -> Any:
        """The column's text for ``value``, for a bulk loader that bypasses the ORM (COPY)."""
        if isinstance(value, str) and value:
            return seal(value, purpose=self.purpose)
        return value

    def from_db_value(self, value: Any, expression: Any, connection: Any) -> Any:
        if is_sealed(value):
            return unseal(value, purpose=self.purpose)
        return value

    def formfield(self, **kwargs: Any) -> Any:
        if self.max_length is not None:
            kwargs.setdefault("widget", forms.TextInput)
        return super().formfield(**kwargs)


SEALED_FIELDS = (SealedJSONField, SealedTextField)


def column_read(model: type[models.Model], name: str, raw: Any) -> Any:
    """The value of ``model``'s field ``name`` from ``raw``, a column value read by plain SQL
    (``UPDATE … RETURNING``): opened as the model would open it."""
    field = model._meta.get_field(name)
    if isinstance(raw, dict | list):  # a driver that parsed JSON already: stored in clear
        return raw
    if not isinstance(field, SEALED_FIELDS):
        raise TypeError(f"{model.__name__}.{name} is not a sealed field")
    return field.from_db_value(raw, None, connection)
