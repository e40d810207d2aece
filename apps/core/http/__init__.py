"""The platform's only outbound HTTP primitive: buyer pings and posts, OAuth token
fetches, health pings, webhooks.

Contract:

- **One response per request, in order, by the deadline.** ``http_send_many(requests,
  deadline=…)`` gives each request ``min(its timeout, deadline - now)`` for everything
  (connect, send, headers, full body), cancels it at that limit and returns within a
  couple of milliseconds of the deadline, whatever the other side does (never answers,
  drips bytes, sends 10 MB). It never raises for a network or buyer fault: the fault is
  the response's ``error`` (see ``OutboundResponse``).
- **No redirects** (a 3xx is ``error="redirect"``), **a size cap**
  (``HTTP_MAX_RESPONSE_BYTES``, default 256 KiB; over it is ``error="too_large"`` and the
  rest is never read), **no cookies, no proxies** from the environment, ``User-Agent:
  leadexchange/1`` unless the request sets one.
- **SSRF guard** (``guard``): ``url_check`` refuses non-http(s) URLs and non-public IP
  literals before anything is sent; names are checked as they resolve, at connect time.
  ``HTTP_ALLOWED_NETWORKS`` (CIDRs) admits private ranges (the demo: ``127.0.0.1/32``).
  The allow-list is read at each check; a name's addresses are cached for 10 s and its
  connections kept alive for 30 s, so a runtime change reaches names already in use
  after ``http_client_close()``.
- **Cheap**: one event loop in a daemon thread per process (restarted after fork), one
  aiohttp session and keep-alive pool on it, shared by every thread; the ``*_async``
  forms serve callers already inside an event loop.

Settings read (all optional): ``HTTP_ALLOWED_NETWORKS`` (``[]``),
``HTTP_MAX_RESPONSE_BYTES`` (262144), ``HTTP_MAX_CONNECTIONS`` (1000),
``HTTP_MAX_CONNECTIONS_PER_HOST`` (500); the pool sizes when the loop starts.
"""

from apps.core.http.guard import BlockedUrl, url_check
from apps.core.http.messages import OutboundRequest, OutboundResponse
from apps.core.http.runtime import (
    http_client_close,
    http_send,
    http_send_async,
    http_send_many,
    http_send_many_async,
)

__all__ = [
    "BlockedUrl",
    "OutboundRequest",
    "OutboundResponse",
    "http_client_close",
    "http_send",
    "http_send_async",
    "http_send_many",
    "http_send_many_async",
    "url_check",
]
