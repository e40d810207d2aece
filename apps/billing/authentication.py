"""Buyer API-key authentication (``Authorization: Bearer lxb_…``) and its rate limit (DRF
hooks), with the OpenAPI security scheme that documents it."""

from __future__ import annotations

from django.conf import settings
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework.authentication import BaseAuthentication
from rest_framework.exceptions import AuthenticationFailed, NotAuthenticated
from rest_framework.permissions import BasePermission
from rest_framework.request import Request
from rest_framework.throttling import BaseThrottle

from apps.billing.models import BuyerApiKey
from apps.billing.selectors import buyer_key_authenticate
from apps.buyers.models import Buyer
from apps.core.authentication import bearer_token
from apps.core.ratelimit import rate_limit_take


class BuyerKeyAuthentication(BaseAuthentication):
    """``request.user`` is the Buyer and ``request.auth`` the key row. Any other bearer
    token (a source key, a staff token, a revoked key) is a 401 here."""

    def authenticate(self, request: Request) -> tuple[Buyer, BuyerApiKey] | None:
        token = bearer_token(request)
        if token is None:
            return None
        row = buyer_key_authenticate(token)
        if row is None:
            raise AuthenticationFailed("Invalid or revoked buyer API key.")
        return row.buyer, row

    def authenticate_header(self, request: Request) -> str:
        return 'Bearer realm="buyers"'


class BuyerKeyScheme(OpenApiAuthenticationExtension):
    target_class = "apps.billing.authentication.BuyerKeyAuthentication"
    name = "buyerKey"

    def get_security_definition(self, auto_schema):
        return {"type": "http", "scheme": "bearer",
                "description": "A buyer API key (issued by staff): "
                               "`Authorization: Bearer lxb_…`."}


class IsBuyer(BasePermission):
    """Authenticated with a buyer key (401 otherwise, through ``authenticate_header``)."""

    def has_permission(self, request: Request, view) -> bool:
        return isinstance(request.user, Buyer)


def request_buyer(request: Request) -> Buyer:
    """The Buyer whose key authenticated ``request`` (views behind ``IsBuyer``)."""
    buyer = request.user
    if not isinstance(buyer, Buyer):
        raise NotAuthenticated()
    return buyer


class BuyerKeyThrottle(BaseThrottle):
    """``BUYER_API_RATE_PER_MINUTE`` requests per minute per key (429 with
    ``Retry-After``)."""

    def allow_request(self, request: Request, view) -> bool:
        key = request.auth
        if not isinstance(key, BuyerApiKey):
            return True
        decision = rate_limit_take(f"buyer-key:{key.pk}",
                                   limit=settings.BUYER_API_RATE_PER_MINUTE)
        self._wait = decision.retry_after
        return decision.allowed

    def wait(self) -> float | None:
        return getattr(self, "_wait", None)
