"""Writes for staff accounts and their API tokens."""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractUser, Group
from django.db import transaction

from apps.core.authentication import STAFF_TOKEN_NAMESPACE
from apps.core.keys import key_generate
from apps.core.models import StaffToken

# The roles of SPEC §5: the Django groups of apps/reports/migrations/0002_roles.py, and the
# superuser. A new user whose role is not given gets the one most callers need.
ROLE_GROUPS = {"account-manager": "Account managers", "manager": "Managers"}
ROLES = (*ROLE_GROUPS, "admin")
DEFAULT_ROLE = "account-manager"

ROLE_ABILITIES = {
    "account-manager": "edit buyers, contracts (filters, caps, schedule, mappings, response "
                       "rules), sources, their API keys and verticals (their privacy: "
                       "suppression, PII retention); send test pings, preview payloads, pause "
                       "and resume contracts; request consumer erasures and keep the "
                       "suppression list; read leads (without their PII), auctions, the KPI "
                       "reports, erasures and the audit log.",
    "manager": "read buyers, contracts, sources, verticals and their privacy settings, leads "
               "(without their PII), auctions, the KPI reports, erasures, the suppression "
               "list and the audit log; change nothing.",
    "admin": "everything: every staff API call and the whole admin (superuser).",
}


@transaction.atomic
def staff_token_create(*, username: str, role: str | None = None) -> str:
    """Create a new token for the staff user ``username``; returns the clear token.

    The user is created if needed (staff, no usable password) in ``role``, or in
    ``DEFAULT_ROLE`` when ``role`` is None. An existing user is made staff; with a ``role`` it
    is put in exactly that role (the other role's group left, superuser only for ``admin``;
    groups that are not roles kept), without one it keeps its groups. Raises ValueError for a
    role outside ``ROLES``.
    """
    if role is not None and role not in ROLES:
        raise ValueError(f"Unknown role {role!r}: use one of {', '.join(ROLES)}.")
    user, created = get_user_model().objects.get_or_create(
        username=username, defaults={"is_staff": True}
    )
    if created:
        user.set_unusable_password()
        user.save(update_fields=["password"])
        role = role or DEFAULT_ROLE
    elif not user.is_staff:
        user.is_staff = True
        user.save(update_fields=["is_staff"])
    if role is not None:
        _role_set(user, role)
    new_key = key_generate(STAFF_TOKEN_NAMESPACE)
    StaffToken.objects.create(user=user, prefix=new_key.prefix, digest=new_key.digest)
    return new_key.key


def _role_set(user: AbstractUser, role: str) -> None:
    user.groups.remove(*Group.objects.filter(name__in=ROLE_GROUPS.values()))
    if role in ROLE_GROUPS:
        user.groups.add(Group.objects.get(name=ROLE_GROUPS[role]))
    is_superuser = role == "admin"
    if user.is_superuser != is_superuser:
        user.is_superuser = is_superuser
        user.save(update_fields=["is_superuser"])


def staff_role_describe(username: str) -> str:
    """What a token of ``username`` may do, in a sentence, by the user's role."""
    user = get_user_model().objects.get(username=username)
    if user.is_superuser:
        return f"{username} is an admin: it may do {ROLE_ABILITIES['admin']}"
    groups = set(user.groups.values_list("name", flat=True))
    for role, group in ROLE_GROUPS.items():
        if group in groups:
            return f"{username} is {'an' if role[0] in 'aeiou' else 'a'} {role}: " \
                   f"it may {ROLE_ABILITIES[role]}"
    return (f"{username} has none of the roles ({', '.join(ROLES)}): every staff API call "
            f"answers 403 until it gets one (--role).")
