"""Admin: erase a consumer (*Erasure requests → Add*: type the e-mail and/or phone; they are
digested, never stored) and read what each request did."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.http import HttpRequest

from apps.core.exceptions import FieldErrors
from apps.leads.consumers import consumer_digests_parse
from apps.privacy.models import ErasureRequest
from apps.privacy.services import erasure_request


class ErasureRequestForm(forms.ModelForm):
    email = forms.CharField(required=False, max_length=254,
                            help_text="The consumer's e-mail address.")
    phone = forms.CharField(required=False, max_length=64,
                            help_text="The consumer's phone (US, or + and the country code).")

    class Meta:
        model = ErasureRequest
        fields: list[str] = []

    def clean(self) -> dict[str, Any]:
        super().clean()
        data = self.cleaned_data
        try:
            consumer_digests_parse(email=data.get("email"), phone=data.get("phone"))
        except FieldErrors as error:
            raise forms.ValidationError(
                {key: messages_ for key, messages_ in error.errors.items()}) from None
        return data


@admin.register(ErasureRequest)
class ErasureRequestAdmin(admin.ModelAdmin):
    """Adding a request erases the consumer in the background and suppresses it; the list
    shows each request's status and count. Requests are a record: never changed or deleted."""

    form = ErasureRequestForm
    list_display = ["id", "status", "leads_erased", "channel", "requested_by", "requested_at",
                    "finished_at"]
    list_filter = ["status", "channel"]
    readonly_fields = ["status", "leads_erased", "channel", "requested_by", "requested_at",
                       "finished_at", "email_digest", "phone_digest"]

    def get_fields(self, request, obj=None):
        return ["email", "phone"] if obj is None else list(self.readonly_fields)

    def get_readonly_fields(self, request, obj=None):
        return [] if obj is None else list(self.readonly_fields)

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def save_model(self, request: HttpRequest, obj: ErasureRequest, form: Any,
                   change: bool) -> None:
        made = erasure_request(email=form.cleaned_data.get("email"),
                               phone=form.cleaned_data.get("phone"),
                               requested_by=request.user, channel="admin")
        obj.pk, obj.requested_at = made.pk, made.requested_at  # what the admin's log names
        messages.info(request, "The consumer is suppressed; its leads are being erased.")
