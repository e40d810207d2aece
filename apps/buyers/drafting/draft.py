"""A whole contract drafted from a buyer's samples: both endpoints, their mapping rows and
response rules, the secrets, how tests are flagged — as the staff API's contract document,
ready to ``POST /api/v1/contracts`` — and the list of what could not be matched."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from apps.buyers.drafting.answers import AnswerRules, answer_rules
from apps.buyers.drafting.matching import FieldSpec, constant_of, key_match
from apps.buyers.drafting.samples import RequestSample, SampleInvalid, request_parse
from apps.buyers.mapping import path_format

DRAFT_NAME = "Drafted from samples"


@dataclass(frozen=True)
class EndpointSamples:
    """What staff pasted for one endpoint: the sample request (``body_format`` detected
    when empty), a sample accepted answer, optionally a sample refusal, and the URL
    (a query sample may carry its own)."""

    request: str = ""
    answer: str = ""
    refusal: str = ""
    url: str = ""
    body_format: str = ""


@dataclass(frozen=True)
class Unmatched:
    """A part of the samples the draft leaves to staff: ``where`` is the document path it
    belongs under (``endpoints.ping.mappings``, ``endpoints.post.response.success_path``),
    ``key`` the sample key (a mapping target) or setting, ``value`` the sample's value."""

    where: str
    key: str
    value: str
    reason: str


class DraftInvalid(ValueError):
    """A sample cannot be read: ``field`` names it (``ping.request``, ``post.answer``)."""

    def __init__(self, field_name: str, message: str) -> None:
        super().__init__(f"{field_name}: {message}")
        self.field = field_name
        self.message = message


@dataclass
class Draft:
    document: dict[str, Any]
    unmatched: list[Unmatched] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def contract_draft_build(
    *, vertical: str, fields: Sequence[FieldSpec], ping: EndpointSamples | None,
    post: EndpointSamples, buyer: int | None = None, name: str = "",
) -> Draft:
    """Draft a contract of the ``vertical`` (slug; its ``fields`` with their sample lead
    values) from the buyer's samples: ping-post when ``ping`` is given, else direct post.

    Every sample key becomes a mapping row (a lead field through the transform that spells
    it as the sample does, a context value, a secret, a typed constant) or an ``Unmatched``
    entry; a key flagging a test (``Test_Lead: 1``) becomes the contract's test flag rather
    than a row, so live requests never carry it. The contract starts in ``testing``.
    Raises ``DraftInvalid`` naming a sample that cannot be read. Pure: nothing is saved.
    """
    draft = Draft({"vertical": vertical, "name": name or DRAFT_NAME, "status": "testing",
                   "mode": "ping_post" if ping is not None else "direct_post"})
    if buyer is not None:
        draft.document = {"buyer": buyer, **draft.document}
    secrets: dict[str, str] = {}
    flags: list[tuple[str, str, Any]] = []  # (kind, target, sample value)
    endpoints: dict[str, dict[str, Any]] = {}
    token: str | None = None
    price: Decimal | None = None
    for kind, samples in (("ping", ping), ("post", post)):
        if samples is None:
            continue
        answer = _answer(kind, samples, draft)
        if kind == "ping" and answer is not None:
            token, price = answer.token, answer.price
        endpoints[kind] = _endpoint(kind, samples, answer, fields, draft, secrets, flags,
                                    token=token, price=price, has_ping=ping is not None)
    _token_carried(endpoints, draft)
    if ping is None:
        draft.document["fixed_price"] = None
        draft.unmatched.append(Unmatched("fixed_price", "fixed_price", "", "A direct-post "
                                         "contract pays a fixed price: give it."))
    draft.document.update(_test_flag(flags, draft))
    draft.document["endpoints"] = endpoints
    if secrets:
        draft.document["secrets"] = secrets
    return draft


def _answer(kind: str, samples: EndpointSamples, draft: Draft) -> AnswerRules | None:
    if not samples.answer.strip():
        draft.unmatched.append(Unmatched(f"endpoints.{kind}.response", "answer", "",
                                         "No sample answer: the response rules are left "
                                         "at their defaults."))
        return None
    try:
        answer_rules(samples.answer, ping=kind == "ping")
    except SampleInvalid as error:
        raise DraftInvalid(f"{kind}.answer", str(error)) from None
    try:
        return answer_rules(samples.answer, refusal=samples.refusal, ping=kind == "ping")
    except SampleInvalid as error:  # the answer reads: the refusal does not
        raise DraftInvalid(f"{kind}.refusal", str(error)) from None


