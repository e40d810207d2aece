"""The outbound HTTP primitive against real sockets: the buyer simulator and tiny raw servers.

No database. Every buyer misbehaviour must end as one response with its error code, by
the deadline.
"""

from __future__ import annotations

import contextlib
import http.server
import json
import os
import select
import socket
import sys
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator

import pytest

from apps.core.http import (
    OutboundRequest,
    http_client_close,
    http_send,
    http_send_many,
)
from apps.core.http import engine as http_engine
from apps.demo.simulator.testing import simulator_process

DEADLINE_SLACK_S = 0.020


@pytest.fixture(scope="session")
def sim_url() -> Iterator[str]:
    with simulator_process(seed=7) as url:
        yield url


@pytest.fixture(autouse=True)
def allow_loopback(settings) -> None:
    settings.HTTP_ALLOWED_NETWORKS = ["127.0.0.1/32"]


@pytest.fixture(autouse=True, scope="module")
def _client_closed_after_module() -> Iterator[None]:
    yield
    http_client_close()


def ping(url: str, *, timeout: float = 5.0, latency_ms: int | None = None,
         method: str = "POST") -> OutboundRequest:
    headers = {"Content-Type": "application/json"}
    if latency_ms is not None:
        headers["X-Sim-Latency-Ms"] = str(latency_ms)
    body = b'{"zip": "90210"}' if method != "GET" else b""
    return OutboundRequest(method, url, headers=headers, body=body, timeout=timeout)


def sim_get(sim_url: str, path: str) -> object:
    with urllib.request.urlopen(f"{sim_url}{path}", timeout=5) as answer:  # noqa: S310
        return json.loads(answer.read())


class RawServer:
    """A TCP server on 127.0.0.1 that answers every request head with ``reply``.

    ``stream=True`` sends ``reply`` then bytes without end; ``keep_alive=False`` closes
    after each answer. Counts accepted connections. Request bodies are not supported.
    """

    def __init__(self, reply: bytes, *, keep_alive: bool = True, stream: bool = False):
        self.reply = reply
        self.keep_alive = keep_alive
        self.stream = stream
        self.connections = 0
        self.requests = 0  # request heads read
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.listener.getsockname()[1]}"
        threading.Thread(target=self._accept, daemon=True).start()

    def close(self) -> None:
        self.listener.close()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self.listener.accept()
            except OSError:
                return
            self.connections += 1
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        buffer = b""
        with conn, contextlib.suppress(OSError):
            while True:
                data = conn.recv(65536)
                if not data:
                    return
                buffer += data
                while b"\r\n\r\n" in buffer:
                    _, buffer = buffer.split(b"\r\n\r\n", 1)
                    self.requests += 1
                    conn.sendall(self.reply)
                    while self.stream:
                        conn.sendall(b"x" * 65536)
                    if not self.keep_alive:
                        return


@pytest.fixture
def raw_server() -> Iterator[Callable[..., RawServer]]:
    """Start ``RawServer``s for one test; all are closed after it."""
    servers: list[RawServer] = []

    def start(reply: bytes, **options: bool) -> RawServer:
        server = RawServer(reply, **options)
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.close()


def test_it_returns_a_complete_answer_with_lower_case_headers(sim_url):
    response = http_send(ping(f"{sim_url}/acme/ping?bid=12.50&latency_ms=5"))

    assert response.ok and response.error is None
    assert response.status == 200
    assert response.headers["content-type"] == "application/json"
    assert json.loads(response.body)["price"] == 12.5
    assert 5 <= response.latency_ms < 1000
    [received] = sim_get(sim_url, "/_sim/requests?path=/acme/ping&limit=1")
    assert received["headers"]["user-agent"] == "leadexchange/1"
    assert received["body"] == '{"zip": "90210"}'


