"""Minimal HTTP/1.x message parsing and serialising for the simulator. Pure: no sockets.

Only what a buyer endpoint needs: request line, headers and a ``Content-Length`` body.
A request with ``Transfer-Encoding`` is refused with 501 (HTTP clients send a
Content-Length for the small JSON/XML/form payloads a platform posts).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from http import HTTPStatus
from urllib.parse import unquote, urlsplit

MAX_HEAD_BYTES = 64 * 1024
MAX_BODY_BYTES = 16 * 1024 * 1024
SERVER_NAME = "leadexchange-buyer-simulator"

_TOKEN = re.compile(rb"[!#$%&'*+\-.^_`|~0-9A-Za-z]+\Z")
_REASONS = {status.value: status.phrase for status in HTTPStatus}


class HttpError(Exception):
    """A request the server cannot read; it is answered with ``status`` and closed."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass(slots=True)
class HttpRequest:
    """One received request. ``headers`` maps lower-case names to (comma-joined) values."""

    method: str
    path: str
    query: str
    version: str
    headers: dict[str, str]
    content_length: int
    keep_alive: bool
    expect_continue: bool
    body: bytes = b""
    received_at: float = 0.0


def find_head_end(buffer: bytes | bytearray) -> int:
    """Return the index just past the blank line ending the head in ``buffer``, or -1.

    Accepts bare LF line endings too, and looks no further than ``MAX_HEAD_BYTES`` so a
    slow sender of a huge head costs linear, not quadratic, time.
    """
    limit = MAX_HEAD_BYTES + 4
    end = buffer.find(b"\r\n\r\n", 0, limit)
    if end >= 0:
        return end + 4
    end = buffer.find(b"\n\n", 0, limit)
    return end + 2 if end >= 0 else -1


def parse_head(head: bytes) -> HttpRequest:
    """Parse a request line and headers (everything up to the blank line) into a request.

    The body is not included: the caller reads ``content_length`` bytes after the head.
    Raises ``HttpError`` (400, 413, 501 or 505) for anything malformed or unsupported.
    """
    lines = head.split(b"\n")
    request_line = lines[0].rstrip(b"\r")
    parts = request_line.split(b" ")
    if len(parts) != 3 or not _TOKEN.match(parts[0]):
        raise HttpError(400, "malformed request line")
    method, target, version = parts[0].decode(), parts[1].decode("latin-1"), parts[2]
    if version not in (b"HTTP/1.1", b"HTTP/1.0"):
        if version.startswith(b"HTTP/"):
            raise HttpError(505, "only HTTP/1.0 and HTTP/1.1 are supported")
        raise HttpError(400, "malformed request line")

    headers: dict[str, str] = {}
    for raw in lines[1:]:
        line = raw.rstrip(b"\r")
        if not line:
            continue
        name, colon, value = line.partition(b":")
        # Folded lines and whitespace before the colon are forbidden by RFC 9112.
        if not colon or not _TOKEN.match(name):
            raise HttpError(400, "malformed header line")
        key = name.decode().lower()
        text = value.strip(b" \t").decode("latin-1")
        headers[key] = f"{headers[key]}, {text}" if key in headers else text

    if "transfer-encoding" in headers:
        raise HttpError(501, "Transfer-Encoding is not supported; send Content-Length")
    content_length = _content_length(headers.get("content-length"))
    path, query = _split_target(target)
    connection = {token.strip().lower() for token in headers.get("connection", "").split(",")}
    # HTTP/1.1 keeps the connection unless told to close; HTTP/1.0 closes unless asked.
    keep_alive = ("close" not in connection if version == b"HTTP/1.1"
                  else "keep-alive" in connection)
    return HttpRequest(
        method=method,
        path=path,
        query=query,
        version=version.decode(),
        headers=headers,
        content_length=content_length,
        keep_alive=keep_alive,
        expect_continue=headers.get("expect", "").lower() == "100-continue",
    )


def response_head(
    status: int,
    headers: tuple[tuple[str, str], ...] | list[tuple[str, str]],
    *,
    content_length: int,
    keep_alive: bool,
    version: str = "HTTP/1.1",
) -> bytes:
    """Return the status line and headers of an answer, ending with the blank line.

    Always sends ``Content-Length``. ``Connection: close`` is added when the connection
    will close; an HTTP/1.0 client that asked for keep-alive gets ``Connection:
    keep-alive``, since 1.0 closes by default.
    """
    lines = [f"HTTP/1.1 {status} {_REASONS.get(status, 'Unknown')}", f"Server: {SERVER_NAME}"]
    lines.extend(f"{name}: {value}" for name, value in headers)
    lines.append(f"Content-Length: {content_length}")
    if not keep_alive:
        lines.append("Connection: close")
    elif version == "HTTP/1.0":
        lines.append("Connection: keep-alive")
    lines.append("\r\n")
    return "\r\n".join(lines).encode("latin-1")


def _content_length(value: str | None) -> int:
    if value is None:
        return 0
    # Repeated headers arrive comma-joined; identical repeats are allowed (RFC 9110).
    values = {part.strip() for part in value.split(",")}
    if len(values) != 1:
        raise HttpError(400, "conflicting Content-Length headers")
    text = values.pop()
    if not text.isdigit() or not text.isascii():
        raise HttpError(400, "malformed Content-Length")
    length = int(text)
    if length > MAX_BODY_BYTES:
        raise HttpError(413, f"bodies above {MAX_BODY_BYTES} bytes are refused")
    return length


def _split_target(target: str) -> tuple[str, str]:
    if target.startswith(("http://", "https://")):
        parts = urlsplit(target)
        return unquote(parts.path) or "/", parts.query
    if not target.startswith("/"):
        raise HttpError(400, "request target must be a path")
    path, _, query = target.partition("?")
    path = path.partition("#")[0]
    return unquote(path), query.partition("#")[0]
