from django.urls import path

from apps.routing.api.views import FiringsApi, RuleDetailApi, RulesApi

urlpatterns = [
    path("routing-rules", RulesApi.as_view(), name="routing-rules"),
    path("routing-rules/<int:rule_id>", RuleDetailApi.as_view(), name="routing-rule-detail"),
    path("rule-firings", FiringsApi.as_view(), name="rule-firings"),
]
