from django.urls import path

from apps.sources.api.views import VerticalSpecApi

urlpatterns = [
    path("verticals/<slug:slug>/spec", VerticalSpecApi.as_view(), name="vertical-spec"),
]
