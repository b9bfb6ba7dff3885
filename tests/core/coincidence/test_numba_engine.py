"""The compiled engine's own guarantees: the distance formulas' compiled forms give the bits of
the same expressions evaluated by numpy, band pairs are decided by within_radius, and its
growable buffers (hash table, outputs) hold on inputs that overflow them."""

from __future__ import annotations

import platform

import numba
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from crayfis.coincidence import distance
from crayfis.coincidence.distance import chord2_scalar, pair_distance_m
from crayfis.coincidence.kernel import find_coincidences
from crayfis.coincidence.merge import merge_time_ordered, merge_windows
from tests.reference import distance_numpy
from tests.reference.brute import brute_force

from .compare import assert_result_equal, assert_windows_equal
from .scenes import offset_points, scenes
from .variants import VARIANTS
from .variants import find_coincidences as find_with
from .variants import triggered_windows as windows_with


def _angles(rng, n):
    special = np.array([0.0, -0.0, 90.0, -90.0, 180.0, -180.0, 45.0, 0.0625, -0.0625, 1e-300,
                        89.99999999, -179.99999999, 0.125 * 7 + 1e-17, 33.3125])
    return np.concatenate((special, rng.uniform(-90, 90, n), np.round(rng.uniform(-180, 180, n) * 8) / 8,
                           rng.uniform(-180, 180, n)))


def test_unit_vectors_have_the_same_bits_as_numpy():
    rng = np.random.default_rng(3)
    lon = _angles(rng, 50_000)
    lat = np.clip(lon[::-1] / 2, -90, 90)
    got = distance.unit_vectors(lat, lon)
    want = distance_numpy.unit_vectors(lat, lon)
    for g, w in zip(got, want):
        assert np.array_equal(g.view(np.int64), w.view(np.int64))


def test_chords_have_the_same_bits_as_numpy():
    rng = np.random.default_rng(4)
    lat, lon = rng.uniform(-90, 90, 20_000), rng.uniform(-180, 180, 20_000)
    a = distance.unit_vectors(lat, lon)
    b = distance.unit_vectors(lat + rng.normal(0, 0.01, 20_000).clip(-1, 1) * (np.abs(lat) < 89), lon)
    want = distance_numpy.chord2(*a, *b)
    assert np.array_equal(distance.chord2(*a, *b).view(np.int64), want.view(np.int64))
    inlined = np.empty(len(want))  # as the scans call it
    numba.njit(_chords_into)(*a, *b, inlined)
    assert np.array_equal(inlined.view(np.int64), want.view(np.int64))


def _chords_into(ax, ay, az, bx, by, bz, out):
    for i in range(len(ax)):
        out[i] = chord2_scalar(ax[i], ay[i], az[i], bx[i], by[i], bz[i])


_FMA = ("vfmadd", "vfmsub", "vfnmadd", "vfnmsub")


@pytest.mark.skipif(platform.machine() not in ("x86_64", "AMD64"), reason="x86 mnemonics")
def test_compiled_arithmetic_has_no_fused_multiply_add():
    """A fused a * b + c rounds once instead of twice and would change the bits. Fresh
    (uncached) compiles of loops that inline ``distance.unit_vector`` and ``chord2_scalar`` as
    the scans do; a fastmath function shows that the check sees FMA where the CPU has it."""
    def muladd(a, b, c):
        out = np.empty(len(a))
        for i in range(len(a)):
            out[i] = a[i] * b[i] + c[i]
        return out

    x = np.ones(4)
    control = numba.njit(fastmath=True)(muladd)
    control(x, x, x)
    if not any(op in "".join(control.inspect_asm().values()) for op in _FMA):
        pytest.skip("this CPU (as numba targets it) has no FMA")
    uv = numba.njit(cache=False)(distance._unit_vectors_into.py_func)
    uv(x, x, x.copy(), x.copy(), x.copy())
    ch = numba.njit(cache=False)(_chords_into)
    ch(x, x, x, x, x, x, x.copy())
    for fn in (uv, ch):
        asm = "".join(fn.inspect_asm().values())
        assert "mulsd" in asm  # the arithmetic is really in this code
        assert not any(op in asm for op in _FMA)


@pytest.mark.parametrize("variant", VARIANTS)
@pytest.mark.parametrize("region", [(34.05, -118.25), (-16.5, 180.0), (89.995, 10.0)])
def test_pairs_a_hair_inside_and_outside_radius(variant, region):
    """R set to a pair's distance, and to the doubles just below it: the pair is in the
    window, then not, as the definition's arithmetic says."""
    rng = np.random.default_rng(11)
    n = 40
    lat, lon = offset_points(*region, rng.uniform(-600, 600, n), rng.uniform(-600, 600, n))
    t = 1_790_000_000_000 + rng.integers(0, 3, n) * 50
    dev = rng.integers(0, 8, n).astype(np.int64)
    d = float(pair_distance_m(lat[0], lon[0], lat[1], lon[1]))
    for radius in (d, np.nextafter(d, 0), d * (1 - 1e-12), d * (1 - 5e-10), d * (1 + 5e-10)):
        for k in (2, 3):
            ref = brute_force(t, lat, lon, dev, 50, float(radius), k)
            res = find_with(variant, t, lat, lon, dev, 50, float(radius), k)
            assert_result_equal(res, ref, t, dev)


