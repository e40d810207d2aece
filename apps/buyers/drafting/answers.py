"""Response rules drafted from a buyer's sample answers: where the answer says yes, the
price, the ping token and the reason of a refusal, in the path language of its format
(JSON path, XPath, form key).

A key is recognised by its name (``status``, ``price``, ``ping_id`` …, compared without
case or separators) and its value (a price is a positive number). A sample refusal, when
given, confirms the success value: the same path must say something else there.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any
from urllib.parse import parse_qsl

from lxml import etree

from apps.buyers.drafting.samples import (
    SampleInvalid,
    Steps,
    json_document,
    leaves,
    xml_document,
    xml_tree,
)
from apps.buyers.mapping import path_format

# Names (lower-case, letters and digits only) in the order they are preferred.
PRICE_NAMES = ("price", "bid", "bidprice", "bidamount", "amount", "payout", "cpl", "cost",
               "offer", "offerprice", "revenue", "value")
TOKEN_NAMES = ("pingtoken", "token", "bidtoken", "leadtoken", "pingid", "bidid", "pingref",
               "pingreference", "authcode", "leadid", "id", "reference", "ref", "uuid",
               "transactionid", "confirmationid")
STATUS_NAMES = ("status", "result", "success", "accepted", "outcome", "decision",
                "response", "responsestatus", "ok", "matched", "state", "resultcode")
REASON_NAMES = ("reason", "rejectreason", "rejectionreason", "message", "msg", "error",
                "errors", "errormessage", "statusmessage", "description", "detail",
                "details")


@dataclass
class AnswerRules:
    """Response rules in the staff API's ``response`` shape, the values read from the
    sample (the token, the price) and what could not be found."""

    rules: dict[str, Any]
    token: str | None = None
    price: Decimal | None = None
    missing: list[tuple[str, str]] = field(default_factory=list)  # (rule, why)


def name_of(steps: Steps) -> str:
    """The last key of ``steps`` as names are compared: lower-case letters and digits."""
    keys = [step for step in steps if isinstance(step, str)]
    return re.sub(r"[^a-z0-9]", "", keys[-1].lower().lstrip("@")) if keys else ""


def answer_format(text: str) -> str:
    head = text.lstrip()[:1]
    if head in "{[":
        return "json"
    if head == "<":
        return "xml"
    if re.fullmatch(r"[^\s=&]+=[^&\s]*(?:&[^\s=&]+=[^&\s]*)*", text.strip()):
        return "form"
    return "text"


def answer_rules(answer: str, *, refusal: str = "", ping: bool) -> AnswerRules:
    """Draft the response rules of an endpoint from its sample ``answer`` (an accepted
    one: a bid for a ping, an acceptance for a post) and an optional sample ``refusal``.
    A ping needs a price path (and reads a token when one is there); a post needs a
    success rule. Raises ``SampleInvalid`` when ``answer`` cannot be read."""
    fmt = answer_format(answer)
    if fmt == "text":
        return _text_rules(answer, ping=ping)
    found = _leaves(answer, fmt)
    refused = _leaves(refusal, fmt) if refusal.strip() else []
    drafted = AnswerRules({"format": fmt})
    price = _pick(found, PRICE_NAMES, _price_of)
    if ping and price is not None:
        drafted.rules["price_path"] = _path(price[0], fmt)
        drafted.price = _price_of(price[1])
    elif ping:
        drafted.missing.append(("price_path", "no price in the sample answer (a key such "
                                              "as price, bid, amount or payout)"))
    status = _pick(found, STATUS_NAMES, _word_of)
    if status is not None:
        path, word = status[0], _word_of(status[1])
        refused_word = next((_word_of(v) for s, v in refused if s == path), None)
        if refused_word is not None and refused_word.casefold() == str(word).casefold():
            drafted.missing.append(("success_values", f"the sample refusal says {word!r} "
                                                      "too: say which value means yes"))
        else:
            drafted.rules["success_path"] = _path(path, fmt)
            drafted.rules["success_values"] = [str(word)]
    elif not ping:
        drafted.missing.append(("success_path", "no status in the sample answer (a key "
                                                "such as status, result or success): the "
                                                "HTTP status alone decides"))
    if ping:
        taken = {price[0]} if price else set()
        token = _pick([(s, v) for s, v in found if s not in taken], TOKEN_NAMES, _token_of)
        if token is not None:
            drafted.rules["token_path"] = _path(token[0], fmt)
            drafted.token = _token_of(token[1])
    reason = _pick(refused, REASON_NAMES, _reason_of) or _pick(found, REASON_NAMES,
                                                               _reason_of, empty=True)
    if reason is not None:
        drafted.rules["reason_path"] = _path(reason[0], fmt)
    return drafted


def _leaves(text: str, fmt: str) -> list[tuple[Steps, Any]]:
    if fmt == "json":
        return leaves(json_document(text))
    if fmt == "xml":
        root = xml_document(text)
        tree = xml_tree(root)
        return leaves({etree.QName(root).localname: tree})
    return [((key,), value) for key, value in parse_qsl(text.strip(), keep_blank_values=True)]


def _pick(found: list[tuple[Steps, Any]], names: tuple[str, ...], read, *,
          empty: bool = False) -> tuple[Steps, Any] | None:
    """The leaf whose name comes first in ``names`` and whose value ``read`` accepts."""
    best: tuple[int, tuple[Steps, Any]] | None = None
    for steps, value in found:
        name = name_of(steps)
        if name not in names:
            continue
        if read(value) is None and not (empty and value in ("", None)):
            continue
        rank = names.index(name)
        if best is None or rank < best[0]:
            best = (rank, (steps, value))
    return best[1] if best else None


def _path(steps: Steps, fmt: str) -> str:
    if fmt == "xml":
        parts: list[str] = []
        for step in steps:
            if isinstance(step, int):
                parts[-1] += f"[{step + 1}]"  # XPath counts from 1
            elif step == "#text":
                parts.append("text()")
            else:
                parts.append(step)
        return "/" + "/".join(parts)
    if fmt == "form":
        return str(steps[0])
    return path_format(steps)


def _price_of(value: Any) -> Decimal | None:
    if isinstance(value, bool):
        return None
    try:
        amount = Decimal(str(value).strip().lstrip("$"))
    except InvalidOperation:
        return None
    return amount if amount.is_finite() and amount > 0 else None


def _word_of(value: Any) -> str | None:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | str | Decimal) and str(value).strip():
        return str(value).strip()
    return None


def _token_of(value: Any) -> str | None:
    if isinstance(value, bool) or value is None:
        return None
    text = str(value).strip()
    return text or None


def _reason_of(value: Any) -> str | None:
    return value.strip() or None if isinstance(value, str) else None


def _text_rules(answer: str, *, ping: bool) -> AnswerRules:
    """A plain-text answer (``ACCEPTED 12.50``): its first word as the success regex, its
    first amount as the price."""
    drafted = AnswerRules({"format": "text"})
    word = re.match(r"\s*([A-Za-z]+)", answer)
    if word:
        drafted.rules["success_regex"] = f"^\\s*{word.group(1)}"
    else:
        drafted.missing.append(("success_regex", "the text answer has no leading word"))
    amount = re.search(r"\d+\.\d+", answer)
    if ping and amount:
        drafted.rules["price_path"] = r"(\d+\.\d+)"
        drafted.price = Decimal(amount.group(0))
    elif ping:
        drafted.missing.append(("price_path", "no amount in the text answer"))
    if ping:
        drafted.missing.append(("token_path", "a text answer's token cannot be told apart: "
                                              "write a regex for it"))
    return drafted


__all__ = ["AnswerRules", "SampleInvalid", "answer_rules", "name_of"]
