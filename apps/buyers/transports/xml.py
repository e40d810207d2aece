"""The ``xml`` wire format: the payload as an element tree under ``EndpointSpec.xml_root``.

Object keys become child elements, lists repeated elements of the key's name, a key starting
with ``@`` an attribute of the enclosing element and ``#text`` its text. Built with lxml, so
every value is escaped and every name checked.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from lxml import etree

from apps.buyers.transports.form import scalar_text
from apps.buyers.transports.spec import EndpointSpec, TransportError, WireRequest

CONTENT_TYPE = "application/xml"


def xml_build(endpoint: EndpointSpec, payload: Mapping[str, Any]) -> WireRequest:
    """Return the request carrying ``payload`` as a UTF-8 XML document with a declaration.

    None values are left out. Raises ``TransportError(permanent=True)`` for a key that is not
    an XML name, a list directly inside a list, an object where an attribute is expected,
    or text XML cannot hold (control characters).
    """
    try:
        root = etree.Element(endpoint.xml_root)
        _fill(root, payload)
    except ValueError as error:
        # lxml refuses invalid names and non-XML characters with ValueError.
        raise TransportError(f"cannot encode the payload as XML: {error}",
                             permanent=True) from None
    body = etree.tostring(root, xml_declaration=True, encoding="UTF-8")
    return WireRequest(endpoint.method.upper(), endpoint.url, {"Content-Type": CONTENT_TYPE},
                       body)


def _fill(element: etree._Element, value: Any) -> None:
    if not isinstance(value, Mapping):
        element.text = scalar_text(value)
        return
    for name, child in value.items():
        if child is None:
            continue
        key = str(name)
        if key.startswith("@"):
            if isinstance(child, Mapping | list | tuple):
                raise ValueError(f"attribute {key!r} must hold a single value")
            element.set(key[1:], scalar_text(child))
        elif key == "#text":
            element.text = scalar_text(child)
        elif isinstance(child, list | tuple):
            for item in child:
                if isinstance(item, list | tuple):
                    raise ValueError(f"{key!r} holds a list inside a list, which XML cannot name")
                if item is not None:
                    _fill(etree.SubElement(element, key), item)
        else:
            _fill(etree.SubElement(element, key), child)
