"""Production's routes plus POST /bench/baseline-submit."""
from django.urls import path

from bench.drf_baseline.views import bench_baseline_submit
from config.urls import urlpatterns as production_urlpatterns

urlpatterns = [
    path("bench/baseline-submit", bench_baseline_submit, name="bench-baseline-submit"),
    *production_urlpatterns,
]
