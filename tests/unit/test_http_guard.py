"""The SSRF guard's URL check: which URLs outbound HTTP may request (no DNS, no sockets)."""

from __future__ import annotations

import ipaddress

import pytest

from apps.core.http import BlockedUrl, url_check
from apps.core.http.guard import address_refusal


@pytest.fixture(autouse=True)
def no_allow_list(settings):
    settings.HTTP_ALLOWED_NETWORKS = []


@pytest.mark.parametrize("url", [
    "http://example.com/ping",
    "https://buyer.example.org:8443/v1/ping?x=1",
    "HTTPS://Example.COM/post",
    "http://93.184.216.34/ping",
    "http://8.8.8.8:8080/",
    "http://[2001:4860:4860::8888]/ping",
    "http://user:secret@example.com/ping",
    "http://localhost/ping",  # a name: judged when it resolves, not here
])
def test_it_allows_public_hosts_and_names(url):
    url_check(url)


@pytest.mark.parametrize(("url", "reason"), [
    ("http://10.0.0.1/ping", "private"),
    ("http://10.255.255.255/", "private"),
    ("http://172.16.0.1/", "private"),
    ("http://172.31.255.254/", "private"),
    ("http://192.168.1.10/", "private"),
    ("http://127.0.0.1:8000/ping", "loopback"),
    ("http://127.8.9.10/", "loopback"),
    ("http://[::1]/", "loopback"),
    ("http://[fc00::1]/", "private"),
    ("http://[fd12:3456::1]/", "private"),
    ("http://[fe80::1]/", "link-local"),
    ("http://169.254.169.254/latest/meta-data/", "cloud metadata"),
    ("http://[fd00:ec2::254]/", "cloud metadata"),
    ("http://100.100.100.200/", "cloud metadata"),
    ("http://169.254.1.1/", "link-local"),
    ("http://0.0.0.0/", "unspecified"),
    ("http://[::]/", "unspecified"),
    ("http://100.64.0.1/", "non-public"),
    ("http://224.0.0.1/", "multicast"),
    ("http://[ff02::1]/", "multicast"),
    ("http://240.0.0.1/", "private"),
    ("http://[::ffff:127.0.0.1]/", "loopback"),
    ("http://[::ffff:10.1.2.3]/", "private"),
    ("http://[2002:7f00:1::1]/", "loopback"),  # 6to4 wrapping 127.0.0.1
    ("http://127.1/", "canonical"),
    ("http://2130706433/", "canonical"),
    ("http://0x7f.0.0.1/", "canonical"),
    ("ftp://example.com/file", "scheme"),
    ("file:///etc/passwd", "scheme"),
    ("gopher://example.com/", "scheme"),
    ("//example.com/ping", "scheme"),
    ("http:///ping", "no host"),
    ("https://", "no host"),
])
def test_it_refuses_non_public_addresses_and_bad_urls(url, reason):
    with pytest.raises(BlockedUrl, match=reason):
        url_check(url)


@pytest.mark.parametrize("url", ["http://127.0.0.1:8000/ping", "https://127.0.0.1/"])
def test_the_allow_list_admits_loopback(settings, url):
    with pytest.raises(BlockedUrl):
        url_check(url)

    settings.HTTP_ALLOWED_NETWORKS = ["127.0.0.1/32"]

    url_check(url)


def test_the_allow_list_admits_only_its_own_networks(settings):
    settings.HTTP_ALLOWED_NETWORKS = ["127.0.0.1/32", "10.1.0.0/16"]

    url_check("http://10.1.200.3/")
    url_check("http://[::ffff:127.0.0.1]/")
    for url in ("http://127.0.0.2/", "http://10.2.0.1/", "http://[::1]/"):
        with pytest.raises(BlockedUrl):
            url_check(url)


def test_metadata_stays_refused_inside_an_allowed_network(settings):
    settings.HTTP_ALLOWED_NETWORKS = ["169.254.0.0/16"]

    url_check("http://169.254.1.1/")
    with pytest.raises(BlockedUrl, match="metadata"):
        url_check("http://169.254.169.254/")


@pytest.mark.parametrize(("address", "refused"), [
    ("93.184.216.34", False), ("10.0.0.5", True), ("127.0.0.1", True), ("::1", True),
    ("169.254.169.254", True), ("::ffff:10.0.0.1", True), ("2606:4700:4700::1111", False),
], ids=str)
def test_every_resolved_address_is_judged_at_connect_time(address, refused):
    """The engine's open-socket check: what a name resolves to (or re-resolves to: DNS
    rebinding) is judged when the connection opens."""
    assert (address_refusal(ipaddress.ip_address(address)) is not None) is refused


def test_connect_time_checks_honour_the_allow_list(settings):
    settings.HTTP_ALLOWED_NETWORKS = ["127.0.0.1/32"]

    assert address_refusal(ipaddress.ip_address("127.0.0.1")) is None
    assert address_refusal(ipaddress.ip_address("::1")) is not None
