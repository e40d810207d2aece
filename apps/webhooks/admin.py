"""Admin for webhook endpoints (secret shown once, rotate, switch on, redeliver a time range)
and deliveries (read-only, every attempt, redeliver one or a selection)."""

from __future__ import annotations

import json
from datetime import timedelta

from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString
from django.views.decorators.http import require_POST

from apps.core.admin import ReadOnlyAdmin
from apps.core.exceptions import ApplicationError
from apps.webhooks.models import SourceEvent, WebhookDelivery, WebhookEndpoint
from apps.webhooks.selectors import endpoints_forget
from apps.webhooks.services import (
    deliveries_redeliver,
    delivery_redeliver,
    endpoint_secret_rotate,
    endpoint_update,
)
from apps.webhooks.signing import secret_generate

_REDELIVER = "webhooks.change_webhookdelivery"


def _show_secrets(request: HttpRequest, secrets: list[tuple[WebhookEndpoint, str]], *,
                  rotated: bool = False) -> HttpResponse:
    """Render the clear secrets once; they are never shown again."""
    grace = timezone.now() + timedelta(seconds=settings.WEBHOOK_SECRET_GRACE_S)
    return TemplateResponse(request, "admin/webhooks/new_secrets.html", {
        "title": "New signing secret" if len(secrets) == 1 else "New signing secrets",
        "secrets": secrets, "rotated": rotated, "grace_until": grace,
        "opts": WebhookEndpoint._meta})


class EndpointForm(forms.ModelForm):
    events = forms.MultipleChoiceField(choices=SourceEvent.choices,
                                       widget=forms.CheckboxSelectMultiple,
                                       initial=SourceEvent.values)

    class Meta:
        model = WebhookEndpoint
        fields = ["source", "url", "description", "events", "is_active"]


class RedeliverRangeForm(forms.Form):
    since = forms.SplitDateTimeField(help_text="UTC.")
    until = forms.SplitDateTimeField(help_text="UTC.")

    def clean(self) -> dict:
        data = super().clean() or {}
        if data.get("since") and data.get("until") and data["since"] >= data["until"]:
            raise forms.ValidationError("'until' must be after 'since'.")
        return data


