"""The batch classifier (one compiled pass per upload) equals the per-event reference
(tests/core/morphology/reference.py: scipy.ndimage and numpy, one event at a time), feature by
feature and class by class, on simulated uploads and on random clusters."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from crayfis.morphology.classify import class_names, classify_body, classify_events, features
from crayfis.morphology.compiled_features import FEATURES
from crayfis.morphology.pixels import from_records
from crayfis.sim import pixels as simpix

from . import frames as fr
from . import reference

SHAPE = [FEATURES.index(k) for k in ("length", "elongation", "width", "bend", "fill")]


def assert_matches_reference(events) -> None:
    batch = features(from_records(events))
    expected = np.array([reference.features(ev) for ev in events])
    np.testing.assert_allclose(batch, expected, rtol=1e-7, atol=1e-7)
    assert class_names(classify_events(events)) == [reference.classify(ev) for ev in events]


@pytest.fixture(scope="module")
def simulated():
    return simpix.simulate(240, seed=11)


@pytest.mark.parametrize("pixel_list", [False, True], ids=["byte_blocks", "pixel_lists"])
def test_simulated_uploads_match_the_reference(simulated, pixel_list):
    data = simpix.data_chunk(simulated, run_uuid=simpix.run_uuid_for(11), start_ms=fr.START_MS,
                             pixel_list=pixel_list)
    events = fr.decoded(data)
    assert_matches_reference(events)
    assert class_names(classify_body(data)) == [reference.classify(ev) for ev in events]


@st.composite
def clusters(draw):
    """A few blobs and strokes of random brightness on the dark frame, some near the edges."""
    image: dict[tuple[int, int], int] = {}
    for _ in range(draw(st.integers(1, 3))):
        x = draw(st.one_of(st.integers(0, 6), st.integers(20, 1900), st.integers(1913, 1919)))
        y = draw(st.one_of(st.integers(0, 6), st.integers(20, 1060), st.integers(1073, 1079)))
        n = draw(st.integers(1, 12))
        for _ in range(n):
            image[(min(max(x, 0), 1919), min(max(y, 0), 1079))] = draw(st.integers(0, 255))
            x += draw(st.integers(-2, 2))
            y += draw(st.integers(-2, 2))
    return image


@settings(max_examples=150, deadline=None)
@given(st.lists(clusters(), min_size=1, max_size=4), st.booleans())
def test_random_clusters_match_the_reference(images, pixel_list):
    images = [im for im in images if fr.hits_of(im)] or [{(50, 50): 200}]
    data = fr.body(images, pixel_list=pixel_list)
    events = fr.decoded(data)
    assert_matches_reference(events)
    assert class_names(classify_body(data)) == [reference.classify(ev) for ev in events]


def test_the_reference_measures_a_straight_line_as_straight():
    """A sanity check of the reference itself: a one-pixel-wide diagonal line has no bend, its
    length is its extent along the diagonal plus one, and it is as thin as a line can be."""
    xs = np.arange(20, dtype=float)
    length, elongation, width, bend, _ = reference.shape(xs, xs.copy())
    assert length == pytest.approx(19 * np.sqrt(2) + 1)
    assert bend == pytest.approx(0, abs=1e-9) and width == pytest.approx(0, abs=1e-7)
