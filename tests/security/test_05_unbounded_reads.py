"""Finding 5, unbounded anonymous reads: ten-million-row anonymous streams, unthrottled dashboard
endpoints, not-found lookups that always reach Elasticsearch, searches without a server-side
timeout, and (behind the documented TLS proxy) one throttle bucket shared by every anonymous
client.
"""
from __future__ import annotations

import io
import json

import pytest

from tests.security.actors import (
    CELL_LAT,
    CELL_LON,
    HOUR_MS,
    get_json,
    index_uploads,
    missing,
    now_ms,
    phone_posts,
    public_name,
    search_pass,
)
from tests.security.conftest import key_auth
from tests.security.production import production_env, public_host, run_django
from tests.security.recording_proxy import RecordingProxy

pytestmark = [pytest.mark.security]

DEVICE = "5ca1ab1e00000001"


def _some_hits(client, n: int) -> tuple[list[int], str]:
    t0 = now_ms() - 2 * HOUR_MS
    times = [t0 + 1000 * i + 7 for i in range(n)]
    assert phone_posts(client, DEVICE, [[(t, CELL_LAT, CELL_LON) for t in times]]) == 202
    index_uploads()
    return times, f"from_ms={times[0] - HOUR_MS}&to_ms={times[-1] + HOUR_MS}"


def _rows(resp, fmt: str) -> int:
    body = b"".join(resp.streaming_content) if resp.streaming else resp.content
    if fmt == "ndjson":
        return len(body.splitlines())
    import pyarrow.parquet as pq

    return pq.ParquetFile(io.BytesIO(body)).metadata.num_rows


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("fmt", ["ndjson", "parquet"])
def test_anonymous_streams_need_a_key_or_are_capped_low(client, es, es_prefix, settings, scientist, fmt):
    """Attack: anonymous `format=ndjson|parquet` streams over a wide range, each up to
    CRAYFIS_API_STREAM_MAX_ROWS (ten million) rows, as often as the read throttle allows.

    Property: an anonymous stream is refused (401/403: a key is needed) or holds at most
    CRAYFIS_API_ANON_STREAM_MAX_ROWS rows; a scientist's key still streams the whole range.

    Fails on main at 8e37016: the anonymous stream returns every row (30 of 30 here, with the
    anonymous cap set to 10).
    """
    note = missing("CRAYFIS_API_ANON_STREAM_MAX_ROWS")
    settings.CRAYFIS_API_ANON_STREAM_MAX_ROWS = 10
    times, span = _some_hits(client, 30)
    resp = client.get(f"/api/v1/hits?{span}&format={fmt}")
    if resp.status_code not in (401, 403):
        assert resp.status_code == 200
        n = _rows(resp, fmt)
        assert n <= 10, f"an anonymous {fmt} stream returned {n} rows over a cap of 10{note}"
    keyed = client.get(f"/api/v1/hits?{span}&format={fmt}", **key_auth(scientist[1]))
    assert keyed.status_code == 200 and _rows(keyed, fmt) == len(times)


@pytest.mark.django_db
def test_dashboard_endpoints_are_throttled_per_client(client, es, es_prefix, settings):
    """Attack: poll the /api/dash/* endpoints (each an Elasticsearch aggregation once its short
    cache expires, and a fresh one for every new parameter) as fast as the network allows.

    Property: past CRAYFIS_DASH_RATE ("N/period") requests from one client address, the
    endpoints answer 429 with Retry-After; another client is unaffected.

    Fails on main at 8e37016: no dashboard endpoint is ever throttled.
    """
    note = missing("CRAYFIS_DASH_RATE")
    settings.CRAYFIS_DASH_RATE = "5/min"
    urls = ["/api/dash/overview", "/api/dash/status", "/api/dash/candidates?limit=1",
            "/api/dash/candidates?limit=2", "/api/dash/rates", "/api/dash/map", "/api/dash/leaderboard"]
    answers = [client.get(url, REMOTE_ADDR="203.0.113.70") for url in urls]
    statuses = [r.status_code for r in answers]
    assert statuses[5:] == [429, 429], f"no throttle on /api/dash/*: {statuses}{note}"
    assert all(int(r["Retry-After"]) > 0 for r in answers[5:])
    assert client.get("/api/dash/status", REMOTE_ADDR="203.0.113.71").status_code == 200


@pytest.mark.django_db(transaction=True)
def test_not_found_lookups_are_cached(client, es, es_prefix):
    """Attack: ask for candidates that do not exist, again and again (every miss is a new
    Elasticsearch search; the dashboards cache only hits).

    Property: repeated lookups of the same unknown candidate within the dashboard cache time
    cost Elasticsearch one lookup (counted by the candidates index's own search statistics).

    Fails on main at 8e37016: every repeated miss searches the candidates index again.
    """
    search_pass()   # creates the candidates index
    index = es.indices.get(index=f"{es_prefix}-candidates*")
    assert index, "the continuous search creates the candidates index"

    def searches() -> int:
        stats = es.indices.stats(index=f"{es_prefix}-candidates*", metric="search")
        return stats["_all"]["total"]["search"]["query_total"]

    start = searches()
    assert get_json(client, "/api/dash/candidates/cdeadbeefdeadbeef0")[0] == 404
    one = searches() - start
    for _ in range(4):
        assert get_json(client, "/api/dash/candidates/cdeadbeefdeadbeef0")[0] == 404
    five = searches() - start
    assert one > 0 and five == one, f"one miss cost {one} searches, five misses {five}"


