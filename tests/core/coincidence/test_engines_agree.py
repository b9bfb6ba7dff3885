"""The kernel against the vectorised reference engine on thousands of hits, where the O(N^2)
reference is too slow: both of its scans (the uniform grid where the region allows it, and the
general one with both cell numberings: dense, and hashed where the hits wrap across the
antimeridian or cover a pole), over radii from metres to thousands of km."""

from __future__ import annotations

import numpy as np
import pytest

from crayfis.coincidence.kernel import find_coincidences
from tests.reference import numpy_engine

from .scenes import REGIONS, offset_points


@pytest.mark.parametrize("region", sorted(REGIONS))
@pytest.mark.parametrize("radius", [1.0, 100.0, 1000.0, 50_000.0, 3_000_000.0])
def test_kernel_and_numpy_engine_agree(region, radius):
    rng = np.random.default_rng([sorted(REGIONS).index(region), int(radius)])
    n = 4000
    lat0, lon0 = REGIONS[region]
    spread = rng.uniform(-1, 1, (n, 2)) * min(8 * radius, 5e6)
    lat, lon = offset_points(lat0, lon0, spread[:, 0], spread[:, 1])
    t = np.sort(rng.integers(0, 20_000, n)).astype(np.int64)
    dev = rng.integers(0, 300, n).astype(np.int64)
    for k in (2, 3):
        want = numpy_engine.find_coincidences(t, lat, lon, dev, 100, radius, k)
        for grid in ("auto", "block"):
            got = find_coincidences(t, lat, lon, dev, 100, radius, k, grid=grid)
            assert got.triggered.tolist() == want.triggered.tolist()
            assert got.windows.members.tolist() == want.windows.members.tolist()
            assert got.cand_members.tolist() == want.cand_members.tolist()
            assert got.cand_anchors.tolist() == want.cand_anchors.tolist()
    assert len(got.triggered) > 0
