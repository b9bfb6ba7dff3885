"""The driver's merge of window pairs into candidates (spark_jobs/candidates.py), without Spark:
its shortcuts for input that tasks send already ordered must give what the general route gives."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest

from spark_jobs.candidates import canonical_order, merge_candidates, pairs_in_order, windows_from_rows
from spark_jobs.job_steps import candidates_table
from spark_jobs.task_rows import WINDOW_PAIRS


def _scene(seed: int, n_hits: int = 300, n_dev: int = 12):
    """Window pairs in task order (anchor, member ascending), hit names and device names."""
    rng = np.random.default_rng(seed)
    code = np.sort(rng.choice(10 * n_hits, n_hits, replace=False)).astype(np.int64)
    t = np.sort(rng.integers(0, n_hits // 3, n_hits))  # many hits share a millisecond
    dev = rng.integers(0, n_dev, n_hits)
    lat, lon = rng.uniform(-1, 1, n_hits), rng.uniform(-1, 1, n_hits)
    anchors = np.sort(rng.choice(n_hits, n_hits // 4, replace=False))
    rows = []
    for a in anchors:
        later = np.flatnonzero((t >= t[a]) & (t <= t[a] + 3))
        members = np.union1d([a], rng.choice(later, min(len(later), 3), replace=False))
        for m in members:
            rows.append((code[a], code[m], dev[m], t[m], lat[m], lon[m], len(set(dev[members]))))
    cols = list(zip(*rows))
    pairs = pa.table({f.name: pa.array(np.asarray(c), f.type) for f, c in zip(WINDOW_PAIRS, cols)},
                     schema=WINDOW_PAIRS)
    names = pa.table({"hit_code": code,
                      "hit_id": pa.array([f"hit-{rng.integers(1e6)}-{i}" for i in range(n_hits)])})
    device_names = pa.array(sorted(f"phone-{i:03d}" for i in range(n_dev)))
    return pairs, names, device_names


def _window_members(names: pa.Table, w) -> pa.Table:
    keep = np.isin(names.column("hit_code").to_numpy(), w.hit_code)
    return names.filter(pa.array(keep))


def _table(pairs, names, device_names):
    w = windows_from_rows(pairs)
    assert np.array_equal(w.hit_code[w.member_index], w.members)
    c = merge_candidates(w, _window_members(names, w), device_names=device_names)
    # significance columns stay NaN here (NaN != NaN): compared without them
    return candidates_table(c, {}).drop_columns(["expected_background", "p_value", "far_per_year"])


@pytest.mark.parametrize("seed", range(5))
def test_shuffled_pairs_and_names_give_the_same_candidates_as_ordered(seed):
    pairs, names, device_names = _scene(seed)
    assert pairs_in_order(pairs.column("anchor").to_numpy(), pairs.column("member").to_numpy())
    ordered = _table(pairs, names, device_names)
    assert ordered.num_rows > 0
    rng = np.random.default_rng(seed)
    shuffled_pairs = pairs.take(pa.array(rng.permutation(pairs.num_rows)))
    assert not pairs_in_order(shuffled_pairs.column("anchor").to_numpy(),
                              shuffled_pairs.column("member").to_numpy())
    shuffled_names = names.take(pa.array(rng.permutation(names.num_rows)))
    assert _table(shuffled_pairs, shuffled_names, device_names).equals(ordered)


@pytest.mark.parametrize("seed", range(5))
def test_device_codes_need_not_follow_name_order(seed):
    pairs, names, device_names = _scene(seed)
    expected = _table(pairs, names, device_names)
    perm = np.random.default_rng(seed).permutation(len(device_names))  # new code of each old
    renamed = pa.array(np.asarray(device_names.to_pylist(), dtype=object)[np.argsort(perm)])
    recoded = pairs.set_column(2, "device_code",
                               pa.array(perm[pairs.column("device_code").to_numpy()]))
    got = _table(recoded, names, renamed)
    assert got.equals(expected)
    assert got.column("devices").to_pylist() == [sorted(d) for d in got.column("devices").to_pylist()]


def test_canonical_order_is_lexsort_by_time_then_rank():
    rng = np.random.default_rng(7)
    t = rng.integers(0, 50, 2000)
    rank = np.where(rng.random(2000) < 0.5, rng.permutation(2000), 0)
    assert np.array_equal(canonical_order(t, rank), np.lexsort((rank, t)))
    wide = t * (1 << 55)  # span x ranks beyond int64: the lexsort route
    assert np.array_equal(canonical_order(wide, rank), np.lexsort((rank, wide)))
    assert len(canonical_order(t[:0], rank[:0])) == 0
