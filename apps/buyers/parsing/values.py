"""Values found in an answer -> status words, prices, tokens and reasons, or ResponseInvalid."""

from __future__ import annotations

import json
import re
from decimal import ROUND_DOWN, Decimal
from typing import Any

from apps.buyers.parsing.rules import ResponseInvalid

MAX_PRICE = Decimal("100000")
CENTS = Decimal("0.01")
MAX_TOKEN_LENGTH = 1024
MAX_REASON_LENGTH = 500

_PRICE_TEXT = re.compile(r"[-+]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)")


def value_text(value: Any, field: str) -> str | None:
    """Return a scalar's text, stripped (None when absent or blank); raise ``ResponseInvalid``
    naming ``field`` for an object or list."""
    if value is None:
        return None
    if isinstance(value, str):
        return value.strip() or None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | Decimal):
        return str(value)
    raise ResponseInvalid(f"{field}: found {type(value).__name__}, not a single value")


def price_value(value: Any) -> Decimal | None:
    """Return the amount in cents (rounded down), None when absent or blank; raise
    ``ResponseInvalid`` for anything but a finite amount in 0..``MAX_PRICE``."""
    if value is None:
        return None
    if isinstance(value, str):
        # "$12.50" is common; "12,50" is not accepted: a decimal comma and a thousands
        # separator cannot be told apart.
        text = value.strip().removeprefix("$").strip()
        if not text:
            return None
        if not _PRICE_TEXT.fullmatch(text):
            raise ResponseInvalid(f"price_path: {_shown(value)} is not an amount")
        amount = Decimal(text)
    elif isinstance(value, int | Decimal) and not isinstance(value, bool):
        amount = Decimal(value)
    else:
        raise ResponseInvalid(f"price_path: {_shown(value)} is not an amount")
    if not amount.is_finite() or not 0 <= amount <= MAX_PRICE:
        raise ResponseInvalid(f"price_path: {_shown(value)} is not an amount in 0..{MAX_PRICE}")
    return amount.quantize(CENTS, rounding=ROUND_DOWN)


def token_value(value: Any) -> str | None:
    """Return the bid token's text (None when absent); raise ``ResponseInvalid`` for an object,
    a list or a token longer than ``MAX_TOKEN_LENGTH``."""
    token = value_text(value, "token_path")
    if token is not None and len(token) > MAX_TOKEN_LENGTH:
        raise ResponseInvalid(f"token_path: the token is longer than {MAX_TOKEN_LENGTH}")
    return token


def reason_value(value: Any) -> str | None:
    """Return the reason on one line, cut to ``MAX_REASON_LENGTH``; never raises, because a
    reason is for people reading logs and whatever the buyer put there is worth showing."""
    if value is None:
        return None
    text = json.dumps(value, default=str) if isinstance(value, dict | list) else str(value)
    return " ".join(text.split())[:MAX_REASON_LENGTH] or None


# Where JSON error answers put their words, most specific first.
_MESSAGE_KEYS = ("message", "error_description", "error_message", "detail", "reason", "error",
                 "errors", "msg", "description")
_TAG = re.compile(r"<[^>]*>")
MESSAGE_EXCERPT = 200


def message_excerpt(body: bytes) -> str | None:
    """A short excerpt of what a buyer said in an answer that has no configured reason path:
    a JSON answer's ``message`` / ``error`` … (``{"error": {"message": …}}`` and
    ``{"errors": [{"message": …}]}`` included), else the text itself with markup stripped;
    one line of at most ``MESSAGE_EXCERPT`` characters, None for an empty body. Never
    raises: a reason is for people reading logs."""
    text = body[:MESSAGE_EXCERPT * 50].decode("utf-8", "replace").strip()
    if not text:
        return None
    if text[:1] in "{[":
        try:
            found = _message_of(json.loads(text))
        except (ValueError, RecursionError):
            found = None
        if found:
            return reason_value(found[:MESSAGE_EXCERPT])
    if text.startswith("<"):
        text = _TAG.sub(" ", text)
    excerpt = reason_value(text[:MESSAGE_EXCERPT * 4])
    return excerpt[:MESSAGE_EXCERPT] if excerpt else None


def _message_of(document: Any, depth: int = 0) -> str | None:
    if isinstance(document, str):
        return document.strip() or None
    if depth > 3:
        return None
    if isinstance(document, list):
        return _message_of(document[0], depth + 1) if document else None
    if isinstance(document, dict):
        lowered = {str(key).lower(): value for key, value in document.items()}
        for key in _MESSAGE_KEYS:
            found = _message_of(lowered.get(key), depth + 1)
            if found:
                return found
    return None


def _shown(value: Any) -> str:
    return repr(value)[:40]
