"""The buyer simulator over real sockets: a subprocess spoken to with http.client/socket."""

from __future__ import annotations

import contextlib
import http.client
import json
import socket
import time
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO
from urllib.parse import urlencode, urlsplit

import pytest

from apps.demo.simulator import running_simulator
from apps.demo.simulator.testing import simulator_process, start_simulator_process

Response = tuple[int, dict[str, str], bytes]


@pytest.fixture(scope="module")
def sim() -> Iterator[tuple[str, int]]:
    """(host, port) of one simulator subprocess shared by this module's tests."""
    with simulator_process(seed=1) as url:
        parts = urlsplit(url)
        assert parts.hostname is not None and parts.port is not None
        yield parts.hostname, parts.port


def call(
    sim: tuple[str, int],
    target: str,
    *,
    method: str = "GET",
    body: bytes | None = None,
    headers: dict[str, str] | None = None,
    timeout: float = 5.0,
) -> Response:
    connection = http.client.HTTPConnection(*sim, timeout=timeout)
    try:
        connection.request(method, target, body=body, headers=headers or {})
        response = connection.getresponse()
        data = response.read()
        return response.status, {k.lower(): v for k, v in response.getheaders()}, data
    finally:
        connection.close()


def raw_connection(sim: tuple[str, int], timeout: float = 5.0) -> socket.socket:
    return socket.create_connection(sim, timeout=timeout)


def read_head(stream: BinaryIO) -> bytes:
    """Read a response head (without its blank line) from a socket's buffered reader."""
    head = b""
    while not head.endswith(b"\r\n\r\n"):
        line = stream.readline()
        assert line, f"connection closed after {head!r}"
        head += line
    return head[:-4]


def read_response(stream: BinaryIO) -> tuple[bytes, bytes]:
    """Read one Content-Length framed response: (head, body)."""
    head = read_head(stream)
    length = int(next(line.split(b":")[1] for line in head.split(b"\r\n")
                      if line.lower().startswith(b"content-length:")))
    body = stream.read(length)
    assert len(body) == length, "connection closed mid-body"
    return head, body


def is_closed(stream: BinaryIO) -> bool:
    try:
        return stream.read(1) == b""
    except ConnectionResetError:
        return True


# ---------------------------------------------------------------- basics


def test_health(sim: tuple[str, int]) -> None:
    assert call(sim, "/_sim/health")[::2] == (200, b"ok")


def test_ping_and_post(sim: tuple[str, int]) -> None:
    status, headers, body = call(sim, "/basic/ping?bid=12.5")
    assert (status, headers["content-type"]) == (200, "application/json")
    assert headers["content-length"] == str(len(body))
    assert json.loads(body)["price"] == 12.5
    status, headers, body = call(sim, "/basic/post?format=text&accept=0", method="POST",
                                 body=b'{"x": 1}', headers={"Content-Type": "application/json"})
    assert (status, headers["content-type"], body) == (200, "text/plain",
                                                       b"REJECTED Rejected by buyer")


@pytest.mark.parametrize(("method", "target", "status"), [
    ("GET", "/nowhere", 404),
    ("GET", "/acme/pong", 404),
    ("DELETE", "/acme/ping", 405),
    ("GET", "/_sim/unknown", 404),
    ("GET", "/_sim/reset", 405),
    ("GET", "/acme/ping?bid=lots", 400),
    ("GET", "/_sim/requests?limit=many", 400),
])
def test_error_statuses(sim: tuple[str, int], method: str, target: str, status: int) -> None:
    got, _, body = call(sim, target, method=method)
    assert got == status
    assert json.loads(body)["error"]


def test_bad_parameters_keep_the_connection(sim: tuple[str, int]) -> None:
    connection = http.client.HTTPConnection(*sim, timeout=5)
    connection.request("GET", "/bad/ping?format=yaml")
    response = connection.getresponse()
    assert response.status == 400
    assert "'format'" in json.loads(response.read())["error"]
    sock = connection.sock
    connection.request("GET", "/bad/ping")
    assert connection.getresponse().status == 200
    assert connection.sock is sock
    connection.close()


