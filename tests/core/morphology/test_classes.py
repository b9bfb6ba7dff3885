"""Each class on hand-built clusters, uploaded and decoded as the app's events are, and the shapes'
invariance under the frame's symmetries. Every event is classified both ways the project does
(decoded events with pixels, and the raw body: the indexer's path) and by the per-event reference."""
from __future__ import annotations

import numpy as np
import pytest

from crayfis.morphology import rules
from crayfis.morphology.classify import class_names, classify_body, classify_events, features
from crayfis.morphology.compiled_features import FEATURES
from crayfis.morphology.pixels import from_records
from crayfis.wire import build

from . import frames as fr
from . import reference

F = {name: i for i, name in enumerate(FEATURES)}


def classes(images: list[dict], pixel_list: bool = False) -> list[str | None]:
    """The class of each image's event; asserts that both paths and the reference agree."""
    data = fr.body(images, pixel_list=pixel_list)
    events = fr.decoded(data)
    names = class_names(classify_events(events))
    assert class_names(classify_body(data)) == names
    assert [reference.classify(ev) for ev in events] == names
    return names


def one(image: dict, pixel_list: bool = False) -> str | None:
    return classes([image], pixel_list)[0]


TRACK = fr.line(500, 300, 25, 20)
WORM_ARC = fr.arc(800, 500, 14, 10, 110)
WORM_CURL = fr.arc(300, 700, 7, 0, 300, charge=150)
WORM_S = fr.path(np.array([[100, 800], [106, 806], [112, 800], [118, 794], [124, 800]], float))
SPOT = fr.blob(300.3, 200.6, 180, 0.8)


def test_a_small_round_deposit_is_a_spot():
    assert one(SPOT) == "spot"


def test_a_large_filled_round_deposit_is_a_spot():
    """An alpha-like blob, many pixels across but round and filled, is a spot, not a worm."""
    blob = fr.blob(900.5, 400.5, 255, 2.5)
    f = features(from_records(fr.decoded(fr.body([blob]))))[0]
    assert f[F["length"]] >= rules.LONG_PX and f[F["fill"]] >= rules.MIN_FILL
    assert one(blob) == "spot"


def test_a_short_muon_crossing_near_the_vertical_is_a_spot():
    assert one(fr.line(1000, 500, 2.5, 60)) == "spot"


@pytest.mark.parametrize("angle", [0, 15, 30, 45, 60, 75, 90, 120, 160])
def test_a_long_straight_deposit_is_a_track_at_any_angle(angle):
    assert one(fr.line(700, 500, 22, angle)) == "track"


def test_a_faint_track_broken_by_gaps_below_the_threshold_is_still_one_track():
    """Landau fluctuations leave single pixels under the threshold; LINK_PX bridges them."""
    image = fr.line(500, 300, 30, 0, charge=60, sigma=0.45)
    for x in (506, 515, 524):
        for y in range(295, 306):
            image[(x, y)] = fr.dark(x, y)
    f = features(from_records(fr.decoded(fr.body([image]))))[0]
    assert f[F["n_clusters"]] == 1
    assert one(image) == "track"


@pytest.mark.parametrize("image", [WORM_ARC, WORM_CURL, WORM_S], ids=["arc", "curl", "s-curve"])
def test_a_long_bent_or_curled_deposit_is_a_worm(image):
    assert one(image) == "worm"


def test_a_hot_pixel_is_noise():
    """One bright pixel whose neighbours hold nothing more than the dark frame."""
    assert one({(1000, 700): 200}) == "noise"


def test_a_lone_pixel_that_shares_charge_with_its_neighbours_is_a_spot():
    image = {(1200, 300): 60, (1201, 300): 12 - 3, (1199, 300): 9, (1200, 301): 9, (1200, 299): 9}
    assert one(image) == "spot"


def test_a_lone_pixel_is_noise_in_a_pixel_list_which_shows_no_neighbours():
    image = {(1200, 300): 60, (1201, 300): 9, (1199, 300): 9, (1200, 301): 9, (1200, 299): 9}
    assert one(image, pixel_list=True) == "noise"


def test_pixels_scattered_over_the_frame_are_noise():
    image = {(10, 10): 15, (500, 900): 14, (1500, 20): 16, (1900, 1000): 13, (900, 500): 15}
    assert one(image) == "noise"