def test_fifty_buyers_take_as_long_as_the_slowest_not_the_sum(sim_url):
    latencies = [10 + i * 6 for i in range(50)]  # 10 .. 304 ms, 7.8 s in sequence
    requests = [ping(f"{sim_url}/spread-{i}/ping", latency_ms=ms)
                for i, ms in enumerate(latencies)]

    started = time.monotonic()
    responses = http_send_many(requests, deadline=started + 2.0)
    elapsed = time.monotonic() - started

    assert [r.status for r in responses] == [200] * 50
    assert max(latencies) / 1000 <= elapsed < max(latencies) / 1000 + 0.15
    for response, ms in zip(responses, latencies, strict=True):
        assert ms <= response.latency_ms < ms + 150


def test_hanging_and_dripping_buyers_are_cut_at_the_deadline(sim_url, settings):
    # A cap above the drip's announced 10 MiB, so the drip is read until cancelled.
    settings.HTTP_MAX_RESPONSE_BYTES = 64 * 1024 * 1024
    requests = [
        ping(f"{sim_url}/hang/ping?fail=hang"),
        ping(f"{sim_url}/drip/ping?fail=drip"),
        ping(f"{sim_url}/quick/ping", latency_ms=10),
        ping(f"{sim_url}/own-timeout/ping?fail=hang", timeout=0.1),
    ]

    deadline = time.monotonic() + 0.3
    hang, drip, quick, own_timeout = http_send_many(requests, deadline=deadline)
    overshoot = time.monotonic() - deadline

    assert overshoot <= DEADLINE_SLACK_S
    assert (hang.error, drip.error, quick.error, own_timeout.error) == (
        "timeout", "timeout", None, "timeout")
    assert hang.status is None and drip.status is None and quick.status == 200
    assert 280 <= hang.latency_ms <= 300 + 1000 * DEADLINE_SLACK_S
    assert 90 <= own_timeout.latency_ms < 150


def test_a_deadline_already_passed_sends_nothing(sim_url):
    responses = http_send_many([ping(f"{sim_url}/late/ping")], deadline=time.monotonic() - 1)

    assert [r.error for r in responses] == ["timeout"]
    assert "/late/ping" not in sim_get(sim_url, "/_sim/stats")


def test_an_empty_batch_returns_an_empty_list():
    assert http_send_many([]) == []


def test_a_huge_body_is_refused_without_reading_it(sim_url):
    response = http_send(ping(f"{sim_url}/huge/ping?fail=huge"))

    assert response.error == "too_large" and response.status == 200
    assert response.body == b""
    assert response.latency_ms < 500


