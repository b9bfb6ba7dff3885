"""/api/v1/... endpoints, the OpenAPI schema and the offline Swagger UI (its start-up script
served as a file of its own: the Content-Security-Policy allows no inline script)."""
from django.urls import path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from api.reads import CandidatesView, HitsView, NetworkStatsView
from api.uploads import UploadView

urlpatterns = [
    path("api/v1/uploads", UploadView.as_view(), name="api-uploads"),
    path("api/v1/hits", HitsView.as_view(), name="api-hits"),
    path("api/v1/candidates", CandidatesView.as_view(), name="api-candidates"),
    path("api/v1/network/stats", NetworkStatsView.as_view(), name="api-network-stats"),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("api/docs/", SpectacularSwaggerSplitView.as_view(url_name="api-schema"), name="api-docs"),
]
