"""Staff API for routing rules (CRUD) and their firings (read-only). Same authentication,
permissions, error and page shapes as every staff endpoint (apps.core.staff_api)."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.request import Request
from rest_framework.response import Response

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
from apps.routing.api.serializers import (
    FiringOutputSerializer,
    RuleInputSerializer,
    RuleOutputSerializer,
    RulePatchSerializer,
)
from apps.routing.models import RoutingRule, RuleFiring
from apps.routing.selectors import firing_list, rule_get, rule_list
from apps.routing.services import rule_create, rule_delete, rule_update

_BUILT_IN = {409: OpenApiResponse(ErrorDetailSerializer, "The built-in breaker rule: "
                                                         "read-only.")}


class RulesApi(StaffApi):
    """``GET /routing-rules``: one page of rules. ``POST``: create one → 201."""

    permission_model = RoutingRule

    @extend_schema(operation_id="routing_rules_list", summary="List routing rules",
                   tags=["Staff"], parameters=PAGE_PARAMETERS,
                   responses={200: paginated("RoutingRule", RuleOutputSerializer(many=True)),
                              **ERRORS_LIST})
    def get(self, request: Request) -> Response:
        return self.page(rule_list(), RuleOutputSerializer)

    @extend_schema(operation_id="routing_rules_create", summary="Create a routing rule",
                   tags=["Staff"], request=RuleInputSerializer,
                   responses={201: RuleOutputSerializer, **ERRORS_WRITE})
    def post(self, request: Request) -> Response:
        serializer = RuleInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        rule = rule_create(**serializer.validated_data)
        audit_record(request.user, rule, "Created through the API.", action="add")
        return Response(RuleOutputSerializer(rule).data, status=status.HTTP_201_CREATED)


class RuleDetailApi(StaffApi):
    """``GET/PATCH/DELETE /routing-rules/{id}``."""

    permission_model = RoutingRule

    @extend_schema(operation_id="routing_rules_read", summary="Read a routing rule",
                   tags=["Staff"], responses={200: RuleOutputSerializer, **ERRORS_ONE})
    def get(self, request: Request, rule_id: int) -> Response:
        return Response(RuleOutputSerializer(or_404(rule_get(rule_id))).data)

    @extend_schema(operation_id="routing_rules_update", summary="Change a routing rule",
                   tags=["Staff"], request=RulePatchSerializer,
                   responses={200: RuleOutputSerializer, **ERRORS_WRITE_ONE, **_BUILT_IN})
    def patch(self, request: Request, rule_id: int) -> Response:
        rule = or_404(rule_get(rule_id))
        serializer = RulePatchSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        rule = rule_update(rule, **serializer.validated_data)
        audit_record(request.user, rule,
                     f"Changed through the API: {', '.join(sorted(serializer.validated_data))}.")
        return Response(RuleOutputSerializer(rule).data)

    @extend_schema(operation_id="routing_rules_delete", summary="Delete a routing rule",
                   tags=["Staff"], responses={204: None, **ERRORS_ONE, **_BUILT_IN})
    def delete(self, request: Request, rule_id: int) -> Response:
        rule = or_404(rule_get(rule_id))
        audit_record(request.user, rule, "Deleted through the API.", action="delete")
        rule_delete(rule)
        return Response(status=status.HTTP_204_NO_CONTENT)


class FiringsApi(StaffApi):
    """``GET /rule-firings``: one page of firings, newest first."""

    permission_model = RuleFiring

    @extend_schema(
        operation_id="rule_firings_list", summary="List routing rule firings", tags=["Staff"],
        parameters=[OpenApiParameter("rule", int), OpenApiParameter("contract", int),
                    OpenApiParameter("source", int),
                    OpenApiParameter("open", bool, description="Only open (true) or closed "
                                                               "(false) firings."),
                    *PAGE_PARAMETERS],
        responses={200: paginated("RuleFiring", FiringOutputSerializer(many=True)),
                   **ERRORS_LIST})
    def get(self, request: Request) -> Response:
        return self.page(firing_list(filters=request.query_params), FiringOutputSerializer)
