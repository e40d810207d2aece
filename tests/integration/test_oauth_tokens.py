"""OAuth2 buyers never hold up an auction (issue 10, A2): tokens are fetched ahead, in the
background, shared across processes through Redis, renewed before they expire; a contract
whose token is not ready ends its round with ``error: token unavailable``."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from apps.auctions.models import Ping
from apps.buyers.models import Endpoint
from apps.buyers.oauth import oauth_token, oauth_tokens_forget, oauth_tokens_refresh
from apps.buyers.transports import AuthSpec
from apps.leads.models import Lead
from tests.factories import (
    consumer_fields,
    lead_submit,
    sim_contract,
    sim_requests,
    source_with_key,
)

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("fresh_simulator")]

REPO = Path(__file__).resolve().parents[2]
CLIENT = AuthSpec(type="oauth2", username="client-7", secret="s3cret-value")


class TokenServer:
    """A buyer's token endpoint: answers after ``delay`` seconds with a numbered token."""

    def __init__(self) -> None:
        self.delay, self.lifetime, self.status = 0.0, 3600, 200
        self.issued = 0
        self.lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                self.rfile.read(int(self.headers.get("Content-Length") or 0))
                time.sleep(server.delay)
                with server.lock:
                    server.issued += 1
                    number = server.issued
                body = json.dumps({"access_token": f"tok-{number}", "token_type": "Bearer",
                                   "expires_in": server.lifetime}).encode()
                self.send_response(server.status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/oauth/token"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def token_server():
    oauth_tokens_forget()
    server = TokenServer()
    yield server
    server.close()
    oauth_tokens_forget()


def oauth_contract(vertical, sim_url, token_url: str, query: str):
    contract = sim_contract(vertical, sim_url, query=query)
    Endpoint.objects.filter(contract=contract).update(
        auth_type="oauth2", auth_username=CLIENT.username, auth_secret=CLIENT.secret,
        oauth_token_url=token_url)
    contract.save(update_fields=["updated_at"])
    return contract


def wait_for(predicate, timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.02)
    return False


def test_a_slow_token_endpoint_does_not_hold_up_the_ping_round(
        api_client, vertical, sim_url, token_server, monkeypatch):
    token_server.delay = 1.5
    _, key = source_with_key(vertical, time_budget_ms=500)
    fast = sim_contract(vertical, sim_url, query="bid=10&latency_ms=1")
    guarded = oauth_contract(vertical, sim_url, token_server.url, "bid=15&latency_ms=1")
    observed = []
    monkeypatch.setattr("apps.auctions.services.posting.health_observe",
                        lambda observations: observed.extend(observations) or [])

    started = time.monotonic()
    body = lead_submit(api_client, key, consumer_fields(1)).json()
    elapsed = time.monotonic() - started

    assert body["status"] == "sold"
    assert elapsed < 1.0, f"the answer waited for the token endpoint ({elapsed:.2f} s)"
    auction = Lead.objects.get(uuid=body["id"]).auctions.get()
    assert auction.bids_at < auction.ping_deadline_at, "the round waited past its deadline"
    pings = dict(Ping.objects.filter(auction__lead__uuid=body["id"])
                 .values_list("contract_id", "outcome"))
    assert pings == {fast.pk: "bid", guarded.pk: "error"}
    assert Ping.objects.get(auction__lead__uuid=body["id"], contract=guarded).detail == (
        "token unavailable")
    # its ping and its post; nothing for the contract that was never sent anything
    assert [(o.contract_id, o.failed) for o in observed] == [(fast.pk, False)] * 2
    assert sim_requests(sim_url, f"/b{guarded.pk}/ping") == []

    assert wait_for(lambda: token_server.issued == 1)
    assert wait_for(lambda: oauth_token(CLIENT, token_server.url) == "tok-1")
    body = lead_submit(api_client, key, consumer_fields(2)).json()

    assert body["status"] == "sold"
    assert Lead.objects.get(uuid=body["id"]).sale_price == 15
    [ping] = sim_requests(sim_url, f"/b{guarded.pk}/ping")
    assert ping["headers"]["authorization"] == "Bearer tok-1"
    [post] = sim_requests(sim_url, f"/b{guarded.pk}/post")
    assert post["headers"]["authorization"] == "Bearer tok-1"
    assert token_server.issued == 1


def test_a_token_is_renewed_in_the_background_before_it_expires(token_server):
    token_server.lifetime = 12  # usable 2 s (10 s of safety), renewed after 1.5 s

    assert oauth_token(CLIENT, token_server.url, wait=5) == "tok-1"
    time.sleep(1.6)

    assert oauth_token(CLIENT, token_server.url) == "tok-1"  # still good, renewal started
    assert wait_for(lambda: oauth_token(CLIENT, token_server.url) == "tok-2")
    assert token_server.issued == 2


def test_a_failing_token_endpoint_is_not_hammered(token_server, caplog):
    token_server.status = 503

    assert oauth_token(CLIENT, token_server.url, wait=5) is None
    for _ in range(20):
        assert oauth_token(CLIENT, token_server.url) is None

    assert token_server.issued == 1
    assert "oauth.token_failed" in caplog.text
    assert CLIENT.secret not in caplog.text


def test_the_periodic_job_fetches_the_tokens_of_active_oauth_buyers(
        vertical, sim_url, token_server):
    oauth_contract(vertical, sim_url, token_server.url, "bid=10")
    switched_off = oauth_contract(vertical, sim_url, token_server.url + "?other", "bid=10")
    switched_off.status = "paused"
    switched_off.save()

    assert oauth_tokens_refresh() == 1
    assert oauth_token(CLIENT, token_server.url) == "tok-1"
    assert token_server.issued == 1


FETCH_IN_ANOTHER_PROCESS = """
import django, sys
django.setup()
from apps.buyers.oauth import oauth_token_renew
from apps.buyers.transports import AuthSpec
auth = AuthSpec(type="oauth2", username="client-7", secret="s3cret-value")
sys.exit(0 if oauth_token_renew(auth, sys.argv[1]) else 1)
"""


@pytest.mark.redis
def test_processes_share_one_token_through_redis(token_server, settings):
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "leadexchange.settings",
           "REDIS_URL": settings.REDIS_URL, "HTTP_ALLOWED_NETWORKS": "127.0.0.1/32"}
    subprocess.run([sys.executable, "-c", FETCH_IN_ANOTHER_PROCESS, token_server.url],
                   cwd=REPO, env=env, check=True, timeout=60)
    assert token_server.issued == 1

    assert oauth_token(CLIENT, token_server.url, wait=5) == "tok-1"
    assert token_server.issued == 1, "this process asked the token endpoint again"