# ---------------------------------------------------------------- latency


@pytest.mark.parametrize(("target", "headers", "at_least"), [
    ("/slow/ping?latency_ms=100", {}, 0.100),
    ("/slow/ping?latency_ms=5", {"X-Sim-Latency-Ms": "150"}, 0.150),
    ("/slow/post?latency=uniform:100,120", {}, 0.100),
])
def test_latency(sim: tuple[str, int], target: str, headers: dict[str, str],
                 at_least: float) -> None:
    started = time.monotonic()
    assert call(sim, target, headers=headers)[0] == 200
    elapsed = time.monotonic() - started
    assert at_least <= elapsed < at_least + 0.5


def test_concurrent_requests_wait_concurrently(sim: tuple[str, int]) -> None:
    sockets = [raw_connection(sim) for _ in range(200)]
    try:
        started = time.monotonic()
        for sock in sockets:
            sock.sendall(b"GET /many/ping?latency_ms=200 HTTP/1.1\r\nHost: sim\r\n\r\n")
        for sock in sockets:
            head, _ = read_response(sock.makefile("rb"))
            assert head.startswith(b"HTTP/1.1 200 ")
        elapsed = time.monotonic() - started
    finally:
        for sock in sockets:
            sock.close()
    assert 0.2 <= elapsed < 0.8


# ---------------------------------------------------------------- failures


def test_hang_never_answers(sim: tuple[str, int]) -> None:
    started = time.monotonic()
    with pytest.raises(TimeoutError):
        call(sim, "/hang/ping?fail=hang", timeout=0.3)
    assert time.monotonic() - started >= 0.3
    assert call(sim, "/_sim/health")[0] == 200  # others are still served


def test_hang_keeps_the_socket_open(sim: tuple[str, int]) -> None:
    with raw_connection(sim, timeout=0.3) as sock:
        sock.sendall(b"GET /hang/ping?fail=hang HTTP/1.1\r\nHost: sim\r\n\r\n")
        with pytest.raises(TimeoutError):
            sock.recv(1)  # neither an answer nor a close


def test_drip_trickles_bytes(sim: tuple[str, int]) -> None:
    with raw_connection(sim) as sock:
        sock.sendall(b"GET /drip/ping?fail=drip HTTP/1.1\r\nHost: sim\r\n\r\n")
        head = b""
        while b"\r\n\r\n" not in head:
            head += sock.recv(1)  # byte by byte, so no body byte is read here
        assert head.startswith(b"HTTP/1.1 200 ")
        assert b"Content-Length: 10485760" in head
        sock.settimeout(0.02)
        received = 0
        deadline = time.monotonic() + 0.4
        while time.monotonic() < deadline:
            with contextlib.suppress(TimeoutError):
                received += len(sock.recv(100))
    # One byte per 50 ms: about 8 in 0.4 s, far from the announced 10 MiB.
    assert 4 <= received <= 10


def test_huge_body_is_ten_megabytes(sim: tuple[str, int]) -> None:
    status, headers, body = call(sim, "/huge/ping?fail=huge")
    assert status == 200
    assert headers["content-type"] == "application/json"
    assert len(body) == int(headers["content-length"]) >= 10_000_000
    assert body.startswith(b'{"status":"bid","price":1,"pad":"xxxx')


def test_huge_then_keep_alive(sim: tuple[str, int]) -> None:
    connection = http.client.HTTPConnection(*sim, timeout=5)
    connection.request("GET", "/huge/ping?fail=huge")
    assert len(connection.getresponse().read()) >= 10_000_000
    connection.request("GET", "/huge/post")
    assert json.loads(connection.getresponse().read())["result"] == "accepted"
    connection.close()


