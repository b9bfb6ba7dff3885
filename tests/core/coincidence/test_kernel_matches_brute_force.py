"""The kernel (with either of its scans) and the vectorised reference engine return exactly
what the O(N^2) definition returns."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from crayfis.coincidence.kernel import find_coincidences
from tests.reference.brute import brute_force

from .compare import assert_result_equal, assert_windows_equal
from .scenes import scenes
from .variants import VARIANTS
from .variants import find_coincidences as find_with
from .variants import triggered_windows as windows_with

variants = pytest.mark.parametrize("variant", VARIANTS)

TUNING = st.fixed_dictionaries({
    "chunk_size": st.sampled_from([1, 3, 16, 1 << 17]),
    "pair_budget": st.sampled_from([1, 7, 1 << 21]),
})


@variants
@settings(max_examples=100, deadline=None, derandomize=True)
@given(scene=scenes(), tuning=TUNING)
def test_kernel_equals_brute_force(variant, scene, tuning):
    ref = brute_force(*scene.args())
    res = find_with(variant, *scene.args(), **tuning)
    assert_result_equal(res, ref, scene.t, scene.dev)


@variants
@settings(max_examples=60, deadline=None, derandomize=True)
@given(scene=scenes(), data=st.data())
def test_input_order_does_not_matter(variant, scene, data):
    """Shuffled input gives the same windows, mapped through the permutation."""
    n = len(scene.t)
    perm = np.random.default_rng(data.draw(st.integers(0, 2**32 - 1))).permutation(n)
    ref = brute_force(*scene.args())
    shuffled = (scene.t[perm], scene.lat[perm], scene.lon[perm], scene.dev[perm])
    tw = windows_with(variant, *shuffled, scene.tau, scene.radius, scene.k)
    got = {int(perm[a]): sorted(perm[tw.members[tw.member_offsets[i]:tw.member_offsets[i + 1]]].tolist())
           for i, a in enumerate(tw.anchors)}
    assert got == {a: sorted(m) for a, m in ref.windows.items()}


@variants
@settings(max_examples=60, deadline=None, derandomize=True)
@given(scene=scenes(), data=st.data())
def test_anchor_mask_evaluates_only_masked_anchors(variant, scene, data):
    n = len(scene.t)
    mask = np.array(data.draw(st.lists(st.booleans(), min_size=n, max_size=n)), dtype=bool)
    ref = brute_force(*scene.args())
    chunk_size = data.draw(st.sampled_from([2, 1 << 17]))
    tw = windows_with(variant, *scene.args(), anchor_mask=mask, chunk_size=chunk_size)
    assert_windows_equal(tw, ref, only=mask)


@variants
def test_empty_input(variant):
    e = np.zeros(0)
    res = find_with(variant, e.astype(np.int64), e, e, e.astype(np.int64), 100, 1000.0, 3)
    assert res.n_candidates == 0 and len(res.triggered) == 0
    assert res.cand_offsets.tolist() == [0]


@variants
def test_k1_every_hit_triggers_and_k_above_devices_none(variant):
    rng = np.random.default_rng(5)
    t = rng.integers(0, 1000, 50)
    lat, lon = 10 + rng.normal(0, 0.001, 50), 20 + rng.normal(0, 0.001, 50)
    dev = rng.integers(0, 3, 50)
    every = find_with(variant, t, lat, lon, dev, 100, 500.0, 1)
    assert every.triggered.tolist() == list(range(50))
    none = find_with(variant, t, lat, lon, dev, 10**6, 10**6, 4)
    assert len(none.triggered) == 0 and none.n_candidates == 0


@variants
def test_huge_time_span_and_extreme_device_codes_take_the_fallback_paths(variant):
    """Spans too wide to pack with indices and device codes spanning all of int64."""
    t = np.array([0, 5, 2**60, 2**60 + 3, 2**60 + 3, 7, 2**60 + 1, 1], dtype=np.int64)
    lat = np.full(8, 45.0)
    lon = np.array([0, 0.001, 0, 0.001, 0.002, 0.003, 0.0, 0.0])
    dev = np.array([-(2**63), 2**63 - 1, 0, -(2**63), 2**63 - 1, 1, 5, 2], dtype=np.int64)
    for k in (1, 2, 3):
        ref = brute_force(t, lat, lon, dev, 5, 400.0, k)
        assert_result_equal(find_with(variant, t, lat, lon, dev, 5, 400.0, k), ref, t, dev)


def test_rejects_invalid_input():
    one = np.zeros(1)
    with pytest.raises(ValueError):
        find_coincidences(one.astype(np.int64), one + 91, one, one.astype(np.int64), 10, 10.0, 2)
    with pytest.raises(ValueError):
        find_coincidences(one.astype(np.int64), one, one + np.nan, one.astype(np.int64), 10, 10.0, 2)
    with pytest.raises(ValueError):
        find_coincidences(one.astype(np.int64), one, one, one.astype(np.int64), 10, 10.0, 0)
    with pytest.raises(ValueError):
        find_coincidences(one.astype(np.int64), one, one, one.astype(np.int64), 10, 10.0, 2, grid="gpu")
