"""Bearer-token authentication for staff, against hashed tokens (apps.core.keys)."""

from __future__ import annotations

from rest_framework.authentication import BaseAuthentication, get_authorization_header
from rest_framework.exceptions import AuthenticationFailed
from rest_framework.request import Request

from apps.core.keys import key_matches, key_prefix
from apps.core.models import StaffToken

STAFF_TOKEN_NAMESPACE = "lxs"  # noqa: S105 - a key prefix, not a secret


def bearer_token(request: Request) -> str | None:
    """The token of an ``Authorization: Bearer <token>`` header, or None when absent."""
    parts = get_authorization_header(request).split()
    if len(parts) != 2 or parts[0].lower() != b"bearer":
        return None
    try:
        return parts[1].decode("ascii")
    except UnicodeDecodeError:
        return None


class StaffTokenAuthentication(BaseAuthentication):
    def authenticate(self, request: Request):
        token = bearer_token(request)
        if token is None or not token.startswith(f"{STAFF_TOKEN_NAMESPACE}_"):
            return None  # let another authenticator (or none) handle it
        prefix = key_prefix(token)
        row = (
            StaffToken.objects.select_related("user")
            .filter(prefix=prefix, revoked_at__isnull=True)
            .first()
            if prefix
            else None
        )
        if row is None or not key_matches(token, row.digest) or not row.user.is_active:
            raise AuthenticationFailed("Invalid or revoked token.")
        return row.user, row

    def authenticate_header(self, request: Request) -> str:
        return 'Bearer realm="api"'
