"""The SSRF guard: which URLs and addresses outbound HTTP may reach.

Two checkpoints, so neither a literal address nor a name can slip through:

- ``url_check`` (no DNS, cheap enough for every request and for admin validation) refuses
  non-http(s) schemes, URLs without a host, and IP-literal hosts in non-public ranges;
- ``address_refusal`` judges every address a name resolved to, when the connection is
  opened (libcurl's open-socket callback), so a name that resolves (or re-resolves: DNS
  rebinding) to a private address is never connected to.

``settings.HTTP_ALLOWED_NETWORKS`` (CIDRs, default none) admits addresses that would
otherwise be refused; the demo and tests allow ``127.0.0.1/32``. Cloud metadata endpoints
are refused even inside an allowed network: no buyer lives there, and they hand out
credentials.
"""

from __future__ import annotations

import ipaddress
import socket
from functools import lru_cache

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from yarl import URL

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

SCHEMES = frozenset({"http", "https"})
METADATA_ADDRESSES = frozenset(ipaddress.ip_address(a) for a in (
    "169.254.169.254",  # AWS, GCP, Azure, OpenStack, DigitalOcean
    "169.254.170.2",  # AWS ECS task credentials
    "fd00:ec2::254",  # AWS over IPv6
    "100.100.100.200",  # Alibaba Cloud
))


class BlockedUrl(ValueError):
    """The URL may not be requested; the message says why (safe to show to staff)."""


def url_check(url: str) -> None:
    """Raise ``BlockedUrl`` unless ``url`` is one outbound HTTP may request.

    Refuses schemes other than http/https; a missing host; legacy numeric IPv4 forms
    (``127.1``, ``2130706433``: ambiguous to resolvers); cloud metadata addresses;
    IP literals that are loopback, private, link-local, shared (100.64/10), reserved,
    multicast or unspecified, unless inside ``HTTP_ALLOWED_NETWORKS`` (IPv4 wrapped in
    IPv6 is judged as IPv4). A host name passes: it is checked when resolved
    (``address_refusal``). Never does DNS.
    """
    checked_url(url)


def checked_url(url: str) -> URL:
    """Return ``url`` parsed, after the checks of ``url_check`` (raising ``BlockedUrl``).

    The client sends the very object it checked, so the host that was judged is the
    host that is connected to. Buyers' URLs repeat every auction, so verdicts are cached
    per (URL, allow-list); a changed allow-list is a new key.
    """
    return _checked(url, _allowed_setting())


@lru_cache(maxsize=4096)
def _checked(url: str, allowed: tuple[str, ...]) -> URL:
    try:
        parsed = URL(url)
    except (TypeError, ValueError) as exc:
        raise BlockedUrl(f"not a valid URL: {exc}") from None
    if parsed.scheme not in SCHEMES:
        raise BlockedUrl(f"scheme {parsed.scheme or '(none)'!r} is not http or https")
    host = parsed.host
    if not host:
        raise BlockedUrl("the URL has no host")
    reason = _host_refusal(host, allowed)
    if reason is not None:
        raise BlockedUrl(reason)
    return parsed


def address_refusal(address: IPAddress) -> str | None:
    """Why a resolved ``address`` may not be connected to, or None when it may (checked by
    the engine for every address, at connect time)."""
    return _address_refusal(address, _networks(_allowed_setting()))


def _allowed_setting() -> tuple[str, ...]:
    # A tuple so it can key the caches below; re-read each time so an override (tests,
    # pytest-django's ``settings`` fixture) applies to the next check.
    return tuple(getattr(settings, "HTTP_ALLOWED_NETWORKS", ()))


@lru_cache(maxsize=64)
def _networks(allowed: tuple[str, ...]) -> tuple[IPNetwork, ...]:
    try:
        return tuple(ipaddress.ip_network(cidr, strict=False) for cidr in allowed)
    except ValueError as exc:
        raise ImproperlyConfigured(f"HTTP_ALLOWED_NETWORKS: {exc}") from None


@lru_cache(maxsize=4096)
def _host_refusal(host: str, allowed: tuple[str, ...]) -> str | None:
    # Cached per (host, allow-list): buyer URLs repeat on every auction.
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        if ":" in host:
            return f"{host!r} is not a valid IPv6 address"
        try:
            socket.inet_aton(host)  # parses 127.1, 0x7f.1, 2130706433; never does DNS
        except OSError:
            return None  # a name: its addresses are judged when connecting
        return f"{host!r} is not a canonical IPv4 address"
    return _address_refusal(address, _networks(allowed))


def _address_refusal(address: IPAddress, networks: tuple[IPNetwork, ...]) -> str | None:
    # Judge an IPv4 address smuggled inside IPv6 (::ffff:a.b.c.d, 6to4) as itself.
    if address.version == 6:
        embedded = address.ipv4_mapped or address.sixtofour
        if embedded is not None:
            address = embedded
    if address in METADATA_ADDRESSES:
        return f"{address} is a cloud metadata address"
    if any(address in network for network in networks):
        return None
    kind = _non_public_kind(address)
    return None if kind is None else f"{address} is a {kind} address"


def _non_public_kind(address: IPAddress) -> str | None:
    # Order matters only for the wording: the most specific name first.
    if address.is_unspecified:
        return "unspecified"
    if address.is_loopback:
        return "loopback"
    if address.is_link_local:
        return "link-local"
    if address.is_multicast:
        # Checked before is_global, which is True for much of the multicast space.
        return "multicast"
    if address.is_private:
        return "private"
    if address.is_reserved:
        return "reserved"
    if not address.is_global:
        return "non-public (shared or special-purpose)"
    return None
