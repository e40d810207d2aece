"""Reading a buyer's answer by configured rules: accepted or not, price, token, reason.

Every buyer answers its own way; ``ResponseRules`` say where to look, in the path language of
the answer's format:

- ``json``: dotted keys with ``[i]`` indexes, optionally after ``$``/``$.``
  (``result.bids[0].price``, ``$.price``; ``$`` alone is the whole document);
- ``xml``: XPath 1.0 (``/response/price``, ``//Bid/@amount``, ``string(/r/price)``).
  Namespaces are stripped before evaluation, so ``/Envelope/Body/price`` matches a SOAP
  answer (a prefixed XPath could not work anyway: rules carry no namespace map);
- ``form``: the key (``price`` in ``status=bid&price=12.50``);
- ``text``: a regular expression searched in the body; its first group (or the whole
  match) is the value (``BID (\\d+\\.\\d+)``).

Untrusted input: XML is parsed without network, DTD loading or entity substitution, and a
document that declares entities (where entity bombs live) is refused outright, because
XPath's string value would still expand them.
"""

from apps.buyers.parsing.response import response_parse, rules_check
from apps.buyers.parsing.rules import (
    DEFAULT_SUCCESS_VALUES,
    RESPONSE_FORMATS,
    ParsedResponse,
    ResponseInvalid,
    ResponseRules,
    RulesInvalid,
)
from apps.buyers.parsing.values import MAX_PRICE, MAX_REASON_LENGTH, MAX_TOKEN_LENGTH

__all__ = [
    "DEFAULT_SUCCESS_VALUES",
    "MAX_PRICE",
    "MAX_REASON_LENGTH",
    "MAX_TOKEN_LENGTH",
    "RESPONSE_FORMATS",
    "ParsedResponse",
    "ResponseInvalid",
    "ResponseRules",
    "RulesInvalid",
    "response_parse",
    "rules_check",
]
