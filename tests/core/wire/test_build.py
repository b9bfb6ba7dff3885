"""What build.py writes, decode.py reads back: the simulator and the decoder agree."""
from __future__ import annotations

import uuid

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from crayfis.wire import build
from crayfis.wire.decode import decode_submit


@settings(max_examples=60, deadline=None)
@given(
    run_int=st.integers(0, 2**128 - 1),
    res=st.tuples(st.integers(8, 64), st.integers(8, 64)),
    n_events=st.integers(0, 5),
    l1=st.floats(1, 200).map(lambda v: round(v, 2)),
    # -0.1 degC is -1 on the wire, the app's own "unknown": indistinguishable, so not drawn
    temp=st.one_of(st.none(), st.floats(-10, 60).map(lambda v: round(v, 1)).filter(lambda v: v != -0.1)),
    loc=st.one_of(st.none(), st.tuples(st.floats(-89, 89), st.floats(-179, 179), st.floats(1, 100))),
    seed=st.integers(0, 2**32 - 1),
)
def test_v104_chunk_round_trip(run_int, res, n_events, l1, temp, loc, seed):
    run = str(uuid.UUID(int=run_int))
    rng = np.random.default_rng(seed)
    frame = rng.integers(0, 256, size=(res[1], res[0]))
    t0 = 1735689600000 + int(rng.integers(0, 10**9))
    hits_per_event = []
    events = []
    for i in range(n_events):
        hits = [(int(rng.integers(0, res[0])), int(rng.integers(0, res[1]))) for _ in range(int(rng.integers(1, 6)))]
        hits_per_event.append(hits)
        kw = dict(lat=loc[0], lon=loc[1], accuracy=loc[2]) if loc else {}
        events.append(build.event(t0 + 1000 * i, xbn=3, timestamp_nano=10**12 + i, hits=hits, values=frame,
                                  res=res, **kw))
    xb = build.exposure_block(run, xbn=3, start_ms=t0, end_ms=t0 + 180_000, events=events, res=res,
                              l1_threshold=l1, l2_threshold=int(l1) - 1, processed=[900, 890, 890, n_events],
                              passed=[1, 890, n_events, 7], battery_temp_c=temp, battery_end_temp_c=temp,
                              hot_hash=5, wgt_hash=6, **(dict(lat=loc[0], lon=loc[1], accuracy=loc[2]) if loc else {}))
    body = build.data_chunk([build.run_config(run, start_ms=t0 - 5000, model="SM-G991B", res=res)], [xb])
    chunk = decode_submit(body, build.submit_headers("0123456789abcdef", run))

    [rc] = chunk.runs
    assert (rc.run_uuid, rc.start_ms, rc.model, rc.build, rc.camera_id) == (run, t0 - 5000, "SM-G991B", "v1.0.4", 0)
    [rec] = chunk.exposures
    assert (rec.run_uuid, rec.xbn, rec.state, rec.start_ms, rec.end_ms) == (run, 3, "DATA", t0, t0 + 180_000)
    assert rec.l1_threshold == pytest.approx(l1, abs=1e-4)
    assert rec.stage_names == list(build.V104_STAGES)
    assert rec.stage_processed == [900, 890, 890, n_events] and rec.stage_pass == [1, 890, n_events, 7]
    assert rec.stage_skip == [0, 0, 0, 0]
    assert (rec.res_x, rec.res_y, rec.hot_hash, rec.wgt_hash, rec.model) == (*res, 5, 6, "SM-G991B")
    if temp is None:
        assert rec.battery_temp_c is None
    else:
        assert rec.battery_temp_c == pytest.approx(temp)
    if loc:
        assert rec.lat == loc[0] and rec.lon == loc[1] and rec.accuracy == pytest.approx(loc[2], rel=1e-6)
    else:
        assert rec.lat is None
    assert len(rec.events) == n_events
    for i, (ev, hits) in enumerate(zip(rec.events, hits_per_event)):
        assert ev.t_ms == t0 + 1000 * i and ev.t_nano == 10**12 + i
        assert ev.hits == hits and ev.n_pix == len(hits)
        assert all(v == frame[y, x] for x, y, v in ev.pixels)
        assert {(x, y) for x, y in hits} <= {(x, y) for x, y, _ in ev.pixels}
        assert ev.max_val == max(v for _, _, v in ev.pixels)


def test_submit_headers():
    h = build.submit_headers("3f1a", "7F3C2A10-51D4-4E8B-9A6F-2B1C0D9E8F70", camera_id=None, build="v0.7.1",
                             version_code=121, client="a")
    assert h == {"Content-type": "application/octet-stream", "Device-id": "3f1a",
                 "Run-id": "7f3c2a10-51d4-4e8b-9a6f-2b1c0d9e8f70", "Crayfis-version": "a v0.7.1",
                 "Crayfis-version-code": "121"}


def test_split_uuid_matches_the_sample():
    hi, lo = build.split_uuid("7f3c2a10-51d4-4e8b-9a6f-2b1c0d9e8f70")
    assert (hi, lo) == (9168249191000198795, 11128160603743358832)   # RunConfig of v1.0.4-data.bin