def _has_timeout(req) -> bool:
    if "timeout=" in req.query:
        return True
    lines = [line for line in req.body.splitlines() if line.strip()]
    if req.path.endswith("/_msearch"):
        bodies = lines[1::2]
    else:
        bodies = lines[:1]
    return bool(bodies) and all("timeout" in json.loads(b) for b in bodies)


@pytest.mark.django_db(transaction=True)
def test_every_public_search_carries_a_server_side_timeout(client, es, es_prefix, settings, scientist):
    """Attack: a costly query (wide range, many buckets) ties up the node for as long as it
    runs; the client's request timeout only stops waiting, the node keeps working.

    Property: every search request the read API and the dashboards send (_search, _msearch,
    _count) carries a server-side `timeout` (in the query string or in every search body), seen
    by a recording proxy in front of the real node. (_count cannot carry one: use _search with
    size 0.)

    Fails on main at 8e37016: none of them carries a timeout.
    """
    times, span = _some_hits(client, 5)
    search_pass()
    pseudonym = public_name(DEVICE)
    urls = [f"/api/v1/hits?{span}", f"/api/v1/hits?{span}&format=ndjson", f"/api/v1/candidates?{span}",
            f"/api/v1/network/stats?{span}", "/api/dash/overview", "/api/dash/rates?span=7d", "/api/dash/map",
            "/api/dash/candidates", "/api/dash/candidates/cdeadbeefdeadbeef0", f"/api/dash/device/{pseudonym}",
            "/api/dash/leaderboard", "/", "/candidates/", f"/device/{pseudonym}/", "/leaderboard/"]
    keyed = [f"/api/v1/hits?{span}", f"/api/v1/hits?{span}&format=ndjson", f"/api/v1/candidates?{span}"]
    with RecordingProxy(settings.CRAYFIS_ES_URL) as proxy:
        settings.CRAYFIS_ES_URL = proxy.url
        for url in urls:
            resp = client.get(url)
            if resp.streaming:
                b"".join(resp.streaming_content)
        for url in keyed:
            resp = client.get(url, **key_auth(scientist[1]))
            if resp.streaming:
                b"".join(resp.streaming_content)
    searches = [r for r in proxy.requests if r.path.rsplit("/", 1)[-1] in ("_search", "_msearch", "_count")]
    assert len(searches) >= len(urls), f"the proxy saw only {len(searches)} searches"
    bare = sorted({f"{r.method} {r.path}" for r in searches if not _has_timeout(r)})
    assert not bare, f"{len(bare)} kinds of search without a server-side timeout: {bare[:8]}"


def test_client_addresses_behind_the_tls_proxy_get_their_own_limits(tmp_path):
    """Attack (or accident): behind the documented TLS proxy every request comes from the
    proxy's address; with the client address taken from the socket, all anonymous readers share
    one throttle bucket (one heavy reader locks everyone out), and every phone shares one
    /submit bucket.

    Property: under the documented production environment (deploy/crayfis.env where it
    exists), anonymous API reads, /api/dash/* and /submit count each client by the address the
    proxy passes in X-Forwarded-For: client A's third request in a window of two is 429, client
    B's first is not.

    Fails on main at 8e37016: client B is refused (429) on the API, because both share the
    proxy's bucket, and neither /api/dash/* nor /submit has a limit at all.
    """
    env = production_env(tmp_path, CRAYFIS_API_ANON_READ_RATE="2/min", CRAYFIS_DASH_RATE="2/min",
                         CRAYFIS_INGEST_RATE_PER_IP="2/min", CRAYFIS_INGEST_RATE_PER_DEVICE="100/min")
    host = public_host(env)
    code = f"""
from django.core.management import call_command
from django.test import Client
call_command("migrate", verbosity=0)
c = Client()
def ask(method, url, client_ip, n):
    extra = dict(HTTP_X_FORWARDED_FOR=client_ip, HTTP_X_FORWARDED_PROTO="https", HTTP_HOST={host!r},
                 REMOTE_ADDR="127.0.0.1")
    if method == "post":
        extra.update(HTTP_DEVICE_ID="5ca1ab1e%08d" % n, HTTP_CRAYFIS_VERSION="b v1.0.4")
        return c.post(url, data=b"x%d" % n, content_type="application/octet-stream", **extra).status_code
    return c.get(url, **extra).status_code
result = {{}}
for door, method, url in (("api", "get", "/api/v1/hits"), ("dash", "get", "/api/dash/status"),
                          ("submit", "post", "/submit")):
    a = [ask(method, url, "198.51.100.1", n) for n in range(3)]
    b = [ask(method, url, "198.51.100.2", 10)]
    result[door] = a + b
"""
    got = run_django(env, code)
    limited = {door: [s == 429 for s in statuses] for door, statuses in got.items()}
    assert limited == {door: [False, False, True, False] for door in ("api", "dash", "submit")}, \
        f"statuses behind the proxy (client A x3, then client B): {got}"
