from django.urls import path

from apps.auctions.api.pings import PingPostApi, PingsApi
from apps.auctions.api.record import LeadAuctionRecordApi
from apps.auctions.api.views import (
    ContractGoLiveApi,
    ContractHealthApi,
    ContractPauseApi,
    ContractPreviewApi,
    ContractResumeApi,
    ContractTestPingApi,
    ContractTestRoundTripApi,
)

urlpatterns = [
    path("pings", PingsApi.as_view(), name="pings"),
    path("pings/<uuid:ping_id>/post", PingPostApi.as_view(), name="ping-post"),
    path("contracts/<int:contract_id>/test-ping", ContractTestPingApi.as_view(),
         name="contract-test-ping"),
    path("contracts/<int:contract_id>/test-round-trip", ContractTestRoundTripApi.as_view(),
         name="contract-test-round-trip"),
    path("contracts/<int:contract_id>/preview", ContractPreviewApi.as_view(),
         name="contract-preview"),
    path("contracts/<int:contract_id>/pause", ContractPauseApi.as_view(), name="contract-pause"),
    path("contracts/<int:contract_id>/resume", ContractResumeApi.as_view(),
         name="contract-resume"),
    path("contracts/<int:contract_id>/go-live", ContractGoLiveApi.as_view(),
         name="contract-go-live"),
    path("contracts/<int:contract_id>/health", ContractHealthApi.as_view(),
         name="contract-health"),
    path("staff/leads/<uuid:lead_id>/auction", LeadAuctionRecordApi.as_view(),
         name="staff-lead-auction"),
]
