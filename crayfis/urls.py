"""URL map: phone ingest at the paths the app has compiled in, health, admin, dashboards."""
from django.contrib import admin
from django.urls import path

from crayfis.health import healthz

urlpatterns = [
    path("healthz", healthz, name="healthz"),
    path("admin/", admin.site.urls),
]
