"""Source API-key authentication, the IP allow-list and the per-key rate limit (DRF hooks)."""

from __future__ import annotations

from rest_framework.authentication import BaseAuthentication
from rest_framework.exceptions import AuthenticationFailed, NotAuthenticated, PermissionDenied
from rest_framework.permissions import BasePermission
from rest_framework.request import Request
from rest_framework.throttling import BaseThrottle

from apps.core.authentication import bearer_token
from apps.core.clientip import client_ip, ip_in_networks
from apps.core.ratelimit import rate_limit_take
from apps.sources.models import Source, SourceApiKey
from apps.sources.selectors import source_key_authenticate


class SourceKeyAuthentication(BaseAuthentication):
    """``Authorization: Bearer <source API key>``; ``request.user`` is the Source and
    ``request.auth`` the key row."""

    def authenticate(self, request: Request) -> tuple[Source, SourceApiKey] | None:
        token = bearer_token(request)
        if token is None:
            return None
        row = source_key_authenticate(token)
        if row is None:
            raise AuthenticationFailed("Invalid or revoked API key.")
        return row.source, row

    def authenticate_header(self, request: Request) -> str:
        return 'Bearer realm="leads"'


def request_source(request: Request) -> Source:
    """The Source whose key authenticated ``request``, for a view behind
    ``SourceKeyAuthentication`` and ``IsActiveSource`` (which let nobody else in: anyone else
    is refused here the same way, 401)."""
    source = request.user
    if not isinstance(source, Source):
        raise NotAuthenticated()
    return source


def request_source_key(request: Request) -> SourceApiKey:
    """The API key row that authenticated ``request``, on the same terms as
    :func:`request_source`."""
    key = request.auth
    if not isinstance(key, SourceApiKey):
        raise NotAuthenticated()
    return key


class IsActiveSource(BasePermission):
    """An authenticated source, from an allowed address, that is not paused (403 otherwise)."""

    def has_permission(self, request: Request, view) -> bool:
        source = request.user
        if not isinstance(source, Source):
            return False  # DRF answers 401 (no credentials) through authenticate_header
        if source.ip_allowlist:
            ip = client_ip(request)
            if not ip_in_networks(ip, source.ip_allowlist):
                raise PermissionDenied(f"IP address {ip} is not allowed for this source.")
        if not source.is_active:
            raise PermissionDenied("This source is paused.")
        return True


class SourceKeyThrottle(BaseThrottle):
    """The source's requests-per-minute limit, per API key (429 with ``Retry-After``)."""

    def allow_request(self, request: Request, view) -> bool:
        key = request.auth
        if not isinstance(key, SourceApiKey):
            return True
        decision = rate_limit_take(f"source-key:{key.pk}", limit=key.source.rate_limit_per_minute)
        self._wait = decision.retry_after
        return decision.allowed

    def wait(self) -> float | None:
        return getattr(self, "_wait", None)
