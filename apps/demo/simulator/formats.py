"""Response bodies of a simulated buyer in each wire format it can speak.

``price_key`` and ``token_key`` name the bid's fields; in ``json`` and ``xml`` a dotted
key nests (``bid.amount`` → ``{"bid": {"amount": …}}`` / ``<bid><amount>…``).
"""

from __future__ import annotations

import json
import random
import xml.etree.ElementTree as ET
from decimal import Decimal
from functools import cache
from urllib.parse import urlencode

from apps.demo.simulator.config import BuyerConfig, Format

CONTENT_TYPES: dict[str, str] = {
    "json": "application/json",
    "xml": "application/xml",
    "xml_attr": "application/xml",
    "form": "application/x-www-form-urlencoded",
    "text": "text/plain",
}
HUGE_BODY_BYTES = 10 * 1024 * 1024
HUGE_PREFIX = b'{"status":"bid","price":1,"pad":"'
HUGE_SUFFIX = b'"}'

Fields = list[tuple[str, str | float]]


def bid_body(config: BuyerConfig, price: Decimal, token: str) -> bytes:
    """Return the ping answer announcing a bid of ``price`` with ``token``."""
    fmt = config.format
    if fmt == "text":
        return f"BID {price} {token}".encode()
    # JSON carries the price as a number; the text formats as a two-decimal string.
    amount: str | float = float(price) if fmt == "json" else str(price)
    return _render(fmt, [("status", "bid"), (config.price_key, amount),
                         (config.token_key, token)])


def no_bid_body(config: BuyerConfig) -> bytes:
    """Return the ping answer declining to bid."""
    if config.format == "text":
        return b"NO_BID"
    return _render(config.format, [("status", "no_bid")])


def accepted_body(config: BuyerConfig, buyer_lead_id: str) -> bytes:
    """Return the post answer accepting the lead (only JSON carries the buyer's lead id)."""
    fmt = config.format
    if fmt == "text":
        return b"ACCEPTED"
    fields: Fields = [("result", "accepted")]
    if fmt == "json":
        fields.append(("buyer_lead_id", buyer_lead_id))
    return _render(fmt, fields)


def rejected_body(config: BuyerConfig, reason: str) -> bytes:
    """Return the post answer rejecting the lead for ``reason``."""
    if config.format == "text":
        return f"REJECTED {reason}".encode()
    return _render(config.format, [("result", "rejected"), ("reason", reason)])


def garbage_body(rng: random.Random) -> bytes:
    """Return 64 to 256 random bytes that no JSON, XML, form or text parser accepts.

    The fixed prefix guarantees that: a NUL byte is illegal in XML, ``\\xff`` is invalid
    UTF-8, neither a JSON value nor ``BID`` can start that way, and with every ``=``
    removed no strict form parser finds a ``key=value`` pair.
    """
    return b"\x00\xff<{" + rng.randbytes(rng.randint(60, 252)).replace(b"=", b"?")


@cache
def huge_body() -> bytes:
    """Return the 10 MiB ``fail=huge`` body: a valid JSON bid padded with ``x``.

    Built once per process and shared by every answer, which streams slices of it.
    """
    pad = HUGE_BODY_BYTES - len(HUGE_PREFIX) - len(HUGE_SUFFIX)
    return HUGE_PREFIX + b"x" * pad + HUGE_SUFFIX


def _render(fmt: Format, fields: Fields) -> bytes:
    if fmt == "json":
        return json.dumps(_nest(fields)).encode()
    if fmt == "form":
        return urlencode(fields).encode()
    root = ET.Element("response")
    for key, value in fields:
        if fmt == "xml_attr":
            root.set(key, str(value))
        else:
            _xml_path(root, key).text = str(value)
    return ET.tostring(root, encoding="utf-8", xml_declaration=False)


def _nest(fields: Fields) -> dict[str, object]:
    document: dict[str, object] = {}
    for key, value in fields:
        *parents, leaf = key.split(".")
        node = document
        for part in parents:
            child = node.setdefault(part, {})
            assert isinstance(child, dict)  # parse_config keeps a key from nesting in another
            node = child
        node[leaf] = value
    return document


def _xml_path(root: ET.Element, key: str) -> ET.Element:
    node = root
    for part in key.split("."):
        child = node.find(part)
        node = child if child is not None else ET.SubElement(node, part)
    return node
