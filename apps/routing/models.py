"""Routing rules: a condition over a rolling window of a contract's or a source's metrics,
and what to do when it holds (``RoutingRule``); every time one fired, on what, and whether
it was undone (``RuleFiring``).

At most one open firing per rule and target (a partial unique index): of several evaluators
finding the same condition at once exactly one inserts the firing and applies its action.
"""

from __future__ import annotations

from decimal import Decimal

from django.core.exceptions import ValidationError
from django.core.validators import MinValueValidator
from django.db import models
from django.db.models import Q

from apps.buyers.models import Contract
from apps.core.models import TimeStampedModel
from apps.sources.models import Source


class Scope(models.TextChoices):
    CONTRACT = "contract"
    SOURCE = "source"


class Metric(models.TextChoices):
    """What a rule watches over its window. Rates are fractions 0–1; latency is in ms."""

    LATENCY = "latency", "Average ping latency (ms)"
    TIMEOUT_RATE = "timeout_rate", "Ping timeout rate"
    ERROR_RATE = "error_rate", "Ping error rate (errors and unreadable answers)"
    BID_RATE = "bid_rate", "Bid rate (bids per ping answered or not)"
    POST_REJECT_RATE = "post_reject_rate", "Post reject rate (of answered posts)"
    ACCEPTANCE_RATE = "acceptance_rate", "Post acceptance rate (of answered posts)"
    RETURN_RATE = "return_rate", "Return rate (returns per sale made in the window)"


class Comparator(models.TextChoices):
    GT = "gt", "greater than"
    LT = "lt", "less than"


class Action(models.TextChoices):
    PAUSE = "pause", "Pause (auto-pause the contract / pause the source)"
    LOWER_PRIORITY = "lower_priority", "Lower the contract's priority by the value"
    LOWER_TRAFFIC_SHARE = "lower_traffic_share", "Lower the contract's traffic share to the value %"
    RAISE_FLOOR = "raise_floor", "Raise the floor (contract min bid / source floor) to the value"
    ALERT = "alert", "Alert (account manager; the admins for a source)"


# what each scope can do: a source has no priority or traffic share
SCOPE_ACTIONS: dict[str, frozenset[str]] = {
    Scope.CONTRACT: frozenset(Action),
    Scope.SOURCE: frozenset({Action.PAUSE, Action.RAISE_FLOOR, Action.ALERT}),
}
VALUED_ACTIONS = frozenset({Action.LOWER_PRIORITY, Action.LOWER_TRAFFIC_SHARE,
                            Action.RAISE_FLOOR})


class Evaluator(models.TextChoices):
    PERIODIC = "periodic", "Periodic evaluator (every 30 s, off the auction's path)"
    BREAKER = "breaker", "Built in: the circuit breaker, within the auction (read-only)"


