"""Who sees a consumer's personal data, and the record of every time someone does.

Staff pages and the staff API show a lead's personal data — its PII fields, consent tokens,
consumer IP and browser, the bodies of its posts — masked. A user holding ``leads.view_pii``
("Can reveal consumers' personal data"; granted to no role, superusers have it) may reveal
one lead at a time: ``pii_reveal`` writes an entry to the admin's audit log (who, which
lead, where) and only then hands back the clear values. Everyone else gets a 403.

The mask is one constant, ``MASK``, whatever the value: no first letter, no domain, no length
class — an e-mail's domain or a name's length narrows down who it is, and a uniform mask
gives nothing to combine across fields. It still says that a value is there (an empty value
stays empty). A post body is text in the buyer's format (JSON, form, XML) that may hold any
field: it is not parsed, but replaced whole by ``HIDDEN_BODY``.
"""

from __future__ import annotations

import logging
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from django.core.exceptions import PermissionDenied

from apps.core.audit import audit_record
from apps.core.logging import kv
from apps.leads.models import Lead
from apps.leads.services import pii_keys

logger = logging.getLogger(__name__)

REVEAL_PERMISSION = "leads.view_pii"
MASK = "•••"
HIDDEN_BODY = "(hidden: holds personal data — reveal to see)"


class Where(StrEnum):
    """Where a reveal happened, as the audit log names it."""

    ADMIN = "admin"
    DASHBOARD = "dashboard"
    STAFF_API = "staff-api"


def _masked(value: Any) -> Any:
    return value if value in (None, "") else MASK


def pii_mask(fields: Mapping[str, Any], private_keys: Collection[str]) -> dict[str, Any]:
    """A copy of ``fields`` with the value of every key in ``private_keys`` replaced by
    ``MASK`` (empty values stay as they are)."""
    return {key: _masked(value) if key in private_keys else value
            for key, value in fields.items()}


def can_reveal(user: Any) -> bool:
    """Whether ``user`` (an active user; ``None`` or anonymous: no) may reveal personal data."""
    return bool(user is not None and user.is_active and user.has_perm(REVEAL_PERMISSION))


@dataclass(frozen=True)
class PersonalData:
    """A lead's personal data as one page or answer shows it: clear when ``revealed``,
    masked otherwise. ``body`` applies the same rule to a stored post body."""

    fields: dict[str, Any]
    consent: dict[str, Any]
    consumer_ip: str | None
    user_agent: str
    revealed: bool = False

    def body(self, text: str) -> str:
        """``text`` (a post's request or response body) if revealed, else ``HIDDEN_BODY``
        (an empty body stays empty: nothing to hide)."""
        return text if self.revealed or not text else HIDDEN_BODY


def lead_private_keys(lead: Lead) -> frozenset[str]:
    """The keys of ``lead``'s personal fields (``pii_keys`` of its vertical); every key of
    its fields when it has no vertical: nothing then says which are not personal."""
    if lead.vertical is None:
        return frozenset(lead.fields)
    return pii_keys(list(lead.vertical.fields.all()))


def pii_masked(lead: Lead) -> PersonalData:
    """``lead``'s personal data, masked: what everybody sees until a reveal."""
    return PersonalData(
        fields=pii_mask(lead.fields, lead_private_keys(lead)),
        consent=pii_mask(lead.consent, lead.consent),
        consumer_ip=_masked(lead.consumer_ip), user_agent=_masked(lead.user_agent))


def pii_reveal(user: Any, lead: Lead, where: Where) -> PersonalData:
    """``lead``'s personal data in clear for ``user``, after writing the audit entry (the
    admin log: ``user``, the lead, ``where``). Raises PermissionDenied, writing nothing,
    when ``user`` may not reveal (``can_reveal``)."""
    if not can_reveal(user):
        raise PermissionDenied("Revealing personal data needs the permission "
                               "\"Can reveal consumers' personal data\" (leads.view_pii).")
    audit_record(user, lead, f"Revealed the consumer's personal data ({where}).")
    logger.info(kv("lead.pii_revealed", lead=lead.uuid, user=user.pk, where=where))
    return PersonalData(fields=dict(lead.fields), consent=dict(lead.consent),
                        consumer_ip=lead.consumer_ip, user_agent=lead.user_agent,
                        revealed=True)
