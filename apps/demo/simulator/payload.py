"""Reading one field out of a post's payload, whatever format the platform sent it in."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from urllib.parse import parse_qs


def find_field(body: bytes, content_type: str, query: str, key: str) -> str | None:
    """Return the value found at ``key`` in a request's payload, or None.

    The body is read by its Content-Type: JSON (dotted path through nested objects, list
    items by index), form-urlencoded (flat key, or its bracket spelling ``a[b]`` for
    ``a.b``), XML (dotted element path, e.g. ``Lead.PingRef``, with or without the root
    element; the last step may name an attribute). Without a known Content-Type the body
    is sniffed; a request without a body is read from its query string like a form.
    Numbers are returned as text; a missing field, another type or an unparseable body
    gives None.
    """
    if not body:
        return _form_field(query, key)
    media_type = content_type.partition(";")[0].strip().lower()
    if media_type.endswith("json"):
        return _json_field(body, key)
    if media_type.endswith("xml"):
        return _xml_field(body, key)
    if media_type == "application/x-www-form-urlencoded":
        return _form_field(body.decode("utf-8", "replace"), key)
    start = body.lstrip()[:1]
    if start in (b"{", b"["):
        return _json_field(body, key)
    if start == b"<":
        return _xml_field(body, key)
    return _form_field(body.decode("utf-8", "replace"), key)


def _json_field(body: bytes, key: str) -> str | None:
    try:
        node: object = json.loads(body)
    except ValueError:
        return None
    if isinstance(node, dict) and key in node:
        node = node[key]  # a literal key containing dots wins over the dotted path
    else:
        for part in key.split("."):
            if isinstance(node, dict) and part in node:
                node = node[part]
            elif isinstance(node, list) and part.isdigit() and int(part) < len(node):
                node = node[int(part)]
            else:
                return None
    if isinstance(node, str):
        return node
    if isinstance(node, (int, float)) and not isinstance(node, bool):
        return str(node)
    return None


def _form_field(text: str, key: str) -> str | None:
    fields = parse_qs(text, keep_blank_values=True)
    first, *rest = key.split(".")
    for candidate in (key, first + "".join(f"[{part}]" for part in rest)):
        if candidate in fields:
            return fields[candidate][0]
    return None


def _xml_field(body: bytes, key: str) -> str | None:
    try:
        # ElementTree resolves no external entities and the bundled expat (>= 2.4.1)
        # limits entity expansion, which is all a localhost test double needs.
        root = ET.fromstring(body)  # noqa: S314
    except ET.ParseError:
        return None
    parts = key.split(".")
    if parts[0] == _local_name(root.tag) and len(parts) > 1:
        parts = parts[1:]
    node = root
    for index, part in enumerate(parts):
        child = next((c for c in node if _local_name(c.tag) == part), None)
        if child is not None:
            node = child
        elif index == len(parts) - 1 and part in node.attrib:
            return node.attrib[part]
        else:
            return None
    return (node.text or "").strip()


def _local_name(tag: str) -> str:
    # ElementTree spells namespaced tags "{uri}name"; buyers match on the local name.
    return tag.rpartition("}")[2]
