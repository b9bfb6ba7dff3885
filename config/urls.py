"""URL map: phone ingest at the paths the app has compiled in, health, admin, API, accounts, dashboards."""
from django.contrib import admin
from django.urls import include, path

from ingest import views as ingest_views
from ops.health import healthz

urlpatterns = [
    path("healthz", healthz, name="healthz"),
    path("admin/", admin.site.urls),
    # Ingest: the exact paths the app has compiled in (no trailing slash, no redirect).
    path("submit", ingest_views.submit, name="submit"),
    path("precal.json", ingest_views.precal, name="precal"),
    # JSON API v1, its OpenAPI schema and docs; volunteer accounts (api/, accounts/ apps).
    path("", include("api.urls")),
    path("accounts/", include("accounts.urls")),
    # Dashboards: public pages and their JSON endpoints under /api/dash/.
    path("", include("dashboards.urls")),
]
