"""manage.py simulate: Parquet and /submit outputs, determinism, one-line errors."""
from __future__ import annotations

import io
import json

import pytest
from django.core.management import CommandError, call_command

from crayfis.sim.config import FleetConfig, ShowerConfig, SimConfig
from crayfis.sim.network import simulate_network
from crayfis.sim.parquet import read_hits
from ingest.models import Upload


def run(*args) -> dict:
    out = io.StringIO()
    call_command("simulate", *args, "-v", "0", stdout=out, stderr=io.StringIO())
    return json.loads(out.getvalue().strip().splitlines()[-1])


def test_parquet_run_is_the_library_simulation_for_that_seed(tmp_path):
    summary = run("--phones", "40", "--hours", "0.2", "--showers", "2", "--seed", "5",
                  "--parquet", str(tmp_path))
    hits = read_hits(tmp_path)
    cfg = SimConfig(hours=0.2, fleet=FleetConfig(n_phones=40),
                    showers=ShowerConfig(forced=2))
    assert hits.equals(simulate_network(cfg, 5).hits)
    assert summary["hits"] == hits.num_rows > 0 and summary["showers"] >= 2
    assert summary["seed"] == 5


@pytest.mark.parametrize("args,message", [
    (["--phones", "0", "--parquet", "x"], "--phones"),
    (["--hours", "-1", "--parquet", "x"], "--hours"),
    (["--showers", "-3", "--parquet", "x"], "--showers"),
    (["--phones", "5"], "--post URL or --parquet DIR"),
    (["--realtime", "--parquet", "x"], "--realtime needs --post"),
    (["--post", "ftp://example.org/submit"], "http"),
    (["--center", "north", "--parquet", "x"], "--center"),
    (["--cluster-fraction", "2", "--parquet", "x"], "cluster_fraction"),
])
def test_bad_arguments_are_one_line_errors(args, message):
    with pytest.raises(CommandError, match=message):
        call_command("simulate", *args, "-v", "0", stdout=io.StringIO(), stderr=io.StringIO())


@pytest.fixture
def submit_url(live_server, settings):
    """The real /submit of a live server. The in-memory test database is shared with the
    server thread only, so rows are committed in the request thread (no group-commit thread)."""
    settings.CRAYFIS_INGEST_GROUP_COMMIT = False
    return live_server.url + "/submit"


@pytest.mark.django_db(transaction=True)
def test_post_reaches_submit_and_a_replay_is_deduplicated(submit_url):
    args = ("--phones", "8", "--hours", "0.25", "--seed", "2", "--workers", "2",
            "--post", submit_url)
    first = run(*args)
    assert first["posted"] > 0 and first["failed"] == 0 and first["statuses"] == {
        "202": first["requests"]}
    assert Upload.objects.count() == first["posted"]
    again = run(*args)
    assert again["posted"] == first["posted"]
    assert Upload.objects.count() == first["posted"]  # same bytes, same device: no new rows


@pytest.mark.django_db(transaction=True)
def test_realtime_posts_live_data_until_the_duration(submit_url):
    summary = run("--phones", "20", "--realtime", "--duration", "3", "--max-chunk-age", "1",
                  "--xb-period", "1", "--seed", "1", "--post", submit_url)
    assert summary["posted"] > 0 and summary["failed"] == 0
    assert Upload.objects.count() == summary["posted"]


@pytest.mark.parametrize("now_iso,hours,start_iso", [
    ("2026-12-06T23:30:00+00:00", 1.0, "2026-12-06T22:00:00+00:00"),
    ("2026-12-06T22:30:00+00:00", 1.0, "2026-12-05T22:00:00+00:00"),
    ("2026-12-06T08:00:00+00:00", 2.0, "2026-12-05T22:00:00+00:00"),
    ("2026-12-06T08:00:00+00:00", 30.0, "2026-12-04T22:00:00+00:00"),
])
def test_posted_history_defaults_to_the_last_night_that_has_ended(now_iso, hours, start_iso):
    """A batch --post lands inside the server's event-time window (a fixed date would drift out of it)."""
    from datetime import datetime

    from ingest.management.commands.simulate import recent_night_ms

    now = datetime.fromisoformat(now_iso).timestamp()
    assert recent_night_ms(hours, now_s=now) == int(datetime.fromisoformat(start_iso).timestamp() * 1000)


def test_synthetic_chunks_are_dated_yesterday_by_default():
    import time

    from crayfis.wire.decode import decode_submit
    from ingest.synthetic import make_chunk, yesterday_ms

    chunk = make_chunk(3, n_events=5)
    assert yesterday_ms() <= chunk.first_ms < yesterday_ms() + 2 * 3_600_000 < time.time() * 1000
    assert make_chunk(3, n_events=5).body == chunk.body   # deterministic for a seed (and a day)
    assert decode_submit(chunk.body, chunk.headers).exposures[0].start_ms >= yesterday_ms()
