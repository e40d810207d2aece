"""The periodic evaluator: every enabled rule against every target's window, off the
auction's path (``routing_rules_evaluate`` task, every 30 s).

A rule holds for a target when the target has at least ``min_samples`` rows in the window
and the metric compares as the rule says; then a firing is opened (once: see
``apps.routing.actions``). An open firing whose condition no longer holds — fewer samples
count as not holding, so a paused contract's window empties and acts as its cool-down — or
whose rule was switched off, is closed, and undone when the rule says so.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.utils import timezone

from apps.routing.actions import firing_close, firing_open, firing_target
from apps.routing.metrics import FAMILY, Sample, metrics_window
from apps.routing.models import Comparator, Evaluator, RoutingRule, RuleFiring, Scope


@dataclass(frozen=True, slots=True)
class Evaluation:
    opened: int
    closed: int


def rule_holds(rule: RoutingRule, sample: Sample | None) -> bool:
    """Whether ``rule``'s condition holds on ``sample`` (None: no rows in the window)."""
    if sample is None or sample.samples < rule.min_samples:
        return False
    if rule.comparator == Comparator.GT:
        return sample.value > rule.threshold
    return sample.value < rule.threshold


def rules_evaluate(*, now: datetime | None = None) -> Evaluation:
    """Evaluate every periodic rule once; returns how many firings this call opened and
    closed. Safe to run in several processes at once: each firing opens and closes once."""
    now = now or timezone.now()
    windows: dict[tuple[str, str, int], dict[int, dict[str, Sample]]] = {}
    opened = closed = 0
    open_firings: dict[int, dict[str, RuleFiring]] = {}
    for firing in RuleFiring.objects.filter(closed_at__isnull=True).select_related("rule"):
        open_firings.setdefault(firing.rule_id, {})[firing.target] = firing
    for rule in RoutingRule.objects.filter(evaluator=Evaluator.PERIODIC):
        firings = open_firings.get(rule.pk, {})
        if not rule.enabled:
            closed += sum(firing_close(f, now=now, undo=rule.auto_undo, why="rule switched off")
                          for f in firings.values())
            continue
        key = (FAMILY[rule.metric], rule.scope, rule.window_minutes)
        if key not in windows:
            windows[key] = metrics_window(family=key[0], scope=rule.scope,
                                          since=now - timedelta(minutes=rule.window_minutes))
        values = windows[key]
        only = rule.contract_id if rule.scope == Scope.CONTRACT else rule.source_id
        for target_id, metrics in values.items():
            if only is not None and target_id != only:
                continue
            sample = metrics.get(rule.metric)
            target = firing_target(rule.scope, target_id)
            if rule_holds(rule, sample) and target not in firings and sample is not None:
                opened += firing_open(rule=rule, target_id=target_id, sample=sample,
                                      now=now) is not None
        for target, firing in firings.items():
            target_id = int(target.split(":")[1])
            if not rule_holds(rule, values.get(target_id, {}).get(rule.metric)):
                closed += firing_close(firing, now=now, undo=rule.auto_undo,
                                       why="condition cleared")
    return Evaluation(opened=opened, closed=closed)
