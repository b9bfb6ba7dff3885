"""Pseudonyms are keyed and stable; public cells are coarse and never carry the exact position."""
from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from crayfis.privacy import pseudonym, public_cell, public_cells


def test_pseudonym_is_stable_keyed_and_opaque():
    a = pseudonym("3f1a9c0b5e7d2468", b"key-1")
    assert a == pseudonym("3f1a9c0b5e7d2468", "key-1")          # str and bytes keys agree
    assert len(a) == 17 and a[0] == "d" and int(a[1:], 16) >= 0
    assert a != pseudonym("3f1a9c0b5e7d2468", b"key-2")
    assert a != pseudonym("03f1a9c0b5e7d2468", b"key-1")         # opaque: no normalization
    assert "3f1a9c0b5e7d2468" not in a
    with pytest.raises(ValueError):
        pseudonym("x", b"")


def test_known_cells():
    assert public_cell(46.2331, 6.0557) == ("46.25,6.05", 46.25, 6.05)
    assert public_cell(46.3, -0.01) == ("46.35,-0.05", 46.35, -0.05)   # 46.3 starts a cell
    assert public_cell(-33.8688, 151.2093) == ("-33.85,151.25", -33.85, 151.25)
    assert public_cell(90.0, 180.0) == ("89.95,-179.95", 89.95, -179.95)  # pole row, lon wraps
    assert public_cell(None, 1.0) == (None, None, None)
    assert public_cell(float("nan"), 1.0) == (None, None, None)
    assert public_cell(91.0, 1.0) == (None, None, None)


@settings(max_examples=200, deadline=None)
@given(st.floats(-90, 90), st.floats(-180, 180))
def test_cell_contains_the_point_and_hides_it(lat, lon):
    cell, clat, clon = public_cell(lat, lon)
    # the centre is within half a cell of the point (lon modulo the wrap at 180)
    assert abs(clat - lat) <= 0.05 + 1e-9 or lat == 90.0
    dlon = (clon - lon + 180.0) % 360.0 - 180.0
    assert abs(dlon) <= 0.05 + 1e-9
    # only the grid survives: centres are odd multiples of 0.05
    for c in (clat, clon):
        k = round((c + 180.0) / 0.05)
        assert math.isclose(k * 0.05 - 180.0, c, abs_tol=1e-9) and k % 2 == 1
    assert cell == f"{clat:.2f},{clon:.2f}"
    # every point of the cell maps to the same public values
    assert public_cell(clat, clon) == (cell, clat, clon)


@settings(max_examples=100, deadline=None)
@given(st.lists(st.tuples(st.one_of(st.floats(-90, 90), st.just(float("nan")), st.just(100.0)),
                          st.floats(-180, 180)), min_size=0, max_size=50))
def test_vectorized_equals_scalar(points):
    lat = np.array([p[0] for p in points], dtype=float)
    lon = np.array([p[1] for p in points], dtype=float)
    ids, clat, clon = public_cells(lat, lon)
    for k, (a, b) in enumerate(points):
        cell, sa, sb = public_cell(a, b)
        assert ids[k] == cell
        if cell is None:
            assert np.isnan(clat[k]) and np.isnan(clon[k])
        else:
            assert (clat[k], clon[k]) == (sa, sb)


def test_finer_grid_option():
    cell, clat, clon = public_cell(46.2331, 6.0557, per_degree=2)
    assert (clat, clon) == (46.25, 6.25) and cell == "2:272:372"
