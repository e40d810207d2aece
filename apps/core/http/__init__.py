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
  literals before anything is sent; names are checked as they resolve, every address, when
  the connection opens. ``HTTP_ALLOWED_NETWORKS`` (CIDRs) admits private ranges (the demo:
  ``127.0.0.1/32``). The allow-list is read at each check; connections already open are
  kept alive until ``http_client_close()``.
- **Kept-alive connections**: a request sent on a kept-alive connection the other side had
  already dropped, and that got nothing back, is re-sent once on a fresh connection (what
  libcurl, like every HTTP client, does for a dead idle connection). Posts carry an
  ``Idempotency-Key`` so a buyer recognises such a re-send.
- **Cheap**: libcurl's multi interface (pycurl) driven by the calling thread, which keeps
  its own keep-alive connections; DNS and TLS sessions are cached per process. Measured
  cost: about a tenth of the CPU per request of requests + a thread pool
  (``bench/fanout_cost.py``; absolute figures vary with the machine).

Settings read (all optional): ``HTTP_ALLOWED_NETWORKS`` (``[]``),
``HTTP_MAX_RESPONSE_BYTES`` (262144).
"""

from apps.core.http.guard import BlockedUrl, url_check
from apps.core.http.messages import OutboundRequest, OutboundResponse
from apps.core.http.runtime import http_client_close, http_send, http_send_many

__all__ = [
    "BlockedUrl",
    "OutboundRequest",
    "OutboundResponse",
    "http_client_close",
    "http_send",
    "http_send_many",
    "url_check",
]
