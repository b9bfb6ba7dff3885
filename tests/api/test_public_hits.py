"""The anonymous hit view tells nothing finer than the second (api/public_hits.py), on the real node:
two networks whose hits differ only in their milliseconds inside each second give identical
anonymous pages, cursors and streams, whatever the page size; a scientist's key still reads
every hit's exact time and device.

Fails on main at d21fe67 (checked): anonymous hits carry their device and exact time, are sorted
and cut into pages by exact time, and cursors hold the exact time of a page's last hit."""
from __future__ import annotations

import json
import random
import uuid

import pytest
from elasticsearch.helpers import bulk

from crayfis.es.naming import index_for
from crayfis.es.templates import ensure_templates
from tests.api.conftest import auth
from tests.api.test_reads import get_all_pages
from tests.conftest import _delete_prefixed

pytestmark = pytest.mark.django_db
S0 = 1_790_000_000_000                    # a whole second
SECONDS = [S0, S0 + 1000, S0 + 5000]      # 4, 7 and 2 hits
PER_SECOND = {S0: 4, S0 + 1000: 7, S0 + 5000: 2}
URL = f"/api/v1/hits?from_ms={S0}&to_ms={S0 + 10_000}"


def index_network(es, prefix: str, seed: int) -> list[dict]:
    """The same hits (ids, devices, seconds) with the milliseconds inside each second drawn anew."""
    rng = random.Random(seed)
    docs = []
    for s, n in PER_SECOND.items():
        for j in range(n):
            t = s + rng.randrange(1000)
            docs.append({"hit_id": f"{s // 1000 % 1000:03d}{j:02d}" + "ab" * 13, "t_ms": t, "device": f"d{j:016x}",
                         "is_hit": True, "n_pix": 1, "max_val": 100 + j, "location": {"lat": 46.2, "lon": 6.1},
                         "cell": "46.25,6.15", "cell_location": {"lat": 46.25, "lon": 6.15}})
    ensure_templates(es, prefix)
    bulk(es, [{"_index": index_for(prefix, "hits", d["t_ms"]), "_id": d["hit_id"], "_source": d} for d in docs],
         refresh="wait_for")
    return docs


def anonymous_view(client, settings) -> dict:
    settings.CRAYFIS_API_STREAM_BATCH = 3          # batches that cut seconds
    settings.CRAYFIS_API_ANON_READ_RATE = "10000/min"   # this reader pages a lot
    view = {f"pages of {n}": get_all_pages(client, URL, limit=n) for n in (1, 2, 3, 5, 50)}
    view["cursors"] = [client.get(URL + "&limit=2").json()["next_cursor"]]
    view["ndjson"] = b"".join(client.get(URL + "&format=ndjson").streaming_content).decode()
    view["stats"] = client.get(f"/api/v1/network/stats?from_ms={S0}&to_ms={S0 + 10_000}").json()
    return view


@pytest.mark.parametrize("seed", [1, 2])
def test_pages_cursors_and_streams_do_not_depend_on_the_milliseconds(client, es, es_prefix, other_prefix,
                                                                        settings, scientist, seed):
    docs = index_network(es, es_prefix, seed)
    first = anonymous_view(client, settings)
    settings.CRAYFIS_ES_PREFIX = other_prefix
    index_network(es, other_prefix, seed + 100)
    second = anonymous_view(client, settings)
    assert first == second

    rows, pages = first["pages of 2"]
    assert [(r["t_ms"], r["hit_id"]) for r in rows] == sorted((d["t_ms"] - d["t_ms"] % 1000, d["hit_id"]) for d in docs)
    assert len({r["hit_id"] for r in rows}) == len(docs) and all("device" not in r for r in rows)
    assert all(first[f"pages of {n}"][0] == rows for n in (1, 3, 5, 50))
    assert [json.loads(line) for line in first["ndjson"].splitlines()] == rows
    assert first["stats"]["first_hit_ms"] == S0 and first["stats"]["last_hit_ms"] == S0 + 5000

    settings.CRAYFIS_ES_PREFIX = es_prefix         # the key still reads the exact times, in exact order
    keyed, _ = get_all_pages(client, URL, auth(scientist[1]), limit=2)
    assert [(r["t_ms"], r["device"]) for r in keyed] == sorted((d["t_ms"], d["device"]) for d in docs)


@pytest.fixture
def other_prefix(es):
    prefix = f"t{uuid.uuid4().hex[:12]}"
    yield prefix
    _delete_prefixed(es, prefix)
