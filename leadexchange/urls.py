from django.contrib import admin
from django.urls import include, path, re_path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from apps.billing.urls import postback_patterns
from apps.core.exceptions import api_not_found
from apps.reports.views import home
from apps.sources.api.views import vertical_spec_page

api_patterns = [
    path("", include("apps.leads.api.urls")),
    path("", include("apps.sources.api.urls")),
    path("", include("apps.buyers.api.urls")),
    path("", include("apps.webhooks.api.urls")),
    path("", include("apps.auctions.api.urls")),
    path("", include("apps.billing.api.urls")),
    path("", include("apps.routing.api.urls")),
    path("", include("apps.privacy.api.urls")),
    path("", include("apps.reports.api.urls")),
]

urlpatterns = [
    path("", home, name="home"),  # the dashboards for staff who read them, else the API docs
    path("dashboard/", include("apps.reports.urls")),
    path("admin/", admin.site.urls),
    path("billing/", include("apps.billing.urls")),
    path("postback/", include(postback_patterns)),
    path("api/v1/", include((api_patterns, "api"))),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="api-docs"),
    path("verticals/<slug:slug>/spec", vertical_spec_page, name="vertical-spec-page"),
    # Last under /api/: whatever no view above serves is a JSON 404, not Django's HTML page.
    re_path(r"^api/", api_not_found),
]

# Django's own error pages answer JSON under /api/ (apps.core.exceptions).
handler400 = "apps.core.exceptions.bad_request"
handler403 = "apps.core.exceptions.permission_denied"
handler500 = "apps.core.exceptions.server_error"
