"""Deciding what an answer means: compiled rules, lazy parsing, the accept/price/token/reason
logic."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from apps.buyers.parsing.formats import LOADERS, PATH_COMPILERS, Reader, regex_compile
from apps.buyers.parsing.rules import (
    DEFAULT_SUCCESS_VALUES,
    PATH_FIELDS,
    RESPONSE_FORMATS,
    ParsedResponse,
    ResponseInvalid,
    ResponseRules,
    RulesInvalid,
)
from apps.buyers.parsing.values import (
    MAX_REASON_LENGTH,
    message_excerpt,
    price_value,
    reason_value,
    token_value,
    value_text,
)


def rules_check(rules: ResponseRules) -> None:
    """Raise ``RulesInvalid`` (a ValueError, message ``"<field>: <problem>"``) for the first
    unusable setting: unknown format, statuses that are not HTTP statuses, non-text success
    values, a path invalid in the format's path language, an invalid ``success_regex``."""
    _plan(rules)


def response_parse(rules: ResponseRules, status: int, body: bytes) -> ParsedResponse:
    """Return what the buyer's answer (HTTP ``status`` and ``body``) means under ``rules``.

    A status outside ``success_statuses`` is never an error here: accepted=False with reason
    ``HTTP <status>`` plus the buyer's words — read by ``reason_path`` when one is
    configured, else a short excerpt of the body (``message_excerpt``). Whether such a
    refusal is a no-bid or a fault is the caller's call (a ping answered 4xx is a fault).
    A price is a Decimal quantized down to cents, so a buyer is never charged above its
    bid. The body is parsed only when a rule needs it: a post decided by status alone
    accepts an empty 200.

    Raises ``ResponseInvalid`` when the body cannot be parsed in the configured format, when
    a value is junk, and when the rules themselves are invalid (``rules_check`` refuses
    those on save, so this only guards rows that bypassed it). Nothing else is raised.
    """
    try:
        plan = _plan(rules)
    except RulesInvalid as error:
        raise ResponseInvalid(f"invalid response rules: {error}") from None
    document = _Document(plan.load, body)
    if status not in rules.success_statuses:
        return ParsedResponse(False, None, None, _status_reason(plan, document, status))

    accepted = True
    word = None
    if plan.success is not None:
        word = value_text(document.read(plan.success), "success_path")
        accepted = word is not None and word.casefold() in plan.success_values
    if plan.success_regex is not None:
        accepted = accepted and plan.success_regex.search(document.text()) is not None
    price = token = None
    if accepted and plan.price is not None:
        price = price_value(document.read(plan.price))
        if plan.success is None and plan.success_regex is None and not price:
            accepted, price = False, None
    if not accepted:
        reason = _optional_reason(plan, document)
        return ParsedResponse(False, None, None, reason or _fallback_reason(plan, word))
    if plan.token is not None:
        token = token_value(document.read(plan.token))
    return ParsedResponse(True, price, token, None)


@dataclass(frozen=True, slots=True)
class _Plan:
    load: Callable[[bytes], Any]
    success: Reader | None
    success_values: frozenset[str]
    success_regex: re.Pattern[str] | None
    price: Reader | None
    token: Reader | None
    reason: Reader | None


@lru_cache(maxsize=1024)
def _plan(rules: ResponseRules) -> _Plan:
    if rules.format not in RESPONSE_FORMATS:
        raise RulesInvalid("format", f"{rules.format!r} is not one of "
                                     f"{', '.join(RESPONSE_FORMATS)}")
    if not rules.success_statuses:
        raise RulesInvalid("success_statuses", "list at least one HTTP status")
    for status in rules.success_statuses:
        if isinstance(status, bool) or not isinstance(status, int) or not 100 <= status <= 599:
            raise RulesInvalid("success_statuses", f"{status!r} is not an HTTP status")
    for value in rules.success_values:
        if not isinstance(value, str) or not value.strip():
            raise RulesInvalid("success_values", f"{value!r} is not a non-empty text")
    compile_path = PATH_COMPILERS[rules.format]
    readers = {}
    for field in PATH_FIELDS:
        path = getattr(rules, field)
        readers[field] = _compile(compile_path, field, path) if path else None
    regex = (_compile(regex_compile, "success_regex", rules.success_regex)
             if rules.success_regex else None)
    values = rules.success_values or DEFAULT_SUCCESS_VALUES
    return _Plan(LOADERS[rules.format], readers["success_path"],
                 frozenset(value.strip().casefold() for value in values), regex,
                 readers["price_path"], readers["token_path"], readers["reason_path"])


def _compile(compile_path: Callable[[str], Any], field: str, path: str) -> Any:
    try:
        return compile_path(path)
    except ValueError as error:
        raise RulesInvalid(field, str(error)) from None


class _Document:
    """The body, parsed on first use only (a status-only rule never pays for parsing)."""

    __slots__ = ("_body", "_load", "_parsed", "_value")

    def __init__(self, load: Callable[[bytes], Any], body: bytes) -> None:
        self._load = load
        self._body = body
        self._parsed = False
        self._value: Any = None

    def read(self, reader: Reader) -> Any:
        if not self._parsed:
            self._value = self._load(self._body)
            self._parsed = True
        return reader(self._value)

    def text(self) -> str:
        return self._body.decode("utf-8", "replace")

    @property
    def body(self) -> bytes:
        return self._body


def _status_reason(plan: _Plan, document: _Document, status: int) -> str:
    # An error answer often comes in another shape than the rules expect (a JSON error from
    # an XML buyer), so without a reason path the body speaks for itself.
    reason = (_optional_reason(plan, document) if plan.reason is not None
              else message_excerpt(document.body))
    return f"HTTP {status}: {reason}"[:MAX_REASON_LENGTH] if reason else f"HTTP {status}"


def _optional_reason(plan: _Plan, document: _Document) -> str | None:
    # The answer is already a refusal; a body that cannot be read only loses its wording.
    if plan.reason is None:
        return None
    try:
        return reason_value(document.read(plan.reason))
    except ResponseInvalid:
        return None


def _fallback_reason(plan: _Plan, word: str | None) -> str:
    if word is not None:
        return word[:MAX_REASON_LENGTH]
    if plan.success is not None:
        return "no status in the answer"
    if plan.success_regex is not None:
        return "success_regex did not match"
    return "no bid price in the answer"
