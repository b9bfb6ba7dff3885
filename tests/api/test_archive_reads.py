"""Hit streams answered from the Parquet archive equal the same streams answered from
Elasticsearch: the same bytes (ndjson), the same rows (parquet), with the device and box filters
(points on the box's edges), for the public view too, across a range whose days are partly
archived, with a day whose late hits are staged (answered from Elasticsearch, complete) and the
stream's cap.

The production path throughout: /submit uploads in the raw store, the indexer (Elasticsearch and
the staged archive), compaction (sealed days); CRAYFIS_API_ARCHIVE_READS off gives the answer of
Elasticsearch alone.
"""
from __future__ import annotations

import io
import json
import time

import pyarrow.parquet as pq
import pytest

from api import hit_stream
from crayfis.archive.reader import read_hits
from crayfis.archive.store import day_name, day_start_ms
from crayfis.definition import DAY_MS
from crayfis.es.geobox import LAT_STEP, LON_STEP
from indexer.archive import ArchiveCompactor, archive_from_settings
from indexer.worker import Indexer, IndexerConfig, make_indexer_client
from ingest.synthetic import make_chunk
from tests.api.conftest import auth
from tests.indexer.conftest import archive_dir  # noqa: F401  (fixture)
from tests.ingest.conftest import _fresh_policy_cache, post_submit  # noqa: F401  (fixture)

pytestmark = pytest.mark.django_db(transaction=True)

W, S, E, N = 6.1, 46.1, 6.2, 46.3          # the exact box of the bbox checks
# Phones on the box's corners and edges, a third of an encoding step beyond an edge (inside for
# geo_bounding_box, outside plain ranges), a whole step beyond (outside), inside, and far away.
PLACES = [(S, W), (N, E), (46.2, W), (S - LAT_STEP / 3, 6.15), (S - LAT_STEP, 6.15), (46.2, E + LON_STEP),
          (46.2, 6.15), (40.71, -74.0)]


def _today() -> int:
    return time.time_ns() // 1_000_000 // DAY_MS


class Network:
    """Three days of hits: D1 and D2 sealed, D3 still open (compaction ran at its start)."""

    def __init__(self, client, es, es_url, prefix):
        self.client, self.es, self.es_url, self.prefix = client, es, es_url, prefix
        today = _today()
        self.days = [day_name(today - k) for k in (3, 2, 1)]
        self.devices: dict[int, str] = {}
        for i, (lat, lon) in enumerate(PLACES):
            for d, day in enumerate(self.days):
                self.post(100 * i + d, day_start_ms(day) + 3_600_000 * i, lat, lon)
        self.index()
        self.compact(day_start_ms(self.days[2]))

    def post(self, seed: int, start_ms: int, lat: float, lon: float) -> None:
        c = make_chunk(seed, device_id=f"arch-{seed // 100:02d}", n_events=40, events_per_xb=20,
                       start_ms=start_ms, lat=lat, lon=lon)
        assert post_submit(self.client, c.body, c.headers).status_code == 202

    def index(self) -> None:
        assert Indexer(make_indexer_client(self.es_url), IndexerConfig.from_settings()).run(once=True).indexed
        self.es.indices.refresh(index=f"{self.prefix}-hits-*")

    def compact(self, now_ms: int) -> None:
        assert ArchiveCompactor(archive_from_settings(), "test").run_once(now_ms=now_ms) is not None

    @property
    def range(self) -> tuple[int, int]:
        return day_start_ms(self.days[0]), day_start_ms(self.days[2]) + DAY_MS


@pytest.fixture
def network(client, es, es_url, es_prefix, archive_dir, settings):  # noqa: F811
    settings.CRAYFIS_API_STREAM_BATCH = 50    # many batches, cut across the days
    return Network(client, es, es_url, es_prefix)


def _stream(client, settings, key, query: str, *, archive: bool):
    settings.CRAYFIS_API_ARCHIVE_READS = archive
    r = client.get(f"/api/v1/hits?{query}", **auth(key))
    assert r.status_code == 200, r.content[:300]
    return r, b"".join(r.streaming_content)


def _both(client, settings, key, query: str) -> tuple[bytes, bytes]:
    """(the stream with the archive answering where it can, the stream from Elasticsearch alone)"""
    on, body_on = _stream(client, settings, key, query, archive=True)
    off, body_off = _stream(client, settings, key, query, archive=False)
    assert on["X-Crayfis-Max-Rows"] == off["X-Crayfis-Max-Rows"]
    assert on["Content-Type"] == off["Content-Type"]
    return body_on, body_off


def _rows(body: bytes) -> list[dict]:
    return [json.loads(line) for line in body.splitlines()]


def _queries(net: Network, pseudonyms: list[str], lo: int, hi: int) -> list[str]:
    base = f"from_ms={lo}&to_ms={hi}"
    return [base, f"{base}&device={','.join(pseudonyms[:3])}", f"{base}&bbox={W},{S},{E},{N}",
            f"{base}&bbox={E},{S},{W},{N}",   # crosses the antimeridian: everything but the box's inside
            f"{base}&bbox={W},{S},{E},{N}&device={pseudonyms[0]},{pseudonyms[3]}"]


def _segments(lo: int, hi: int) -> list[tuple[bool, int, int]]:
    return [(s.archive, s.from_ms, s.to_ms) for s in hit_stream.plan(archive_from_settings(), lo, hi)]


