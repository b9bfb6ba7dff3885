"""Device partials add up: the partials of any cut of the hits combine into the partials, and
the device table, of all of them."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
from hypothesis import given, settings
from hypothesis import strategies as st

from crayfis.coincidence.device_partials import (
    DEVICE_PARTIALS,
    combine_partials,
    device_table,
    table_partials,
)


def hits(n: int, n_dev: int, seed: int) -> pa.Table:
    """Hits with rows an invalid time, position or device would make the search skip."""
    rng = np.random.default_rng(seed)
    dev = rng.integers(0, n_dev, n)
    no_device = rng.random(n) < 0.05
    lat = rng.uniform(-90, 90, n)
    lat[rng.random(n) < 0.05] = 95.0  # outside the globe
    t = rng.integers(0, 10**9, n)
    return pa.table({
        "device_id": pa.array([None if gone else f"dev{d}" for d, gone in zip(dev, no_device)]),
        "t_ms": pa.array(t, mask=rng.random(n) < 0.05),
        "lat": lat, "lon": rng.uniform(-180, 180, n),
    })


def exact(table: pa.Table) -> list[dict]:
    return table.select(["device_id", "n_hits", "n_rows", "t_min_ms", "t_max_ms"]).to_pylist()


@settings(max_examples=40, deadline=None)
@given(n=st.integers(1, 300), n_dev=st.integers(1, 9), cuts=st.integers(1, 5),
       seed=st.integers(0, 2**31 - 1))
def test_partials_of_any_cut_combine_into_the_partials_of_all(n, n_dev, cuts, seed):
    table = hits(n, n_dev, seed)
    whole = combine_partials(pa.Table.from_batches([table_partials(table)]))
    edges = np.unique(np.r_[0, np.random.default_rng(seed).integers(0, n, cuts - 1), n])
    parts = [table_partials(table.slice(a, b - a))
             for a, b in zip(edges[:-1], edges[1:])]
    combined = combine_partials(pa.Table.from_batches(parts, schema=DEVICE_PARTIALS))
    assert exact(combined) == exact(whole)
    for c in "xyz":
        assert np.allclose(combined.column(c).to_numpy(zero_copy_only=False),
                           whole.column(c).to_numpy(zero_copy_only=False), rtol=1e-12, atol=1e-9, equal_nan=True)
    assert sum(combined.column("n_rows").to_pylist()) == n

    # the device table: devices with a valid hit, in id order, their rows and hits counted
    devices, rows = device_table(pa.Table.from_batches(parts, schema=DEVICE_PARTIALS))
    t_ok = table.column("t_ms").is_valid().to_numpy(zero_copy_only=False)
    dev = table.column("device_id").to_pylist()
    lat = table.column("lat").to_numpy()
    valid = t_ok & np.array([d is not None for d in dev]) & (np.abs(lat) <= 90)
    want = sorted({d for d, ok in zip(dev, valid) if ok})
    assert rows == n
    assert devices.column("device_id").to_pylist() == want
    assert devices.column("device_code").to_pylist() == list(range(len(want)))
    assert devices.column("n_hits").to_pylist() == [sum(1 for d, ok in zip(dev, valid) if ok and d == w)
                                                    for w in want]


def test_no_rows_no_partials():
    empty = pa.table({"device_id": pa.array([], pa.string()), "t_ms": pa.array([], pa.int64()),
                      "lat": pa.array([], pa.float64()), "lon": pa.array([], pa.float64())})
    batch = table_partials(empty)
    assert batch.num_rows == 0 and batch.schema.equals(DEVICE_PARTIALS)
    devices, rows = device_table(pa.Table.from_batches([batch]))
    assert devices.num_rows == 0 and rows == 0
