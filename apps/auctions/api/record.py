"""``GET /api/v1/staff/leads/{uuid}/auction``: one lead's whole auction record for staff —
every contract's outcome in every round with its request and answer, every post attempt, the
sales — as the admin's timeline shows it. Bodies are as stored: pings never carry PII, post
bodies have PII values masked, and buyers' secrets are masked wherever a request is kept."""

from __future__ import annotations

import uuid

from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response

from apps.auctions.models import Auction
from apps.auctions.selectors import lead_auctions_get
from apps.core.staff_api import ERRORS_ONE, StaffApi, or_404


class _ContractRef(serializers.Serializer):
    contract = serializers.IntegerField(source="contract_id")
    contract_name = serializers.CharField(source="contract.name")
    buyer = serializers.IntegerField(source="contract.buyer_id")
    buyer_company = serializers.CharField(source="contract.buyer.company")


class PingRecordSerializer(_ContractRef):
    round = serializers.IntegerField()
    outcome = serializers.CharField(help_text="One code of the outcome vocabulary: bid, "
                                    "no_bid, timeout, error, invalid_response, below_floor, "
                                    "or the exclusion before the ping (filtered, capped …).")
    bid = serializers.DecimalField(max_digits=10, decimal_places=2, allow_null=True)
    effective_bid = serializers.DecimalField(max_digits=10, decimal_places=2, allow_null=True)
    latency_ms = serializers.FloatField(allow_null=True)
    http_status = serializers.IntegerField(allow_null=True)
    detail = serializers.CharField()
    request_body = serializers.CharField()
    response_body = serializers.CharField()
    created_at = serializers.DateTimeField()


class PostRecordSerializer(_ContractRef):
    attempt = serializers.IntegerField()
    outcome = serializers.CharField()
    price = serializers.DecimalField(max_digits=10, decimal_places=2)
    reason = serializers.CharField()
    latency_ms = serializers.FloatField(allow_null=True)
    http_status = serializers.IntegerField(allow_null=True)
    request_body = serializers.CharField(help_text="PII values and secrets masked.")
    response_body = serializers.CharField()
    next_attempt_at = serializers.DateTimeField(allow_null=True)
    created_at = serializers.DateTimeField()


class SaleRecordSerializer(_ContractRef):
    price = serializers.DecimalField(max_digits=10, decimal_places=2)
    exclusive = serializers.BooleanField()
    created_at = serializers.DateTimeField()


class AuctionRecordSerializer(serializers.Serializer):
    started_at = serializers.DateTimeField()
    ping_deadline_at = serializers.DateTimeField()
    bids_at = serializers.DateTimeField(allow_null=True)
    finished_at = serializers.DateTimeField(allow_null=True)
    rounds = serializers.IntegerField()
    outcome = serializers.CharField()
    reason = serializers.CharField()
    pings = PingRecordSerializer(many=True)
    posts = PostRecordSerializer(many=True)


class LeadAuctionRecordSerializer(serializers.Serializer):
    id = serializers.UUIDField(source="uuid")
    status = serializers.CharField()
    message = serializers.CharField()
    # named like DRF's Field.source attribute, which the stubs type as str
    source = serializers.IntegerField(source="source_id")  # type: ignore[assignment]
    vertical = serializers.CharField(source="vertical.slug", allow_null=True)
    is_test = serializers.BooleanField()
    sale_price = serializers.DecimalField(max_digits=10, decimal_places=2, allow_null=True)
    payout = serializers.DecimalField(max_digits=10, decimal_places=2, allow_null=True)
    margin = serializers.DecimalField(max_digits=10, decimal_places=2, allow_null=True)
    received_at = serializers.DateTimeField()
    auction_started_at = serializers.DateTimeField(allow_null=True)
    completed_at = serializers.DateTimeField(allow_null=True)
    auctions = AuctionRecordSerializer(many=True)
    sales = SaleRecordSerializer(many=True)


class LeadAuctionRecordApi(StaffApi):
    """Staff with ``auctions.view_auction`` (account managers, managers)."""

    permission_model = Auction

    @extend_schema(operation_id="staff_lead_auction", summary="One lead's whole auction",
                   tags=["Staff"], responses={200: LeadAuctionRecordSerializer, **ERRORS_ONE})
    def get(self, request: Request, lead_id: uuid.UUID) -> Response:
        lead = or_404(lead_auctions_get(lead_id))
        return Response(LeadAuctionRecordSerializer(lead).data)
