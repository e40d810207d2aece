"""The address a request came from, honouring only as many proxies as the operator trusts."""

from __future__ import annotations

import ipaddress

from django.conf import settings
from django.http import HttpRequest


def client_ip(request: HttpRequest) -> str | None:
    """The client address: ``REMOTE_ADDR``, or the right-most untrusted hop of
    ``X-Forwarded-For`` when ``TRUSTED_PROXY_COUNT`` proxies sit in front of us (a client can
    forge the left part of that header, never the hops our own proxies appended)."""
    candidate = request.META.get("REMOTE_ADDR", "")
    hops = settings.TRUSTED_PROXY_COUNT
    if hops:
        forwarded = [p.strip() for p in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")]
        forwarded = [p for p in forwarded if p]
        if len(forwarded) >= hops:
            candidate = forwarded[-hops]
    try:
        return str(ipaddress.ip_address(candidate))
    except ValueError:
        return None


def ip_in_networks(ip: str | None, networks: list[str]) -> bool:
    """True when ``ip`` is inside one of the CIDR ``networks`` (which are validated on save)."""
    if ip is None:
        return False
    address = ipaddress.ip_address(ip)
    return any(address in ipaddress.ip_network(net, strict=False) for net in networks)
