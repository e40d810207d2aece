"""Admin for sources (keys shown once, rotate, revoke). Verticals: apps.leads.admin."""

from __future__ import annotations

from django.contrib import admin, messages
from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse

from apps.sources.models import Source, SourceApiKey
from apps.sources.services import source_key_create, source_key_revoke, source_key_rotate


def _show_new_keys(request: HttpRequest, keys: list[tuple[SourceApiKey, str]]) -> HttpResponse:
    """Render the clear keys once; they are never stored or shown again."""
    return TemplateResponse(request, "admin/sources/new_keys.html", {
        "title": "New API key" if len(keys) == 1 else "New API keys",
        "keys": keys, "opts": Source._meta,
    })


class SourceApiKeyInline(admin.TabularInline):
    model = SourceApiKey
    extra = 0
    can_delete = False
    # Shown, never edited (a tuple: the stubs type the two attributes differently).
    fields = readonly_fields = ("name", "prefix", "created_at", "last_used_at", "revoked_at")

    def has_add_permission(self, request, obj=None) -> bool:
        return False  # keys are issued by the "Issue a new API key" action, shown once


@admin.register(Source)
class SourceAdmin(admin.ModelAdmin):
    list_display = ["name", "status", "payout_model", "payout_value", "default_mode",
                    "rate_limit_per_minute"]
    list_filter = ["status", "payout_model", "default_mode"]
    search_fields = ["name"]
    filter_horizontal = ["verticals"]
    inlines = [SourceApiKeyInline]
    actions = ["issue_key"]
    fieldsets = [
        (None, {"fields": ["name", "status", "verticals"]}),
        ("Payout", {"fields": ["payout_model", "payout_value", "floor_price"]}),
        ("Submission", {"fields": ["default_mode", "time_budget_ms", "rate_limit_per_minute",
                                   "ip_allowlist"]}),
        ("After the sale", {"fields": ["postback_url_template", "return_policy",
                                       "account_manager"],
                            "description": "Webhook endpoints: Webhooks and postbacks → "
                                           "Webhook endpoints."}),
    ]

    def save_model(self, request, obj, form, change) -> None:
        super().save_model(request, obj, form, change)
        if not change:
            request._new_source_key = source_key_create(source=obj)

    def response_add(self, request, obj, post_url_continue=None) -> HttpResponse:
        new_key = getattr(request, "_new_source_key", None)
        if new_key is None:
            return super().response_add(request, obj, post_url_continue)
        return _show_new_keys(request, [new_key])

    @admin.action(description="Issue a new API key")
    def issue_key(self, request, queryset) -> HttpResponse:
        with transaction.atomic():
            keys = [source_key_create(source=source, name="issued") for source in queryset]
        return _show_new_keys(request, keys)


@admin.register(SourceApiKey)
class SourceApiKeyAdmin(admin.ModelAdmin):
    list_display = ["__str__", "source", "name", "created_at", "last_used_at", "revoked_at"]
    list_filter = ["revoked_at"]
    list_select_related = ["source"]
    search_fields = ["prefix", "source__name"]
    readonly_fields = ["source", "prefix", "created_at", "last_used_at", "revoked_at"]
    fields = ["source", "name", "prefix", "created_at", "last_used_at", "revoked_at"]
    actions = ["rotate", "revoke"]

    def has_add_permission(self, request) -> bool:
        return False

    @admin.action(description="Rotate selected keys (revoke and issue a replacement)")
    def rotate(self, request, queryset) -> HttpResponse | None:
        live = list(queryset.filter(revoked_at__isnull=True).select_related("source"))
        if not live:
            self.message_user(request, "No live key selected.", messages.WARNING)
            return None
        return _show_new_keys(request, [source_key_rotate(api_key=key) for key in live])

    @admin.action(description="Revoke selected keys")
    def revoke(self, request, queryset) -> None:
        for key in queryset:
            source_key_revoke(api_key=key)
        self.message_user(request, f"Revoked {queryset.count()} key(s).", messages.SUCCESS)
