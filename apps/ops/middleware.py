"""Answer ``/healthz``, ``/readyz`` and ``/metrics`` before anything else runs.

Load balancers, orchestrators and Prometheus reach each process by its address, so they send
``Host: 10.0.0.5:8000`` (a pod's or a target's IP), which ``ALLOWED_HOSTS`` rightly refuses
for the site (400), and they probe over plain HTTP, which ``SECURE_SSL_REDIRECT`` would
answer with a redirect. These three answers build no URL from the Host header and set no
cookie, so they are served first, on their exact paths, whatever the Host and scheme.
"""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse

from apps.ops.views import healthz, metrics, readyz

PROBES: dict[str, Callable[[HttpRequest], HttpResponse]] = {
    "/healthz": healthz, "/readyz": readyz, "/metrics": metrics,
}


class ProbeMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        view = PROBES.get(request.path_info)
        return view(request) if view is not None else self.get_response(request)
