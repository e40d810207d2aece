"""Mapping rules -> the nested payload a buyer expects.

``payload_build`` runs for every buyer of every lead, so the rule list is compiled once (paths
parsed, transforms looked up, arguments parsed, constants typed, conflicts checked) and cached
by its value; a build is then one pass of dictionary reads and writes.

PII on pings: the caller passes every lead value and names the PII keys ``sealed``. A rule
reads a sealed key only through a transform whose catalogue entry ``derives_non_pii`` (an
age from a birth date, a ZIP3), so the identifying value itself never reaches the payload,
whatever the rows say; the save-time check (apps.buyers.validation) refuses such rows first.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from functools import lru_cache
from typing import Any

from apps.buyers.mapping.errors import MappingError
from apps.buyers.mapping.paths import Path, path_format, path_parse
from apps.buyers.mapping.transforms import (
    Transform,
    transform_arg_parse,
    transform_get,
)

# The context values a rule can read as "@<key>"; the caller passes them without the "@".
CONTEXT_KEYS = ("lead.id", "ping.token", "ping.bid", "source.id", "sub_id", "test", "now",
                # posts only: the lead's consent, and its one-to-one evidence for this buyer
                "consent.certificate_url", "consent.jornaya_leadid", "consent.text",
                "consent.consented_at", "consent.brand", "consent.picked")
# A contract's secret values are read as "@secret.<name>" (the caller puts them in the
# context as "secret.<name>"); names are identifiers, so they can also be written in URLs.
SECRET_PREFIX = "secret."  # noqa: S105 - a key prefix, not a secret
SECRET_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,62}")
# How a constant's text is typed on the wire: "false" as JSON false, "12" as the number 12.
CONSTANT_TYPES = ("string", "integer", "decimal", "boolean", "null")
_INTEGER = re.compile(r"[-+]?[0-9]+")
_DECIMAL = re.compile(r"[-+]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)")


@dataclass(frozen=True, slots=True)
class MappingRule:
    """One row of a buyer's field mapping: where a value goes and where it comes from.

    ``source`` is a lead field key (``first_name``), a context key prefixed with "@"
    (``@ping.token``) or a secret (``@secret.api_key``); with an empty ``source`` the rule
    writes ``constant``, typed by ``constant_type`` (one of ``CONSTANT_TYPES``; ``null``
    writes null and takes an empty constant). ``transform`` names an entry of
    ``TRANSFORMS`` (or is empty) and ``arg`` is its text argument.
    """

    target: str
    source: str = ""
    constant: str | None = None
    transform: str = ""
    arg: str = ""
    constant_type: str = "string"


@dataclass(frozen=True, slots=True)
class EmptyRow:
    """A rule that wrote nothing (or an empty text) for one lead, and why: the preview shows
    these so a row is never dropped silently. ``position`` is the rule's 0-based index."""

    position: int
    target: str
    reason: str


_NULL = object()  # a step's constant when the rule writes null


@dataclass(frozen=True, slots=True)
class _Step:
    path: Path
    from_context: bool
    key: str
    constant: Any  # None: read ``key``; _NULL: write null; else the typed constant
    transform: Transform | None
    arg: Any
    derived: bool  # the transform derives a non-identifying value (may read a sealed key)


def rules_validate(rules: Iterable[MappingRule]) -> None:
    """Raise ``MappingError`` naming the first invalid rule; return None when all are usable.

    The error's ``rule`` is the rule's 0-based position and ``field`` the attribute at fault.
    Checked: target syntax, source/constant (exactly one; known "@" context keys and secret
    names), the constant against its type, transform name and argument, and conflicts
    between targets (a value and an object at the same place, or two rules writing one
    place).
    """
    _plan(tuple(rules))


