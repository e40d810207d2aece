"""Per answer format: loading the body (or ResponseInvalid) and compiling a path to a reader.

A loader turns the body into a document (JSON value, lxml root, form fields, text); a path
compiler turns a configured path into a reader, a function from that document to the raw
value (None when absent), and raises ValueError for a path invalid in the format's language.
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Callable
from decimal import Decimal
from typing import Any
from urllib.parse import parse_qs

from lxml import etree

from apps.buyers.mapping import MappingError, path_split
from apps.buyers.parsing.rules import ResponseInvalid

Reader = Callable[[Any], Any]


# Decimal: a price of 12.30 must not become 12.2999…; NaN/Infinity are read so that the
# price check, not the parser, names the problem. One decoder for every answer (json.loads
# with options builds a new one per call).
_JSON = json.JSONDecoder(parse_float=Decimal, parse_constant=Decimal)


def _json_load(body: bytes) -> Any:
    try:
        return _JSON.decode(body.decode(json.detect_encoding(body), "surrogatepass"))
    except (ValueError, RecursionError) as error:
        raise ResponseInvalid(f"body is not JSON: {_short(error)}") from None


# An XPath in a JSON rule (or the reverse) is valid text in the other language and would
# simply never match: a rule saved that way reads nothing from every answer.
_XPATH_LOOK = re.compile(r"^(?:/|\.\.?/|[A-Za-z-]+\()|/@|::")
_JSON_LOOK = re.compile(r"^\$|^[\w@#-]+(?:\[\d+\])*(?:\.[\w@#-]+(?:\[\d+\])*)+$")
_ZERO_POSITION = re.compile(r"\[0\]")


def _json_of_xpath(path: str) -> str:
    """A JSON path for an XPath that looks like one (``/response/bids[1]/@price`` ->
    ``response.bids[0].price``), for messages."""
    steps = [step.lstrip("@") for step in re.sub(r"^[A-Za-z-]+\((.*)\)$", r"\1",
                                                 path).strip("/").split("/") if step]
    steps = [re.sub(r"\[(\d+)\]", lambda m: f"[{max(int(m[1]) - 1, 0)}]", step)
             for step in steps]
    return ".".join(steps) or "price"


def _xpath_of_json(path: str) -> str:
    """An XPath for a JSON path (``response.bids[0].price`` -> ``/response/bids[1]/price``)."""
    text = path.lstrip("$").lstrip(".")
    text = re.sub(r"\[(\d+)\]", lambda m: f"[{int(m[1]) + 1}]", text)
    return "/" + text.replace(".", "/")


def _json_path(path: str) -> Reader:
    if _XPATH_LOOK.search(path):
        raise ValueError(f"{path!r} is an XPath, but the response format is json: write a "
                         f"JSON path such as {_json_of_xpath(path)!r}")
    # "$", "$.a" and "$[0]" are JSONPath spellings of the root; "$a" stays a key of its own.
    text = path[2:] if path.startswith("$.") else path[1:] if path[:2] in ("$", "$[") else path
    try:
        steps = path_split(text) if text else ()
    except MappingError as error:
        raise ValueError(f"invalid JSON path: {error.message}") from None

    def read(document: Any) -> Any:
        node = document
        for step in steps:
            if isinstance(step, str) and isinstance(node, dict):
                node = node.get(step)
            elif isinstance(step, int) and isinstance(node, list) and step < len(node):
                node = node[step]
            else:
                return None
        return node

    return read


class _XmlState(threading.local):
    # lxml parsers and XPath evaluators must not be shared between threads.
    def __init__(self) -> None:
        self.parser = etree.XMLParser(resolve_entities=False, no_network=True,
                                      huge_tree=False, load_dtd=False)
        self.xpaths: dict[str, etree.XPath] = {}


_xml_state = _XmlState()


def _xml_load(body: bytes) -> Any:
    try:
        root = etree.fromstring(body, _xml_state.parser)
    except (etree.XMLSyntaxError, ValueError) as error:
        raise ResponseInvalid(f"body is not XML: {_short(error)}") from None
    dtd = root.getroottree().docinfo.internalDTD
    if dtd is not None and next(dtd.iterentities(), None) is not None:
        raise ResponseInvalid("body is not acceptable XML: it declares entities")
    if b"xmlns" in body:
        _namespaces_strip(root)
    return root


def _namespaces_strip(root: etree._Element) -> None:
    for element in root.iter():
        if isinstance(element.tag, str) and element.tag.startswith("{"):
            element.tag = etree.QName(element).localname
        for name in [name for name in element.attrib if name.startswith("{")]:
            element.attrib[etree.QName(name).localname] = element.attrib.pop(name)
    etree.cleanup_namespaces(root)


def _xpath(expression: str) -> etree.XPath:
    # Unbounded on purpose: the keys are the configured paths, not anything a buyer sends.
    cache = _xml_state.xpaths
    compiled = cache.get(expression)
    if compiled is None:
        compiled = cache[expression] = etree.XPath(expression, smart_strings=False)
    return compiled


def _xml_path(path: str) -> Reader:
    if _JSON_LOOK.search(path):
        raise ValueError(f"{path!r} is a JSON path, but the response format is xml: write an "
                         f"XPath such as {_xpath_of_json(path)!r}")
    if _ZERO_POSITION.search(path):
        first = _ZERO_POSITION.sub("[1]", path)
        raise ValueError(f"{path!r}: XPath positions start at 1, so [0] never matches; write "
                         f"{first!r}")
    try:
        # Evaluated once on a probe document: undefined functions, variables and namespace
        # prefixes only fail at evaluation.
        etree.XPath(path)(etree.fromstring(b"<probe/>"))
    except etree.XPathError as error:
        raise ValueError(f"invalid XPath {path!r}: {error}") from None

    def read(root: etree._Element) -> Any:
        try:
            result = _xpath(path)(root)
        except etree.XPathError as error:
            raise ResponseInvalid(f"XPath {path!r} failed: {error}") from None
        if isinstance(result, list):
            result = result[0] if result else None
        if isinstance(result, etree._Element):
            return "".join(result.itertext())
        if isinstance(result, float):
            # number() of a missing node is NaN: absent, not junk.
            return None if result != result else Decimal(repr(result))
        return result

    return read


def _form_load(body: bytes) -> dict[str, list[str]]:
    try:
        return parse_qs(body.decode("utf-8").strip(), keep_blank_values=True,
                        strict_parsing=True, errors="strict")
    except ValueError as error:
        raise ResponseInvalid(f"body is not form-encoded: {_short(error)}") from None


def _form_path(path: str) -> Reader:
    if path != path.strip():
        raise ValueError(f"form key {path!r} has leading or trailing spaces")
    if path.startswith(("/", "$")):
        raise ValueError(f"{path!r} is not a form key: a form answer (a=1&b=2) is read by the "
                         f"key itself, such as {path.lstrip('/$.').split('/')[-1] or 'price'!r}")
    return lambda fields: fields.get(path, (None,))[0]


def _text_load(body: bytes) -> str:
    return body.decode("utf-8", "replace")


def _text_path(path: str) -> Reader:
    pattern = regex_compile(path)

    def read(text: str) -> str | None:
        match = pattern.search(text)
        if match is None:
            return None
        return match.group(1) if pattern.groups else match.group(0)

    return read


def regex_compile(text: str) -> re.Pattern[str]:
    """Return the compiled regular expression; raise ValueError naming it when invalid."""
    try:
        return re.compile(text)
    except re.error as error:
        raise ValueError(f"invalid regular expression {text!r}: {error}") from None


def _structured_load(load: Callable[[bytes], Any]) -> Callable[[bytes], Any]:
    def checked(body: bytes) -> Any:
        if not body.strip():
            raise ResponseInvalid("body is empty")
        return load(body)

    return checked


LOADERS: dict[str, Callable[[bytes], Any]] = {
    "json": _structured_load(_json_load),
    "xml": _structured_load(_xml_load),
    "form": _structured_load(_form_load),
    "text": _text_load,
}
PATH_COMPILERS: dict[str, Callable[[str], Reader]] = {
    "json": _json_path,
    "xml": _xml_path,
    "form": _form_path,
    "text": _text_path,
}


def _short(error: BaseException) -> str:
    return str(error)[:200] or type(error).__name__
