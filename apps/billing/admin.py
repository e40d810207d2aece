"""Admin for after the sale: the returns review queue (pending first; approve or reject a
selection with a note; staff file a return for a buyer through the same rules), buyer API
keys (the clear key shown once) and return reasons."""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.db.models import Case, IntegerField, Value, When
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.html import format_html
from django.utils.safestring import SafeString

from apps.billing.models import (
    DEFAULT_RETURN_REASONS,
    BuyerApiKey,
    Return,
    ReturnChannel,
    ReturnReason,
    ReturnStatus,
)
from apps.billing.services import (
    buyer_key_create,
    buyer_key_revoke,
    return_submit,
    returns_decide,
)
from apps.core.exceptions import ApplicationError, FieldErrors


class ReturnAddForm(forms.ModelForm):
    """Staff file a return for a buyer (a phone call, an e-mail): the same rules as the
    buyers' API, channel ``admin``. The return is filed when the form is cleaned, so a rule
    that refuses it shows on the form."""

    lead_id = forms.UUIDField(label="Lead id", help_text="The lead's public id (UUID).")
    reason = forms.CharField(max_length=64, help_text="Default codes: "
                             + ", ".join(DEFAULT_RETURN_REASONS) + " (a vertical may have "
                             "its own: Return reasons).")
    request_user = None  # set by ReturnAdmin.get_form
    filed: Return | None = None

    class Meta:
        model = Return
        fields = ["buyer", "reason", "comment"]

    def clean(self) -> dict:
        data = super().clean() or {}
        if self.errors:
            return data
        try:
            self.filed = return_submit(
                buyer=data["buyer"], lead_uuid=data["lead_id"], reason=data["reason"],
                comment=data.get("comment", ""), channel=ReturnChannel.ADMIN,
                entered_by=self.request_user)
        except FieldErrors as error:
            for name, problems in error.errors.items():
                self.add_error(name if name in self.fields else None, problems)
        except ApplicationError as error:
            raise ValidationError(f"{error.detail} ({error.code})") from None
        return data


class DecideForm(forms.Form):
    note = forms.CharField(max_length=255, required=False, widget=forms.TextInput(
        attrs={"size": 80}), help_text="Why (required to reject); the buyer sees it.")


@admin.register(Return)
class ReturnAdmin(admin.ModelAdmin):
    # what a reviewer decides on, in a laptop's width: the channel and the decision's time
    # are filters and the detail page
    list_display = ["filed", "lead_link", "buyer", "source", "reason", "comment_excerpt",
                    "status", "credit", "clawback"]
    list_display_links = ["filed"]
    list_filter = ["status", "buyer", "source", "reason", "channel"]
    list_select_related = ["lead", "buyer", "source"]
    search_fields = ["=lead__uuid", "buyer__company", "comment"]
    date_hierarchy = "created_at"
    actions = ["approve_selected", "reject_selected"]
    change_list_template = "admin/billing/return/change_list.html"
    show_full_result_count = False
    _SHOWN = ["lead_link", "sale", "buyer", "contract", "source", "vertical", "reason",
              "comment", "status", "channel", "credit", "clawback", "entered_by",
              "created_at", "decided_by", "decided_at", "note"]

    def get_ordering(self, request: HttpRequest) -> list:
        """The review queue: pending first, then newest first."""
        waiting = Case(When(status=ReturnStatus.PENDING, then=Value(0)), default=Value(1),
                       output_field=IntegerField())
        return [waiting.asc(), "-created_at", "-id"]

    def get_form(self, request, obj=None, change=False, **kwargs):
        if obj is not None:
            return super().get_form(request, obj, change=change, **kwargs)
        form = type("ReturnAddForm", (ReturnAddForm,), {"request_user": request.user})
        kwargs["fields"] = ["lead_id", "buyer", "reason", "comment"]
        return super().get_form(request, obj, change=change, form=form, **kwargs)

    def get_fields(self, request, obj=None):
        return self._SHOWN if obj is not None else ["lead_id", "buyer", "reason", "comment"]

    def get_readonly_fields(self, request, obj=None):
        return self._SHOWN if obj is not None else []

    def save_form(self, request, form, change):
        if change:
            return super().save_form(request, form, change)
        return form.filed  # filed by return_submit when the form was cleaned

    def save_model(self, request, obj, form, change) -> None:
        if change:
            super().save_model(request, obj, form, change)

    def save_related(self, request, form, formsets, change) -> None:
        if change:
            super().save_related(request, form, formsets, change)

    @admin.display(description="Lead", ordering="lead")
    def lead_link(self, row: Return) -> SafeString:
        """The lead's id shortened to its first block (the whole id on hover), linked to the
        lead's page and its auction timeline."""
        url = reverse("admin:leads_lead_change", args=[row.lead_id])
        return format_html('<a href="{}" title="{}"><code>{}…</code></a>', url, row.lead.uuid,
                           str(row.lead.uuid)[:8])

    @admin.display(description="Filed", ordering="created_at")
    def filed(self, row: Return) -> str:
        return date_format(timezone.localtime(row.created_at), "M j, H:i")

    @admin.display(description="Buyer's comment")
    def comment_excerpt(self, row: Return) -> str:
        return row.comment if len(row.comment) <= 60 else f"{row.comment[:59]}…"

    @admin.action(description="Approve selected returns", permissions=["change"])
    def approve_selected(self, request, queryset) -> HttpResponse | None:
        return self._decide(request, queryset, approve=True)

    @admin.action(description="Reject selected returns", permissions=["change"])
    def reject_selected(self, request, queryset) -> HttpResponse | None:
        return self._decide(request, queryset, approve=False)

    def _decide(self, request, queryset, *, approve: bool) -> HttpResponse | None:
        """First the page asking a note, then (``apply``) the decision of the selection's
        pending returns."""
        form = DecideForm(request.POST if "apply" in request.POST else None)
        if form.is_bound and form.is_valid():
            note = form.cleaned_data["note"]
            if approve or note.strip():
                done = returns_decide(list(queryset.values_list("pk", flat=True)),
                                      approve=approve, by=request.user, note=note)
                verb = "Approved" if approve else "Rejected"
                self.message_user(request, f"{verb} {done.decided} return(s).",
                                  messages.SUCCESS)
                if done.skipped:
                    self.message_user(request, f"{done.skipped} were not pending and were "
                                      "left as they are.", messages.WARNING)
                return None
            form.add_error("note", "Say why the returns are rejected.")
        rows = list(queryset.select_related("lead", "buyer"))
        return TemplateResponse(request, "admin/billing/decide_returns.html", {
            "title": "Approve returns" if approve else "Reject returns", "form": form,
            "rows": rows, "approve": approve, "opts": Return._meta,
            "action": "approve_selected" if approve else "reject_selected",
            "pending": sum(row.status == ReturnStatus.PENDING for row in rows)})


