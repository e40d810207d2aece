"""Admin for verticals: the lead schema, validated by the normalizers that will apply it.
(Leads are read in apps.auctions.admin, next to their auction timeline.)"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin

from apps.leads.normalize import parse_bounds
from apps.sources.models import Vertical, VerticalField


class VerticalFieldForm(forms.ModelForm):
    class Meta:
        model = VerticalField
        fields = ["position", "key", "label", "type", "required_for_ping", "required_for_post",
                  "pii", "choices", "min_value", "max_value", "example", "help_text"]

    def clean(self) -> dict[str, Any]:
        super().clean()
        data = self.cleaned_data
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
