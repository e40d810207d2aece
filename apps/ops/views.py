"""The operators' endpoints; no login: load balancers and Prometheus call them."""

from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe

from apps.ops.exposition import metrics_access, metrics_render
from apps.ops.readiness import FAIL, readiness_checks


@never_cache
@require_safe
def healthz(request: HttpRequest) -> JsonResponse:
    """Liveness: the process answers requests. Touches nothing else, so a database outage
    never gets every web process restarted."""
    return JsonResponse({"status": "ok"})


@never_cache
@require_safe
def readyz(request: HttpRequest) -> JsonResponse:
    """Readiness: 200 when no check of ``READYZ_REQUIRED`` fails, else 503 naming them; the
    body gives every check's result."""
    checks = readiness_checks()
    failed = [name for name, result in checks.items()
              if result == FAIL and name in settings.READYZ_REQUIRED]
    return JsonResponse({"status": "unavailable" if failed else "ready", "failed": failed,
                         "checks": checks}, status=503 if failed else 200)


_DENIED = {
    401: ("A bearer token is required: Authorization: Bearer <METRICS_TOKEN>.",
          "not_authenticated"),
    403: ("Metrics are served to loopback clients only while METRICS_TOKEN is unset.",
          "permission_denied"),
}


@never_cache
@require_safe
def metrics(request: HttpRequest) -> HttpResponse:
    """Prometheus text format (see ``apps.ops.exposition`` for who may read it)."""
    denied = metrics_access(request)
    if denied is not None:
        detail, code = _DENIED[denied]
        response = JsonResponse({"detail": detail, "code": code}, status=denied)
        if denied == 401:
            response["WWW-Authenticate"] = 'Bearer realm="metrics"'
        return response
    body, content_type = metrics_render()
    return HttpResponse(body, content_type=content_type)
