from django.urls import path

from apps.buyers.api.drafting import ContractDraftApi, ContractTemplatesApi
from apps.buyers.api.views import BuyerDetailApi, BuyersApi, ContractDetailApi, ContractsApi

urlpatterns = [
    path("buyers", BuyersApi.as_view(), name="buyers"),
    path("buyers/<int:buyer_id>", BuyerDetailApi.as_view(), name="buyer-detail"),
    path("contracts", ContractsApi.as_view(), name="contracts"),
    path("contracts/<int:contract_id>", ContractDetailApi.as_view(), name="contract-detail"),
    path("contracts/draft", ContractDraftApi.as_view(), name="contract-draft"),
    path("contracts/templates", ContractTemplatesApi.as_view(), name="contract-templates"),
]
