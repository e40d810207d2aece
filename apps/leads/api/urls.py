from django.urls import path

from apps.leads.api.views import LeadDetailApi, LeadsApi

urlpatterns = [
    path("leads", LeadsApi.as_view(), name="leads"),
    path("leads/<uuid:lead_id>", LeadDetailApi.as_view(), name="lead-detail"),
]
