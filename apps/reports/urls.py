"""The dashboards, mounted at ``/dashboard/``."""

from django.urls import path

from apps.reports import views

app_name = "reports"

urlpatterns = [
    path("", views.overview, name="overview"),
    path("buyers/", views.buyers, name="buyers"),
    path("sources/", views.sources, name="sources"),
    path("verticals/", views.verticals, name="verticals"),
    path("returns/", views.returns, name="returns"),
    path("leads/<uuid:lead_uuid>/", views.lead_detail, name="lead-detail"),
    path("live/", views.live, name="live"),
    path("live.json", views.live_json, name="live-json"),
]