@admin.register(BuyerApiKey)
class BuyerApiKeyAdmin(admin.ModelAdmin):
    """Keys for the buyers' returns API: adding one shows the clear key once."""

    list_display = ["__str__", "buyer", "name", "created_at", "last_used_at", "revoked_at"]
    list_filter = ["buyer"]
    list_select_related = ["buyer"]
    actions = ["revoke"]
    fields = ["buyer", "name"]

    def get_readonly_fields(self, request, obj=None):
        return ["buyer", "name", "prefix", "created_at", "last_used_at", "revoked_at"] \
            if obj is not None else []

    def get_fields(self, request, obj=None):
        return self.get_readonly_fields(request, obj) if obj is not None else self.fields

    def save_form(self, request, form, change):
        if change:
            return super().save_form(request, form, change)
        row, key = buyer_key_create(buyer=form.cleaned_data["buyer"],
                                    name=form.cleaned_data["name"] or "default")
        request._new_buyer_key = (row, key)
        return row

    def save_model(self, request, obj, form, change) -> None:
        if change:
            super().save_model(request, obj, form, change)

    def save_related(self, request, form, formsets, change) -> None:
        if change:
            super().save_related(request, form, formsets, change)

    def response_add(self, request, obj, post_url_continue=None) -> HttpResponse:
        new_key = getattr(request, "_new_buyer_key", None)
        if new_key is None:
            return super().response_add(request, obj, post_url_continue)
        return TemplateResponse(request, "admin/billing/new_buyer_key.html", {
            "title": "New buyer API key", "keys": [new_key], "opts": BuyerApiKey._meta})

    @admin.action(description="Revoke the selected keys", permissions=["change"])
    def revoke(self, request, queryset) -> None:
        keys = list(queryset.filter(revoked_at__isnull=True))
        for key in keys:
            buyer_key_revoke(api_key=key)
            self.log_change(request, key, "Revoked.")
        self.message_user(request, f"Revoked {len(keys)} key(s).", messages.SUCCESS)


@admin.register(ReturnReason)
class ReturnReasonAdmin(admin.ModelAdmin):
    list_display = ["vertical", "code", "label", "is_active"]
    list_filter = ["vertical", "is_active"]
    search_fields = ["code", "label"]
