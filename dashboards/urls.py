"""Pages at /, /candidates/, /candidates/<id>/, /device/<pseudonym>/, /leaderboard/ and their
JSON endpoints under /api/dash/ (the public JSON API v1 lives elsewhere, under /api/v1/)."""
from django.urls import path, re_path

from dashboards import api, views

app_name = "dashboards"

ID = r"(?P<candidate_id>[A-Za-z0-9_.:-]{1,200})"
PSEUDONYM = r"(?P<pseudonym>[A-Za-z0-9_.-]{1,128})"

urlpatterns = [
    path("", views.home, name="home"),
    path("candidates/", views.candidate_list, name="candidates"),
    re_path(rf"^candidates/{ID}/$", views.candidate_detail, name="candidate"),
    re_path(rf"^device/{PSEUDONYM}/$", views.device_page, name="device"),
    path("leaderboard/", views.leaderboard_page, name="leaderboard"),
    path("api/dash/overview", api.overview, name="api-overview"),
    path("api/dash/rates", api.rates, name="api-rates"),
    path("api/dash/map", api.activity_map, name="api-map"),
    path("api/dash/candidates", api.candidates, name="api-candidates"),
    re_path(rf"^api/dash/candidates/{ID}$", api.candidate, name="api-candidate"),
    re_path(rf"^api/dash/device/{PSEUDONYM}$", api.device, name="api-device"),
    path("api/dash/leaderboard", api.leaderboard, name="api-leaderboard"),
    path("api/dash/status", api.status, name="api-status"),
]
