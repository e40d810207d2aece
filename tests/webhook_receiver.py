"""A source's webhook receiver for the tests: a local ``http.server`` on 127.0.0.1 that checks
every request's Standard Webhooks signature with the ``standardwebhooks`` package (an
implementation independent of ours), records what it got, and answers as told.

``Receiver(secret)`` → ``start()`` (port chosen once, kept across restarts so an endpoint
keeps its URL), ``stop()`` (down: connections refused), ``fail_next(n)`` (answer 500 to the
next n requests), ``delay_s`` (answer late). ``received`` lists ``Received`` rows in the
order they were answered; ``arrivals`` counts requests as they come in.
"""

from __future__ import annotations

import socket
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from standardwebhooks.webhooks import Webhook, WebhookVerificationError


@dataclass(frozen=True)
class Received:
    method: str
    path: str
    headers: dict[str, str]  # lower-case names
    body: bytes
    verified: bool  # the signature checked out with the receiver's secret
    answered: int  # the status it was given


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def verify(secret: str, body: bytes, headers: dict[str, str]) -> bool:
    """Whether ``standardwebhooks`` accepts ``body`` with ``headers`` under ``secret``."""
    try:
        Webhook(secret).verify(body, headers, json_parse=False)
    except WebhookVerificationError:
        return False
    return True


@dataclass
class Receiver:
    secret: str = ""
    port: int = field(default_factory=free_port)
    delay_s: float = 0.0
    received: list[Received] = field(default_factory=list)
    arrivals: int = 0  # requests read, answered or not yet
    _failures: int = 0
    _server: ThreadingHTTPServer | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def fail_next(self, count: int) -> None:
        with self._lock:
            self._failures = count

    def start(self) -> Receiver:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def _answer(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                headers = {k.lower(): v for k, v in self.headers.items()}
                with receiver._lock:
                    receiver.arrivals += 1
                    failing = receiver._failures > 0
                    receiver._failures -= int(failing)
                status = 500 if failing else 200
                verified = bool(receiver.secret) and verify(receiver.secret, body, headers)
                if receiver.delay_s:
                    time.sleep(receiver.delay_s)
                with receiver._lock:
                    receiver.received.append(Received(self.command, self.path, headers, body,
                                                      verified, status))
                reply = b'{"ok": false}' if failing else b'{"ok": true}'
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(reply)))
                self.end_headers()
                self.wfile.write(reply)

            do_POST = _answer
            do_GET = _answer

            def log_message(self, format, *args) -> None:
                return

        server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        server.daemon_threads = True
        self._server = server
        threading.Thread(target=server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def webhooks(self) -> list[Received]:
        with self._lock:
            return [r for r in self.received if r.method == "POST"]

    def ids(self) -> list[str]:
        return [r.headers["webhook-id"] for r in self.webhooks()]
