from django.urls import path

from apps.billing import views

urlpatterns = [
    path("ledger/", views.ledger_page, name="billing-ledger"),
]

postback_patterns = [
    path("b/<str:token>", views.conversion_postback, name="buyer-postback"),
]