class RoutingRule(TimeStampedModel):
    name = models.CharField(max_length=128, unique=True)
    enabled = models.BooleanField(default=True)
    evaluator = models.CharField(
        max_length=8, choices=Evaluator.choices, default=Evaluator.PERIODIC,
        help_text="The built-in breaker row documents the circuit breaker, which runs on "
                  "each contract's own health settings; it cannot be edited here.")
    scope = models.CharField(max_length=8, choices=Scope.choices, default=Scope.CONTRACT)
    contract = models.ForeignKey(
        Contract, on_delete=models.CASCADE, null=True, blank=True, related_name="+",
        help_text="Contract scope: only this contract (empty: every contract).")
    source = models.ForeignKey(
        Source, on_delete=models.CASCADE, null=True, blank=True, related_name="+",
        help_text="Source scope: only this source (empty: every source).")
    metric = models.CharField(max_length=20, choices=Metric.choices)
    comparator = models.CharField(max_length=2, choices=Comparator.choices,
                                  default=Comparator.GT)
    threshold = models.DecimalField(
        max_digits=10, decimal_places=4,
        help_text="Rates as fractions (0.9 = 90 %); latency in ms.")
    window_minutes = models.PositiveIntegerField(
        default=60, validators=[MinValueValidator(1)],
        help_text="The rolling window the metric is computed over, up to now.")
    min_samples = models.PositiveIntegerField(
        default=20, validators=[MinValueValidator(1)],
        help_text="Fewer pings / posts / sales than this in the window: the condition does "
                  "not hold (no firing on thin evidence).")
    action = models.CharField(max_length=20, choices=Action.choices)
    action_value = models.DecimalField(
        max_digits=10, decimal_places=2, null=True, blank=True,
        help_text="Lower priority: by how much; traffic share: the new %; floor: the new "
                  "floor. Unused for pause and alert.")
    auto_undo = models.BooleanField(
        default=True, help_text="Undo the action when the condition no longer holds.")

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        errors: dict[str, str] = {}
        if self.scope == Scope.CONTRACT and self.source_id:
            errors["source"] = "A contract rule watches contracts: leave the source empty."
        if self.scope == Scope.SOURCE and self.contract_id:
            errors["contract"] = "A source rule watches sources: leave the contract empty."
        if self.action and self.action not in SCOPE_ACTIONS.get(self.scope, frozenset()):
            errors["action"] = f"A {self.scope} rule cannot {self.action}."
        if self.action in VALUED_ACTIONS and self.action_value is None:
            errors["action_value"] = f"{self.get_action_display()} needs a value."
        if self.action == Action.LOWER_TRAFFIC_SHARE and self.action_value is not None \
                and not Decimal(0) <= self.action_value <= Decimal(100):
            errors["action_value"] = "A traffic share is a percent from 0 to 100."
        if self.action == Action.LOWER_PRIORITY and self.action_value is not None \
                and (self.action_value <= 0 or self.action_value != int(self.action_value)):
            errors["action_value"] = "Lower the priority by a whole number above 0."
        if errors:
            raise ValidationError(errors)


class RuleFiring(models.Model):
    """One time a rule's condition held for a target, and what was done about it.

    ``applied`` says whether the action changed anything (a contract already paused is not
    paused twice); ``previous_value``/``new_value`` are what was there and what was set, so
    the undo puts back exactly what it replaced, and only while nobody changed it since.
    ``closed_at`` is set when the condition cleared (``undone``: the action was reverted)."""

    rule = models.ForeignKey(RoutingRule, on_delete=models.CASCADE, related_name="firings")
    target = models.CharField(max_length=32, help_text='"contract:12" or "source:3".')
    contract = models.ForeignKey(Contract, on_delete=models.CASCADE, null=True, blank=True,
                                 related_name="rule_firings")
    source = models.ForeignKey(Source, on_delete=models.CASCADE, null=True, blank=True,
                               related_name="rule_firings")
    fired_at = models.DateTimeField(db_index=True)
    metric = models.CharField(max_length=20, choices=Metric.choices)
    observed = models.DecimalField(max_digits=12, decimal_places=4)
    samples = models.PositiveIntegerField()
    action = models.CharField(max_length=20, choices=Action.choices)
    applied = models.BooleanField(default=False)
    previous_value = models.CharField(max_length=64, blank=True)
    new_value = models.CharField(max_length=64, blank=True)
    closed_at = models.DateTimeField(null=True, blank=True)
    undone = models.BooleanField(default=False)
    note = models.CharField(max_length=255, blank=True)

    class Meta:
        ordering = ["-fired_at", "-pk"]
        constraints = [models.UniqueConstraint(
            fields=["rule", "target"], condition=Q(closed_at__isnull=True),
            name="routing_one_open_firing")]
        indexes = [models.Index(fields=["contract", "fired_at"], name="firing_contract")]

    def __str__(self) -> str:
        return f"{self.rule} on {self.target} at {self.fired_at:%Y-%m-%d %H:%M}"
