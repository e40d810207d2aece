"""Every /api/ path answers JSON — ``{"detail", "code"}`` — whatever goes wrong: an unknown id,
a malformed id, a trailing slash, an unknown path, a method the path does not serve (405 with
``Allow``, before any authentication)."""

from __future__ import annotations

import uuid

import pytest

from tests.api.conftest import staff_token
from tests.factories import source_with_key

pytestmark = pytest.mark.django_db

NOT_FOUND = {"detail": "Not found.", "code": "not_found"}


def _no_slash(path: str) -> dict:
    return {"detail": f"Not found. Did you mean {path} (no trailing slash)?",
            "code": "not_found"}


def _not_allowed(method: str) -> dict:
    return {"detail": f'Method "{method}" not allowed.', "code": "method_not_allowed"}


UNKNOWN_LEAD = uuid.UUID(int=7)

# (who calls, method, path, status, body, Allow header or None)
CASES = [
    # unknown and malformed ids
    ("source", "get", f"/api/v1/leads/{UNKNOWN_LEAD}", 404,
     {"detail": "Lead not found.", "code": "not_found"}, None),
    ("source", "get", "/api/v1/leads/not-a-uuid", 404, NOT_FOUND, None),
    ("source", "get", "/api/v1/leads/123", 404, NOT_FOUND, None),
    ("staff", "get", "/api/v1/buyers/987654", 404, NOT_FOUND, None),
    ("staff", "get", "/api/v1/buyers/abc", 404, NOT_FOUND, None),
    ("staff", "get", "/api/v1/contracts/abc/health", 404, NOT_FOUND, None),
    ("staff", "post", "/api/v1/sources/1/keys/x/rotate", 404, NOT_FOUND, None),
    ("anonymous", "get", "/api/v1/verticals/no-such-vertical/spec", 404, NOT_FOUND, None),
    # trailing slashes: the detail names the path that exists
    ("source", "get", "/api/v1/leads/", 404, _no_slash("/api/v1/leads"), None),
    ("source", "post", "/api/v1/leads/", 404, _no_slash("/api/v1/leads"), None),
    ("staff", "get", "/api/v1/buyers/", 404, _no_slash("/api/v1/buyers"), None),
    ("anonymous", "get", "/api/v1/verticals/auto-insurance/spec/", 404,
     _no_slash("/api/v1/verticals/auto-insurance/spec"), None),
    # unknown paths
    ("anonymous", "get", "/api/v1/nope", 404, NOT_FOUND, None),
    ("anonymous", "post", "/api/v1/nope", 404, NOT_FOUND, None),
    ("anonymous", "get", "/api/v2/leads", 404, NOT_FOUND, None),
    ("anonymous", "get", "/api/", 404, NOT_FOUND, None),
    ("staff", "delete", "/api/schema/extra", 404, NOT_FOUND, None),
    # wrong methods: 405 with Allow, whoever calls
    ("anonymous", "delete", "/api/v1/leads", 405, _not_allowed("DELETE"),
     "GET, POST, HEAD, OPTIONS"),
    ("staff", "put", "/api/v1/leads", 405, _not_allowed("PUT"), "GET, POST, HEAD, OPTIONS"),
    ("source", "patch", "/api/v1/leads", 405, _not_allowed("PATCH"),
     "GET, POST, HEAD, OPTIONS"),
    ("source", "post", f"/api/v1/leads/{UNKNOWN_LEAD}", 405, _not_allowed("POST"),
     "GET, HEAD, OPTIONS"),
    ("anonymous", "put", "/api/v1/verticals/auto-insurance/spec", 405, _not_allowed("PUT"),
     "GET, HEAD, OPTIONS"),
    ("source", "delete", "/api/v1/reports/kpis", 405, _not_allowed("DELETE"),
     "GET, HEAD, OPTIONS"),
    ("anonymous", "get", "/api/v1/contracts/1/pause", 405, _not_allowed("GET"),
     "POST, OPTIONS"),
    ("staff", "delete", "/api/v1/sources/1/keys", 405, _not_allowed("DELETE"),
     "POST, OPTIONS"),
]


@pytest.mark.parametrize(("who", "method", "path", "status", "body", "allow"), CASES,
                         ids=[f"{c[0]}-{c[1]}-{c[2]}" for c in CASES])
def test_every_api_path_answers_json(client, vertical, who, method, path, status, body, allow):
    headers = {}
    if who == "source":
        headers["HTTP_AUTHORIZATION"] = f"Bearer {source_with_key(vertical)[1]}"
    elif who == "staff":
        headers["HTTP_AUTHORIZATION"] = f"Bearer {staff_token('ops', superuser=True)}"

    response = getattr(client, method)(path, **headers)

    assert response.status_code == status
    assert response["Content-Type"] == "application/json"
    assert response.json() == body
    if status == 405:
        assert response["Allow"] == allow


def test_the_docs_without_their_slash_still_redirect(client):
    response = client.get("/api/docs")

    assert response.status_code == 301
    assert response["Location"] == "/api/docs/"


def test_a_server_error_under_api_is_json(client, monkeypatch):
    from apps.leads.api import views

    def boom(*args, **kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr(views, "lead_get_for_source", boom)
    client.raise_request_exception = False
    _, key = source_with_key()

    response = client.get(f"/api/v1/leads/{UNKNOWN_LEAD}", HTTP_AUTHORIZATION=f"Bearer {key}")

    assert response.status_code == 500
    assert response["Content-Type"] == "application/json"
    assert response.json() == {"detail": "Server error.", "code": "server_error"}
