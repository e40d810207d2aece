"""Who a lead's consumer is, as keyed digests, and whether that consumer is suppressed.

The consumer of a lead is its vertical's first ``email`` field and first ``phone`` field
(by the schema's order). Both are digested after normalization (apps.leads.normalize), so
``Jane.Doe@Example.com `` and ``jane.doe@example.com``, or ``(212) 555-0147`` and
``+12125550147``, are one consumer — for capture, erasure and the suppression list alike.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from django.db import IntegrityError, transaction

from apps.core.exceptions import FieldErrors
from apps.core.pii import pii_digest
from apps.core.sql import sql_in, sql_rows
from apps.leads.models import SuppressedConsumer, SuppressionReason, VerticalPrivacy
from apps.leads.normalize import NormalizationError, normalize_email, normalize_phone
from apps.sources.models import FieldType, Vertical, VerticalField

EMAIL, PHONE = "email", "phone"


@dataclass(frozen=True)
class ConsumerKeys:
    """The keyed digests of one consumer (None: not known)."""

    email: str | None = None
    phone: str | None = None

    @property
    def digests(self) -> list[str]:
        return [d for d in (self.email, self.phone) if d is not None]


def email_digest(email: str) -> str:
    """The digest of an e-mail address as a staff member or a form typed it. Raises
    NormalizationError for something that is not an e-mail address."""
    return pii_digest(EMAIL, normalize_email(email))


def phone_digest(phone: str) -> str:
    """The digest of a phone number as typed (US by default, E.164 with ``+``). Raises
    NormalizationError for something that is not a valid number."""
    return pii_digest(PHONE, normalize_phone(phone))


def consumer_digests_parse(*, email: str | None, phone: str | None) -> tuple[str, str]:
    """The keyed digests of the e-mail and phone a staff member typed (``""`` for one not
    given). Raises FieldErrors (400) naming ``email`` or ``phone`` when one is not valid, or
    both when neither is given."""
    errors: dict[str, list[str]] = {}
    digests = {EMAIL: "", PHONE: ""}
    for name, value, digest in ((EMAIL, email, email_digest), (PHONE, phone, phone_digest)):
        if value is None or not str(value).strip():
            continue
        try:
            digests[name] = digest(str(value))
        except NormalizationError as error:
            errors[name] = [error.message]
    if not errors and not any(digests.values()):
        errors = {key: ["Give the consumer's e-mail, phone, or both."] for key in (EMAIL, PHONE)}
    if errors:
        raise FieldErrors(errors)
    return digests[EMAIL], digests[PHONE]


def consumer_keys(schema: Iterable[VerticalField], fields: Mapping[str, Any]) -> ConsumerKeys:
    """The consumer of a lead whose ``fields`` are already normalized by ``schema``: pure,
    no query (capture calls it on its hot path)."""
    email = phone = None
    for spec in schema:
        value = fields.get(spec.key)
        if not isinstance(value, str) or not value:
            continue
        if spec.type == FieldType.EMAIL and email is None:
            email = pii_digest(EMAIL, value)
        elif spec.type == FieldType.PHONE and phone is None:
            phone = pii_digest(PHONE, value)
    return ConsumerKeys(email, phone)


def consumer_suppressed(*, vertical: Vertical, keys: ConsumerKeys) -> bool:
    """Whether a new lead of this consumer in ``vertical`` is refused: one of its digests is
    on the suppression list and the vertical enforces it (the default). One indexed query
    for a consumer who is not suppressed; a second only for one who is."""
    digests = keys.digests
    if not digests or not sql_rows(  # on every capture: plain SQL, not the ORM's building
            f"SELECT 1 FROM {SuppressedConsumer._meta.db_table} "  # noqa: S608 - our names
            f"WHERE digest IN {sql_in(digests)} LIMIT 1", list(digests)):
        return False
    setting = VerticalPrivacy.objects.filter(vertical=vertical).values_list(
        "suppression_enforced", flat=True).first()
    return setting is None or setting


def consumer_suppress(*, digests: Iterable[str], reason: SuppressionReason) -> int:
    """Put the consumer's ``digests`` on the suppression list; returns how many were new.
    Idempotent: a digest already listed keeps its first reason."""
    added = 0
    for digest in dict.fromkeys(digests):
        try:
            with transaction.atomic():
                SuppressedConsumer.objects.create(digest=digest, reason=reason)
            added += 1
        except IntegrityError:
            pass
    return added


def consumer_opt_out(*, email: str | None, phone: str | None) -> int:
    """Put a consumer who opted out on the suppression list; returns how many of its digests
    were new (0: already suppressed). Raises FieldErrors as ``consumer_digests_parse``."""
    digests = consumer_digests_parse(email=email, phone=phone)
    return consumer_suppress(digests=[d for d in digests if d], reason=SuppressionReason.OPT_OUT)
