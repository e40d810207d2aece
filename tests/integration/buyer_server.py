"""A scriptable buyer for integration tests: a local HTTP server on 127.0.0.1 whose answer
to each path is a Python function of the request, recording every request it gets.

The bundled simulator answers by its query-string language; the buyers of these tests need
to check a credential, read literal dotted form keys or answer 401 with a message, which is
plainer to write as a function next to the test than as simulator configuration.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit


@dataclass(frozen=True)
class Received:
    """One request as the buyer got it."""

    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]  # lower-case names
    body: bytes

    def json(self) -> dict:
        return json.loads(self.body)

    def form(self) -> dict[str, list[str]]:
        return parse_qs(self.body.decode(), keep_blank_values=True)


Answer = tuple[int, str, str]  # status, content type, body
Script = Callable[[Received], Answer]


def json_answer(status: int, document: dict) -> Answer:
    return status, "application/json", json.dumps(document)


class BuyerServer:
    """``server.on("/ping", script)`` sets how a path answers; ``server.received(path)``
    lists what it got. Unscripted paths answer 404."""

    def __init__(self) -> None:
        self.scripts: dict[str, Script] = {}
        self.log: list[Received] = []
        self.lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            def _handle(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                parts = urlsplit(self.path)
                request = Received(self.command, parts.path, parse_qs(parts.query),
                                   {k.lower(): v for k, v in self.headers.items()},
                                   self.rfile.read(length))
                with server.lock:
                    server.log.append(request)
                    script = server.scripts.get(parts.path)
                status, content_type, body = (script(request) if script is not None
                                              else (404, "text/plain", "no such path"))
                data = body.encode()
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = do_PUT = _handle

            def log_message(self, *args) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def on(self, path: str, script: Script) -> None:
        self.scripts[path] = script

    def received(self, path: str) -> list[Received]:
        with self.lock:
            return [request for request in self.log if request.path == path]

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
