from django.urls import path

from apps.leads.api.staff import VerticalDetailApi, VerticalPrivacyApi, VerticalsApi
from apps.leads.api.views import LeadDetailApi, LeadsApi

urlpatterns = [
    path("leads", LeadsApi.as_view(), name="leads"),
    path("leads/<uuid:lead_id>", LeadDetailApi.as_view(), name="lead-detail"),
    # staff (buyer-management API)
    path("verticals", VerticalsApi.as_view(), name="verticals"),
    path("verticals/<slug:slug>", VerticalDetailApi.as_view(), name="vertical-detail"),
    path("verticals/<slug:slug>/privacy", VerticalPrivacyApi.as_view(),
         name="vertical-privacy"),
]
