from __future__ import annotations

from rest_framework import serializers

from apps.buyers.models import Contract
from apps.core.api import StrictTypesMixin
from apps.core.staff_api import PatchSerializerMixin
from apps.routing.models import Action, Comparator, Metric, RoutingRule, RuleFiring, Scope
from apps.sources.models import Source


class RuleInputSerializer(StrictTypesMixin, serializers.Serializer):
    name = serializers.CharField(max_length=128)
    enabled = serializers.BooleanField(default=True)
    scope = serializers.ChoiceField(choices=Scope.choices, default=Scope.CONTRACT)
    contract = serializers.PrimaryKeyRelatedField(queryset=Contract.objects.all(),
                                                  allow_null=True, default=None)
    # a field named like DRF's ``Field.source`` attribute, as in apps.buyers.api
    source = serializers.PrimaryKeyRelatedField(  # type: ignore[assignment]
        queryset=Source.objects.all(), allow_null=True, default=None)
    metric = serializers.ChoiceField(choices=Metric.choices)
    comparator = serializers.ChoiceField(choices=Comparator.choices, default=Comparator.GT)
    threshold = serializers.DecimalField(max_digits=10, decimal_places=4)
    window_minutes = serializers.IntegerField(min_value=1, max_value=60 * 24 * 30, default=60)
    min_samples = serializers.IntegerField(min_value=1, max_value=1_000_000, default=20)
    action = serializers.ChoiceField(choices=Action.choices)
    action_value = serializers.DecimalField(max_digits=10, decimal_places=2, allow_null=True,
                                            default=None)
    auto_undo = serializers.BooleanField(default=True)


class RulePatchSerializer(PatchSerializerMixin, RuleInputSerializer):
    pass


class RuleOutputSerializer(serializers.ModelSerializer):
    class Meta:
        model = RoutingRule
        fields = ["id", "name", "enabled", "evaluator", "scope", "contract", "source", "metric",
                  "comparator", "threshold", "window_minutes", "min_samples", "action",
                  "action_value", "auto_undo", "created_at", "updated_at"]


class FiringOutputSerializer(serializers.ModelSerializer):
    rule_name = serializers.CharField(source="rule.name")

    class Meta:
        model = RuleFiring
        fields = ["id", "rule", "rule_name", "target", "contract", "source", "fired_at",
                  "metric", "observed", "samples", "action", "applied", "previous_value",
                  "new_value", "closed_at", "undone", "note"]
