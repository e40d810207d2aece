"""Admin for leads (read-only, with their auction timeline) and sales."""

from __future__ import annotations

from django.contrib import admin
from django.db.models import Prefetch
from django.template.loader import render_to_string
from django.utils.safestring import SafeString

from apps.auctions.models import Auction, HealthEvent, Ping, Post, Sale
from apps.core.admin import ReadOnlyAdmin
from apps.leads.models import Lead


@admin.register(Lead)
class LeadAdmin(ReadOnlyAdmin):
    list_display = ["uuid", "received_at", "source", "vertical", "status", "is_test",
                    "sale_price", "payout"]
    list_filter = ["status", "is_test", "vertical", "source"]
    list_select_related = ["source", "vertical"]
    search_fields = ["=uuid", "=sub_id"]
    show_full_result_count = False
    ordering = ["-received_at"]
    readonly_fields = [*(f.name for f in Lead._meta.fields), "timeline"]

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
class PostAdmin(ReadOnlyAdmin):
    list_display = ["created_at", "contract", "attempt", "outcome", "price", "latency_ms",
                    "http_status", "reason", "next_attempt_at"]
    list_filter = ["outcome"]
    list_select_related = ["contract__buyer"]
    ordering = ["-created_at"]
    raw_id_fields = ["auction", "contract"]


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
