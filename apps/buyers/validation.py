"""Catching a contract's misconfiguration when it is saved, not when a lead fails.

``contract_draft_errors`` checks a contract together with its endpoints, mapping rows and
filters — as the admin's forms or the API's nested payload hold them before anything is
written — and names every problem by its path (``endpoints.ping.price_path``,
``mappings.post.2.source``, ``filters.0.value``). Both the admin and the API call it, so a
rule is written once.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from apps.buyers.mapping import (
    SECRET_PREFIX,
    TRANSFORMS,
    MappingError,
    MappingRule,
    path_format,
    path_parse,
    rules_validate,
    transforms_deriving_non_pii,
    transforms_keeping_value,
)
from apps.buyers.models import ContractMode, EndpointKind, FilterOperator
from apps.buyers.parsing import ResponseRules, RulesInvalid, rules_check
from apps.buyers.transports import PLACEHOLDER, TransportError, form_key, is_credential_param
from apps.core.http import BlockedUrl, url_check

TOKEN_CONTEXT = "@ping.token"  # noqa: S105 - a mapping source name
# RFC 9110 token characters
_HEADER_NAME = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")
_FILTER_SPECIALS = frozenset({"@source", "@sub_id"})
_RULE_FIELDS = ("success_path", "success_values", "success_regex", "price_path", "token_path",
                "reason_path")


@dataclass
class ContractDraft:
    """A contract as submitted: plain values, nothing saved yet."""

    mode: str
    field_keys: frozenset[str]  # the vertical's field keys
    pii_keys: frozenset[str]
    endpoints: dict[str, Mapping[str, Any]] = field(default_factory=dict)  # kind -> fields
    mappings: dict[str, Sequence[Mapping[str, Any]]] = field(default_factory=dict)
    filters: Sequence[Mapping[str, Any]] = ()
    secret_names: frozenset[str] = frozenset()  # the contract's secrets once saved
    # how test requests are flagged: the contract's test_flag, test_flag_key, _value, _type
    test_flag: Mapping[str, Any] = field(default_factory=dict)


def contract_draft_errors(draft: ContractDraft) -> dict[str, list[str]]:
    """Every problem of ``draft`` by path; empty when the contract can run."""
    errors: dict[str, list[str]] = {}

    def add(path: str, message: str) -> None:
        errors.setdefault(path, []).append(message)

    _check_endpoints(draft, add)
    _check_secrets(draft, add)
    for kind in (EndpointKind.PING, EndpointKind.POST):
        _check_mappings(draft, kind, add)
        _check_wire_keys(draft, kind, add)
    ping = draft.endpoints.get(EndpointKind.PING)
    if ping and ping.get("token_path") and not any(
        row.get("source") == TOKEN_CONTEXT for row in draft.mappings.get(EndpointKind.POST, ())
    ):
        add("endpoints.ping.token_path",
            "The ping reads a token but no post mapping carries it: add a post mapping row "
            f"with source {TOKEN_CONTEXT} under the key the buyer expects.")
    _check_filters(draft, add)
    _check_test_flag(draft, add)
    return errors


def _check_endpoints(draft: ContractDraft, add) -> None:
    ping = draft.endpoints.get(EndpointKind.PING)
    if EndpointKind.POST not in draft.endpoints:
        add("endpoints.post", "A contract needs a post endpoint.")
    if draft.mode == ContractMode.PING_POST and ping is None:
        add("endpoints.ping", "A ping-post contract needs a ping endpoint.")
    if draft.mode == ContractMode.DIRECT_POST:
        if ping is not None:
            add("endpoints.ping", "A direct-post contract is never pinged; remove the ping "
                                  "endpoint or switch the mode to ping-post.")
        for kind, endpoint in draft.endpoints.items():
            if endpoint.get("price_path"):
                add(f"endpoints.{kind}.price_path",
                    "A direct-post contract pays its fixed price; a price path would never be "
                    "read. Remove it or switch the mode to ping-post.")
    if draft.mode == ContractMode.PING_POST and ping is not None and not ping.get("price_path"):
        add("endpoints.ping.price_path", "Say where the ping answer carries the bid price.")
    for kind, endpoint in draft.endpoints.items():
        for name in ("url", "oauth_token_url", "sandbox_url"):
            if endpoint.get(name):
                try:
                    url_check(endpoint[name])
                except BlockedUrl as error:
                    add(f"endpoints.{kind}.{name}", f"This address is refused: {error}.")
        if endpoint.get("auth_type") == "oauth2" and not endpoint.get("oauth_token_url"):
            add(f"endpoints.{kind}.oauth_token_url", "OAuth2 needs the token URL.")
        try:
            rules_check(_rules(endpoint))
        except RulesInvalid as error:
            add(f"endpoints.{kind}.{error.field}", str(error).split(": ", 1)[-1])


def _check_secrets(draft: ContractDraft, add) -> None:
    """Every secret a URL, a header or a mapping row names exists, and no credential sits
    in clear in a URL (it would be stored and shown with the endpoint's configuration)."""
    known = ", ".join(sorted(draft.secret_names)) or "none yet"

    def missing(text: str) -> list[str]:
        return [name for name in PLACEHOLDER.findall(text) if name not in draft.secret_names]

    for kind, endpoint in draft.endpoints.items():
        for name in ("url", "oauth_token_url", "sandbox_url"):
            url = endpoint.get(name) or ""
            for secret in missing(url):
                add(f"endpoints.{kind}.{name}",
                    f"No secret named '{secret}' (stored: {known}); add it under secrets.")
            for problem in _url_credentials(url):
                add(f"endpoints.{kind}.{name}", problem)
        for header, value in (endpoint.get("headers") or {}).items():
            for secret in missing(str(value)):
                add(f"endpoints.{kind}.headers",
                    f"Header {header}: no secret named '{secret}' (stored: {known}).")
    for kind, rows in draft.mappings.items():
        for index, row in enumerate(rows):
            source = row.get("source") or ""
            name = source[len("@" + SECRET_PREFIX):]
            if source.startswith("@" + SECRET_PREFIX) and name and (
                    name not in draft.secret_names):
                add(f"mappings.{kind}.{index}.source",
                    f"No secret named '{name}' (stored: {known}); add it under secrets.")


def _url_credentials(url: str) -> list[str]:
    """Why ``url`` holds a credential in clear (never quoting the credential itself)."""
    parts = urlsplit(url)
    problems = []
    if parts.username or parts.password:
        problems.append("The address holds a user name or password; use basic auth (its "
                        "password is kept as a secret) instead.")
    for name, value in parse_qsl(parts.query, keep_blank_values=True):
        if is_credential_param(name) and value and not PLACEHOLDER.fullmatch(value):
            problems.append(
                f"The query parameter '{name}' holds a credential in clear. Store it as a "
                f"secret and write {name}={{secret.{_secret_name(name)}}} in the address (or "
                f"use auth type query_key).")
    return problems


def _secret_name(param: str) -> str:
    """A secret name suggested for a query parameter."""
    name = re.sub(r"\W", "_", param).strip("_").lower() or "key"
    return name if not name[0].isdigit() else f"_{name}"


def _rules(endpoint: Mapping[str, Any]) -> ResponseRules:
    return ResponseRules(
        format=endpoint.get("response_format") or "json",
        success_statuses=tuple(endpoint.get("success_statuses") or (200, 201, 202)),
        success_values=tuple(endpoint.get("success_values") or ()),
        **{name: endpoint.get(name) or "" for name in _RULE_FIELDS if name != "success_values"},
    )


def _check_mappings(draft: ContractDraft, kind: str, add) -> None:
    rows = list(draft.mappings.get(kind, ()))
    for index, row in enumerate(rows):
        source = row.get("source") or ""
        if source and not source.startswith("@") and source not in draft.field_keys:
            known = ", ".join(sorted(draft.field_keys))
            add(f"mappings.{kind}.{index}.source",
                f"Unknown lead field '{source}'. The vertical's fields are: {known}.")
        if kind == EndpointKind.PING and source in draft.pii_keys and not _derives_non_pii(
                row.get("transform") or ""):
            add(f"mappings.{kind}.{index}.source",
                f"'{source}' is personal data and is never sent in a ping. A ping may carry "
                "a non-identifying value derived from it through one of the transforms "
                f"{', '.join(transforms_deriving_non_pii())}.")
        if kind == EndpointKind.PING and source == TOKEN_CONTEXT:
            add(f"mappings.{kind}.{index}.source", "A ping has no token yet.")
        transform = row.get("transform") or ""
        if source == TOKEN_CONTEXT and transform in TRANSFORMS and not (
                TRANSFORMS[transform].keeps_value):
            add(f"mappings.{kind}.{index}.transform",
                f"'{transform}' would change the buyer's ping token, and the buyer would not "
                "recognise its own bid: post the token as it came (no transform, or one of "
                f"{', '.join(transforms_keeping_value())}).")
        body_format = (draft.endpoints.get(kind) or {}).get("body_format") or "json"
        if row.get("constant_type") == "null" and body_format != "json":
            add(f"mappings.{kind}.{index}.constant_type",
                f"Only a json body has null; a {body_format} body would leave the key out. "
                "Send an empty string constant instead.")
    try:
        rules_validate([MappingRule(target=r.get("target") or "", source=r.get("source") or "",
                                    constant=r.get("constant"), transform=r.get("transform") or "",
                                    arg=r.get("arg") or "",
                                    constant_type=r.get("constant_type") or "string")
                        for r in rows])
    except MappingError as error:
        where = f"mappings.{kind}"
        if error.rule is not None:
            where += f".{error.rule}"
        add(f"{where}.{error.field}" if error.field else where, error.message)


def wire_key(target: str, *, body_format: str, key_style: str) -> str | None:
    """The exact key a form or query body sends a mapping ``target`` under (``Lead[FirstName]``
    for ``Lead.FirstName`` in brackets style); None for json and xml bodies, which nest, and
    for a target the endpoint cannot send (the save-time check names those)."""
    if body_format not in ("form", "query"):
        return None
    try:
        return form_key(path_parse(target), key_style)
    except (MappingError, TransportError):
        return None


def _check_wire_keys(draft: ContractDraft, kind: str, add) -> None:
    """A form or query endpoint's key style against its targets: every row gets a wire key
    of its own, and ``flat`` takes no nested target. Messages name the exact wire key."""
    endpoint = draft.endpoints.get(kind)
    if endpoint is None:
        return
    style = endpoint.get("key_style") or "brackets"
    body_format = endpoint.get("body_format") or "json"
    if body_format not in ("form", "query"):
        if style != "brackets":
            add(f"endpoints.{kind}.key_style",
                f"A key style applies to form and query bodies; a {body_format} body nests "
                "its keys. For one key with a dot in it, such as 'Lead.FirstName', escape the "
                "dot in the target: 'Lead\\.FirstName'.")
        return
    sent: dict[str, tuple[int, tuple]] = {}
    for index, row in enumerate(draft.mappings.get(kind, ())):
        try:
            steps = path_parse(row.get("target") or "")
        except MappingError:
            continue  # rules_validate names it
        try:
            key = form_key(steps, style)
        except TransportError:
            literal = form_key(steps, "dotted")
            add(f"mappings.{kind}.{index}.target",
                f"Key style flat sends single keys, but '{row.get('target')}' nests. Write "
                f"'{path_format((literal,))}' to send the key '{literal}', or choose key "
                f"style dotted (sends '{literal}') or brackets (sends "
                f"'{form_key(steps, 'brackets')}').")
            continue
        if key in sent and sent[key][1] != steps:  # the same target: rules_validate's
            add(f"mappings.{kind}.{index}.target",
                f"Sent as the key '{key}', which row {sent[key][0] + 1} sends too.")
        sent.setdefault(key, (index, steps))


def _derives_non_pii(name: str) -> bool:
    transform = TRANSFORMS.get(name)
    return transform is not None and transform.derives_non_pii


def _check_filters(draft: ContractDraft, add) -> None:
    for index, row in enumerate(draft.filters):
        name, operator, value = row.get("field"), row.get("operator"), row.get("value")
        if name not in draft.field_keys and name not in _FILTER_SPECIALS:
            add(f"filters.{index}.field", f"Unknown lead field '{name}'.")
        if operator not in FilterOperator.values:
            add(f"filters.{index}.operator", f"Unknown operator '{operator}'.")
        elif operator == FilterOperator.REGEX:
            try:
                re.compile(str(value))
            except re.error as error:
                add(f"filters.{index}.value", f"Invalid regular expression: {error}.")
        elif operator == FilterOperator.BETWEEN and not (
                isinstance(value, list) and len(value) == 2):
            add(f"filters.{index}.value", "Give [low, high] for between.")
        elif operator in (FilterOperator.IN, FilterOperator.NOT_IN) and not isinstance(
                value, list):
            add(f"filters.{index}.value", "Give a list of values for in / not_in.")
        elif operator not in (FilterOperator.EXISTS, FilterOperator.NOT_EXISTS) and (
                value is None or value == ""):
            add(f"filters.{index}.value", "This operator needs a value.")


def test_flag_rule(draft_flag: Mapping[str, Any]) -> MappingRule:
    """The mapping row a ``field`` test flag adds to a test request's payload."""
    kind = draft_flag.get("test_flag_type") or "string"
    value = draft_flag.get("test_flag_value") or ""
    return MappingRule(target=draft_flag.get("test_flag_key") or "",
                       constant=None if kind == "null" and not value else value,
                       constant_type=kind)


def _check_test_flag(draft: ContractDraft, add) -> None:
    """The way test requests are flagged can be sent on every endpoint: a field that fits
    each payload beside its mapping rows, a well-formed header, a sandbox URL per endpoint."""
    flag = draft.test_flag
    style, key = flag.get("test_flag") or "none", flag.get("test_flag_key") or ""
    value = flag.get("test_flag_value") or ""
    if style in ("field", "header") and not key:
        add("test_flag_key", f"Say under which {'key' if style == 'field' else 'header name'} "
                             "the buyer reads the test flag (e.g. test).")
        return
    if style == "header":
        if not _HEADER_NAME.fullmatch(key):
            add("test_flag_key", f"'{key}' is not a header name (letters, digits, -).")
        if not value or "\r" in value or "\n" in value:
            add("test_flag_value", "Give the header's value, on one line (e.g. 1).")
    elif style == "sandbox":
        for kind in sorted(draft.endpoints):
            if not draft.endpoints[kind].get("sandbox_url"):
                add(f"endpoints.{kind}.sandbox_url",
                    "Tests are flagged with sandbox URLs: give this endpoint's sandbox URL.")
    elif style == "field":
        if not value and flag.get("test_flag_type") != "null":
            add("test_flag_value", "Give the value that marks a test (e.g. true, 1, Yes).")
            return
        _check_test_flag_field(draft, add)


def _check_test_flag_field(draft: ContractDraft, add) -> None:
    rule = test_flag_rule(draft.test_flag)
    for kind in sorted(draft.endpoints):
        rows = [MappingRule(target=r.get("target") or "", source=r.get("source") or "",
                            constant=r.get("constant"), transform=r.get("transform") or "",
                            arg=r.get("arg") or "",
                            constant_type=r.get("constant_type") or "string")
                for r in draft.mappings.get(kind, ())]
        if not rows:  # every field under its own name: the flag must not take one's place
            rows = [MappingRule(target=key, source=key) for key in sorted(draft.field_keys)]
        try:
            rules_validate([*rows, rule])
        except MappingError as error:
            if error.rule != len(rows):
                continue  # a problem of the mapping itself, named under mappings
            name = "test_flag_value" if error.field in ("constant", "constant_type") else (
                "test_flag_key")
            message = error.message.split(": ", 1)[-1]
            add(name, f"On the {kind}: {message}")
            continue
        endpoint = draft.endpoints[kind]
        if (endpoint.get("body_format") or "json") in ("form", "query"):
            if rule.constant_type == "null":
                add("test_flag_type", f"Only a json body has null; the {kind} is a "
                                      f"{endpoint.get('body_format')} body.")
            elif wire_key(rule.target, body_format=endpoint["body_format"],
                          key_style=endpoint.get("key_style") or "brackets") is None:
                add("test_flag_key", f"The {kind}'s key style "
                                     f"{endpoint.get('key_style')} cannot send "
                                     f"'{rule.target}' (flat sends single keys).")
