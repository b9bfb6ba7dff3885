"""The distance the search uses: the haversine, decided exactly at R."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from crayfis.coincidence.distance import (
    chord2,
    distance_from_chord2,
    haversine_m,
    pair_distance_m,
    unit_vectors,
    within_radius,
)

lat_s = st.floats(-90, 90, allow_nan=False)
lon_s = st.floats(-180, 180, allow_nan=False)


@settings(max_examples=100, deadline=None, derandomize=True)
@given(lat_s, lon_s, st.floats(-0.05, 0.05), st.floats(-0.05, 0.05))
def test_chord_form_agrees_with_textbook_haversine(lat, lon, dlat, dlon):
    lat2 = float(np.clip(lat + dlat, -90, 90))
    lon2 = float((lon + dlon + 180) % 360 - 180)
    ours = float(pair_distance_m(lat, lon, lat2, lon2))
    textbook = float(haversine_m(lat, lon, lat2, lon2))
    assert abs(ours - textbook) < 1e-6 + 1e-9 * textbook


def test_known_distances():
    quarter = np.pi / 2 * 6371008.8
    assert abs(float(pair_distance_m(0, 0, 0, 90)) - quarter) < 1e-6
    assert abs(float(pair_distance_m(90, 0, 0, 123)) - quarter) < 1e-6
    # across the antimeridian: 0.002 degrees of longitude at the equator
    assert abs(float(pair_distance_m(0, 179.999, 0, -179.999)) - 0.002 * np.pi / 180 * 6371008.8) < 1e-6
    assert float(pair_distance_m(90, 10, 90, -170)) < 1e-6  # the pole is one point


@settings(max_examples=100, deadline=None, derandomize=True)
@given(st.integers(0, 2**32 - 1), st.floats(0.0, 5e5))
def test_within_radius_is_exactly_distance_at_most_r(seed, radius):
    rng = np.random.default_rng(seed)
    lat = rng.uniform(-90, 90, 200)
    lon = rng.uniform(-180, 180, 200)
    x, y, z = unit_vectors(lat, lon)
    c2 = chord2(x[0], y[0], z[0], x, y, z)
    d = distance_from_chord2(c2)
    radius = float(d[1]) if seed % 2 else radius  # half the cases: a pair at exactly R
    assert np.array_equal(within_radius(c2, radius), d <= radius)
    # and the float right next to the boundary on either side
    for r in (np.nextafter(radius, 0), np.nextafter(radius, np.inf)):
        assert np.array_equal(within_radius(c2, float(r)), d <= r)


@settings(max_examples=50, deadline=None, derandomize=True)
@given(st.integers(0, 2**32 - 1))
def test_unit_vector_of_a_hit_does_not_depend_on_its_array(seed):
    """Exactness relies on this: the kernel computes vectors of subsets in other layouts."""
    rng = np.random.default_rng(seed)
    lat, lon = rng.uniform(-90, 90, 257), rng.uniform(-180, 180, 257)
    full = unit_vectors(lat, lon)
    idx = rng.permutation(257)[:101]
    part = unit_vectors(lat[idx], lon[idx])
    strided = unit_vectors(lat[::3], lon[::3])
    for f, p, s in zip(full, part, strided):
        assert np.array_equal(f[idx], p)
        assert np.array_equal(f[::3], s)
    one = [unit_vectors(lat[i], lon[i]) for i in idx[:20]]
    for j, i in enumerate(idx[:20]):
        assert tuple(float(v) for v in one[j]) == (full[0][i], full[1][i], full[2][i])