def test_an_endless_body_without_length_stops_one_byte_past_the_cap(raw_server, settings):
    settings.HTTP_MAX_RESPONSE_BYTES = 100_000
    server = raw_server(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\n", stream=True)

    started = time.monotonic()
    response = http_send(ping(f"{server.url}/endless", method="GET", timeout=5))

    assert response.error == "too_large"
    assert response.body == b"x" * 100_000
    assert time.monotonic() - started < 1


def test_a_redirect_is_reported_and_not_followed(sim_url):
    target = f"{sim_url}/redirect-target/ping"
    response = http_send(ping(f"{sim_url}/moved/ping?fail=redirect&location={target}"))
    to_metadata = http_send(ping(f"{sim_url}/moved-to-metadata/ping?fail=redirect"))

    assert (response.error, response.status) == ("redirect", 302)
    assert "127.0.0.1" in response.detail
    assert response.headers["location"] == target
    assert "/redirect-target/ping" not in sim_get(sim_url, "/_sim/stats")
    assert to_metadata.error == "redirect" and "169.254.169.254" in to_metadata.detail


def test_a_server_error_is_an_answer_with_its_status(sim_url):
    response = http_send(ping(f"{sim_url}/broken/ping?fail=5xx&status=502"))

    assert response.ok and response.status == 502
    assert response.body == b"simulated failure 502"


def test_a_garbage_body_is_returned_as_it_came(sim_url):
    response = http_send(ping(f"{sim_url}/garbage/ping?fail=garbage"))

    assert response.ok and response.status == 200 and response.body


def test_a_connection_closed_without_answer_is_a_connect_error(sim_url):
    response = http_send(ping(f"{sim_url}/closer/ping?fail=close"))

    assert response.error in ("connect", "protocol") and response.status is None
    assert response.detail


def test_a_refused_connection_is_a_connect_error():
    with socket.create_server(("127.0.0.1", 0)) as probe:
        port = probe.getsockname()[1]  # closed on exit: nothing listens there any more

    response = http_send(ping(f"http://127.0.0.1:{port}/ping"))

    assert response.error == "connect" and response.status is None


def test_malformed_http_is_a_protocol_error(raw_server):
    server = raw_server(b"THIS IS NOT HTTP\r\n\r\n", keep_alive=False)

    response = http_send(ping(f"{server.url}/ping", method="GET"))

    assert response.error == "protocol" and response.status is None


def test_a_literal_private_address_is_blocked_before_connecting(sim_url, settings):
    settings.HTTP_ALLOWED_NETWORKS = []

    response = http_send(ping(f"{sim_url}/literal-blocked/ping"))

    assert response.error == "blocked" and "loopback" in response.detail
    assert "/literal-blocked/ping" not in sim_get(sim_url, "/_sim/stats")


def test_a_name_resolving_to_loopback_is_blocked_unless_allowed(sim_url, settings):
    http_client_close()  # no cached resolution or pooled connection from earlier tests
    by_name = sim_url.replace("127.0.0.1", "localhost")
    settings.HTTP_ALLOWED_NETWORKS = []

    blocked = http_send(ping(f"{by_name}/by-name/ping"))

    assert blocked.error == "blocked"
    assert "loopback" in blocked.detail
    assert "/by-name/ping" not in sim_get(sim_url, "/_sim/stats")

    settings.HTTP_ALLOWED_NETWORKS = ["127.0.0.1/32"]

    assert http_send(ping(f"{by_name}/by-name/ping")).status == 200


def test_sequential_requests_reuse_one_kept_alive_connection(raw_server):
    kept = raw_server(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
    closing = raw_server(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok",
                         keep_alive=False)

    for _ in range(100):
        assert http_send(ping(f"{kept.url}/ping", method="GET")).body == b"ok"
    for _ in range(20):
        assert http_send(ping(f"{closing.url}/ping", method="GET")).body == b"ok"

    assert kept.connections <= 2
    assert closing.connections == 20  # the count works: no reuse when the server closes


def test_twenty_threads_send_at_once_and_get_their_own_answers(sim_url):
    def auction(thread: int) -> list[float]:
        requests = [ping(f"{sim_url}/t{thread}-{i}/ping?bid={thread}.{i:02d}", latency_ms=50)
                    for i in range(10)]
        responses = http_send_many(requests, deadline=time.monotonic() + 2)
        return [json.loads(r.body)["price"] for r in responses]

    results: dict[int, list[float]] = {}
    threads = [threading.Thread(target=lambda t=t: results.__setitem__(t, auction(t)))
               for t in range(20)]
    started = time.monotonic()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    elapsed = time.monotonic() - started

    assert results == {t: [float(f"{t}.{i:02d}") for i in range(10)] for t in range(20)}
    assert elapsed < 0.6  # 20 x 50 ms would be 1 s in sequence


def test_a_forked_child_starts_its_own_connections_and_can_send(sim_url):
    assert http_send(ping(f"{sim_url}/parent/ping")).ok
    parent_driver = http_engine._driver()
    read_end, write_end = os.pipe()

    pid = os.fork()
    if pid == 0:  # the child: report, then leave without running pytest's teardown
        try:
            response = http_send(ping(f"{sim_url}/child/ping"))
            child_driver = http_engine._driver()
            os.write(write_end, json.dumps({
                "status": response.status, "error": response.error,
                "driver_pid": child_driver.pid, "pid": os.getpid(),
            }).encode())
        finally:
            os._exit(0)

    os.close(write_end)
    try:
        readable, _, _ = select.select([read_end], [], [], 10)
        report = json.loads(os.read(read_end, 4096)) if readable else None
    finally:
        os.close(read_end)
        if report is None:
            os.kill(pid, 9)
        os.waitpid(pid, 0)

    assert report is not None, "the child did not answer within 10 s"
    assert (report["status"], report["error"]) == (200, None)
    assert report["driver_pid"] == report["pid"] == pid != parent_driver.pid
    assert http_engine._driver() is parent_driver
    assert http_send(ping(f"{sim_url}/parent-after/ping")).ok


def test_the_answer_hook_sees_each_answer_on_arrival_and_cannot_break_the_batch(sim_url):
    seen: dict[int, object] = {}

    def hook(index, response):
        seen[index] = response
        if index == 1:
            raise ValueError("a broken hook")

    requests = [ping(f"{sim_url}/hook-{i}/ping", latency_ms=ms)
                for i, ms in enumerate((5, 10, 15))]
    responses = http_send_many(requests, deadline=time.monotonic() + 2, on_answer=hook)

    assert all(r.ok for r in responses)
    assert [seen[i] is responses[i] for i in range(3)] == [True, True, True]


def test_the_answer_hook_never_sees_a_request_cut_at_the_deadline(sim_url):
    seen: dict[int, object] = {}
    requests = [ping(f"{sim_url}/hook-fast/ping", latency_ms=5),
                ping(f"{sim_url}/hook-hang/ping?fail=hang")]

    responses = http_send_many(requests, deadline=time.monotonic() + 0.2,
                               on_answer=lambda i, r: seen.__setitem__(i, r))

    assert responses[1].error == "timeout"
    assert set(seen) == {0}


def test_an_answer_that_arrived_in_time_while_the_thread_was_busy_is_read_not_cut(sim_url):
    """Under load the sending thread can get the interpreter back after a deadline that a
    buyer met: what is already in the socket buffers then is an answer, not a timeout."""
    def busy_past_the_deadline(index, response):
        if index == 0:
            time.sleep(0.3)  # holds the thread while the other answer arrives, in time

    requests = [ping(f"{sim_url}/busy-fast/ping", latency_ms=5),
                ping(f"{sim_url}/busy-in-time/ping", latency_ms=60)]
    started = time.monotonic()
    responses = http_send_many(requests, deadline=started + 0.15,
                               on_answer=busy_past_the_deadline)

    assert time.monotonic() - started >= 0.3
    assert [(r.status, r.error) for r in responses] == [(200, None), (200, None)]
    assert responses[1].latency_ms >= 60


OK_REPLY = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Type: text/plain\r\n\r\nok"


def test_each_request_of_a_generator_leaves_before_the_next_is_built(raw_server):
    server = raw_server(OK_REPLY)
    connected_while_building: list[bool] = []

    def requests() -> Iterator:
        yield ping(f"{server.url}/first", method="GET")
        waited = time.monotonic() + 1.0
        while server.connections == 0 and time.monotonic() < waited:
            time.sleep(0.005)
        connected_while_building.append(server.connections == 1)
        yield ping(f"{server.url}/second", method="GET")

    responses = http_send_many(requests(), deadline=time.monotonic() + 2)

    assert connected_while_building == [True]
    assert [r.status for r in responses] == [200, 200]


def test_a_request_on_a_new_connection_is_written_while_the_batch_is_still_built(raw_server):
    """The slowest buyer's ping leaves first: once its connection opens, the next request
    added puts it on the wire, not the end of the build."""
    server = raw_server(OK_REPLY)
    written_while_building: list[bool] = []

    def wait_for(condition: Callable[[], bool]) -> bool:
        waited = time.monotonic() + 1.0
        while not condition() and time.monotonic() < waited:
            time.sleep(0.005)
        return condition()

    def requests() -> Iterator:
        yield ping(f"{server.url}/first", method="GET")
        wait_for(lambda: server.connections == 1)
        yield ping(f"{server.url}/second", method="GET")
        written_while_building.append(wait_for(lambda: server.requests >= 1))
        yield ping(f"{server.url}/third", method="GET")

    responses = http_send_many(requests(), deadline=time.monotonic() + 3)

    assert written_while_building == [True]
    assert [r.status for r in responses] == [200, 200, 200]


def test_a_request_sent_while_a_batch_is_being_built_gets_its_own_connections(sim_url):
    """What an OAuth token fetch does from inside the ping generator."""
    inner: list[object] = []

    def requests() -> Iterator:
        yield ping(f"{sim_url}/outer-1/ping", latency_ms=20)
        inner.append(http_send(ping(f"{sim_url}/inner/ping")))
        yield ping(f"{sim_url}/outer-2/ping", latency_ms=5)

    responses = http_send_many(requests(), deadline=time.monotonic() + 2)

    assert [r.ok for r in responses] == [True, True]
    assert inner[0].ok
    assert http_send(ping(f"{sim_url}/after/ping")).ok


class _EchoHandler(http.server.BaseHTTPRequestHandler):
    """Answers every request with what it received: its method, body and two headers."""

    protocol_version = "HTTP/1.1"  # keep-alive: the engine reuses its connection and handle
    seen: list[tuple[str, bytes, str | None, str | None]] = []

    def _echo(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        self.seen.append((self.command, body, self.headers.get("Content-Length"),
                          self.headers.get("X-Case")))
        self.send_response(200)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")

    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = _echo

    def log_message(self, *args: object) -> None:
        pass


def test_a_reused_handle_sends_each_request_as_it_is_built_not_as_the_last_one_was():
    """Handles are reused without libcurl's reset: a method, body or header of one request
    must not leak into the next one sent with the same handle."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _EchoHandler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}/echo"
    _EchoHandler.seen = []
    http_client_close()  # this thread's handles start afresh
    sent = [("PUT", b'{"a": 1}', {"X-Case": "put"}), ("POST", b'{"b": 22}', {}),
            ("GET", b"", {"X-Case": "get"}), ("DELETE", b"", {}), ("POST", b"", {}),
            ("PATCH", b"{}", {}), ("GET", b"", {})]
    try:
        for method, body, headers in sent:
            answer = http_send(OutboundRequest(method, url, headers=headers, body=body,
                                               timeout=5))
            assert (answer.status, answer.body) == (200, b"ok")
        assert len(http_engine._driver().idle) == 1  # one handle served them all
    finally:
        server.shutdown()
        server.server_close()

    assert _EchoHandler.seen == [
        ("PUT", b'{"a": 1}', "8", "put"), ("POST", b'{"b": 22}', "9", None),
        ("GET", b"", None, "get"), ("DELETE", b"", "0", None), ("POST", b"", "0", None),
        ("PATCH", b"{}", "2", None), ("GET", b"", None, None)]


def test_a_handle_put_back_keeps_nothing_of_the_request_it_sent():
    """A post's body is the lead: once sent and answered, the idle handle that sent it holds
    no reference to it (libcurl's own copy is replaced when the handle goes back)."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _EchoHandler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}/echo"
    _EchoHandler.seen = []
    body = b'{"email": "kept.nowhere@example.com", "phone": "(212) 555-0199"}'
    references = sys.getrefcount(body)
    try:
        request = OutboundRequest("POST", url, headers={}, body=body, timeout=5)
        answer = http_send(request)
        del request
        held = sys.getrefcount(body) - references  # by the idle handle, if anything
        then_get = http_send(OutboundRequest("GET", url, headers={}, body=b"", timeout=5))
    finally:
        server.shutdown()
        server.server_close()

    assert (answer.status, then_get.status) == (200, 200)
    assert held == 0
    # and the emptied body left on the handle does not follow the next request
    assert [(method, sent) for method, sent, *_ in _EchoHandler.seen] == [("POST", body),
                                                                        ("GET", b"")]