def test_a_track_with_a_stray_noise_pixel_elsewhere_is_still_a_track():
    image = dict(TRACK)
    image[(1800, 50)] = 13
    assert one(image) == "track"


def test_a_glow_near_the_threshold_is_noise():
    """A light leak: the region around the lit pixels is lifted to just under the threshold."""
    rng = np.random.default_rng(3)
    image = {(x, y): int(np.clip(np.rint(8 + 2.0 * rng.standard_normal()), 0, 255))
             for x in range(400, 460) for y in range(600, 612)}
    assert sum(v > fr.L2_THRESHOLD for v in image.values()) >= 10
    assert one(image) == "noise"


@pytest.mark.parametrize("pixel_list", [True, False])
def test_more_lit_pixels_than_any_deposit_lights_are_noise(pixel_list):
    """MAX_LIT_PIXELS + 1 lit pixels in one event (the app sends at most 120; a crafted body may
    send more), as a `pixels` list or a byte block: noise, whatever their shape."""
    image = {(x, y): 40 for x in range(100, 100 + 41) for y in range(100, 125)}
    hits = fr.hits_of(image, cap=len(image))
    assert len(hits) > rules.MAX_LIT_PIXELS
    ev = build.event(fr.START_MS + 1000, xbn=1, res=fr.RES)
    if pixel_list:
        for x, y in hits:
            ev.pixels.add(x=x, y=y, val=40)
    else:
        ev = build.event(fr.START_MS + 1000, xbn=1, res=fr.RES, hits=hits,
                         values=lambda x, y: image.get((x, y), fr.dark(x, y)))
    data = fr.body([], events=[ev])
    events = fr.decoded(data)
    assert class_names(classify_body(data)) == class_names(classify_events(events)) == ["noise"]
    assert reference.classify(events[0]) == "noise"


def test_a_zero_bias_sample_without_l2_pixels_has_no_class():
    sample = build.event(fr.START_MS + 1000, xbn=1, res=fr.RES,
                         zero_bias=build.zero_bias_square(10, 10, [3] * 100))
    data = fr.body([], events=[sample, fr.event(SPOT, fr.START_MS + 2000)])
    assert class_names(classify_body(data)) == [None, "spot"]
    assert class_names(classify_events(fr.decoded(data))) == [None, "spot"]


def test_the_same_shapes_sent_as_pixel_lists_keep_their_class():
    """Older builds send only the lit pixels; the shape classes do not need the surroundings."""
    assert classes([SPOT, TRACK, WORM_ARC], pixel_list=True) == ["spot", "track", "worm"]


def test_a_cluster_cut_by_the_frame_edge_is_classified_from_what_is_in_the_frame():
    image = {xy: v for xy, v in fr.line(-8, 500, 26, 0).items() if xy[0] >= 0}
    assert one(image) == "track"


def test_events_of_one_upload_are_classified_in_order():
    assert classes([SPOT, TRACK, {(1000, 700): 200}, WORM_ARC, SPOT]) == ["spot", "track", "noise", "worm", "spot"]


# --- invariance ----------------------------------------------------------------------------------

SYMMETRIES = ["rot90", "rot180", "rot270", "mirror_x", "mirror_y", "transpose"]


@pytest.mark.parametrize("name,image", [("track", TRACK), ("track_steep", fr.line(600, 420, 18, 70)),
                                        ("worm", WORM_ARC), ("worm_s", WORM_S), ("spot", SPOT)])
def test_turning_or_mirroring_a_cluster_keeps_its_shape_and_class(name, image):
    """The frame's symmetries (quarter turns, mirrors) move pixels onto pixels: every shape
    feature is the same, so the class is too."""
    images = [image] + [fr.transform(image, kind) for kind in SYMMETRIES]
    data = fr.body(images)
    events = fr.decoded(data)
    f = features(from_records(events))
    shape = [F[k] for k in ("n_lit", "n_clusters", "n_main", "length", "elongation", "width", "bend", "fill")]
    np.testing.assert_allclose(f[1:, shape], np.repeat(f[:1, shape], len(SYMMETRIES), axis=0), rtol=1e-9, atol=1e-9)
    names = class_names(classify_body(data))
    assert names == [name.split("_")[0]] * len(images)