@pytest.mark.parametrize(("query", "location"), [
    ("fail=redirect", "http://169.254.169.254/latest/meta-data/"),
    ("fail=redirect&location=http%3A%2F%2F127.0.0.1%3A1%2Fx", "http://127.0.0.1:1/x"),
])
def test_redirect(sim: tuple[str, int], query: str, location: str) -> None:
    status, headers, body = call(sim, f"/redirect/ping?{query}")
    assert (status, headers["location"], body) == (302, location, b"")


@pytest.mark.parametrize(("query", "status"), [
    ("fail=5xx", 503),
    ("fail=5xx&status=500", 500),
    ("fail=5xx&status=429&fail_on=post", None),
])
def test_5xx(sim: tuple[str, int], query: str, status: int | None) -> None:
    got, _, body = call(sim, f"/broken/ping?{query}")
    assert got == (status or 200)
    if status:
        assert body == f"simulated failure {status}".encode()


@pytest.mark.parametrize(("fmt", "content_type"), [
    ("json", "application/json"),
    ("xml", "application/xml"),
])
def test_garbage(sim: tuple[str, int], fmt: str, content_type: str) -> None:
    status, headers, body = call(sim, f"/garbage/ping?fail=garbage&format={fmt}")
    assert (status, headers["content-type"]) == (200, content_type)
    with pytest.raises(ValueError):
        json.loads(body)
    with pytest.raises(ET.ParseError):
        ET.fromstring(body)


def test_close_without_answer(sim: tuple[str, int]) -> None:
    with pytest.raises(http.client.RemoteDisconnected):
        call(sim, "/close/ping?fail=close")
    with raw_connection(sim) as sock:
        sock.sendall(b"GET /close/ping?fail=close HTTP/1.1\r\nHost: sim\r\n\r\n")
        assert is_closed(sock.makefile("rb"))


# ---------------------------------------------------------------- HTTP/1.1


def test_keep_alive_serves_100_requests_on_one_connection(sim: tuple[str, int]) -> None:
    connection = http.client.HTTPConnection(*sim, timeout=5)
    connection.connect()
    sock = connection.sock
    for index in range(100):
        kind = "ping" if index % 2 else "post"
        connection.request("POST", f"/keepalive/{kind}", body=b"zip=10001",
                           headers={"Content-Type": "application/x-www-form-urlencoded"})
        response = connection.getresponse()
        assert response.status == 200
        response.read()
        assert connection.sock is sock  # http.client would have reconnected otherwise
    connection.close()


def test_pipelined_requests_are_answered_in_order(sim: tuple[str, int]) -> None:
    with raw_connection(sim) as sock:
        sock.sendall(
            b"GET /pipe/ping?bid=1&latency_ms=80 HTTP/1.1\r\nHost: sim\r\n\r\n"
            b"POST /pipe/ping?bid=2 HTTP/1.1\r\nHost: sim\r\nContent-Length: 4\r\n\r\nabcd"
            b"GET /pipe/ping?bid=3 HTTP/1.1\r\nHost: sim\r\n\r\n"
        )
        stream = sock.makefile("rb")
        prices = [json.loads(read_response(stream)[1])["price"] for _ in range(3)]
    assert prices == [1, 2, 3]


def test_connection_close_is_honoured(sim: tuple[str, int]) -> None:
    with raw_connection(sim) as sock:
        sock.sendall(b"GET /close-me/ping HTTP/1.1\r\nHost: sim\r\nConnection: close\r\n\r\n")
        stream = sock.makefile("rb")
        head, _ = read_response(stream)
        assert b"\r\nConnection: close" in head
        assert is_closed(stream)


def test_http_1_0_closes_by_default(sim: tuple[str, int]) -> None:
    with raw_connection(sim) as sock:
        sock.sendall(b"GET /old/ping HTTP/1.0\r\n\r\n")
        stream = sock.makefile("rb")
        head, _ = read_response(stream)
        assert head.startswith(b"HTTP/1.1 200 ")
        assert is_closed(stream)


