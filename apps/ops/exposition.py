"""``/metrics`` in Prometheus' text format: the in-process metrics (summed over every process
in multiprocess mode) followed by the state read at scrape time (``collector``).

Multiprocess mode is on when ``PROMETHEUS_MULTIPROC_DIR`` names a directory every process of
the deployment on this machine writes to (gunicorn workers, Celery prefork children); it
must exist and be emptied before they start (README "Health and metrics"). Only counters and
histograms are kept in process, so no gauge depends on a dead process's file.
"""

from __future__ import annotations

import hmac
import ipaddress
import os

from django.conf import settings
from django.http import HttpRequest
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    generate_latest,
    multiprocess,
)

import apps.auctions.metrics  # noqa: F401 - its families are declared in every process
from apps.core.clientip import client_ip
from apps.ops.collector import StateCollector

_state = CollectorRegistry(auto_describe=False)
_state.register(StateCollector())


def metrics_render() -> tuple[bytes, str]:
    """The scrape's body and its content type."""
    directory = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if directory:
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry, path=directory)
    else:
        registry = REGISTRY
    return generate_latest(registry) + generate_latest(_state), CONTENT_TYPE_LATEST


def metrics_access(request: HttpRequest) -> int | None:
    """None when ``request`` may read the metrics, else the status to answer: with
    ``METRICS_TOKEN`` set, ``Authorization: Bearer <token>`` is required (401 otherwise);
    unset, only a loopback client may (403 otherwise)."""
    token = settings.METRICS_TOKEN
    if token:
        scheme, _, given = request.headers.get("Authorization", "").partition(" ")
        ok = scheme.lower() == "bearer" and hmac.compare_digest(given.strip().encode(),
                                                                token.encode())
        return None if ok else 401
    ip = client_ip(request)
    return None if ip is not None and ipaddress.ip_address(ip).is_loopback else 403
