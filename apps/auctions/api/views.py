"""Staff tools for one contract over the API — the admin's buttons, for scripts: send a test
ping, preview the payloads, pause, resume, read health and cap usage.

They live in the auctions app because they run and read auctions (apps import only
leftwards). Reads need ``buyers.view_contract``; the POST actions need
``buyers.change_contract`` (apps.buyers.api.permissions). Test pings and switches are written
to the admin's history.
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response

from apps.auctions.disclosure import (
    exchange_hidden,
    previews_hidden,
    round_trip_hidden,
    tool_private_keys,
)
from apps.auctions.health import contract_go_live, contract_switch
from apps.auctions.selectors import contract_cap_usage, contract_health, contract_sample_lead
from apps.auctions.services.diagnostics import (
    RequestView,
    contract_payload_preview,
    contract_test_ping,
    contract_test_round_trip,
)
from apps.buyers.api.permissions import ContractActionPermissions
from apps.buyers.models import Contract, ContractStatus
from apps.buyers.selectors import contract_get
from apps.core.api import StrictTypesMixin
from apps.core.audit import audit_record
from apps.core.exceptions import FieldErrors
from apps.core.staff_api import (
    ERRORS_ONE,
    ERRORS_WRITE_ONE,
    ErrorDetailSerializer,
    StaffApi,
    or_404,
)
from apps.leads.disclosure import Where
from apps.leads.models import Lead

_TAGS = ["Staff"]
_CONFLICT = {409: OpenApiResponse(ErrorDetailSerializer, "The contract's state does not "
                                                         "allow it (testing, paused).")}


class RequestViewSerializer(serializers.Serializer):
    """A request exactly as it goes out (auth secrets masked)."""

    method = serializers.CharField()
    url = serializers.CharField()
    headers = serializers.DictField(child=serializers.CharField())
    body = serializers.CharField(allow_blank=True)
    empty_rows = serializers.ListField(
        child=serializers.CharField(),
        help_text="Mapping rows that came out empty for this lead, and why.")


class ResponseViewSerializer(serializers.Serializer):
    """The raw answer (body cut at 20,000 characters)."""

    status = serializers.IntegerField(allow_null=True)
    headers = serializers.DictField(child=serializers.CharField())
    body = serializers.CharField(allow_blank=True)
    latency_ms = serializers.FloatField()
    error = serializers.CharField(allow_null=True)


class ParsedAnswerSerializer(serializers.Serializer):
    """What the response rules read from the answer."""

    accepted = serializers.BooleanField()
    price = serializers.DecimalField(max_digits=12, decimal_places=2, allow_null=True)
    token = serializers.CharField(allow_null=True)
    reason = serializers.CharField(allow_null=True)


_REVEAL_HELP = ("With a lead: true shows its personal data in the post (request, values, "
                "answer) in clear; needs the permission leads.view_pii (\"Can reveal "
                "consumers' personal data\"), 403 without; every reveal is written to the "
                "audit log. Default: hidden.")


class TestPingInputSerializer(StrictTypesMixin, serializers.Serializer):
    lead = serializers.UUIDField(required=False, allow_null=True,
                                 help_text="A lead of the contract's vertical to send; "
                                           "default: a sample built from the field examples.")
    reveal = serializers.BooleanField(default=False, help_text=_REVEAL_HELP)


class PreviewQuerySerializer(serializers.Serializer):
    reveal = serializers.BooleanField(default=False)


class TestPingSerializer(serializers.Serializer):
    kind = serializers.ChoiceField(choices=["ping", "post"],
                                   help_text="post for a direct-post contract.")
    outcome = serializers.CharField(help_text="bid / no_bid (accepted / rejected for a post), "
                                              "or a failure code: timeout, error, "
                                              "invalid_response …")
    detail = serializers.CharField(allow_blank=True)
    request = RequestViewSerializer(allow_null=True)
    response = ResponseViewSerializer(allow_null=True)
    parsed = ParsedAnswerSerializer(allow_null=True)


class RoundTripSerializer(serializers.Serializer):
    outcome = serializers.CharField(
        help_text="The post's outcome (accepted / rejected, or a failure code); the ping's "
                  "when no post was sent (no_bid, timeout, error …).")
    detail = serializers.CharField(allow_blank=True)
    flagged_as = serializers.CharField(
        source="flagged", allow_blank=True,
        help_text="How both requests told the buyer they are tests (the contract's "
                  "test_flag); empty: not flagged, the buyer takes them for live ones.")
    ping = TestPingSerializer(allow_null=True, help_text="null for a direct-post contract.")
    post = TestPingSerializer(allow_null=True,
                              help_text="null when the ping did not bid: nothing to post.")


class PreviewEntrySerializer(serializers.Serializer):
    request = RequestViewSerializer(allow_null=True)
    error = serializers.CharField(allow_null=True,
                                  help_text="Why the request cannot be built, if it cannot.")


class PreviewSerializer(serializers.Serializer):
    ping = PreviewEntrySerializer(required=False)
    post = PreviewEntrySerializer(required=False)


class SwitchInputSerializer(StrictTypesMixin, serializers.Serializer):
    reason = serializers.CharField(max_length=200, required=False, allow_blank=True,
                                   help_text="Written to the contract's history.")


class SwitchStateSerializer(serializers.ModelSerializer):
    class Meta:
        model = Contract
        fields = ["id", "status", "auto_paused_at", "auto_pause_reason", "updated_at"]
        read_only_fields = fields


class HealthStateSerializer(serializers.Serializer):
    switched_on = serializers.BooleanField()
    auto_paused_at = serializers.DateTimeField(allow_null=True)
    auto_pause_reason = serializers.CharField(allow_blank=True)
    last_latency_ms = serializers.FloatField(allow_null=True)
    last_ping_at = serializers.DateTimeField(allow_null=True)
    last_error = serializers.CharField(allow_blank=True)
    last_error_at = serializers.DateTimeField(allow_null=True)


class CapUsageSerializer(serializers.Serializer):
    period = serializers.CharField()
    metric = serializers.CharField()
    used = serializers.DecimalField(max_digits=12, decimal_places=2)
    limit = serializers.DecimalField(max_digits=12, decimal_places=2)
    percent = serializers.IntegerField()
    window_start = serializers.DateTimeField()


class ContractHealthSerializer(serializers.Serializer):
    health = HealthStateSerializer()
    caps = CapUsageSerializer(many=True, help_text="Used / limit of every cap in its "
                                                   "current window (buyer's time zone).")


class _ContractToolApi(StaffApi):
    """Base of the contract tools: GET needs ``buyers.view_contract``, POST
    ``buyers.change_contract``; an optional ``lead`` must be of the contract's vertical
    (400 otherwise)."""

    permission_model = Contract
    permission_classes = [ContractActionPermissions]

    def _lead(self, contract: Contract, lead_id: Any) -> Lead | None:
        if not lead_id:
            return None
        lead = contract_sample_lead(contract, lead_id)
        if lead is None:
            raise FieldErrors({"lead": ["No lead of this contract's vertical has that id."]})
        return lead

    def _lead_for_tool(self, request: Request, contract: Contract, lead_id: Any,
                       reveal: bool) -> tuple[Lead | None, Any]:
        """The tool's lead and the keys to hide in its answer (None: show it whole); a
        reveal without the permission is refused here, before anything is sent."""
        lead = self._lead(contract, lead_id)
        return lead, tool_private_keys(request.user, lead, where=Where.STAFF_API,
                                       reveal=reveal)


class ContractTestPingApi(_ContractToolApi):
    """``POST /contracts/{id}/test-ping``: build the ping (the post, for a direct-post
    contract) from a sample lead or ``lead``, send it, flagged as a test, and answer with
    the exact request, the raw response and what the response rules read (bid, token,
    accepted, reason) → 200 whatever the buyer did (its failure is the ``outcome``)."""

    @extend_schema(operation_id="contracts_test_ping", summary="Send a test ping",
                   tags=_TAGS, request=TestPingInputSerializer,
                   responses={200: TestPingSerializer, **ERRORS_WRITE_ONE})
    def post(self, request: Request, contract_id: int) -> Response:
        contract = or_404(contract_get(contract_id))
        serializer = TestPingInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        lead, private = self._lead_for_tool(request, contract,
                                            serializer.validated_data.get("lead"),
                                            serializer.validated_data["reveal"])
        result = contract_test_ping(contract, lead=lead)
        audit_record(request.user, contract,
                     f"Sent a test {result.kind} through the API: {result.outcome}.")
        if private is not None:
            result = exchange_hidden(result, private)
        return Response(TestPingSerializer(result).data)


class ContractTestRoundTripApi(_ContractToolApi):
    """``POST /contracts/{id}/test-round-trip``: send a test ping, then — when it bids — the
    test post carrying the ping's real token, both flagged as tests the way the buyer wants
    (the contract's ``test_flag``), for a sample lead or ``lead``; answer with both
    exchanges (exact requests with secrets masked, raw responses, parsed results) → 200
    whatever the buyer did. Nothing is stored but a line in the contract's history."""

    @extend_schema(operation_id="contracts_test_round_trip",
                   summary="Test ping → test post with the real token", tags=_TAGS,
                   request=TestPingInputSerializer,
                   responses={200: RoundTripSerializer, **ERRORS_WRITE_ONE})
    def post(self, request: Request, contract_id: int) -> Response:
        contract = or_404(contract_get(contract_id))
        serializer = TestPingInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        lead, private = self._lead_for_tool(request, contract,
                                            serializer.validated_data.get("lead"),
                                            serializer.validated_data["reveal"])
        result = contract_test_round_trip(contract, lead=lead)
        audit_record(request.user, contract,
                     f"Ran a test round trip through the API: {result.outcome}.")
        if private is not None:
            result = round_trip_hidden(result, private)
        return Response(RoundTripSerializer(result).data)


class ContractPreviewApi(_ContractToolApi):
    """``GET /contracts/{id}/preview[?lead=<uuid>]``: the exact ping and post requests the
    buyer would receive for that lead (default: a sample lead); nothing is sent."""

    @extend_schema(operation_id="contracts_preview", summary="Preview the payloads",
                   tags=_TAGS,
                   parameters=[OpenApiParameter("lead", str, description="A lead id (UUID) of "
                                                "the contract's vertical."),
                               OpenApiParameter("reveal", bool, default=False,
                                                description=_REVEAL_HELP)],
                   responses={200: PreviewSerializer, **ERRORS_WRITE_ONE})
    def get(self, request: Request, contract_id: int) -> Response:
        contract = or_404(contract_get(contract_id))
        query = PreviewQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        lead, private = self._lead_for_tool(request, contract, request.query_params.get("lead"),
                                            query.validated_data["reveal"])
        previews = contract_payload_preview(contract, lead=lead)
        if private is not None:
            previews = previews_hidden(previews, private)
        return Response(PreviewSerializer({
            kind: {"request": built, "error": None} if isinstance(built, RequestView)
            else {"request": None, "error": built}
            for kind, built in previews.items()}).data)


class _SwitchApi(_ContractToolApi):
    """Pause (``on = False``) or resume (``on = True``), with an optional ``reason`` that goes
    to the contract's history; answers the contract's switch and breaker state."""

    on: bool

    def post(self, request: Request, contract_id: int) -> Response:
        contract = or_404(contract_get(contract_id))
        serializer = SwitchInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        verb = "resumed" if self.on else "paused"
        note = serializer.validated_data.get("reason") or ""
        contract_switch(contract, on=self.on,
                        reason=f"{verb} by {request.user.get_username()}"
                               + (f": {note}" if note else ""))
        audit_record(request.user, contract,
                     f"{verb.capitalize()} through the API" + (f": {note}." if note else "."))
        return Response(SwitchStateSerializer(contract).data)


class ContractPauseApi(_SwitchApi):
    """``POST /contracts/{id}/pause``: switch the contract off (status ``paused``); the next
    auction in every process leaves it out. Idempotent; 409 for a contract in testing."""

    on = False

    @extend_schema(operation_id="contracts_pause", summary="Pause a contract", tags=_TAGS,
                   request=SwitchInputSerializer,
                   responses={200: SwitchStateSerializer, **ERRORS_WRITE_ONE, **_CONFLICT})
    def post(self, request: Request, contract_id: int) -> Response:
        return super().post(request, contract_id)


class ContractResumeApi(_SwitchApi):
    """``POST /contracts/{id}/resume``: switch the contract on (status ``active``) and close
    its circuit breaker if it was auto-paused. Idempotent; 409 for a contract in testing
    (it goes live through ``go-live``)."""

    on = True

    @extend_schema(operation_id="contracts_resume", summary="Resume a contract", tags=_TAGS,
                   request=SwitchInputSerializer,
                   responses={200: SwitchStateSerializer, **ERRORS_WRITE_ONE, **_CONFLICT})
    def post(self, request: Request, contract_id: int) -> Response:
        return super().post(request, contract_id)


class ContractGoLiveApi(_ContractToolApi):
    """``POST /contracts/{id}/go-live``: switch a contract in ``testing`` live (status
    ``active``); from the next auction in every process it takes live leads. Idempotent
    for a live contract; 409 for a paused one (resume it instead)."""

    @extend_schema(operation_id="contracts_go_live", summary="Switch a tested contract live",
                   tags=_TAGS, request=SwitchInputSerializer,
                   responses={200: SwitchStateSerializer, **ERRORS_WRITE_ONE, **_CONFLICT})
    def post(self, request: Request, contract_id: int) -> Response:
        contract = or_404(contract_get(contract_id))
        serializer = SwitchInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        note = serializer.validated_data.get("reason") or ""
        was_testing = contract.status == ContractStatus.TESTING
        contract_go_live(contract, reason=f"switched live by {request.user.get_username()}"
                                          + (f": {note}" if note else ""))
        if was_testing:
            audit_record(request.user, contract,
                         "Switched live through the API" + (f": {note}." if note else "."))
        return Response(SwitchStateSerializer(contract).data)


class ContractHealthApi(_ContractToolApi):
    """``GET /contracts/{id}/health``: switched on or off, auto-paused since (and why), the
    last latency and error, and the usage of every cap in its current window."""

    @extend_schema(operation_id="contracts_health", summary="Health and cap usage",
                   tags=_TAGS, responses={200: ContractHealthSerializer, **ERRORS_ONE})
    def get(self, request: Request, contract_id: int) -> Response:
        contract = or_404(contract_get(contract_id))
        return Response(ContractHealthSerializer({
            "health": contract_health(contract), "caps": contract_cap_usage(contract)}).data)

