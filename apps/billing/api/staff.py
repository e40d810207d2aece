"""Staff API for returns (the review queue), buyer API keys and the ledger.

Staff token or session with Django model permissions (apps.core.staff_api): reading returns
and the ledger needs ``billing.view_return``, deciding ``billing.change_return``; buyer keys
``billing.{view,add,delete}_buyerapikey``. A clear buyer key is in the answer that creates
it and never again. Every change goes to the admin's history.
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.renderers import BaseRenderer, JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response

from apps.billing.api.serializers import (
    BuyerKeyInputSerializer,
    BuyerKeySerializer,
    DecidedSerializer,
    DecideInputSerializer,
    LedgerQuerySerializer,
    LedgerSerializer,
    NewBuyerKeySerializer,
    StaffReturnFilter,
    StaffReturnSerializer,
    filter_dates_check,
    ledger_data,
)
from apps.billing.api.views import RETURN_FILTERS
from apps.billing.ledger import BUYER, ledger_build, ledger_csv
from apps.billing.models import BuyerApiKey, Return, ReturnChannel
from apps.billing.selectors import buyer_key_get, buyer_key_list, return_list
from apps.billing.services import buyer_key_create, buyer_key_revoke, returns_decide
from apps.buyers.models import Buyer
from apps.buyers.selectors import buyer_get
from apps.core.audit import audit_record
from apps.core.exceptions import FieldErrors
from apps.core.filtering import queryset_filtered
from apps.core.staff_api import (
    ERRORS_LIST,
    ERRORS_ONE,
    ERRORS_READ,
    ERRORS_WRITE,
    ERRORS_WRITE_ONE,
    PAGE_PARAMETERS,
    VALIDATION_ERRORS,
    StaffApi,
    StaffModelPermissions,
    or_404,
    paginated,
)
from apps.sources.models import Source

_TAGS = ["Staff"]
_CHANGE = "%(app_label)s.change_%(model_name)s"


class DecidePermissions(StaffModelPermissions):
    """Deciding returns changes them: ``change`` on returns."""

    perms_map = {**StaffModelPermissions.perms_map, "POST": [_CHANGE]}


class StaffReturnsApi(StaffApi):
    """``GET /staff/returns``: the review queue — pending first, then newest first; filters
    ``status``, ``buyer``, ``source``, ``reason``, ``channel``, ``from``, ``to``."""

    permission_model = Return

    @extend_schema(operation_id="staff_returns_list", summary="List returns", tags=_TAGS,
                   parameters=[*PAGE_PARAMETERS, *RETURN_FILTERS,
                               OpenApiParameter("buyer", {"type": "integer", "minimum": 1}),
                               OpenApiParameter("source", {"type": "integer", "minimum": 1}),
                               OpenApiParameter("reason", str),
                               OpenApiParameter("channel", str, enum=ReturnChannel.values)],
                   responses={200: paginated("StaffReturn", StaffReturnSerializer(many=True)),
                              **ERRORS_LIST})
    def get(self, request: Request) -> Response:
        filter_dates_check(request.query_params)
        rows = queryset_filtered(StaffReturnFilter, request.query_params, return_list())
        return self.page(rows, StaffReturnSerializer)


class StaffReturnsDecideApi(StaffApi):
    """``POST /staff/returns/decide {"ids", "decision", "note"}``: approve or reject the
    pending returns among ``ids`` (each on its own; others are skipped). Approving turns a
    lead ``returned`` once all its sales are, credits the buyer, claws back the source's
    payout (unless it absorbs returns) and tells the source (``lead.returned``)."""

    permission_model = Return
    permission_classes = [DecidePermissions]

    @extend_schema(operation_id="staff_returns_decide", summary="Approve or reject returns",
                   tags=_TAGS, request=DecideInputSerializer,
                   responses={200: DecidedSerializer, **ERRORS_WRITE})
    def post(self, request: Request) -> Response:
        serializer = DecideInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        approve = data["decision"] == "approve"
        done = returns_decide(data["ids"], approve=approve, by=request.user, note=data["note"])
        return Response(DecidedSerializer({"decision": data["decision"], "decided": done.decided,
                                           "skipped": done.skipped}).data)


class _BuyerKeyApi(StaffApi):
    permission_model = BuyerApiKey

    def _buyer(self, buyer_id: int) -> Buyer:
        return or_404(buyer_get(buyer_id))


class BuyerKeysApi(_BuyerKeyApi):
    """``GET /staff/buyers/{id}/keys``: the buyer's keys by visible prefix.
    ``POST``: issue one → 201 with the clear key in ``api_key``, shown this once."""

    @extend_schema(operation_id="staff_buyer_keys_list", summary="List a buyer's API keys",
                   tags=_TAGS, parameters=PAGE_PARAMETERS,
                   responses={200: paginated("BuyerKey", BuyerKeySerializer(many=True)),
                              **ERRORS_LIST})
    def get(self, request: Request, buyer_id: int) -> Response:
        return self.page(buyer_key_list(self._buyer(buyer_id)), BuyerKeySerializer)

    @extend_schema(operation_id="staff_buyer_keys_create", summary="Issue a buyer API key",
                   tags=_TAGS, request=BuyerKeyInputSerializer,
                   responses={201: NewBuyerKeySerializer, **ERRORS_WRITE_ONE})
    def post(self, request: Request, buyer_id: int) -> Response:
        buyer = self._buyer(buyer_id)
        serializer = BuyerKeyInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        row, key = buyer_key_create(buyer=buyer, **serializer.validated_data)
        audit_record(request.user, buyer, f"Issued buyer API key {row} through the API.")
        return Response(NewBuyerKeySerializer({"key": row, "api_key": key}).data,
                        status=status.HTTP_201_CREATED)


class BuyerKeyDetailApi(_BuyerKeyApi):
    """``DELETE /staff/buyers/{id}/keys/{key_id}``: revoke the key (requests with it get
    401 from now on) → 200 with the key, its ``revoked_at`` set. Idempotent."""

    @extend_schema(operation_id="staff_buyer_keys_revoke", summary="Revoke a buyer API key",
                   tags=_TAGS, responses={200: BuyerKeySerializer, **ERRORS_ONE})
    def delete(self, request: Request, buyer_id: int, key_id: int) -> Response:
        api_key = or_404(buyer_key_get(self._buyer(buyer_id), key_id))
        buyer_key_revoke(api_key=api_key)
        audit_record(request.user, api_key.buyer, f"Revoked buyer API key {api_key} through "
                                                  "the API.")
        return Response(BuyerKeySerializer(api_key).data)


class LedgerCsvRenderer(BaseRenderer):
    """``text/csv`` (``?format=csv`` or ``Accept: text/csv``): the ledger's periods as
    ``apps.billing.ledger.ledger_csv`` writes them."""

    media_type = "text/csv"
    format = "csv"
    charset = "utf-8"

    def render(self, data: Any, accepted_media_type=None, renderer_context=None) -> bytes:
        ledger = data.get("_ledger") if isinstance(data, dict) else None
        return ledger_csv(ledger).encode() if ledger is not None else b""


class LedgerApi(StaffApi):
    """``GET /staff/ledger?party=buyer|source&id=&from=&to=&period=day|month``: opening
    balance, the period's movements and closing balance (``billing.view_return``); as CSV
    with ``format=csv`` or ``Accept: text/csv``. Errors are always JSON."""

    permission_model = Return
    renderer_classes = [JSONRenderer, LedgerCsvRenderer]

    @extend_schema(
        operation_id="staff_ledger", summary="A buyer's or a source's ledger", tags=_TAGS,
        parameters=[
            OpenApiParameter("party", str, enum=["buyer", "source"], required=True),
            OpenApiParameter("id", {"type": "integer", "minimum": 1,
                                    "maximum": 2**31 - 1}, required=True,
                             description="The buyer's or the source's id."),
            OpenApiParameter("from", OpenApiTypes.DATE,
                             description="First day (UTC); default the 1st of this month."),
            OpenApiParameter("to", OpenApiTypes.DATE, description="Last day (UTC); default "
                                                                  "today."),
            OpenApiParameter("period", str, enum=["day", "month"]),
            OpenApiParameter("format", str, enum=["json", "csv"],
                             description="csv: the periods as a CSV attachment."),
        ],
        responses={(200, "application/json"): LedgerSerializer,
                   (200, "text/csv"): OpenApiTypes.STR,
                   (400, "application/json"): OpenApiResponse(
                       VALIDATION_ERRORS, "A bad parameter, or no buyer/source with this id."),
                   **{(code, "application/json"): answer
                      for code, answer in ERRORS_READ.items()}})
    def get(self, request: Request) -> Response:
        query = LedgerQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        params = query.validated_data
        model: type[Buyer] | type[Source] = Buyer if params["party"] == BUYER else Source
        party = model.objects.filter(pk=params["id"]).first()
        if party is None:
            raise FieldErrors({"id": [f"No {params['party']} has this id."]})
        ledger = ledger_build(params["party"], party.pk, start=params["from"],
                              end=params["to"], period=params["period"])
        data = LedgerSerializer(ledger_data(ledger, str(party))).data
        if isinstance(request.accepted_renderer, LedgerCsvRenderer):
            name = f"ledger-{ledger.party}-{ledger.party_id}-{ledger.start}-{ledger.end}.csv"
            return Response({"_ledger": ledger}, headers={
                "Content-Disposition": f'attachment; filename="{name}"'})
        return Response(data)

    def perform_content_negotiation(self, request: Request, force: bool = False):
        # DRF answers an unknown ?format= with a 404; the schema's enum makes it a 400
        wanted = request.query_params.get("format")
        if wanted is not None and wanted not in ("json", "csv") and not force:
            raise FieldErrors({"format": ["Use json or csv."] if wanted.strip()
                               else ["Give a value or leave the parameter out."]})
        return super().perform_content_negotiation(request, force)

    def finalize_response(self, request: Request, response: Any, *args, **kwargs) -> Any:
        # An error is JSON whatever was asked for: a CSV of an error would be empty.
        if response.status_code >= 400 and isinstance(
                getattr(request, "accepted_renderer", None), LedgerCsvRenderer):
            request.accepted_renderer = JSONRenderer()
            request.accepted_media_type = "application/json"
        return super().finalize_response(request, response, *args, **kwargs)


