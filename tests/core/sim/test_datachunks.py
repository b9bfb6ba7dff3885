"""DataChunks: what the simulated phones upload decodes back to the simulated hits."""
import collections

import numpy as np
import pytest

from crayfis.sim.config import SimConfig
from crayfis.sim.datachunks import DATACHUNK_SIZE, iter_uploads
from crayfis.sim.network import simulate_network
from crayfis.wire import crayfis_pb2 as pb
from crayfis.wire.decode import decode_submit

CFG = SimConfig(hours=1.0).with_(fleet__n_phones=15, showers__forced=2,
                                 fleet__intermittent_fraction=0.5)


@pytest.fixture(scope="module")
def sim():
    result = simulate_network(CFG, 8)
    uploads = list(iter_uploads(result, 9))
    decoded = [decode_submit(u.body, u.headers) for u in uploads]
    return result, uploads, decoded


def test_decoded_hits_are_the_simulated_hits(sim):
    result, uploads, decoded = sim
    got = sorted((d.device_id, ev.t_ms, round(ev.lat, 9), round(ev.lon, 9))
                 for d in decoded for ev in d.events if ev.is_hit)
    h = result.hits
    want = sorted(zip(h.column("device_id").to_pylist(), h.column("t_ms").to_pylist(),
                      np.round(h.column("lat").to_numpy(), 9).tolist(),
                      np.round(h.column("lon").to_numpy(), 9).tolist()))
    assert len(want) > 2000
    assert got == want
    assert sum(u.n_hits for u in uploads) == len(want)


def test_zero_bias_samples_are_not_hits(sim):
    result, _, decoded = sim
    xbs = [xb for d in decoded for xb in d.exposures if xb.state == "DATA"]
    zero_bias = sum(xb.n_zero_bias for xb in xbs)
    frames = sum(xb.stage_processed[0] for xb in xbs)
    assert abs(zero_bias - 0.001 * frames) < 5 * np.sqrt(0.001 * frames)
    only_zb = [ev for xb in xbs for ev in xb.events if not ev.is_hit]
    assert only_zb and all(ev.zero_bias is not None and ev.n_pix == 0 for ev in only_zb)


def test_chunks_are_cut_like_the_app(sim):
    _, uploads, _ = sim
    by_run = collections.defaultdict(list)
    for up in uploads:
        by_run[up.run_uuid].append(up)
        chunk = pb.DataChunk.FromString(up.body)
        last = chunk.exposure_blocks[-1] if chunk.exposure_blocks else None
        last_size = len(pb.DataChunk(exposure_blocks=[last]).SerializeToString()) if last else 0
        # Below the threshold before its last record went in.
        assert len(up.body) - last_size < DATACHUNK_SIZE
    for ups in by_run.values():
        # Every upload but a run's last was sent because it reached the threshold.
        assert all(len(u.body) >= DATACHUNK_SIZE for u in ups[:-1])
        assert [u.send_ms for u in ups] == sorted(u.send_ms for u in ups)
    sizes = np.array([len(u.body) for u in uploads])
    assert np.median(sizes[sizes >= DATACHUNK_SIZE]) < 1.5 * DATACHUNK_SIZE


def test_runs_blocks_and_live_time_match_the_live_intervals(sim):
    result, uploads, decoded = sim
    live = result.live
    runs = [r for d in decoded for r in d.runs]
    assert len(runs) == len(live) == len({r.run_uuid for r in runs})
    assert {r.build for r in runs} == {"v1.0.4"} and {r.camera_id for r in runs} == {0}
    data = [xb for d in decoded for xb in d.exposures if xb.state == "DATA"]
    span = sum(xb.end_ms - xb.start_ms for xb in data)
    assert span == live.total_live_ms()
    live_s = sum(xb.live_s for xb in data)
    assert live_s == pytest.approx(live.total_live_ms() / 1000 * 0.99, rel=2e-3)
    calib = [xb for d in decoded for xb in d.exposures if xb.state == "CALIBRATION"]
    assert len(calib) == len(live) and all(xb.n_hits == 0 for xb in calib)
    n_expected = np.ceil((live.end_ms - live.start_ms) / 180_000).sum()
    assert len(data) == n_expected
    short = [xb for xb in data if xb.end_ms - xb.start_ms < 180_000]
    assert all(xb.aborted for xb in short) and not any(
        xb.aborted for xb in data if xb.end_ms - xb.start_ms == 180_000)
    for xb in data:
        assert xb.stage_names == ["L0Processor", "QualityProcessor", "L1Processor", "L2Processor"]
        assert xb.stage_pass[2] == xb.n_hits == xb.stage_processed[3]
        assert xb.stage_pass[3] >= xb.n_hits  # L2 counts pixels, at least one per hit
        assert abs(xb.stage_processed[0] - (xb.end_ms - xb.start_ms) * 0.03) <= 1
        assert all(xb.start_ms <= ev.t_ms < xb.end_ms for ev in xb.events)


def test_headers_are_the_apps(sim):
    _, uploads, decoded = sim
    for up, d in zip(uploads, decoded):
        assert up.headers["Crayfis-version"] == "b v1.0.4"
        assert up.headers["Crayfis-version-code"] == "256"
        assert up.headers["Camera-id"] == "0"
        assert up.headers["Device-id"] == up.device_id and len(up.device_id) == 16
        assert d.header_run_uuid == up.run_uuid
        assert all(xb.run_uuid == up.run_uuid for xb in d.exposures)


def test_deterministic_and_independent_of_device_selection(sim):
    result, uploads, _ = sim
    again = list(iter_uploads(result, 9))
    assert [u.body for u in again] == [u.body for u in uploads]
    device = int(result.live.device[len(result.live) // 2])
    alone = list(iter_uploads(result, 9, devices=[device]))
    mine = [u for u in uploads if u.device_id == result.fleet.device_id[device]]
    assert alone and [u.body for u in alone] == [u.body for u in mine]