def _endpoint(kind: str, samples: EndpointSamples, answer: AnswerRules | None,
              fields: Sequence[FieldSpec], draft: Draft, secrets: dict[str, str],
              flags: list[tuple[str, str, Any]], *, token: str | None,
              price: Decimal | None, has_ping: bool) -> dict[str, Any]:
    try:
        sample = request_parse(samples.request, samples.body_format)
    except SampleInvalid as error:
        raise DraftInvalid(f"{kind}.request", str(error)) from None
    url = samples.url or sample.url
    if not url:
        draft.unmatched.append(Unmatched(f"endpoints.{kind}.url", "url", "",
                                         f"Give the buyer's {kind} URL."))
    endpoint: dict[str, Any] = {"url": url, "method": sample.method,
                                "body_format": sample.body_format}
    if sample.body_format in ("form", "query"):
        endpoint["key_style"] = sample.key_style
    if sample.body_format == "xml":
        endpoint["xml_root"] = sample.xml_root
    rows = _rows(kind, sample, fields, draft, secrets, flags, token=token, price=price,
                 has_ping=has_ping)
    endpoint["response"] = answer.rules if answer is not None else {}
    for rule, why in answer.missing if answer is not None else ():
        draft.unmatched.append(Unmatched(f"endpoints.{kind}.response.{rule}", rule, "", why))
    endpoint["mappings"] = rows
    return endpoint


def _rows(kind: str, sample: RequestSample, fields: Sequence[FieldSpec], draft: Draft,
          secrets: dict[str, str], flags: list[tuple[str, str, Any]], *, token: str | None,
          price: Decimal | None, has_ping: bool) -> list[dict[str, Any]]:
    rows = []
    for steps, value in sample.leaves:
        target = path_format(steps)
        name = next((str(step) for step in reversed(steps) if isinstance(step, str)), target)
        match = key_match(target, name, value, fields, kind=kind, ping_token=token,
                          ping_price=price, has_ping=has_ping,
                          typed=sample.body_format == "json")
        if match.test_flag is not None:
            flags.append((kind, *match.test_flag))
            continue
        if match.row is None:
            draft.unmatched.append(Unmatched(f"endpoints.{kind}.mappings", target,
                                             _shown(value), match.reason))
            continue
        if match.secret is not None:
            secret, text = match.secret
            if secrets.get(secret, text) != text:  # same name, other value: keep both
                secret = f"{secret}_{kind}"
                match.row["source"] = f"@secret.{secret}"
            secrets[secret] = text
        rows.append(match.row)
    return rows


def _token_carried(endpoints: dict[str, dict[str, Any]], draft: Draft) -> None:
    """A ping token the post sample does not carry is not read at all (the buyer's post
    evidently does without it); a post sample carrying a token no ping answer gave is
    noted."""
    ping, post = endpoints.get("ping"), endpoints.get("post")
    if ping is None or post is None:
        return
    carried = any(row.get("source") == "@ping.token" for row in post["mappings"])
    if ping["response"].get("token_path") and not carried:
        path = ping["response"].pop("token_path")
        draft.notes.append(f"The ping answer carries a token ({path}) the post sample does "
                           "not send back: it is not read.")
    elif carried and not ping["response"].get("token_path"):
        draft.unmatched.append(Unmatched("endpoints.ping.response.token_path", "token_path",
                                         "", "The post sends the ping's token back, but the "
                                         "sample ping answer shows none: say where it is."))


def _test_flag(flags: list[tuple[str, str, Any]], draft: Draft) -> dict[str, Any]:
    """The contract's test flag, from the sample keys that flag a test."""
    if not flags:
        return {}
    kind, target, value = flags[0]
    for other_kind, other_target, _ in flags[1:]:
        if other_target != target:
            draft.notes.append(f"The {other_kind} flags a test under '{other_target}' and the "
                               f"{kind} under '{target}': tests are flagged with '{target}'.")
    constant = constant_of(value)
    draft.notes.append(f"'{target}' flags a test: test pings and round trips send it, live "
                       "requests never do.")
    return {"test_flag": "field", "test_flag_key": target,
            "test_flag_value": constant["constant"] or "",
            "test_flag_type": constant["constant_type"]}


def _shown(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)
