"""Routing rules in the admin: rules edited as rows (checked by ``RoutingRule.clean``), the
built-in breaker rule shown but not editable, every firing read-only (the contract's page
shows its own: ``apps.routing.templatetags.routing``)."""

from __future__ import annotations

from django.contrib import admin
from django.http import HttpRequest

from apps.routing.models import Evaluator, RoutingRule, RuleFiring


@admin.register(RoutingRule)
class RoutingRuleAdmin(admin.ModelAdmin):
    list_display = ["name", "enabled", "evaluator", "scope", "target", "condition", "action",
                    "action_value", "auto_undo"]
    list_filter = ["enabled", "scope", "metric", "action", "evaluator"]
    search_fields = ["name"]
    raw_id_fields = ["contract", "source"]
    readonly_fields = ["evaluator"]
    fieldsets = [
        (None, {"fields": [("name", "enabled"), "evaluator"]}),
        ("Watch", {"fields": ["scope", ("contract", "source")]}),
        ("When", {"fields": [("metric", "comparator", "threshold"),
                             ("window_minutes", "min_samples")]}),
        ("Do", {"fields": [("action", "action_value"), "auto_undo"]}),
    ]

    @admin.display(description="watches")
    def target(self, rule: RoutingRule) -> str:
        one = rule.contract or rule.source
        return str(one) if one else f"every {rule.scope}"

    @admin.display(description="when")
    def condition(self, rule: RoutingRule) -> str:
        sign = ">" if rule.comparator == "gt" else "<"
        return (f"{rule.metric} {sign} {rule.threshold.normalize()} over "
                f"{rule.window_minutes} min (≥ {rule.min_samples})")

    def has_change_permission(self, request: HttpRequest, obj: RoutingRule | None = None) -> bool:
        if obj is not None and obj.evaluator == Evaluator.BREAKER:
            return False  # the breaker runs on each contract's health settings
        return super().has_change_permission(request, obj)

    def has_delete_permission(self, request: HttpRequest, obj: RoutingRule | None = None) -> bool:
        if obj is not None and obj.evaluator == Evaluator.BREAKER:
            return False
        return super().has_delete_permission(request, obj)


class _ReadOnly:
    def has_add_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return False


_FIRING_FIELDS = ["fired_at", "rule", "metric", "observed", "samples", "action", "applied",
                  "previous_value", "new_value", "closed_at", "undone", "note"]


@admin.register(RuleFiring)
class RuleFiringAdmin(_ReadOnly, admin.ModelAdmin):
    list_display = ["fired_at", "rule", "target", "observed", "samples", "action", "applied",
                    "closed_at", "undone", "note"]
    list_filter = ["rule", "action", "undone"]
    list_select_related = ["rule"]
    date_hierarchy = "fired_at"
    readonly_fields = [*_FIRING_FIELDS, "target", "contract", "source"]
