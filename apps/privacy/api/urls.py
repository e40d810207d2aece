from django.urls import path

from apps.privacy.api import staff

urlpatterns = [
    path("staff/erasures", staff.ErasuresApi.as_view(), name="staff-erasures"),
    path("staff/erasures/<int:erasure_id>", staff.ErasureDetailApi.as_view(),
         name="staff-erasure-detail"),
    path("staff/suppressions", staff.SuppressionsApi.as_view(), name="staff-suppressions"),
]
