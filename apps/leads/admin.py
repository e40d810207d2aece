"""Admin for verticals (the lead schema, validated by the normalizers that will apply it) and
read-only leads, fast on large tables (no full counts, joined lookups)."""

from __future__ import annotations

from django import forms
from django.contrib import admin

from apps.leads.models import Lead
from apps.leads.normalize import parse_bounds
from apps.sources.models import Vertical, VerticalField


class VerticalFieldForm(forms.ModelForm):
    class Meta:
        model = VerticalField
        fields = ["position", "key", "label", "type", "required_for_ping", "required_for_post",
                  "pii", "choices", "min_value", "max_value", "example", "help_text"]

    def clean(self) -> dict:
        data = super().clean()
        try:
            parse_bounds(data.get("type", ""), data.get("min_value"), data.get("max_value"))
        except ValueError as error:
            raise forms.ValidationError({"min_value": str(error)}) from None
        return data


class VerticalFieldInline(admin.TabularInline):
    model = VerticalField
    form = VerticalFieldForm
    extra = 0
    fields = ["position", "key", "label", "type", "required_for_ping", "required_for_post",
              "pii", "choices", "min_value", "max_value", "example", "help_text"]


@admin.register(Vertical)
class VerticalAdmin(admin.ModelAdmin):
    list_display = ["name", "slug", "is_active", "default_floor", "dedupe_window_days"]
    list_filter = ["is_active"]
    search_fields = ["name", "slug"]
    prepopulated_fields = {"slug": ["name"]}
    inlines = [VerticalFieldInline]


@admin.register(Lead)
class LeadAdmin(admin.ModelAdmin):
    list_display = ["uuid", "received_at", "source", "vertical", "status", "is_test",
                    "sale_price", "payout"]
    list_filter = ["status", "is_test", "vertical", "source"]
    list_select_related = ["source", "vertical"]
    search_fields = ["=uuid", "=sub_id"]
    date_hierarchy = "received_at"
    show_full_result_count = False
    ordering = ["-received_at"]
    readonly_fields = [f.name for f in Lead._meta.fields]

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False
