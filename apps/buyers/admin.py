"""Admin for buyers and contracts: a contract and its rules on one screen."""

from __future__ import annotations

from django.contrib import admin

from apps.buyers.models import (
    Buyer,
    Contract,
    ContractCap,
    ContractFilter,
    Endpoint,
    FieldMapping,
    ScheduleWindow,
)


class ContractInline(admin.TabularInline):
    model = Contract
    extra = 0
    fields = ["name", "vertical", "status", "mode", "exclusive", "priority", "auto_paused_at"]
    readonly_fields = ["auto_paused_at"]
    show_change_link = True


@admin.register(Buyer)
class BuyerAdmin(admin.ModelAdmin):
    list_display = ["company", "status", "account_manager", "timezone", "quality_multiplier"]
    list_filter = ["status"]
    list_select_related = ["account_manager"]
    search_fields = ["company"]
    inlines = [ContractInline]


class FilterInline(admin.TabularInline):
    model = ContractFilter
    extra = 0


class CapInline(admin.TabularInline):
    model = ContractCap
    extra = 0


class ScheduleInline(admin.TabularInline):
    model = ScheduleWindow
    extra = 0


class EndpointInline(admin.StackedInline):
    model = Endpoint
    extra = 0
    max_num = 2
    show_change_link = True  # its field mappings are edited on the endpoint's page
    fieldsets = [
        (None, {"fields": [("kind", "method", "body_format", "timeout_ms"), "url",
                           ("auth_type", "auth_name", "auth_username", "auth_secret"),
                           "oauth_token_url", "headers", "xml_root"]}),
        ("Response rules", {"fields": [("response_format", "success_statuses"),
                                       ("success_path", "success_values", "success_regex"),
                                       ("price_path", "token_path", "reason_path")]}),
    ]


@admin.register(Contract)
class ContractAdmin(admin.ModelAdmin):
    list_display = ["__str__", "vertical", "status", "mode", "exclusive", "priority",
                    "auto_paused_at"]
    list_filter = ["status", "mode", "exclusive", "vertical"]
    list_select_related = ["buyer", "vertical"]
    search_fields = ["name", "buyer__company"]
    readonly_fields = ["auto_paused_at", "auto_pause_reason", "last_health_ping_at",
                       "posts_recent", "accepted_recent"]
    filter_horizontal = ["allowed_sources", "blocked_sources"]
    inlines = [FilterInline, CapInline, ScheduleInline, EndpointInline]
    fieldsets = [
        (None, {"fields": [("buyer", "vertical"), ("name", "status", "mode")]}),
        ("Price and ranking", {"fields": [("fixed_price", "min_bid"),
                                          ("bid_multiplier", "bid_penalty"),
                                          ("priority", "weight", "traffic_share_pct")]}),
        ("Sale", {"fields": [("exclusive", "shared_max_sales"),
                             ("is_secondary", "accepts_test_leads")]}),
        ("Sources", {"fields": ["allowed_sources", "blocked_sources"],
                     "classes": ["collapse"]}),
        ("Health", {"fields": [("slow_threshold_ms", "slow_count", "error_count",
                                "health_ping_interval_s"),
                               ("auto_paused_at", "auto_pause_reason", "last_health_ping_at"),
                               ("posts_recent", "accepted_recent")]}),
    ]


class MappingInline(admin.TabularInline):
    model = FieldMapping
    extra = 0
    fields = ["position", "target", "source", "constant", "transform", "arg"]


@admin.register(Endpoint)
class EndpointAdmin(admin.ModelAdmin):
    list_display = ["__str__", "contract", "kind", "body_format", "response_format"]
    list_select_related = ["contract__buyer"]
    inlines = [MappingInline]
