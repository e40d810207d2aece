"""Bodies laid out for reading in the contract tools: JSON and XML indented, form bodies and
query strings one ``key = value`` a line; anything that does not parse is shown as it came,
and an XML answer declaring entities is never expanded."""

from __future__ import annotations

import pytest

from apps.auctions.admin.readable import body_readable, query_readable

P = pytest.param


@pytest.mark.parametrize(("body", "content_type", "shown"), [
    P('{"a":1,"b":{"c":"é"}}', "application/json",
      '{\n  "a": 1,\n  "b": {\n    "c": "é"\n  }\n}', id="json"),
    P('[{"a":1}]', "", '[\n  {\n    "a": 1\n  }\n]', id="json-by-look"),
    P("<r><a>1</a><b x='2'/></r>", "application/xml",
      '<r>\n  <a>1</a>\n  <b x="2"/>\n</r>', id="xml"),
    P("a=1&Lead%5BFirst%5D=Jo+Li&e=x%40y.z", "application/x-www-form-urlencoded",
      "a = 1\nLead[First] = Jo Li\ne = x@y.z", id="form"),
    P("status=bid&price=2", "text/plain", "status = bid\nprice = 2", id="form-by-look"),
    P("{not json", "application/json", "{not json", id="broken-json-as-it-came"),
    P("ACCEPTED 12.50", "text/plain", "ACCEPTED 12.50", id="text"),
    P('<!DOCTYPE r [<!ENTITY x "boom">]><r>&x;</r>', "application/xml",
      '<!DOCTYPE r [<!ENTITY x "boom">]><r>&x;</r>', id="entities-never-expanded"),
    P("", "application/json", "", id="empty"),
])
def test_a_body_is_laid_out_by_its_type(body, content_type, shown):
    assert body_readable(body, content_type) == shown


def test_a_query_string_is_decoded_one_parameter_a_line():
    assert query_readable("https://b.example/p?zip=10001&name=Jo%20Li&k=***") == (
        "zip = 10001\nname = Jo Li\nk = ***")
