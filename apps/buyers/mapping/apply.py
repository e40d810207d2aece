"""Mapping rules -> the nested payload a buyer expects.

``payload_build`` runs for every buyer of every lead, so the rule list is compiled once (paths
parsed, transforms looked up, arguments parsed, conflicts checked) and cached by its value;
a build is then one pass of dictionary reads and writes.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
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
CONTEXT_KEYS = ("lead.id", "ping.token", "ping.bid", "source.id", "sub_id", "test", "now")


@dataclass(frozen=True, slots=True)
class MappingRule:
    """One row of a buyer's field mapping: where a value goes and where it comes from.

    ``source`` is a lead field key (``first_name``) or a context key prefixed with "@"
    (``@ping.token``); with an empty ``source`` the rule writes ``constant``. ``transform``
    names an entry of ``TRANSFORMS`` (or is empty) and ``arg`` is its text argument.
    """

    target: str
    source: str = ""
    constant: str | None = None
    transform: str = ""
    arg: str = ""


@dataclass(frozen=True, slots=True)
class _Step:
    path: Path
    from_context: bool
    key: str
    constant: str | None
    transform: Transform | None
    arg: Any


def rules_validate(rules: Iterable[MappingRule]) -> None:
    """Raise ``MappingError`` naming the first invalid rule; return None when all are usable.

    The error's ``rule`` is the rule's 0-based position and ``field`` the attribute at fault.
    Checked: target syntax, source/constant (exactly one; known "@" context keys), transform
    name and argument, and conflicts between targets (a value and an object at the same
    place, or two rules writing one place).
    """
    _plan(tuple(rules))


def payload_build(
    rules: Sequence[MappingRule], values: Mapping[str, Any], context: Mapping[str, Any]
) -> dict[str, Any]:
    """Return the payload the rules make of a lead's ``values`` and the request ``context``.

    ``context`` holds the ``CONTEXT_KEYS`` (without "@"); its ``now`` is also the reference
    time of the ``age`` transform (today in UTC when absent). A rule whose value is missing
    (None), or whose transform cannot use the value, is skipped. Lists are created and padded
    with None up to the indexes used. Without rules the payload is a copy of ``values``.
    Raises ``MappingError`` when a rule is invalid (see ``rules_validate``).
    """
    if not rules:
        return dict(values)
    now = context.get("now")
    payload: dict[str, Any] = {}
    for step in _plan(tuple(rules)):
        if step.constant is not None:
            value: Any = step.constant
        else:
            value = (context if step.from_context else values).get(step.key)
        if step.transform is not None and (value is not None or step.transform.accepts_missing):
            value = step.transform.func(value, step.arg, now)
        if value is not None:
            _put(payload, step.path, value)
    return payload


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
    if not rule.source and rule.constant is None:
        raise MappingError("needs a source field or a constant", field="source")
    from_context = rule.source.startswith("@")
    key = rule.source[1:] if from_context else rule.source
    if from_context and key not in CONTEXT_KEYS:
        known = ", ".join("@" + name for name in CONTEXT_KEYS)
        raise MappingError(f"unknown context value {rule.source!r} (known: {known})",
                           field="source")
    transform = transform_get(rule.transform) if rule.transform else None
    arg = transform_arg_parse(rule.transform, rule.arg) if rule.transform else None
    if transform is None and rule.arg:
        raise MappingError(f"argument {rule.arg!r} given without a transform", field="arg")
    return _Step(path, from_context, key, rule.constant, transform, arg)


def _put(root: dict[str, Any], path: Path, value: Any) -> None:
    """Write ``value`` at ``path``, creating dicts and padded lists on the way."""
    node: Any = root
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


def _slot(node: Any, step: str | int) -> Any:
    if isinstance(node, dict):
        return node.get(step)
    return node[step] if step < len(node) else None


def _fill(node: Any, step: str | int, value: Any) -> None:
    # Padding with None keeps later indexes where the buyer's spec puts them; the encoders
    # write None as null (JSON) or leave it out (form, query, XML).
    if isinstance(node, list) and step >= len(node):
        node.extend([None] * (step - len(node) + 1))
    node[step] = value
