from django.urls import path

from apps.reports.api.views import KpisApi

urlpatterns = [path("reports/kpis", KpisApi.as_view(), name="reports-kpis")]
