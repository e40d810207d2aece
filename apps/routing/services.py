"""Writing routing rules (staff API; the admin saves through its own form and ``clean``).

Every write validates the whole rule (``RoutingRule.clean``) and is refused with a 400
naming the field; the built-in breaker rule is read-only (409). Deleting a rule first closes
its open firings, undoing their actions when the rule says so.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from apps.core.exceptions import ApplicationError, FieldErrors
from apps.routing.actions import firing_close
from apps.routing.models import Evaluator, RoutingRule


def _save(rule: RoutingRule) -> RoutingRule:
    try:
        rule.full_clean()
    except ValidationError as error:
        raise FieldErrors({name: [str(m) for m in messages]
                           for name, messages in error.message_dict.items()}) from None
    rule.save()
    return rule


def _editable(rule: RoutingRule) -> None:
    if rule.evaluator == Evaluator.BREAKER:
        raise ApplicationError(
            "The circuit breaker is built in and runs on each contract's health settings "
            "(slow threshold, counts): change those instead.", status_code=409,
            code="built_in")


def rule_create(**fields: Any) -> RoutingRule:
    """A new periodic rule from validated input; raises ``FieldErrors`` (400)."""
    return _save(RoutingRule(**fields, evaluator=Evaluator.PERIODIC))


def rule_update(rule: RoutingRule, **fields: Any) -> RoutingRule:
    """Change ``fields`` of ``rule``; raises ``FieldErrors`` (400) or, for the built-in
    breaker rule, ``ApplicationError`` (409). Open firings keep what they applied; the next
    evaluation judges them by the new condition."""
    _editable(rule)
    for name, value in fields.items():
        setattr(rule, name, value)
    return _save(rule)


def rule_delete(rule: RoutingRule) -> None:
    """Close ``rule``'s open firings (undone when it auto-undoes), then delete it."""
    _editable(rule)
    now = timezone.now()
    with transaction.atomic():
        for firing in rule.firings.filter(closed_at__isnull=True):
            firing_close(firing, now=now, undo=rule.auto_undo, why="rule deleted")
        rule.delete()