@admin.register(WebhookEndpoint)
class WebhookEndpointAdmin(admin.ModelAdmin):
    form = EndpointForm
    list_display = ["url", "source", "event_list", "is_active", "failing_since",
                    "last_success_at", "disabled_at"]
    list_filter = ["is_active", "source"]
    list_select_related = ["source"]
    search_fields = ["url", "source__name"]
    readonly_fields = ["failing_since", "last_success_at", "disabled_at", "disabled_reason",
                       "previous_secret_expires_at", "created_at", "updated_at"]
    actions = ["rotate_secret", "switch_on", "redeliver_range"]

    @admin.display(description="Events")
    def event_list(self, endpoint: WebhookEndpoint) -> str:
        return ", ".join(endpoint.events)

    def save_model(self, request, obj: WebhookEndpoint, form, change) -> None:
        if change:
            # through the service, which records why an endpoint is off or forgets it when
            # it is switched on again (the form already set the other fields)
            obj.is_active = form.initial["is_active"]
            endpoint_update(obj, is_active=form.cleaned_data["is_active"])
            return
        obj.secret = secret_generate()
        request._new_webhook_secret = (obj, obj.secret)
        super().save_model(request, obj, form, change)
        endpoints_forget(obj.source_id)

    def delete_model(self, request, obj: WebhookEndpoint) -> None:
        super().delete_model(request, obj)
        endpoints_forget(obj.source_id)

    def delete_queryset(self, request, queryset) -> None:
        sources = set(queryset.values_list("source_id", flat=True))
        super().delete_queryset(request, queryset)
        for source_id in sources:
            endpoints_forget(source_id)

    def response_add(self, request, obj, post_url_continue=None) -> HttpResponse:
        new_secret = getattr(request, "_new_webhook_secret", None)
        if new_secret is None:
            return super().response_add(request, obj, post_url_continue)
        return _show_secrets(request, [new_secret])

    @admin.action(description="Rotate the signing secret of the selected endpoints",
                  permissions=["change"])
    def rotate_secret(self, request, queryset) -> HttpResponse:
        secrets = [(endpoint, endpoint_secret_rotate(endpoint))
                   for endpoint in queryset.select_related("source")]
        for endpoint, _ in secrets:
            self.log_change(request, endpoint, "Rotated the signing secret.")
        return _show_secrets(request, secrets, rotated=True)

    @admin.action(description="Switch the selected endpoints on", permissions=["change"])
    def switch_on(self, request, queryset) -> None:
        switched = [endpoint_update(endpoint, is_active=True)
                    for endpoint in queryset.filter(is_active=False)]
        for endpoint in switched:
            self.log_change(request, endpoint, "Switched on.")
        self.message_user(request, f"Switched on {len(switched)} endpoint(s); redeliver what "
                          "they missed with 'Redeliver a time range…'.", messages.SUCCESS)

    @admin.action(description="Redeliver a time range…", permissions=["redeliver"])
    def redeliver_range(self, request, queryset) -> HttpResponse | None:
        endpoints = list(queryset.select_related("source"))
        form = RedeliverRangeForm(request.POST if "apply" in request.POST else None, initial={
            "since": timezone.now() - timedelta(days=1), "until": timezone.now()})
        if form.is_bound and form.is_valid():
            count, refused = 0, []
            for endpoint in endpoints:
                try:
                    count += deliveries_redeliver(
                        endpoint.source, since=form.cleaned_data["since"],
                        until=form.cleaned_data["until"], endpoint=endpoint)
                except ApplicationError as error:
                    refused.append(f"{endpoint.url}: {error.detail}")
            self.message_user(request, f"Redelivering {count} deliveries.", messages.SUCCESS)
            for line in refused:
                self.message_user(request, line, messages.WARNING)
            return None
        return TemplateResponse(request, "admin/webhooks/redeliver_range.html", {
            "title": "Redeliver a time range", "form": form, "endpoints": endpoints,
            "opts": WebhookEndpoint._meta})

    def has_redeliver_permission(self, request) -> bool:
        return request.user.has_perm(_REDELIVER)


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(ReadOnlyAdmin):
    """Every delivery with its attempts; big-table settings (no full counts, joined
    lookups). *Redeliver* on the page and as an action (``change_webhookdelivery``)."""

    list_display = ["msg_id", "created_at", "source", "kind", "event", "status", "attempts",
                    "last_http_status", "next_attempt_at"]
    list_filter = ["status", "kind", "event", "source"]
    list_select_related = ["source"]
    search_fields = ["=msg_id", "=lead__uuid"]
    date_hierarchy = "created_at"
    ordering = ["-created_at"]
    actions = ["redeliver"]
    fields = readonly_fields = (
        "msg_id", "kind", "event", "status", "source", "endpoint", "lead_link", "url",
        "payout", "created_at", "attempts", "next_attempt_at", "last_attempt_at",
        "delivered_at", "last_http_status", "last_error", "payload", "attempt_table")

    @admin.display(description="Lead")
    def lead_link(self, delivery: WebhookDelivery) -> SafeString:
        url = reverse("admin:leads_lead_change", args=[delivery.lead_id])
        return format_html('<a href="{}">{}</a>', url, delivery.lead.uuid)

    @admin.display(description="Payload (as sent)")
    def payload(self, delivery: WebhookDelivery) -> SafeString | str:
        if not delivery.body:
            return "—"
        return format_html('<pre class="webhook-payload">{}</pre>',
                           json.dumps(json.loads(delivery.body), indent=2))

    @admin.display(description="Attempts")
    def attempt_table(self, delivery: WebhookDelivery) -> SafeString | str:
        attempts = list(delivery.attempt_log.order_by("number"))
        if not attempts:
            return "none yet"
        rows = format_html_join("", (
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td>"
            "<td><code>{}</code></td></tr>"), (
            (a.number, f"{a.started_at:%Y-%m-%d %H:%M:%S}", "ok" if a.succeeded else "failed",
             a.http_status or "—",
             f"{a.latency_ms:.0f} ms" if a.latency_ms is not None else "—",
             a.detail or a.error or "", a.response_excerpt[:300]) for a in attempts))
        return format_html(
            '<table class="webhook-attempts"><thead><tr><th>#</th><th>Started (UTC)</th>'
            "<th>Outcome</th><th>HTTP</th><th>Latency</th><th>Detail</th>"
            "<th>Response (excerpt)</th></tr></thead><tbody>{}</tbody></table>", rows)

    def get_urls(self):
        return [path("<path:object_id>/redeliver/",
                     self.admin_site.admin_view(self.redeliver_view),
                     name="webhooks_webhookdelivery_redeliver"),
                *super().get_urls()]

    def change_view(self, request, object_id, form_url="", extra_context=None):
        extra = {**(extra_context or {}), "can_redeliver": request.user.has_perm(_REDELIVER)}
        return super().change_view(request, object_id, form_url, extra)

    def redeliver_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        return require_POST(self._redeliver_one)(request, object_id)

    def _redeliver_one(self, request: HttpRequest, object_id: str) -> HttpResponse:
        delivery = get_object_or_404(WebhookDelivery, pk=object_id)
        back = reverse("admin:webhooks_webhookdelivery_change", args=[delivery.pk])
        if not request.user.has_perm(_REDELIVER):
            self.message_user(request, "You may not redeliver.", messages.ERROR)
            return HttpResponseRedirect(back)
        try:
            delivery_redeliver(delivery)
        except ApplicationError as error:
            self.message_user(request, error.detail, messages.ERROR)
        else:
            self.log_change(request, delivery, "Redelivered.")
            self.message_user(request, f"Redelivering {delivery.msg_id}.", messages.SUCCESS)
        return HttpResponseRedirect(back)

    @admin.action(description="Redeliver the selected deliveries", permissions=["redeliver"])
    def redeliver(self, request, queryset) -> None:
        done, refused = 0, 0
        for delivery in queryset.select_related("endpoint"):
            try:
                delivery_redeliver(delivery)
                done += 1
            except ApplicationError:
                refused += 1
        self.message_user(request, f"Redelivering {done} deliveries.", messages.SUCCESS)
        if refused:
            self.message_user(request, f"{refused} could not be redelivered (being sent, or "
                              "their endpoint is disabled or deleted).", messages.WARNING)

    def has_redeliver_permission(self, request) -> bool:
        return request.user.has_perm(_REDELIVER)