def _check_all(net: Network, client, settings, key) -> int:
    """Every query, exact and public, ndjson and parquet, over the whole range and a part cut
    inside days: the archive's answer is Elasticsearch's. Returns the rows of the whole range."""
    lo, hi = net.range
    whole = _rows(_both(client, settings, key, f"from_ms={lo}&to_ms={hi}&format=ndjson")[1])
    pseudonyms = sorted({r["device"] for r in whole})
    edges = {(r["lat"], r["lon"]) for r in whole}
    assert {(S, W), (N, E), (S - LAT_STEP / 3, 6.15), (S - LAT_STEP, 6.15)} <= edges   # the edge points are there
    cut = (lo + DAY_MS // 2 + 1234, hi - DAY_MS // 3)
    for a, b in ((lo, hi), cut):
        for query in _queries(net, pseudonyms, a, b):
            on, off = _both(client, settings, key, f"{query}&format=ndjson")
            assert on == off and on, query
            on, off = _both(client, settings, key, f"{query}&format=parquet")
            assert pq.read_table(io.BytesIO(on)).equals(pq.read_table(io.BytesIO(off))), query
    public = f"from_ms={lo + 1}&to_ms={hi - 1}"
    for query in (public, f"{public}&bbox=6.15,46.15,6.15,46.25", f"{public}&bbox=6.05,46.05,6.25,46.35"):
        on, off = _both(client, settings, None, f"{query}&format=ndjson")
        assert on == off and on, query
        on, off = _both(client, settings, None, f"{query}&format=parquet")
        assert pq.read_table(io.BytesIO(on)).equals(pq.read_table(io.BytesIO(off))), query
    return len(whole)


def test_archived_days_stream_as_elasticsearch_streams_them(network, client, scientist, settings):
    """D1 and D2 from the archive, D3 (open) from Elasticsearch: the same bytes and rows."""
    net, key = network, scientist[1]
    lo, hi = net.range
    d2, d3 = day_start_ms(net.days[1]), day_start_ms(net.days[2])
    assert _segments(lo, hi) == [(True, lo, d3), (False, d3, hi)]
    n = _check_all(net, client, settings, key)
    assert n == sum(1 for _ in read_hits(archive_from_settings()).column("hit_id")) + _rows_of_day(
        net, client, settings, key, d3)
    settings.CRAYFIS_API_ARCHIVE_READS = True
    assert _segments(lo, d2 + 1) == [(True, lo, d2 + 1)]


def _rows_of_day(net, client, settings, key, start: int) -> int:
    return len(_rows(_stream(client, settings, key, f"from_ms={start}&to_ms={start + DAY_MS}&format=ndjson",
                             archive=False)[1]))


def test_sealed_days_are_answered_by_the_archive_alone(network, client, scientist, settings, es):
    """With the hit indices out of reach, a range of sealed days still streams every hit: the
    rows come from the archive, not from Elasticsearch."""
    key = scientist[1]
    lo, d3 = network.range[0], day_start_ms(network.days[2])
    want = _stream(client, settings, key, f"from_ms={lo}&to_ms={d3}&format=ndjson", archive=False)[1]
    settings.CRAYFIS_ES_PREFIX = "nosuchprefix"
    got = _stream(client, settings, key, f"from_ms={lo}&to_ms={d3}&format=ndjson", archive=True)[1]
    assert got == want and len(_rows(got)) == read_hits(archive_from_settings()).num_rows
    assert _stream(client, settings, key, f"from_ms={lo}&to_ms={d3}&format=ndjson", archive=False)[1] == b""


def test_a_day_with_staged_late_hits_is_answered_by_elasticsearch_until_compacted(network, client, scientist,
                                                                                  settings):
    net, key = network, scientist[1]
    lo, hi = net.range
    d2, d3 = day_start_ms(net.days[1]), day_start_ms(net.days[2])
    before = _rows_of_day(net, client, settings, key, d2)
    net.post(999, d2 + 20 * 3_600_000, 46.2, 6.15)   # a phone uploads D2's hits after D2 was sealed
    net.index()
    assert _segments(lo, hi) == [(True, lo, d2), (False, d2, hi)]   # D2 has staged hits: Elasticsearch
    late = _rows_of_day(net, client, settings, key, d2)
    assert late == before + 40
    settings.CRAYFIS_API_ARCHIVE_READS = True
    day2 = _rows(_stream(client, settings, key, f"from_ms={d2}&to_ms={d3}&format=ndjson", archive=True)[1])
    assert len(day2) == late   # complete, the late hits included
    _check_all(net, client, settings, key)
    net.compact(d3)   # the next pass adds them to D2 as a late file
    assert _segments(lo, hi) == [(True, lo, d3), (False, d3, hi)]
    assert any(f.rsplit("/", 1)[-1].startswith("late-") for f in archive_from_settings().day_files(net.days[1]))
    _check_all(net, client, settings, key)


def test_the_cap_cuts_both_answers_at_the_same_row(network, client, scientist, settings):
    key = scientist[1]
    lo, hi = network.range
    total = len(_rows(_stream(client, settings, key, f"from_ms={lo}&to_ms={hi}&format=ndjson", archive=False)[1]))
    d3_rows = _rows_of_day(network, client, settings, key, day_start_ms(network.days[2]))
    for cap in (7, 50, total - d3_rows - 3, total - 5, total + 10):   # inside the archive's days, at a batch,
        settings.CRAYFIS_API_STREAM_MAX_ROWS = cap                      # across into Elasticsearch's, none
        settings.CRAYFIS_API_ANON_STREAM_MAX_ROWS = cap
        for k in (key, None):
            on, off = _both(client, settings, k, f"from_ms={lo}&to_ms={hi}&format=ndjson")
            assert on == off and len(_rows(on)) == min(cap, total)
        on, off = _both(client, settings, key, f"from_ms={lo}&to_ms={hi}&format=parquet")
        assert pq.read_table(io.BytesIO(on)).equals(pq.read_table(io.BytesIO(off)))
        assert pq.read_table(io.BytesIO(on)).num_rows == min(cap, total)
