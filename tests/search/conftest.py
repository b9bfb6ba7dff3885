"""Helpers for the continuous-search tests: uploads with chosen hits, the real indexer, a loop."""
from __future__ import annotations

import uuid

import pytest

from crayfis.definition import SearchParams
from crayfis.wire import build
from indexer.worker import Indexer, IndexerConfig, make_indexer_client
from search.loop import LoopConfig, SearchLoop

RES = (1920, 1080)


def chunk(device_id: str, events: list[tuple[int, float, float]], xbn: int = 1) -> tuple[bytes, dict]:
    """A /submit body from one phone holding one DATA exposure block with these (t_ms, lat, lon) events."""
    run = uuid.uuid5(uuid.NAMESPACE_URL, f"run:{device_id}")
    ts = [t for t, _, _ in events]
    evs = [build.event(t, xbn=xbn, timestamp_nano=t * 1_000_000, hits=[(10, 10)],
                       values=lambda x, y: 200, res=RES, lat=lat, lon=lon, accuracy=5.0)
           for t, lat, lon in events]
    block = build.exposure_block(run, xbn=xbn, start_ms=min(ts) - 1, end_ms=max(ts) + 1, events=evs,
                                 lat=events[0][1], lon=events[0][2], res=RES,
                                 processed=[100, 100, 100, len(evs)], passed=[1, 100, len(evs), len(evs)])
    body = build.data_chunk(run_configs=[build.run_config(run, start_ms=min(ts) - 60_000, res=RES)],
                            exposure_blocks=[block])
    headers = {k: v for k, v in build.submit_headers(device_id, run).items() if k != "Content-type"}
    return body, headers


@pytest.fixture(autouse=True)
def _fixed_dates_pass_the_event_window(settings):
    """These tests date their hits at fixed instants (T0, 2026-11-18), which the indexer's event-time
    window leaves behind as the calendar moves on: it is opened as an operator replaying archives
    would open it (docs/ingest.md)."""
    settings.CRAYFIS_INGEST_MAX_EVENT_AGE_S = 20 * 365 * 86_400


def post(client, body: bytes, headers: dict) -> None:
    kwargs = {"HTTP_" + k.upper().replace("-", "_"): v for k, v in headers.items()}
    resp = client.post("/submit", data=body, content_type="application/octet-stream", **kwargs)
    assert resp.status_code == 202, resp.content


def index_pending(es_url: str) -> int:
    return Indexer(make_indexer_client(es_url), IndexerConfig.from_settings()).run(once=True).indexed


@pytest.fixture
def make_loop(es, es_url, es_prefix):
    """SearchLoop factory on the test prefix (no Spark unless a threshold is given)."""

    def make(params: SearchParams, scorer=None, **overrides):
        overrides.setdefault("spark_threshold_hits", None)
        cfg = LoopConfig.from_settings(window_ms=params.window_ms, radius_m=params.radius_m,
                                       min_devices=params.min_devices, prefix=es_prefix,
                                       es_url=es_url, **overrides)
        return SearchLoop(es, cfg, owner="test", scorer=scorer)

    return make
