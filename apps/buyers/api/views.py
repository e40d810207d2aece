"""Buyer-management API for staff: buyers, and contracts with all their rules.

Every endpoint takes a staff token (``Authorization: Bearer lxs_…``) or a staff session and
the Django model permission of the request (apps.core.staff_api). Views only route: the
input serializer validates, a service writes, a selector reads, the output serializer
shapes the answer; every change is written to the admin's history (who, when, what).
"""

from __future__ import annotations

from collections.abc import Mapping

from django.db import transaction
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.request import Request
from rest_framework.response import Response

from apps.buyers.api.serializers import (
    BuyerInputSerializer,
    BuyerOutputSerializer,
    ContractInputSerializer,
    ContractOutputSerializer,
    ContractPatchSerializer,
    endpoints_merge_patch,
)
from apps.buyers.models import Buyer, BuyerStatus, Contract, ContractStatus
from apps.buyers.selectors import buyer_get, buyer_list, contract_get, contract_list
from apps.buyers.services import (
    buyer_create,
    buyer_delete,
    buyer_update,
    contract_create,
    contract_delete,
    contract_update,
)
from apps.core.audit import audit_record
from apps.core.staff_api import (
    ERRORS_LIST,
    ERRORS_ONE,
    ERRORS_WRITE,
    ERRORS_WRITE_ONE,
    PAGE_PARAMETERS,
    ErrorDetailSerializer,
    StaffApi,
    or_404,
    paginated,
)

_CONFLICT = {409: OpenApiResponse(ErrorDetailSerializer, "It has sales on record: pause it "
                                                         "instead.")}


def _changed(data: dict) -> str:
    return ", ".join(sorted(data)) or "nothing"


class BuyersApi(StaffApi):
    """``GET /buyers``: one page of buyers (``buyers.view_buyer``), filtered by ``status`` and
    ``company`` (contains). ``POST /buyers``: create one (``buyers.add_buyer``) → 201."""

    permission_model = Buyer

    @extend_schema(
        operation_id="buyers_list", summary="List buyers", tags=["Staff"],
        parameters=[OpenApiParameter("status", str, enum=BuyerStatus.values),
                    OpenApiParameter("company", str, description="Company name contains."),
                    *PAGE_PARAMETERS],
        responses={200: paginated("Buyer", BuyerOutputSerializer(many=True)),
                   **ERRORS_LIST})
    def get(self, request: Request) -> Response:
        return self.page(buyer_list(filters=request.query_params), BuyerOutputSerializer)

    @extend_schema(operation_id="buyers_create", summary="Create a buyer",
                   tags=["Staff"], request=BuyerInputSerializer,
                   responses={201: BuyerOutputSerializer, **ERRORS_WRITE})
    def post(self, request: Request) -> Response:
        serializer = BuyerInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        buyer = buyer_create(**serializer.validated_data)
        audit_record(request.user, buyer, "Added through the API.", action="add")
        return Response(BuyerOutputSerializer(buyer).data, status=status.HTTP_201_CREATED)


class BuyerDetailApi(StaffApi):
    """``GET /buyers/{id}`` (view), ``PUT`` (change; every required attribute given),
    ``PATCH`` (change; only the given attributes), ``DELETE`` (delete → 204; 409 when the
    buyer has sales on record)."""

    permission_model = Buyer

    @extend_schema(operation_id="buyers_read", summary="Read a buyer", tags=["Staff"],
                   responses={200: BuyerOutputSerializer, **ERRORS_ONE})
    def get(self, request: Request, buyer_id: int) -> Response:
        return Response(BuyerOutputSerializer(or_404(buyer_get(buyer_id))).data)

    @extend_schema(operation_id="buyers_update", summary="Replace a buyer's attributes",
                   tags=["Staff"], request=BuyerInputSerializer,
                   responses={200: BuyerOutputSerializer, **ERRORS_WRITE_ONE})
    def put(self, request: Request, buyer_id: int) -> Response:
        return self._update(request, buyer_id, partial=False)

    @extend_schema(operation_id="buyers_partial_update", summary="Change some attributes",
                   tags=["Staff"], request=BuyerInputSerializer(partial=True),
                   responses={200: BuyerOutputSerializer, **ERRORS_WRITE_ONE})
    def patch(self, request: Request, buyer_id: int) -> Response:
        return self._update(request, buyer_id, partial=True)

    def _update(self, request: Request, buyer_id: int, *, partial: bool) -> Response:
        buyer = or_404(buyer_get(buyer_id))
        serializer = BuyerInputSerializer(buyer, data=request.data, partial=partial)
        serializer.is_valid(raise_exception=True)
        buyer = buyer_update(buyer, **serializer.validated_data)
        audit_record(request.user, buyer,
                     f"Changed {_changed(serializer.validated_data)} through the API.")
        return Response(BuyerOutputSerializer(buyer).data)

    @extend_schema(operation_id="buyers_delete", summary="Delete a buyer and its contracts",
                   tags=["Staff"], responses={204: None, **ERRORS_ONE, **_CONFLICT})
    def delete(self, request: Request, buyer_id: int) -> Response:
        buyer = or_404(buyer_get(buyer_id))
        with transaction.atomic():  # no history entry when the delete is refused
            audit_record(request.user, buyer, "Deleted through the API.", action="delete")
            buyer_delete(buyer)
        return Response(status=status.HTTP_204_NO_CONTENT)