def test_expect_100_continue(sim: tuple[str, int]) -> None:
    with raw_connection(sim) as sock:
        sock.sendall(b"POST /expect/post HTTP/1.1\r\nHost: sim\r\nContent-Length: 2\r\n"
                     b"Expect: 100-continue\r\n\r\n")
        stream = sock.makefile("rb")
        assert read_head(stream) == b"HTTP/1.1 100 Continue"
        sock.sendall(b"{}")
        head, body = read_response(stream)
        assert head.startswith(b"HTTP/1.1 200 ")
        assert json.loads(body)["result"] == "accepted"


@pytest.mark.parametrize("garbage", [
    b"HELLO\r\n\r\n",
    b"GET /x/ping HTTP/1.1\r\nBad Header\r\n\r\n",
    b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03\r\n\r\n",  # a TLS hello, roughly
    b"POST /x/post HTTP/1.1\r\nContent-Length: abc\r\n\r\n",
])
def test_malformed_request_gets_400_and_close(sim: tuple[str, int], garbage: bytes) -> None:
    with raw_connection(sim) as bad, raw_connection(sim) as good:
        bad.sendall(garbage)
        stream = bad.makefile("rb")
        head, body = read_response(stream)
        assert head.startswith(b"HTTP/1.1 400 ")
        assert b"\r\nConnection: close" in head
        assert json.loads(body)["error"]
        assert is_closed(stream)
        good.sendall(b"GET /x/ping HTTP/1.1\r\nHost: sim\r\n\r\n")
        assert read_response(good.makefile("rb"))[0].startswith(b"HTTP/1.1 200 ")


def test_oversized_head_gets_431(sim: tuple[str, int]) -> None:
    with raw_connection(sim) as sock:
        sock.sendall(b"GET /x/ping HTTP/1.1\r\nX-Big: " + b"a" * 70_000)
        head, _ = read_response(sock.makefile("rb"))
        assert head.startswith(b"HTTP/1.1 431 ")


# ---------------------------------------------------------------- inspection


def test_inspection_endpoints(sim: tuple[str, int]) -> None:
    assert call(sim, "/_sim/reset", method="POST")[0] == 200
    call(sim, "/inspect/ping?zip=10001")
    call(sim, "/inspect/post?format=xml", method="PUT", body=b'{"name": "Ann"}',
         headers={"Content-Type": "application/json", "X-Trace": "abc"})
    call(sim, "/inspect/post")

    status, _, body = call(sim, "/_sim/stats")
    assert (status, json.loads(body)) == (200, {"/inspect/ping": 1, "/inspect/post": 2})

    records = json.loads(call(sim, "/_sim/requests?path=/inspect/post")[2])
    assert [r["query"] for r in records] == ["format=xml", ""]  # newest last
    first = records[0]
    assert (first["method"], first["path"], first["body"]) == ("PUT", "/inspect/post",
                                                               '{"name": "Ann"}')
    assert first["headers"]["x-trace"] == "abc"
    assert abs(first["received_at"] - time.time()) < 5

    limited = json.loads(call(sim, "/_sim/requests?path=/inspect/post&limit=1")[2])
    assert [r["query"] for r in limited] == [""]
    everything = json.loads(call(sim, "/_sim/requests")[2])
    assert [r["path"] for r in everything] == ["/inspect/ping", "/inspect/post",
                                               "/inspect/post"]

    assert call(sim, "/_sim/reset", method="POST")[0] == 200
    assert json.loads(call(sim, "/_sim/stats")[2]) == {}
    assert json.loads(call(sim, "/_sim/requests?path=/inspect/post")[2]) == []


# ---------------------------------------------------------------- token round trip


