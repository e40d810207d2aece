from django.urls import path

from apps.sources.api.staff import (
    SourceDetailApi,
    SourceKeyRevokeApi,
    SourceKeyRotateApi,
    SourceKeysApi,
    SourcesApi,
)
from apps.sources.api.views import VerticalSpecApi

urlpatterns = [
    path("verticals/<slug:slug>/spec", VerticalSpecApi.as_view(), name="vertical-spec"),
    # staff (buyer-management API)
    path("sources", SourcesApi.as_view(), name="sources"),
    path("sources/<int:source_id>", SourceDetailApi.as_view(), name="source-detail"),
    path("sources/<int:source_id>/keys", SourceKeysApi.as_view(), name="source-keys"),
    path("sources/<int:source_id>/keys/<int:key_id>/rotate", SourceKeyRotateApi.as_view(),
         name="source-key-rotate"),
    path("sources/<int:source_id>/keys/<int:key_id>/revoke", SourceKeyRevokeApi.as_view(),
         name="source-key-revoke"),
]
