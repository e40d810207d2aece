"""A source's postback (pixel) URL template: the macros it may use, the check at save time and
the rendering.

A template is a URL with macros in braces, e.g.
``https://track.example.com/pb?click={sub_id}&payout={payout}&status={status}``. Each macro is
replaced by its value, URL-encoded (``quote(…, safe="")``), so a value can never add a query
parameter or a path. An unknown macro or a stray brace is refused when the template is saved,
naming it; nothing is left for the sender to guess.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from urllib.parse import quote

from django.core.exceptions import ValidationError

from apps.core.http import BlockedUrl, url_check

POSTBACK_MACROS: tuple[str, ...] = (
    "lead_id", "sub_id", "sub_id2", "sub_id3", "sub_id4", "sub_id5", "status", "payout",
    "vertical", "event",
)
_MACRO = re.compile(r"\{([^{}]*)\}")
# What a template is checked with: every macro has a plausible value, so the rendered URL
# is judged the way a real one will be (scheme, host, SSRF guard).
_SAMPLE = {name: "x" for name in POSTBACK_MACROS} | {"payout": "1.00"}


def postback_template_check(template: str) -> None:
    """Raise ``ValidationError`` naming the first problem of ``template``: an unknown macro
    (``{clickid}``), a brace that opens or closes no macro, or a URL that outbound HTTP may
    not request (not http/https, no host, a private or metadata address). Blank is valid
    (no postback)."""
    if not template:
        return
    known = ", ".join(f"{{{name}}}" for name in POSTBACK_MACROS)
    for name in _MACRO.findall(template):
        if name not in POSTBACK_MACROS:
            raise ValidationError(f"Unknown macro {{{name}}}. Known macros: {known}.",
                                  code="unknown_macro")
    if "{" in _MACRO.sub("", template) or "}" in _MACRO.sub("", template):
        raise ValidationError(f"A brace opens or closes no macro. Known macros: {known}.",
                              code="stray_brace")
    try:
        url_check(postback_url_render(template, _SAMPLE))
    except BlockedUrl as error:
        raise ValidationError(f"This address is refused: {error}.", code="blocked") from None


def postback_url_render(template: str, values: Mapping[str, str]) -> str:
    """``template`` with each macro replaced by its URL-encoded value (a macro without a
    value becomes empty). The template must have passed ``postback_template_check``."""
    return _MACRO.sub(lambda match: quote(str(values.get(match.group(1), "")), safe=""),
                      template)
