"""Opening and closing a firing: what a rule's action does to a contract or a source, and
how it is undone.

Exactness: a firing is opened by inserting its row, guarded by the one-open-firing-per-rule-
and-target index, in the same transaction as the action. Of several evaluators opening the
same firing at once, one inserts and applies; the others wait on the index, get an
``IntegrityError`` and do nothing. A firing is closed by a conditional UPDATE
(``closed_at IS NULL``): one closer undoes. Every change is a compare-and-set on the value
it replaces (``WHERE priority = <what was read>``), and the undo puts back the previous value
only while the field still holds the one the rule set: a change staff made in between wins.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from django.db import IntegrityError, models, transaction

from apps.auctions.health import RULE_PAUSE_PREFIX, contract_pause, contract_resume
from apps.buyers.models import Contract
from apps.core.dispatch import task_enqueue
from apps.core.logging import kv
from apps.routing.metrics import Sample
from apps.routing.models import Action, RoutingRule, RuleFiring, Scope
from apps.sources.models import Source, SourceStatus

logger = logging.getLogger(__name__)

# (scope, action) -> the field the action sets
_FIELDS: dict[tuple[str, str], tuple[type[models.Model], str]] = {
    (Scope.CONTRACT, Action.LOWER_PRIORITY): (Contract, "priority"),
    (Scope.CONTRACT, Action.LOWER_TRAFFIC_SHARE): (Contract, "traffic_share_pct"),
    (Scope.CONTRACT, Action.RAISE_FLOOR): (Contract, "min_bid"),
    (Scope.SOURCE, Action.PAUSE): (Source, "status"),
    (Scope.SOURCE, Action.RAISE_FLOOR): (Source, "floor_price"),
}


@dataclass(frozen=True, slots=True)
class Change:
    applied: bool
    previous: str = ""
    new: str = ""
    note: str = ""


def firing_target(scope: str, target_id: int) -> str:
    return f"{scope}:{target_id}"


def _text(value: Any) -> str:
    return "" if value is None else str(value)


def _value(model: type[models.Model], field: str, text: str) -> Any:
    column = model._meta.get_field(field)
    assert isinstance(column, models.Field)
    return None if text == "" else column.to_python(text)


def _swap(model: type[models.Model], pk: int, field: str, old: Any, new: Any,
          now: datetime) -> bool:
    """Set ``field`` to ``new`` only while it holds ``old``; the row's ``updated_at`` moves
    too, so every process's cached contract set-ups are rebuilt before the next auction."""
    where = {f"{field}__isnull": True} if old is None else {field: old}
    return bool(model._default_manager.filter(pk=pk, **where).update(
        **{field: new, "updated_at": now}))


def _next(action: str, current: Any, value: Decimal | None) -> Any:
    """What the action sets, given what is there; None: nothing to change."""
    if action == Action.LOWER_PRIORITY:
        return current - int(value or 0)
    if action == Action.LOWER_TRAFFIC_SHARE:
        return int(value or 0) if current > int(value or 0) else None
    if action == Action.RAISE_FLOOR:
        return value if current is None or current < (value or 0) else None
    return SourceStatus.PAUSED if current == SourceStatus.ACTIVE else None  # source pause


def _reason(rule: RoutingRule, sample: Sample) -> str:
    return (f"{RULE_PAUSE_PREFIX}«{rule.name}»: {rule.metric} {sample.value} "
            f"{'>' if rule.comparator == 'gt' else '<'} {rule.threshold} "
            f"over {sample.samples} in {rule.window_minutes} min")[:255]


def _apply(rule: RoutingRule, target_id: int, sample: Sample, now: datetime) -> Change:
    if rule.action == Action.ALERT:
        return Change(applied=True, note="alert sent")
    if rule.scope == Scope.CONTRACT and rule.action == Action.PAUSE:
        if contract_pause(target_id, _reason(rule, sample), at=now):
            return Change(applied=True, new=now.isoformat())
        return Change(applied=False, note="already auto-paused")
    model, field = _FIELDS[(rule.scope, rule.action)]
    current = model._default_manager.filter(pk=target_id).values_list(field, flat=True).first()
    new = _next(rule.action, current, rule.action_value)
    if new is None:
        return Change(applied=False, note=f"{field} already {_text(current)}")
    if not _swap(model, target_id, field, current, new, now):
        return Change(applied=False, note=f"{field} changed meanwhile; left alone")
    return Change(applied=True, previous=_text(current), new=_text(new))


def firing_open(*, rule: RoutingRule, target_id: int, sample: Sample,
                now: datetime) -> RuleFiring | None:
    """Record that ``rule`` holds for ``target_id`` and apply its action, in one
    transaction; None when a firing of this rule on this target is already open (another
    evaluator got there first). Alerts go out by a task after the commit."""
    target = firing_target(rule.scope, target_id)
    try:
        with transaction.atomic():
            firing = RuleFiring.objects.create(
                rule=rule, target=target, fired_at=now, metric=rule.metric,
                observed=sample.value, samples=sample.samples, action=rule.action,
                contract_id=target_id if rule.scope == Scope.CONTRACT else None,
                source_id=target_id if rule.scope == Scope.SOURCE else None)
            change = _apply(rule, target_id, sample, now)
            firing.applied, firing.previous_value = change.applied, change.previous
            firing.new_value, firing.note = change.new, change.note
            firing.save(update_fields=["applied", "previous_value", "new_value", "note"])
            if rule.action == Action.ALERT:
                _alert(firing, f"flagged: {_reason(rule, sample)}")
    except IntegrityError:
        return None
    logger.warning(kv("routing.fired", rule=rule.pk, target=target, metric=rule.metric,
                      observed=sample.value, action=rule.action, applied=change.applied))
    return firing


def firing_close(firing: RuleFiring, *, now: datetime, undo: bool, why: str) -> bool:
    """Close ``firing`` (its condition cleared, or its rule went away); with ``undo`` put
    back what its action changed, if nobody changed it since. True when this call closed
    it (another evaluator may have)."""
    rule = firing.rule
    with transaction.atomic():
        if not RuleFiring.objects.filter(pk=firing.pk, closed_at__isnull=True).update(
                closed_at=now):
            return False
        undone, note = False, why
        if undo and firing.action == Action.ALERT:  # an alert's undo is the all-clear
            _alert(firing, f"cleared: {rule.name} ({why})")
            undone, note = True, f"{why}; all-clear sent"
        elif undo and firing.applied:
            undone = _undo(firing, rule, now)
            note = f"{why}; undone" if undone else f"{why}; changed since, left as it is"
        RuleFiring.objects.filter(pk=firing.pk).update(undone=undone, note=note[:255])
    logger.info(kv("routing.closed", rule=rule.pk, target=firing.target, undone=undone))
    return True


def _undo(firing: RuleFiring, rule: RoutingRule, now: datetime) -> bool:
    target_id = firing.contract_id or firing.source_id
    assert target_id is not None
    if firing.action == Action.PAUSE and rule.scope == Scope.CONTRACT:
        paused_at = _value(Contract, "auto_paused_at", firing.new_value)
        return contract_resume(target_id, f"rule «{rule.name}» cleared", paused_at=paused_at)
    model, field = _FIELDS[(rule.scope, firing.action)]
    return _swap(model, target_id, field, _value(model, field, firing.new_value),
                 _value(model, field, firing.previous_value), now)


def _alert(firing: RuleFiring, what: str) -> None:
    from apps.routing.tasks import routing_alert_task

    task_enqueue(routing_alert_task, firing.pk, what)
