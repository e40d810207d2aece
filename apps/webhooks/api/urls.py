from django.urls import path

from apps.webhooks.api import staff, views

urlpatterns = [
    # sources (their API key): their own deliveries and endpoints
    path("webhooks/deliveries", views.WebhookDeliveriesApi.as_view(),
         name="webhook-deliveries"),
    path("webhooks/deliveries/redeliver", views.WebhookDeliveriesRedeliverApi.as_view(),
         name="webhook-deliveries-redeliver"),
    path("webhooks/deliveries/<str:delivery_id>", views.WebhookDeliveryDetailApi.as_view(),
         name="webhook-delivery-detail"),
    path("webhooks/deliveries/<str:delivery_id>/redeliver",
         views.WebhookDeliveryRedeliverApi.as_view(), name="webhook-delivery-redeliver"),
    path("webhooks/endpoints", views.WebhookEndpointsApi.as_view(), name="webhook-endpoints"),
    path("webhooks/endpoints/<int:endpoint_id>", views.WebhookEndpointDetailApi.as_view(),
         name="webhook-endpoint-detail"),
    path("webhooks/endpoints/<int:endpoint_id>/rotate",
         views.WebhookEndpointRotateApi.as_view(), name="webhook-endpoint-rotate"),
    # staff (buyer-management API)
    path("sources/<int:source_id>/webhooks", staff.SourceWebhooksApi.as_view(),
         name="source-webhooks"),
    path("sources/<int:source_id>/webhooks/<int:endpoint_id>",
         staff.SourceWebhookDetailApi.as_view(), name="source-webhook-detail"),
    path("sources/<int:source_id>/webhooks/<int:endpoint_id>/rotate",
         staff.SourceWebhookRotateApi.as_view(), name="source-webhook-rotate"),
    path("sources/<int:source_id>/deliveries", staff.SourceDeliveriesApi.as_view(),
         name="source-deliveries"),
    path("sources/<int:source_id>/deliveries/redeliver",
         staff.SourceDeliveriesRedeliverApi.as_view(), name="source-deliveries-redeliver"),
    path("sources/<int:source_id>/deliveries/<str:delivery_id>",
         staff.SourceDeliveryDetailApi.as_view(), name="source-delivery-detail"),
    path("sources/<int:source_id>/deliveries/<str:delivery_id>/redeliver",
         staff.SourceDeliveryRedeliverApi.as_view(), name="source-delivery-redeliver"),
]
