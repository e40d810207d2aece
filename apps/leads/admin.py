"""Admin for verticals: the lead schema, validated by the normalizers that will apply it, and
its privacy setting; the suppression list. (Leads are read in apps.auctions.admin, next to
their auction timeline; erasures in apps.privacy.admin.)"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin
from django.http import HttpRequest

from apps.core.exceptions import FieldErrors
from apps.leads.consumers import consumer_digests_parse, consumer_suppress
from apps.leads.models import (
    RETENTION_DAYS_HELP,
    RETENTION_DAYS_MAX,
    RETENTION_DAYS_MIN,
    SuppressedConsumer,
    SuppressionReason,
    VerticalPrivacy,
)
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


class VerticalPrivacyForm(forms.ModelForm):
    # the bounds and text here, not on the model field, so no migration of the leads table
    # rides on them
    retention_days = forms.IntegerField(
        required=False, min_value=RETENTION_DAYS_MIN, max_value=RETENTION_DAYS_MAX,
        label="PII kept (days)", help_text=RETENTION_DAYS_HELP)

    class Meta:
        model = VerticalPrivacy
        fields = ["suppression_enforced", "retention_days"]


class VerticalPrivacyInline(admin.StackedInline):
    model = VerticalPrivacy
    form = VerticalPrivacyForm
    fields = ["suppression_enforced", "retention_days"]
    can_delete = False
    verbose_name_plural = "privacy (no row: suppression enforced, PII kept)"


@admin.register(Vertical)
class VerticalAdmin(admin.ModelAdmin):
    list_display = ["name", "slug", "is_active", "default_floor", "dedupe_window_days",
                    "pii_kept"]
    list_filter = ["is_active"]
    search_fields = ["name", "slug"]
    prepopulated_fields = {"slug": ["name"]}
    inlines = [VerticalFieldInline, VerticalPrivacyInline]

    def get_queryset(self, request: HttpRequest):
        return super().get_queryset(request).select_related("privacy")

    @admin.display(description="PII kept")
    def pii_kept(self, vertical: Vertical) -> str:
        privacy = getattr(vertical, "privacy", None)  # no row: the defaults
        days = privacy.retention_days if privacy is not None else None
        return f"{days} days" if days else "forever"


class OptOutForm(forms.ModelForm):
    email = forms.CharField(required=False, max_length=254)
    phone = forms.CharField(required=False, max_length=64)

    class Meta:
        model = SuppressedConsumer
        fields: list[str] = []

    def clean(self) -> dict[str, Any]:
        super().clean()
        data = self.cleaned_data
        try:
            data["digests"] = [d for d in consumer_digests_parse(
                email=data.get("email"), phone=data.get("phone")) if d]
        except FieldErrors as error:
            raise forms.ValidationError(dict(error.errors)) from None
        return data


@admin.register(SuppressedConsumer)
class SuppressedConsumerAdmin(admin.ModelAdmin):
    """The suppression list: digests only. *Add* records an opt-out from an e-mail and/or a
    phone (digested, never stored); erasures add their consumers themselves."""

    form = OptOutForm
    list_display = ["digest", "reason", "created_at"]
    list_filter = ["reason"]
    search_fields = ["=digest"]

    def get_fields(self, request, obj=None):
        return ["email", "phone"] if obj is None else ["digest", "reason", "created_at"]

    def get_readonly_fields(self, request, obj=None):
        return [] if obj is None else ["digest", "reason", "created_at"]

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def save_model(self, request: HttpRequest, obj: SuppressedConsumer, form: Any,
                   change: bool) -> None:
        digests = form.cleaned_data["digests"]
        consumer_suppress(digests=digests, reason=SuppressionReason.OPT_OUT)
        row = SuppressedConsumer.objects.get(digest=digests[0])
        obj.pk, obj.digest, obj.reason = row.pk, row.digest, row.reason