def payload_build(
    rules: Sequence[MappingRule], values: Mapping[str, Any], context: Mapping[str, Any],
    *, sealed: Collection[str] = (),
) -> dict[str, Any]:
    """Return the payload the rules make of a lead's ``values`` and the request ``context``.

    ``context`` holds the ``CONTEXT_KEYS`` (without "@") and the contract's secrets
    (``secret.<name>``); its ``now`` is also the reference time of the ``age`` transforms
    (today in UTC when absent). ``sealed`` names the keys of ``values`` that may only be
    read through a ``derives_non_pii`` transform (a ping's PII fields): any other rule
    reading one is skipped, and without rules they are left out. A rule whose value is
    missing (None), or whose transform cannot use the value, is skipped. Lists are created
    and padded with None up to the indexes used. Without rules the payload is a copy of
    ``values``. Raises ``MappingError`` when a rule is invalid (see ``rules_validate``).
    """
    return _build(rules, values, context, sealed, None)


def payload_trace(
    rules: Sequence[MappingRule], values: Mapping[str, Any], context: Mapping[str, Any],
    *, sealed: Collection[str] = (),
) -> tuple[dict[str, Any], list[EmptyRow]]:
    """``payload_build``, plus every rule that came out empty (skipped, or an empty text)
    and why, in rule order; for previews, never on the auction's path."""
    empty: list[EmptyRow] = []
    return _build(rules, values, context, sealed, empty), empty


def _build(rules: Sequence[MappingRule], values: Mapping[str, Any],
           context: Mapping[str, Any], sealed: Collection[str],
           empty: list[EmptyRow] | None) -> dict[str, Any]:
    if not rules:
        return {k: v for k, v in values.items() if k not in sealed} if sealed else dict(values)
    now = context.get("now")
    payload: dict[str, Any] = {}
    for position, step in enumerate(_plan(tuple(rules))):
        if step.constant is _NULL:
            _put(payload, step.path, None)
            continue
        if step.constant is not None:
            value: Any = step.constant
        elif step.from_context:
            value = context.get(step.key)
        elif step.key in sealed and not step.derived:
            if empty is not None:
                empty.append(EmptyRow(position, rules[position].target,
                                      f"'{step.key}' is personal data: a ping carries only a "
                                      "non-identifying value derived from it"))
            continue
        else:
            value = values.get(step.key)
        missing = value is None
        if step.transform is not None and (value is not None or step.transform.accepts_missing):
            value = step.transform.func(value, step.arg, now)
        if value is not None:
            _put(payload, step.path, value)
        if empty is not None and (value is None or value == ""):
            empty.append(EmptyRow(position, rules[position].target,
                                  _empty_reason(rules[position], missing, value)))
    return payload


def _empty_reason(rule: MappingRule, missing: bool, value: Any) -> str:
    what = f"the value of '{rule.source}'" if rule.source else "the constant"
    if missing:
        return f"no value for '{rule.source}'"
    if value is None:
        return f"'{rule.transform}' cannot use {what}"
    return f"{what} is empty"


@lru_cache(maxsize=1024)
def _plan(rules: tuple[MappingRule, ...]) -> tuple[_Step, ...]:
    steps = []
    skeleton: dict[str, Any] = {}
    for position, rule in enumerate(rules):
        try:
            step = _compile(rule)
            # Writing a placeholder for every rule finds conflicts whatever the values.
            _put(skeleton, step.path, True)
        except MappingError as error:
            raise MappingError(f"rule {position + 1} ({rule.target!r}): {error.message}",
                               field=error.field, rule=position) from None
        steps.append(step)
    return tuple(steps)


def _compile(rule: MappingRule) -> _Step:
    try:
        path = path_parse(rule.target)
    except MappingError as error:
        raise MappingError(f"target: {error.message}", field="target") from None
    if rule.source and rule.constant is not None:
        raise MappingError("give a source or a constant, not both", field="constant")
    if rule.source and (rule.constant_type or "string") != "string":
        raise MappingError("a constant type applies to constants; this row reads "
                           f"{rule.source!r}", field="constant_type")
    if not rule.source and rule.constant is None and rule.constant_type != "null":
        raise MappingError("needs a source field or a constant", field="source")
    from_context = rule.source.startswith("@")
    key = rule.source[1:] if from_context else rule.source
    if from_context and key not in CONTEXT_KEYS and not (
            key.startswith(SECRET_PREFIX) and SECRET_NAME.fullmatch(key[len(SECRET_PREFIX):])):
        known = ", ".join("@" + name for name in CONTEXT_KEYS)
        raise MappingError(f"unknown context value {rule.source!r} (known: {known}, "
                           "@secret.<name>)", field="source")
    transform = transform_get(rule.transform) if rule.transform else None
    arg = transform_arg_parse(rule.transform, rule.arg) if rule.transform else None
    if transform is None and rule.arg:
        raise MappingError(f"argument {rule.arg!r} given without a transform", field="arg")
    constant = _typed(rule) if not rule.source else None
    if constant is _NULL and transform is not None:
        raise MappingError("a null constant takes no transform", field="transform")
    return _Step(path, from_context, key, constant, transform, arg,
                 transform is not None and transform.derives_non_pii)


