"""``GET /api/v1/staff/leads/{uuid}/auction``: one lead's whole auction record for staff —
every contract's outcome in every round with its request and answer, every post attempt, the
sales — as the admin's timeline shows it. Pings never carry PII and are shown as stored;
buyers' secrets are masked wherever a request is kept.

The lead's personal data (``personal_data``: PII fields, consent tokens, consumer IP and
browser) is masked and its posts' bodies hidden, unless the caller holds ``leads.view_pii``
and asks with ``?reveal=true``: then they are in clear, and the reveal is written to the
audit log (apps.leads.disclosure). ``?reveal=true`` without the permission is a 403."""

from __future__ import annotations

import uuid

from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_field
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response

from apps.auctions.models import Auction, Post
from apps.auctions.selectors import lead_auctions_get
from apps.core.staff_api import ERRORS_WRITE_ONE, StaffApi, or_404
from apps.leads.disclosure import HIDDEN_BODY, PersonalData, Where, pii_masked, pii_reveal


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
    request_body = serializers.SerializerMethodField(
        help_text=f"Secrets masked; {HIDDEN_BODY!r} unless revealed.")
    response_body = serializers.SerializerMethodField(
        help_text=f"{HIDDEN_BODY!r} unless revealed.")
    next_attempt_at = serializers.DateTimeField(allow_null=True)
    created_at = serializers.DateTimeField()


    def _shown(self) -> PersonalData:
        return self.context["personal_data"]

    def get_request_body(self, post: Post) -> str:
        return self._shown().body(post.request_body)

    def get_response_body(self, post: Post) -> str:
        return self._shown().body(post.response_body)


class PersonalDataSerializer(serializers.Serializer):
    revealed = serializers.BooleanField(help_text="false: every value below is masked.")
    fields = serializers.DictField(  # type: ignore[assignment]
        help_text="The lead's fields; the PII ones masked unless revealed.")
    consent = serializers.DictField(help_text="Consent tokens, masked unless revealed.")
    consumer_ip = serializers.CharField(allow_null=True)
    user_agent = serializers.CharField(allow_blank=True)


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
    personal_data = serializers.SerializerMethodField()
    auctions = AuctionRecordSerializer(many=True)
    sales = SaleRecordSerializer(many=True)

    @extend_schema_field(PersonalDataSerializer)
    def get_personal_data(self, lead) -> dict:
        return PersonalDataSerializer(self.context["personal_data"]).data


class RevealQuerySerializer(serializers.Serializer):
    reveal = serializers.BooleanField(default=False)


class LeadAuctionRecordApi(StaffApi):
    """Staff with ``auctions.view_auction`` (account managers, managers); ``?reveal=true``
    also needs ``leads.view_pii``."""

    permission_model = Auction

    @extend_schema(
        operation_id="staff_lead_auction", summary="One lead's whole auction", tags=["Staff"],
        parameters=[OpenApiParameter(
            "reveal", bool, default=False,
            description="true: the lead's personal data and its posts' bodies in clear. "
                        "Needs the permission leads.view_pii (\"Can reveal consumers' "
                        "personal data\"), 403 without; every reveal is written to the "
                        "audit log.")],
        responses={200: LeadAuctionRecordSerializer, **ERRORS_WRITE_ONE})
    def get(self, request: Request, lead_id: uuid.UUID) -> Response:
        query = RevealQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        lead = or_404(lead_auctions_get(lead_id))
        shown = (pii_reveal(request.user, lead, Where.STAFF_API)
                 if query.validated_data["reveal"] else pii_masked(lead))
        return Response(LeadAuctionRecordSerializer(
            lead, context={"personal_data": shown}).data)
