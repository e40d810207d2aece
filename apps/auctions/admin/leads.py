"""Admin for leads (read-only, with their auction timeline) and sales. A lead's personal
data — its PII fields, consent tokens, consumer IP and browser, its posts' bodies — is masked
until a user with ``leads.view_pii`` reveals it (apps.auctions.admin.reveal)."""

from __future__ import annotations

import json
import uuid
from typing import Any

from django.contrib import admin
from django.contrib.admin.utils import unquote
from django.db.models import Prefetch
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils.safestring import SafeString

from apps.auctions.admin.reveal import PiiRevealAdmin
from apps.auctions.models import Auction, HealthEvent, Ping, Post, Sale
from apps.core.admin import ReadOnlyAdmin
from apps.leads.models import Lead

# the lead's model fields that hold personal data, shown through PiiRevealAdmin.personal
_PERSONAL = {"fields": "lead_fields", "consent": "consent_tokens",
             "consumer_ip": "consumer_ip_shown", "user_agent": "user_agent_shown"}


def _json(value: Any) -> str:
    # keys sorted: the same page on SQLite and on PostgreSQL (jsonb reorders them)
    return json.dumps(value, ensure_ascii=False, default=str, sort_keys=True)


@admin.register(Lead)
class LeadAdmin(PiiRevealAdmin):
    list_display = ["uuid", "received_at", "source", "vertical", "status", "is_test",
                    "sale_price", "payout"]
    list_filter = ["status", "is_test", "vertical", "source"]
    list_select_related = ["source", "vertical"]
    search_fields = ["=uuid", "=sub_id"]
    show_full_result_count = False
    ordering = ["-received_at"]
    exclude = list(_PERSONAL)
    readonly_fields = [*(_PERSONAL.get(f.name, f.name) for f in Lead._meta.fields), "timeline"]

    def pii_lead(self, obj: Lead) -> Lead:
        return obj

    @admin.display(description="fields")
    def lead_fields(self, lead: Lead) -> str:
        return _json(self.personal(lead).fields)

    @admin.display(description="consent")
    def consent_tokens(self, lead: Lead) -> str:
        return _json(self.personal(lead).consent)

    @admin.display(description="consumer ip")
    def consumer_ip_shown(self, lead: Lead) -> str:
        return self.personal(lead).consumer_ip or ""

    @admin.display(description="user agent")
    def user_agent_shown(self, lead: Lead) -> str:
        return self.personal(lead).user_agent

    def change_view(self, request: HttpRequest, object_id: str, form_url: str = "",
                    extra_context=None) -> HttpResponse:
        """``/admin/leads/lead/<uuid>/change/`` — the public id the API answers — redirects to
        the lead's page under its number; an unknown UUID gets the admin's "doesn't exist"."""
        try:
            public_id = uuid.UUID(unquote(object_id))
        except ValueError:
            public_id = None
        pk = (Lead.objects.filter(uuid=public_id).values_list("pk", flat=True).first()
              if public_id is not None else None)
        if pk is None:
            # The admin's own answer: the lead under its number, or "doesn't exist" (an
            # unknown UUID is no lead number either), after the same permission check.
            return super().change_view(request, object_id, form_url, extra_context)
        return HttpResponseRedirect(reverse("admin:leads_lead_change", args=[pk]))

    @admin.display(description="Auction timeline")
    def timeline(self, lead: Lead) -> SafeString:
        auctions = (Auction.objects.filter(lead=lead).order_by("started_at")
                    .prefetch_related(
                        Prefetch(
                            "pings", queryset=Ping.objects.select_related("contract__buyer")
                            .order_by("round", "latency_ms")),
                        Prefetch(
                            "posts", queryset=Post.objects.select_related("contract__buyer")
                            .order_by("created_at"))))
        sales = Sale.objects.filter(lead=lead).select_related("contract__buyer")
        return render_to_string("admin/auctions/timeline.html",
                                {"auctions": auctions, "sales": sales, "lead": lead})


@admin.register(Ping)
class PingAdmin(ReadOnlyAdmin):
    list_display = ["created_at", "contract", "round", "outcome", "bid", "latency_ms",
                    "http_status", "detail"]
    list_filter = ["outcome"]
    list_select_related = ["contract__buyer"]
    ordering = ["-created_at"]
    raw_id_fields = ["auction", "contract"]


@admin.register(Post)
class PostAdmin(PiiRevealAdmin):
    """A post attempt; its bodies carry the lead sent to the buyer and the buyer's answer,
    hidden until revealed. (Ping bodies carry no personal data: PingAdmin shows them.)"""

    list_display = ["created_at", "contract", "attempt", "outcome", "price", "latency_ms",
                    "http_status", "reason", "next_attempt_at"]
    list_filter = ["outcome"]
    list_select_related = ["contract__buyer"]
    ordering = ["-created_at"]
    raw_id_fields = ["auction", "contract"]
    fields = ["auction", "contract", "attempt", "outcome", "price", "token", "reason",
              "latency_ms", "http_status", "request_body_shown", "response_body_shown",
              "next_attempt_at"]
    readonly_fields = ["request_body_shown", "response_body_shown"]

    def pii_lead(self, obj: Post) -> Lead:
        return obj.auction.lead

    @admin.display(description="request body")
    def request_body_shown(self, post: Post) -> str:
        return self.personal(post).body(post.request_body)

    @admin.display(description="response body")
    def response_body_shown(self, post: Post) -> str:
        return self.personal(post).body(post.response_body)


@admin.register(Sale)
class SaleAdmin(ReadOnlyAdmin):
    list_display = ["lead", "buyer", "contract", "price", "exclusive", "is_test", "created_at"]
    list_filter = ["exclusive", "is_test", "buyer"]
    list_select_related = ["lead", "buyer", "contract"]
    show_full_result_count = False


@admin.register(HealthEvent)
class HealthEventAdmin(ReadOnlyAdmin):
    list_display = ["created_at", "contract", "kind", "reason"]
    list_filter = ["kind"]
    list_select_related = ["contract__buyer"]
