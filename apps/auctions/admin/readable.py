"""Request and response bodies as staff read them in the contract tools: JSON indented, XML
indented, a form body or a query string decoded to one ``key = value`` per line.

What the buyer received byte for byte is shown beside it; this is only the reading aid, so
a body that does not parse as its content type says is shown as it came.
"""

from __future__ import annotations

import json
from urllib.parse import parse_qsl, urlsplit

from lxml import etree

# Untrusted text (a buyer's answer): no network, no DTD, no entity expansion.
_XML_PARSER = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False,
                              remove_blank_text=True, huge_tree=False)


def body_readable(body: str, content_type: str = "") -> str:
    """``body`` laid out for reading, by its ``content_type`` (or its look when the type
    says nothing useful); the body itself when it does not parse."""
    text = body.strip()
    if not text:
        return ""
    kind = content_type.split(";")[0].strip().lower()
    if "json" in kind or (not kind.startswith(("text/html",)) and text[:1] in "{["):
        try:
            return json.dumps(json.loads(text), indent=2, ensure_ascii=False)
        except ValueError:
            pass
    if "xml" in kind or text.startswith("<"):
        readable = _xml(text)
        if readable is not None:
            return readable
    if "x-www-form-urlencoded" in kind or _looks_like_form(text):
        return pairs_readable(parse_qsl(text, keep_blank_values=True))
    return body


def query_readable(url: str) -> str:
    """The decoded query string of ``url``, one ``key = value`` per line ("" without one)."""
    return pairs_readable(parse_qsl(urlsplit(url).query, keep_blank_values=True))


def pairs_readable(pairs: list[tuple[str, str]]) -> str:
    return "\n".join(f"{key} = {value}" for key, value in pairs)


def _xml(text: str) -> str | None:
    if "<!ENTITY" in text:
        return None  # shown as it came: entity declarations are never expanded
    try:
        root = etree.fromstring(text.encode(), _XML_PARSER)
    except (etree.XMLSyntaxError, ValueError):
        return None
    return etree.tostring(root, pretty_print=True, encoding="unicode").rstrip()


def _looks_like_form(text: str) -> bool:
    return "=" in text and not any(c in text for c in " \n<{") and all(
        "=" in part for part in text.split("&") if part)
