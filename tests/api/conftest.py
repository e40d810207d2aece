"""Staff clients for the buyer-management API tests: a token per role."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from rest_framework.test import APIClient

from apps.core.services import staff_token_create

ACCOUNT_MANAGERS = "Account managers"
MANAGERS = "Managers"


def staff_token(username: str, *, group: str | None = None, superuser: bool = False) -> str:
    """A staff user (created if needed) in ``group`` only and a fresh token for it."""
    # created here, not by staff_token_create, so that it gets no default role
    user, _ = get_user_model().objects.get_or_create(username=username,
                                                     defaults={"is_staff": True})
    token = staff_token_create(username=username)
    if group:
        user.groups.add(Group.objects.get(name=group))
    if superuser:
        user.is_superuser = True
        user.save(update_fields=["is_superuser"])
    return token


@pytest.fixture
def staff_client() -> Callable[..., APIClient]:
    """``staff_client(group=…)`` → an APIClient sending that user's staff token."""
    made: list[int] = []

    def make(username: str | None = None, **role) -> APIClient:
        made.append(1)
        client = APIClient()
        token = staff_token(username or f"staff{len(made)}", **role)
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
        return client

    return make


@pytest.fixture
def am_client(staff_client) -> APIClient:
    """An *Account managers* member: edits buyers, contracts, sources and verticals."""
    return staff_client("am", group=ACCOUNT_MANAGERS)