def _typed(rule: MappingRule) -> Any:
    """The rule's constant as its type says: a str, int, Decimal, bool, or _NULL."""
    kind, text = rule.constant_type or "string", rule.constant
    if kind not in CONSTANT_TYPES:
        raise MappingError(f"unknown constant type {kind!r} (known: "
                           f"{', '.join(CONSTANT_TYPES)})", field="constant_type")
    if kind == "null":
        if text:
            raise MappingError("a null constant has no value; leave the constant empty",
                               field="constant")
        return _NULL
    if text is None:
        raise MappingError("needs a source field or a constant", field="source")
    if kind == "string":
        return text
    word = text.strip()
    if kind == "integer" and _INTEGER.fullmatch(word):
        return int(word)
    if kind == "decimal" and _DECIMAL.fullmatch(word):
        return Decimal(word)
    if kind == "boolean" and word.lower() in ("true", "false"):
        return word.lower() == "true"
    examples = {"integer": "42", "decimal": "12.50", "boolean": "true or false"}
    raise MappingError(f"{text!r} is not {'an' if kind == 'integer' else 'a'} {kind} "
                       f"(e.g. {examples[kind]})", field="constant")


# An object is indexed by keys, a list by indexes. _put keeps them paired: the root is an
# object, a target starts with a key (path_parse) and the container created for a step is the
# one its next step indexes, so a mismatch is a bug here, not something a rule can cause.
_Node = dict[str, Any] | list[Any]


def _put(root: dict[str, Any], path: Path, value: Any) -> None:
    """Write ``value`` at ``path``, creating dicts and padded lists on the way."""
    node: _Node = root
    for depth, step in enumerate(path):
        child = _slot(node, step)
        if depth == len(path) - 1:
            if isinstance(child, dict | list):
                raise _conflict(path, child, value)
            if child is not None:
                raise MappingError(f"{path_format(path)!r} is written by two rules",
                                   field="target")
            _fill(node, step, value)
            return
        wanted: dict[str, Any] | list[Any] = {} if isinstance(path[depth + 1], str) else []
        if child is None:
            _fill(node, step, wanted)
            child = wanted
        elif type(child) is not type(wanted):
            raise _conflict(path[: depth + 1], child, wanted)
        node = child


def _conflict(path: Path, present: Any, wanted: Any) -> MappingError:
    return MappingError(f"{path_format(path)!r} is used both as {_kind(present)} and as "
                        f"{_kind(wanted)} by different rules", field="target")


def _kind(value: Any) -> str:
    if isinstance(value, dict):
        return "an object"
    return "a list" if isinstance(value, list) else "a value"


def _slot(node: _Node, step: str | int) -> Any:
    if isinstance(node, dict) and isinstance(step, str):
        return node.get(step)
    if isinstance(node, list) and isinstance(step, int):
        return node[step] if step < len(node) else None
    raise TypeError(f"{_kind(node)} cannot be indexed by {step!r}")


def _fill(node: _Node, step: str | int, value: Any) -> None:
    if isinstance(node, dict) and isinstance(step, str):
        node[step] = value
    elif isinstance(node, list) and isinstance(step, int):
        # Padding with None keeps later indexes where the buyer's spec puts them; the
        # encoders write None as null (JSON) or leave it out (form, query, XML).
        if step >= len(node):
            node.extend([None] * (step - len(node) + 1))
        node[step] = value
    else:
        raise TypeError(f"{_kind(node)} cannot be indexed by {step!r}")