class ContractsApi(StaffApi):
    """``GET /contracts``: one page of contracts with their rules (``buyers.view_contract``),
    filtered by ``buyer`` (id), ``vertical`` (slug) and ``status``. ``POST /contracts``:
    create a contract and all its rules in one transaction (``buyers.add_contract``) → 201;
    400 names every problem by its dotted path in the payload, nothing written."""

    permission_model = Contract

    @extend_schema(
        operation_id="contracts_list", summary="List contracts", tags=["Staff"],
        parameters=[OpenApiParameter("buyer", int, description="Buyer id."),
                    OpenApiParameter("vertical", str, description="Vertical slug."),
                    OpenApiParameter("status", str, enum=ContractStatus.values),
                    *PAGE_PARAMETERS],
        responses={200: paginated("Contract", ContractOutputSerializer(many=True)),
                   **ERRORS_LIST})
    def get(self, request: Request) -> Response:
        return self.page(contract_list(filters=request.query_params), ContractOutputSerializer)

    @extend_schema(operation_id="contracts_create", summary="Create a contract with its rules",
                   tags=["Staff"], request=ContractInputSerializer,
                   responses={201: ContractOutputSerializer, **ERRORS_WRITE})
    def post(self, request: Request) -> Response:
        serializer = ContractInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        contract = contract_create(**serializer.validated_data)
        audit_record(request.user, contract, "Added through the API.", action="add")
        return Response(ContractOutputSerializer(contract_get(contract.pk)).data,
                        status=status.HTTP_201_CREATED)


class ContractDetailApi(StaffApi):
    """``GET /contracts/{id}`` with every rule (view). ``PUT`` (change): the whole contract;
    the rule sets it omits are written empty. ``PATCH`` (change): a key left out is left as
    it is, a rule set that is present (``filters``, ``caps``, ``schedule``,
    ``allowed_sources``, ``blocked_sources``) replaces the stored one, and ``endpoints`` is
    merged into the stored ones (JSON Merge Patch: ``{"endpoints": {"ping": {"timeout_ms":
    1500}}}`` changes that one setting). Both validate the
    contract as it would be saved and write it in one transaction; the contract's
    ``updated_at`` moves, so every process rebuilds its auction set-up. ``DELETE`` → 204
    (409 when it has sales on record)."""

    permission_model = Contract

    @extend_schema(operation_id="contracts_read", summary="Read a contract with its rules",
                   tags=["Staff"],
                   responses={200: ContractOutputSerializer, **ERRORS_ONE})
    def get(self, request: Request, contract_id: int) -> Response:
        return Response(ContractOutputSerializer(or_404(contract_get(contract_id))).data)

    @extend_schema(operation_id="contracts_update", summary="Replace a contract and its rules",
                   tags=["Staff"], request=ContractInputSerializer,
                   responses={200: ContractOutputSerializer, **ERRORS_WRITE_ONE})
    def put(self, request: Request, contract_id: int) -> Response:
        return self._update(request, contract_id, ContractInputSerializer)

    @extend_schema(operation_id="contracts_partial_update",
                   summary="Change some attributes or rule sets of a contract",
                   description="Keys left out are left as they are. `filters`, `caps`, "
                   "`schedule`, `allowed_sources` and `blocked_sources` replace the stored "
                   "set; `endpoints` is merged into the stored endpoints as a JSON Merge "
                   "Patch (RFC 7396): `{\"endpoints\": {\"ping\": {\"timeout_ms\": 1500}}}` "
                   "changes one setting, `null` removes an endpoint or a header, a list "
                   "(`mappings`) replaces the stored one.",
                   tags=["Staff"], request=ContractPatchSerializer,
                   responses={200: ContractOutputSerializer, **ERRORS_WRITE_ONE})
    def patch(self, request: Request, contract_id: int) -> Response:
        return self._update(request, contract_id, ContractPatchSerializer)

    def _update(self, request: Request, contract_id: int, input_class) -> Response:
        contract = or_404(contract_get(contract_id))
        data = request.data
        if input_class is ContractPatchSerializer and isinstance(data, Mapping) \
                and "endpoints" in data:
            data = {**data, "endpoints": endpoints_merge_patch(contract, data["endpoints"])}
        serializer = input_class(contract, data=data)
        serializer.is_valid(raise_exception=True)
        contract_update(contract, **serializer.validated_data)
        audit_record(request.user, contract,
                     f"Changed {_changed(serializer.validated_data)} through the API.")
        return Response(ContractOutputSerializer(contract_get(contract_id)).data)

    @extend_schema(operation_id="contracts_delete", summary="Delete a contract",
                   tags=["Staff"],
                   responses={204: None, **ERRORS_ONE, **_CONFLICT})
    def delete(self, request: Request, contract_id: int) -> Response:
        contract = or_404(contract_get(contract_id))
        with transaction.atomic():  # no history entry when the delete is refused
            audit_record(request.user, contract, "Deleted through the API.", action="delete")
            contract_delete(contract)
        return Response(status=status.HTTP_204_NO_CONTENT)

