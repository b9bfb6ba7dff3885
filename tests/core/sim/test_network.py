"""simulate_network: determinism, schema, truth labels, block independence of invariants."""
import numpy as np
import pyarrow as pa
import pytest

from crayfis.sim.config import SimConfig
from crayfis.sim.network import HIT_SCHEMA, simulate_network

CFG = SimConfig(hours=0.5).with_(fleet__n_phones=300, showers__forced=4,
                                 showers__response="optimistic")


@pytest.fixture(scope="module")
def result():
    return simulate_network(CFG, 21)


def test_same_seed_same_output_other_seed_differs(result):
    again = simulate_network(CFG, 21)
    assert again.hits.equals(result.hits)
    assert again.showers.to_arrow().equals(result.showers.to_arrow())
    other = simulate_network(CFG, 22)
    assert not other.hits.equals(result.hits)


def test_schema_and_ids(result):
    hits = result.hits
    assert hits.schema.equals(HIT_SCHEMA)
    assert hits.num_rows > 10000
    ids = hits.column("hit_id").to_pylist()
    assert len(set(ids)) == len(ids)
    dev = hits.column("device_id").to_pylist()
    t = hits.column("t_ms").to_pylist()
    assert ids[:100] == [f"{d}-{x}" for d, x in zip(dev[:100], t[:100])]
    assert (np.diff(hits.column("t_ms").to_numpy()) >= 0).all()


def test_hits_lie_in_live_time_within_gps_accuracy(result):
    h = result.hits
    d = h.column("device_index").to_numpy()
    t = h.column("t_ms").to_numpy()
    assert result.live.contains(d, t).all()
    assert (t >= CFG.start_ms).all() and (t < CFG.end_ms).all()
    f = result.fleet
    dn = (h.column("lat").to_numpy() - f.lat[d]) * np.pi / 180 * 6_371_008.8
    de = (h.column("lon").to_numpy() - f.lon[d]) * np.pi / 180 * 6_371_008.8 * np.cos(
        np.radians(f.lat[d]))
    # Jitter has 68 % within the accuracy radius.
    within = np.hypot(de, dn) <= f.gps_accuracy_m[d]
    assert within.mean() == pytest.approx(0.68, abs=0.01)
    np.testing.assert_allclose(h.column("gps_accuracy").to_numpy(), f.gps_accuracy_m[d], rtol=1e-6)


def test_shower_labels_match_the_shower_table(result):
    sid = result.hits.column("shower_id").to_numpy()
    dev = result.hits.column("device_index").to_numpy()
    s = result.showers
    assert s.forced.sum() == 4
    for i in range(len(s)):
        mine = sid == i
        assert mine.sum() == s.n_hit_devices[i]
        assert np.unique(dev[mine]).size == mine.sum()  # at most one hit per phone per shower
    assert set(np.unique(sid)) <= {-1, *range(len(s))}
    assert (sid >= 0).sum() > 0


def test_small_blocks_keep_every_invariant():
    cfg = CFG.with_(max_hits_per_block=1000, hours=0.2)
    progress = []
    res = simulate_network(cfg, 5, progress=lambda done, total: progress.append((done, total)))
    n_blocks = progress[-1][1]
    assert n_blocks > 3 and progress[-1][0] == n_blocks
    h = res.hits
    key = np.sort(h.column("device_index").to_numpy().astype(np.int64) * 10**13
                  + h.column("t_ms").to_numpy())
    assert (np.diff(key) > 0).all()  # one event per device and frame across blocks
    assert res.live.contains(h.column("device_index").to_numpy(), h.column("t_ms").to_numpy()).all()
    # The rate is unchanged by blocking: compare with one block (different draws, same law).
    one = simulate_network(cfg.with_(max_hits_per_block=10**7), 5).hits.num_rows
    assert abs(h.num_rows - one) < 5 * np.sqrt(2 * one)


def test_live_table(result):
    t = result.live_table()
    assert t.column_names == ["device_id", "start_ms", "end_ms"]
    assert t.num_rows == len(result.live)
    assert isinstance(t.column("device_id").type, type(pa.string()))


def test_hit_ids_outside_the_fast_path_have_the_same_form():
    old = simulate_network(CFG.with_(start_ms=10**11, hours=0.05), 1).hits  # 1973: 12 digits
    ids = old.column("hit_id").to_pylist()
    want = [f"{d}-{t}" for d, t in zip(old.column("device_id").to_pylist(),
                                        old.column("t_ms").to_pylist())]
    assert ids == want and len(ids) > 100
