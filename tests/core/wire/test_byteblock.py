"""ByteBlock: encoder and decoder are exact inverses and follow the spec's replay order."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from crayfis.wire import build
from crayfis.wire.byteblock import ByteBlockError, block_coords, block_size, decode_block, encode_block
from crayfis.wire.decode import WireDecodeError, decode_submit


def reference_replay(hits, r, res_x, res_y):
    """Spec section 4, literally: hits in order, dy outer, dx inner, skip covered, off-frame
    coordinates covered but appending nothing."""
    covered, order = [], []
    for cx, cy in hits:
        for dy in range(-r, r + 1):
            for dx in range(-r, r + 1):
                c = (cx + dx, cy + dy)
                if c in covered:
                    continue
                covered.append(c)
                if 0 <= c[0] < res_x and 0 <= c[1] < res_y:
                    order.append(c)
    return order


@st.composite
def frames_and_hits(draw):
    res_x = draw(st.integers(1, 24))
    res_y = draw(st.integers(1, 24))
    side = draw(st.sampled_from([1, 3, 5, 7]))
    # bias towards edges and clustered (overlapping) hits
    coord_x = st.one_of(st.sampled_from(sorted({0, 1, res_x - 2, res_x - 1} & set(range(res_x)))),
                        st.integers(0, res_x - 1))
    coord_y = st.one_of(st.sampled_from(sorted({0, 1, res_y - 2, res_y - 1} & set(range(res_y)))),
                        st.integers(0, res_y - 1))
    hits = draw(st.lists(st.tuples(coord_x, coord_y), min_size=0, max_size=12))
    seed = draw(st.integers(0, 2**32 - 1))
    frame = np.random.default_rng(seed).integers(0, 1024, size=(res_y, res_x))
    return res_x, res_y, side, hits, frame


@settings(max_examples=150, deadline=None)
@given(frames_and_hits())
def test_encode_then_decode_is_identity_and_matches_the_spec_order(case):
    res_x, res_y, side, hits, frame = case
    xs, ys = [h[0] for h in hits], [h[1] for h in hits]
    vals = encode_block(xs, ys, frame, side, res_x, res_y)
    pixels = decode_block(xs, ys, vals, side, res_x, res_y)
    order = reference_replay(hits, side // 2, res_x, res_y)
    assert [(x, y) for x, y, _ in pixels] == order
    assert all(v == frame[y, x] for x, y, v in pixels)
    assert [v for _, _, v in pixels] == vals
    assert block_size(xs, ys, side, res_x, res_y) == len(order)


@settings(max_examples=200, deadline=None)
@given(frames_and_hits())
def test_decode_then_encode_is_identity(case):
    """Any value list of the right length decodes, and re-encoding the pixels gives it back."""
    res_x, res_y, side, hits, frame = case
    xs, ys = [h[0] for h in hits], [h[1] for h in hits]
    n = len(block_coords(xs, ys, side, res_x, res_y))
    vals = list(np.random.default_rng(n).integers(0, 2**32, size=n, dtype=np.uint64).tolist())
    pixels = decode_block(xs, ys, vals, side, res_x, res_y)
    assert encode_block(xs, ys, {(x, y): v for x, y, v in pixels}, side, res_x, res_y) == vals


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.integers(2, 1917), st.integers(2, 1077)), min_size=1, max_size=40))
def test_block_size_fast_path_on_a_full_frame(hits):
    xs, ys = [h[0] for h in hits], [h[1] for h in hits]
    assert block_size(xs, ys, 5, 1920, 1080) == len(reference_replay(hits, 2, 1920, 1080))


@settings(max_examples=100, deadline=None)
@given(frames_and_hits(), st.integers(-3, 3).filter(lambda d: d != 0))
def test_wrong_value_count_is_rejected(case, delta):
    res_x, res_y, side, hits, frame = case
    xs, ys = [h[0] for h in hits], [h[1] for h in hits]
    n = len(block_coords(xs, ys, side, res_x, res_y))
    if n + delta < 0:
        return
    with pytest.raises(ByteBlockError):
        decode_block(xs, ys, [1] * (n + delta), side, res_x, res_y)


def test_corner_hit_keeps_only_on_frame_values():
    # spec sample: a hit at (0, 0) of a 5x5 square yields the 3x3 on-frame part, row by row
    coords = block_coords([0], [0], 5, 1920, 1080)
    assert coords == [(x, y) for y in range(3) for x in range(3)]


def test_overlapping_squares_skip_covered_coordinates():
    coords = block_coords([100, 102], [200, 201], 5, 1920, 1080)
    assert len(coords) == 25 + 13          # second square adds 2 new columns + 1 new row - corner
    assert len(set(coords)) == len(coords)
    assert coords[:25] == [(x, y) for y in range(198, 203) for x in range(98, 103)]
    assert coords[25:] == [(103, 199), (104, 199), (103, 200), (104, 200), (103, 201), (104, 201),
                           (103, 202), (104, 202), (100, 203), (101, 203), (102, 203), (103, 203), (104, 203)]


@pytest.mark.parametrize("kwargs, message", [
    (dict(xs=[1], ys=[], side=5, res=(10, 10)), "x but"),
    (dict(xs=[1], ys=[1], side=4, res=(10, 10)), "odd"),
    (dict(xs=[1], ys=[1], side=5, res=(0, 0)), "frame size"),
    (dict(xs=[10], ys=[1], side=5, res=(10, 10)), "outside"),
    (dict(xs=[1] * 100_000, ys=[1] * 100_000, side=99, res=(10, 10)), "bound"),
])
def test_unreplayable_blocks(kwargs, message):
    with pytest.raises(ByteBlockError, match=message):
        block_coords(kwargs["xs"], kwargs["ys"], kwargs["side"], *kwargs["res"])
    with pytest.raises(ByteBlockError, match=message):
        block_size(kwargs["xs"], kwargs["ys"], kwargs["side"], *kwargs["res"])


def _body_with_block(bb, res=(64, 48)):
    run = "7f3c2a10-51d4-4e8b-9a6f-2b1c0d9e8f70"
    ev = build.event(1735689700000, xbn=1)
    ev.byte_block.CopyFrom(bb)
    xb = build.exposure_block(run, xbn=1, start_ms=1735689600000, end_ms=1735689780000, events=[ev], res=res)
    return build.data_chunk([], [xb]), build.submit_headers("abc", run)


@pytest.mark.parametrize("with_pixels", [True, False])
def test_decoder_quarantines_an_inconsistent_block(with_pixels):
    bb = build.byte_block([(10, 10), (12, 11)], lambda x, y: x + y, 64, 48)
    good, headers = _body_with_block(bb)
    assert decode_submit(good, headers, with_pixels=with_pixels).exposures[0].events[0].n_pix == 2
    del bb.val[-1]
    bad, headers = _body_with_block(bb)
    with pytest.raises(WireDecodeError, match="values"):
        decode_submit(bad, headers, with_pixels=with_pixels)


def test_decoder_needs_the_frame_size_for_a_block():
    bb = build.byte_block([(10, 10)], lambda x, y: 1, 64, 48)
    body, headers = _body_with_block(bb, res=(0, 0))
    with pytest.raises(WireDecodeError, match="frame size"):
        decode_submit(body, headers)


def test_missing_side_length_means_the_app_default_of_five():
    bb = build.byte_block([(10, 10)], lambda x, y: x, 64, 48, side_length=5)
    bb.ClearField("side_length")
    body, headers = _body_with_block(bb)
    ev = decode_submit(body, headers).exposures[0].events[0]
    assert len(ev.pixels) == 25 and ev.pixels[0] == (8, 8, 8)
