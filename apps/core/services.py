"""Writes for staff accounts and their API tokens."""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.db import transaction

from apps.core.authentication import STAFF_TOKEN_NAMESPACE
from apps.core.keys import key_generate
from apps.core.models import StaffToken


@transaction.atomic
def staff_token_create(*, username: str) -> str:
    """Create the staff user if needed and a new token for it; returns the clear token."""
    user, created = get_user_model().objects.get_or_create(
        username=username, defaults={"is_staff": True}
    )
    if created:
        user.set_unusable_password()
        user.save(update_fields=["password"])
    elif not user.is_staff:
        user.is_staff = True
        user.save(update_fields=["is_staff"])
    new_key = key_generate(STAFF_TOKEN_NAMESPACE)
    StaffToken.objects.create(user=user, prefix=new_key.prefix, digest=new_key.digest)
    return new_key.key
