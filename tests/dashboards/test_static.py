"""Every script, style and map outline is served by the project itself."""
from __future__ import annotations

import json
import re
from pathlib import Path

import plotly
from django.contrib.staticfiles import finders
from django.core.management import call_command

APP = Path(__file__).resolve().parents[2] / "dashboards"


def test_plotly_is_served_from_the_installed_package():
    found = finders.find("dashboards/vendor/plotly.min.js")
    assert found and Path(found).is_relative_to(Path(plotly.__file__).parent)
    assert Path(found).stat().st_size > 1_000_000


def test_world_outline_is_vendored_topojson_with_the_layers_plotly_draws():
    for scale in ("110m", "50m"):    # the world view, and a view of the phones' region
        found = finders.find(f"dashboards/vendor/topojson/world_{scale}.json")
        topo = json.loads(Path(found).read_text())
        assert topo["type"] == "Topology"
        assert {"land", "countries", "coastlines", "ocean"} <= set(topo["objects"])


def test_templates_and_scripts_name_no_other_host():
    texts = [p.read_text() for p in APP.glob("templates/**/*.html")]
    texts += [p.read_text() for p in APP.glob("static/dashboards/*.js")]
    texts += [p.read_text() for p in APP.glob("static/dashboards/*.css")]
    assert texts
    for text in texts:
        assert not re.search(r"(https?:)?//[a-z0-9.-]+\.[a-z]{2,}", text, re.I)


def test_collectstatic_gathers_the_vendored_files(tmp_path, settings):
    settings.STATIC_ROOT = tmp_path
    call_command("collectstatic", interactive=False, verbosity=0)
    assert (tmp_path / "dashboards/vendor/plotly.min.js").stat().st_size > 1_000_000
    assert (tmp_path / "dashboards/vendor/topojson/world_110m.json").exists()
    assert (tmp_path / "dashboards/dash.js").exists()
