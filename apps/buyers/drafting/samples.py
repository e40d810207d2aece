"""A buyer's sample request, as pasted from its documentation, read into keyed values.

The four body formats the transports send are read back: a JSON document, an XML document,
a form body (``a=1&Lead[b]=2``) and a URL with a query string. Each comes out as the
endpoint settings that would send that shape again (body format, key style, XML root,
method, URL) and the list of ``(steps, value)`` leaves, ``steps`` being a mapping target's
parsed path (``("Lead", "FirstName")``, ``("drivers", 0, "age")``).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any
from urllib.parse import parse_qsl, urlsplit, urlunsplit

from lxml import etree

from apps.buyers.mapping import MappingError, path_split

Steps = tuple[str | int, ...]
SAMPLE_FORMATS = ("json", "xml", "form", "query")
MAX_SAMPLE = 100_000  # characters of one pasted sample
MAX_DEPTH = 32  # levels of nesting: deeper is no buyer's format, and recursion has limits

_XML_PARSER = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False,
                              remove_blank_text=True, remove_comments=True)
_BRACKET_KEY = re.compile(r"\[([^\]\d][^\]]*)\]")  # Lead[FirstName]: a named bracket
_BRACKET_STEP = re.compile(r"\[([^\]]*)\]")


class SampleInvalid(ValueError):
    """The sample cannot be read in its (given or detected) format; the message says why."""


@dataclass
class RequestSample:
    """What a sample request says about its endpoint, and its leaves in document order."""

    body_format: str
    leaves: list[tuple[Steps, Any]] = field(default_factory=list)
    key_style: str = "brackets"
    xml_root: str = "lead"
    method: str = "POST"
    url: str = ""  # a query sample's URL without its query string


def sample_format(text: str) -> str:
    """The format a pasted request looks like: ``json``, ``xml``, ``query`` (a URL or a
    string starting with ``?``) or ``form``."""
    head = text.lstrip()[:1]
    if head in "{[":
        return "json"
    if head == "<":
        return "xml"
    stripped = text.strip()
    if re.match(r"(?i)^(?:https?://|\?|/)", stripped) or re.match(r"(?i)^GET\s", stripped):
        return "query"
    return "form"


def request_parse(text: str, body_format: str = "") -> RequestSample:
    """Read a sample request in ``body_format`` (detected when empty). Raises
    ``SampleInvalid`` for an empty or oversized sample, a body that is not valid in its
    format, and a JSON document that is not an object."""
    if not text.strip():
        raise SampleInvalid("the sample is empty")
    if len(text) > MAX_SAMPLE:
        raise SampleInvalid(f"the sample is longer than {MAX_SAMPLE:,} characters")
    body_format = body_format or sample_format(text)
    if body_format == "json":
        return _json_sample(text)
    if body_format == "xml":
        return _xml_sample(text)
    if body_format == "query":
        return _query_sample(text)
    if body_format == "form":
        return _pairs_sample("form", _form_pairs(text.strip()))
    raise SampleInvalid(f"unknown format {body_format!r} (known: {', '.join(SAMPLE_FORMATS)})")


def json_document(text: str) -> Any:
    """``text`` parsed as JSON, numbers with a fraction as Decimal; ``SampleInvalid``."""
    try:
        return json.loads(text, parse_float=Decimal)
    except (ValueError, RecursionError) as error:
        raise SampleInvalid(f"not JSON: {error}") from None


def leaves(node: Any, steps: Steps = ()) -> list[tuple[Steps, Any]]:
    """Every scalar of a JSON-like ``node`` with its path, in document order. An empty
    object or list is a leaf of its own (a buyer may want one sent). Raises
    ``SampleInvalid`` past ``MAX_DEPTH`` levels."""
    if len(steps) > MAX_DEPTH:
        raise SampleInvalid(f"the sample nests deeper than {MAX_DEPTH} levels")
    if isinstance(node, dict) and node:
        return [leaf for key, child in node.items() for leaf in leaves(child, (*steps, key))]
    if isinstance(node, list) and node:
        return [leaf for index, child in enumerate(node)
                for leaf in leaves(child, (*steps, index))]
    return [(steps, node)] if steps else []


def xml_document(text: str) -> etree._Element:
    """``text`` parsed as XML without network, DTD or entity expansion; ``SampleInvalid``."""
    if "<!ENTITY" in text:
        raise SampleInvalid("an XML sample may not declare entities")
    try:
        return etree.fromstring(text.strip().encode(), _XML_PARSER)
    except (etree.XMLSyntaxError, ValueError) as error:
        raise SampleInvalid(f"not XML: {error}") from None


def xml_tree(element: etree._Element) -> Any:
    """An element as the XML transport would have built it: child elements as keys (a
    repeated name as a list), attributes as ``@name``, text beside them as ``#text``."""
    tree: dict[str, Any] = {f"@{etree.QName(name).localname}": value
                            for name, value in element.attrib.items()}
    for child in element:
        if not isinstance(child.tag, str):
            continue  # processing instructions
        name = etree.QName(child).localname
        value = xml_tree(child)
        if name in tree:
            existing = tree[name]
            tree[name] = [*existing, value] if isinstance(existing, list) else [existing, value]
        else:
            tree[name] = value
    text = (element.text or "").strip()
    if not tree:
        return text
    if text:
        tree["#text"] = text
    return tree


def _json_sample(text: str) -> RequestSample:
    document = json_document(text)
    if not isinstance(document, dict):
        raise SampleInvalid("a JSON request is an object ({...}) of keys and values")
    return RequestSample("json", leaves(document))


def _xml_sample(text: str) -> RequestSample:
    root = xml_document(text)
    tree = xml_tree(root)
    document = tree if isinstance(tree, dict) else {"#text": tree}
    return RequestSample("xml", leaves(document), xml_root=etree.QName(root).localname)


def _query_sample(text: str) -> RequestSample:
    stripped = re.sub(r"(?i)^GET\s+", "", text.strip()).split()[0]
    parts = urlsplit(stripped)
    sample = _pairs_sample("query", parse_qsl(parts.query, keep_blank_values=True))
    sample.method = "GET"
    if parts.scheme and parts.netloc:
        sample.url = urlunsplit(parts._replace(query="", fragment=""))
    return sample


def _form_pairs(text: str) -> list[tuple[str, str]]:
    if "=" not in text:
        raise SampleInvalid("a form body is key=value pairs joined by &")
    return parse_qsl(text, keep_blank_values=True)


def _pairs_sample(body_format: str, pairs: list[tuple[str, str]]) -> RequestSample:
    """Form or query pairs as leaves, in the key style their names are spelled in."""
    if not pairs:
        raise SampleInvalid("no key=value pair in the sample")
    names = [name for name, _ in pairs]
    if any(_BRACKET_KEY.search(name) for name in names):
        style = "brackets"
    elif any("." in name for name in names):
        style = "dotted"
    else:
        style = "brackets"  # single keys: any style sends them as they are
    return RequestSample(body_format, [(_steps(name, style), value) for name, value in pairs],
                         key_style=style)


def _steps(name: str, style: str) -> Steps:
    """The mapping target steps a form key stands for in ``style``."""
    if style == "dotted":
        try:
            return path_split(name)
        except MappingError:
            return (name,)
    head, _, rest = name.partition("[")
    if not rest or not head:
        return (name,)
    steps: list[str | int] = [head]
    for step in _BRACKET_STEP.findall("[" + rest):
        steps.append(int(step) if step.isdigit() else step)
    return tuple(steps)
