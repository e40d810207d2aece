from django.urls import path

from apps.billing.api import staff, views

urlpatterns = [
    # buyers (their API key)
    path("returns", views.ReturnsApi.as_view(), name="returns"),
    path("returns/<int:return_id>", views.ReturnDetailApi.as_view(), name="return-detail"),
    # staff
    path("staff/returns", staff.StaffReturnsApi.as_view(), name="staff-returns"),
    path("staff/returns/decide", staff.StaffReturnsDecideApi.as_view(),
         name="staff-returns-decide"),
    path("staff/buyers/<int:buyer_id>/keys", staff.BuyerKeysApi.as_view(),
         name="staff-buyer-keys"),
    path("staff/buyers/<int:buyer_id>/keys/<int:key_id>", staff.BuyerKeyDetailApi.as_view(),
         name="staff-buyer-key-detail"),
    path("staff/ledger", staff.LedgerApi.as_view(), name="staff-ledger"),
]
