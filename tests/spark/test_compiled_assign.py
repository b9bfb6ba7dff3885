"""The compiled copy stage gives exactly the copies of the numpy definition (plan.assign),
each in the task its slab belongs to."""
from __future__ import annotations

import numpy as np
import pytest

from spark_jobs.compiled_assign import copies_by_task
from spark_jobs.partitioning import PartitionPlan, aligned_cuts, uniform_cuts


def awkward_hits(seed: int, n: int = 4000):
    """Hits on tile and band edges, the antimeridian, the poles, and slab edges."""
    rng = np.random.default_rng(seed)
    t = rng.integers(0, 600_000, n).astype(np.int64)
    t[: n // 8] = (rng.integers(1, 10, n // 8) * 60_000 + rng.integers(-3, 4, n // 8))  # slab edges
    lat = rng.uniform(-90, 90, n)
    lon = rng.uniform(-180, 180, n)
    k = n // 8
    lat[k:2 * k] = rng.integers(-45, 45, k) * 2.0 + rng.normal(0, 0.005, k)  # band edges
    lon[2 * k:3 * k] = rng.integers(-90, 90, k) * 2.0 + rng.normal(0, 0.005, k)  # tile edges
    lon[3 * k:4 * k] = rng.choice([-180.0, 180.0], k) + rng.normal(0, 0.004, k).clip(-0.004, 0.004) \
        * np.sign(-rng.choice([-180.0, 180.0], k))
    lon = np.clip(lon, -180, 180)
    lat[4 * k:5 * k] = rng.choice([-1.0, 1.0], k) * (90 - np.abs(rng.normal(0, 0.02, k)))  # poles
    lat[5 * k] = 90.0
    lat[5 * k + 1] = -90.0
    lon[5 * k + 2] = 180.0
    return t, lat, lon


@pytest.mark.parametrize("cuts_of", ["aligned", "uniform", "none"])
def test_compiled_copies_equal_numpy_copies(cuts_of):
    t, lat, lon = awkward_hits({"aligned": 1, "uniform": 2, "none": 3}[cuts_of])
    cuts = {"aligned": aligned_cuts(int(t.min()), int(t.max()), 60_000),
            "uniform": uniform_cuts(int(t.min()), int(t.max()), 7, 50),
            "none": np.zeros(0, np.int64)}[cuts_of]
    plan = PartitionPlan.build(cuts, 50, 2.0, 1000.0)
    idx, key, home = plan.assign(t, lat, lon)
    want = sorted(zip(idx.tolist(), key.tolist(), home.tolist()))

    n_tasks = 3
    task_of_slab = np.arange(plan.n_slabs) % n_tasks
    offsets, g_idx, g_key, g_home = copies_by_task(plan, task_of_slab, n_tasks, t, lat, lon)
    assert sorted(zip(g_idx.tolist(), g_key.tolist(), g_home.tolist())) == want
    assert int(g_home.sum()) == len(t)  # one home copy per hit
    for j in range(n_tasks):  # each task's block: its slabs' copies, in hit order
        block = slice(offsets[j], offsets[j + 1])
        assert np.all(task_of_slab[g_key[block] // plan.grid.n_tiles] == j)
        assert np.all(np.diff(g_idx[block]) >= 0)