@pytest.mark.parametrize(("fmt", "content_type", "key", "make_body"), [
    ("json", "application/json", "lead.ping_ref",
     lambda t: json.dumps({"lead": {"ping_ref": t, "email": "a@b.c"}}).encode()),
    ("form", "application/x-www-form-urlencoded", "ping_ref",
     lambda t: urlencode({"ping_ref": t, "email": "a@b.c"}).encode()),
    ("xml", "application/xml", "Lead.PingRef",
     lambda t: f"<Lead><PingRef>{t}</PingRef><Email>a@b.c</Email></Lead>".encode()),
])
def test_token_round_trip(sim: tuple[str, int], fmt: str, content_type: str, key: str,
                          make_body) -> None:
    _, _, body = call(sim, f"/roundtrip-{fmt}/ping?format={fmt}&bid=4")
    if fmt == "json":
        token = json.loads(body)["token"]
    elif fmt == "form":
        token = dict(pair.split("=") for pair in body.decode().split("&"))["token"]
    else:
        token = ET.fromstring(body).findtext("token")
    assert token and token.startswith("t-")

    target = f"/roundtrip-{fmt}/post?format=json&{urlencode({'post_token_key': key})}"
    headers = {"Content-Type": content_type}
    accepted = call(sim, target, method="POST", body=make_body(token), headers=headers)[2]
    assert json.loads(accepted)["result"] == "accepted"
    forged = call(sim, target, method="POST", body=make_body("t-9-ffffffffff"),
                  headers=headers)[2]
    assert json.loads(forged) == {"result": "rejected", "reason": "unknown token"}


# ---------------------------------------------------------------- running it


def test_request_log_and_clean_shutdown(tmp_path: Path) -> None:
    log = tmp_path / "answers.jsonl"
    with start_simulator_process(seed=3, log_path=log) as process:
        target = urlsplit(process.url)
        sim = (target.hostname or "", target.port or 0)
        call(sim, "/logged/ping", headers={"X-Sim-Latency-Ms": "60"})
        call(sim, "/logged/post?accept=0", method="POST", body=b"{}")
        with pytest.raises(http.client.RemoteDisconnected):
            call(sim, "/logged/ping?fail=close")
        call(sim, "/_sim/stats")  # not a buyer request: not logged
        assert process.stop() == 0  # SIGTERM is a clean exit, and flushes the log
    lines = [json.loads(line) for line in log.read_text().splitlines()]
    assert [(line["path"], line["kind"], line["status"]) for line in lines] == [
        ("/logged/ping", "ping", 200), ("/logged/post", "post", 200),
        ("/logged/ping", "ping", None)]
    assert lines[0]["latency_ms_requested"] == 60
    assert lines[0]["t_answered"] - lines[0]["t_received"] >= 0.06
    assert lines[1]["latency_ms_requested"] == 0


def test_an_answer_never_comes_before_the_requested_latency(tmp_path: Path) -> None:
    """The log's lower bound holds under concurrency: libuv's loop clock lags the real one,
    and a timer set from it alone fired up to a millisecond early."""
    from concurrent.futures import ThreadPoolExecutor

    log = tmp_path / "answers.jsonl"
    with start_simulator_process(seed=4, log_path=log) as process:
        target = urlsplit(process.url)
        sim = (target.hostname or "", target.port or 0)
        latencies = [2 + (i * 7) % 19 for i in range(120)]
        with ThreadPoolExecutor(max_workers=24) as pool:
            list(pool.map(lambda ms: call(sim, "/early/ping",
                                          headers={"X-Sim-Latency-Ms": str(ms)}), latencies))
        assert process.stop() == 0
    lines = [json.loads(line) for line in log.read_text().splitlines()]
    assert len(lines) == len(latencies)
    early = [line for line in lines if line["t_answered"] - line["t_received"]
             < line["latency_ms_requested"] / 1000]
    assert early == []


def test_in_process_thread() -> None:
    with running_simulator(seed=5) as url:
        target = urlsplit(url)
        status, _, body = call((target.hostname or "", target.port or 0), "/thread/ping")
    assert (status, json.loads(body)["status"]) == (200, "bid")