def test_buffers_grow_and_chunks_rescan():
    """Hits all over the globe (thousands of distinct cells: the hash table grows) and a loose
    trigger (most hits trigger: the outputs grow)."""
    rng = np.random.default_rng(7)
    n = 3000
    lat = np.degrees(np.arcsin(rng.uniform(-1, 1, n)))
    lon = rng.uniform(-180, 180, n)
    near = rng.random(n) < 0.5  # half of them in clusters, so windows fill up
    lat[near], lon[near] = offset_points(10.0, 170.0, rng.uniform(-3e4, 3e4, near.sum()),
                                         rng.uniform(-3e4, 3e4, near.sum()))
    t = np.sort(rng.integers(0, 2000, n)).astype(np.int64)
    dev = rng.integers(0, 40, n).astype(np.int64)
    for k, chunk in ((1, 1 << 16), (2, 500)):
        ref = brute_force(t, lat, lon, dev, 200, 20_000.0, k)
        res = find_coincidences(t, lat, lon, dev, 200, 20_000.0, k, chunk_size=chunk)
        assert_result_equal(res, ref, t, dev)
        assert len(res.triggered) > 1000


def test_uniform_grid_buffers_grow_and_chunks_rescan():
    """The fast path's own tables: hits in one region (uniform grid), a loose trigger so most
    hits trigger and the outputs grow, and small chunks that each leave their tables empty."""
    rng = np.random.default_rng(8)
    n = 3000
    lat, lon = offset_points(48.2, 16.4, rng.normal(0, 2000, n), rng.normal(0, 2000, n))
    t = np.sort(rng.integers(0, 3000, n)).astype(np.int64)
    dev = rng.integers(0, 60, n).astype(np.int64)
    for k, chunk in ((1, 1 << 16), (2, 7), (3, 500)):
        ref = brute_force(t, lat, lon, dev, 300, 1500.0, k)
        res = find_coincidences(t, lat, lon, dev, 300, 1500.0, k, chunk_size=chunk)
        assert_result_equal(res, ref, t, dev)
        assert len(res.triggered) > 1000


@pytest.mark.parametrize("variant", ["auto", "block"])
def test_many_anchors_with_band_pairs(variant):
    """Hundreds of hits on two spots exactly R apart: every anchor has pairs in the band, so
    the deferred buffers grow and within_radius decides them all (in both compiled scans)."""
    rng = np.random.default_rng(5)
    n = 400
    spot = rng.random(n) < 0.5
    lat = np.where(spot, 45.0, 45.003)
    lon = np.where(spot, 7.0, 7.002)
    t = np.sort(rng.integers(0, 400, n)).astype(np.int64)
    dev = rng.integers(0, 30, n).astype(np.int64)
    d = float(pair_distance_m(45.0, 7.0, 45.003, 7.002))
    for radius in (d, np.nextafter(d, 0)):
        ref = brute_force(t, lat, lon, dev, 20, float(radius), 4)
        res = find_with(variant, t, lat, lon, dev, 20, float(radius), 4)
        assert_result_equal(res, ref, t, dev)


@pytest.mark.parametrize("variant", VARIANTS)
@settings(max_examples=60, deadline=None, derandomize=True)
@given(scene=scenes(), data=st.data())
def test_time_ordered_input_equals_brute_force(variant, scene, data):
    """Time-ordered input takes the paths without a permutation, and the compiled merge
    (indices sort as (t, index) there); with and without an anchor mask."""
    order = np.argsort(scene.t, kind="stable")
    t, lat, lon, dev = scene.t[order], scene.lat[order], scene.lon[order], scene.dev[order]
    ref = brute_force(t, lat, lon, dev, scene.tau, scene.radius, scene.k)
    n = len(t)
    mask = np.array(data.draw(st.lists(st.booleans(), min_size=n, max_size=n)), dtype=bool)
    chunk_size = data.draw(st.sampled_from([2, 1 << 16]))
    res = find_with(variant, t, lat, lon, dev, scene.tau, scene.radius, scene.k)
    tw = windows_with(variant, t, lat, lon, dev, scene.tau, scene.radius, scene.k, anchor_mask=mask,
                      chunk_size=chunk_size)
    assert_result_equal(res, ref, t, dev)
    assert_windows_equal(tw, ref, only=mask)


@settings(max_examples=60, deadline=None, derandomize=True)
@given(data=st.data())
def test_compiled_merge_equals_merge_windows(data):
    """Random windows over time-ordered hits: the compiled merge returns merge_windows' answer."""
    n = data.draw(st.integers(1, 40))
    t = np.sort(np.array(data.draw(st.lists(st.integers(0, 20), min_size=n, max_size=n)), dtype=np.int64))
    anchors = np.array(sorted(data.draw(st.sets(st.integers(0, n - 1), min_size=1))), dtype=np.int64)
    members = [sorted(data.draw(st.sets(st.integers(0, n - 1), max_size=6)) | {int(a)}) for a in anchors]
    offsets = np.concatenate(([0], np.cumsum([len(m) for m in members]))).astype(np.int64)
    flat = np.array([x for m in members for x in m], dtype=np.int64)
    want = merge_windows(anchors, offsets, flat, anchor_t=t[anchors], member_t=t[flat])
    got = merge_time_ordered(anchors, offsets, flat, n)
    for field in ("offsets", "members", "anchor_offsets", "anchors", "first_anchor"):
        assert getattr(got, field).tolist() == getattr(want, field).tolist(), field
