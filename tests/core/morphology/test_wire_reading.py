"""The indexer's path reads serialized DataChunks in compiled code (compiled_wire) and replays byte
blocks in compiled code (compiled_replay). Both are pinned here to the definitions they stand in
for: protobuf's own parsing (message.wire_form over the parsed message) and
crayfis.wire.byteblock's replay order."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from crayfis.morphology import compiled_wire
from crayfis.morphology.classify import classify_body, classify_message
from crayfis.morphology.compiled_replay import OK, replay
from crayfis.morphology.message import wire_form
from crayfis.morphology.rules import MAX_LIT_PIXELS
from crayfis.sim import pixels as simpix
from crayfis.wire import crayfis_pb2 as pb
from crayfis.wire.byteblock import block_coords
from crayfis.wire.decode import parse_chunk
from ingest.synthetic import make_chunk

from . import frames as fr

NAMES = ("hit_start", "hx", "hy", "val_start", "vals", "side", "res", "avg", "std", "crowded")


def compiled(body: bytes):
    ok, *form = compiled_wire.read(np.frombuffer(body, dtype=np.uint8), MAX_LIT_PIXELS)
    return ok, form


def assert_same_reading(body: bytes) -> None:
    ok, form = compiled(body)
    assert ok
    for name, got, want in zip(NAMES, form, wire_form(parse_chunk(body))):
        np.testing.assert_array_equal(np.asarray(got), np.asarray(want), err_msg=name)


# --- hand-made protobuf wire bytes ---------------------------------------------------------------

def varint(n: int) -> bytes:
    out = bytearray()
    while True:
        b, n = n & 0x7F, n >> 7
        out.append(b | (0x80 if n else 0))
        if not n:
            return bytes(out)


def field(number: int, wire_type: int, payload: bytes | int) -> bytes:
    if wire_type == 0:
        return varint(number << 3) + varint(payload)
    if wire_type == 2:
        return varint(number << 3 | 2) + varint(len(payload)) + payload
    return varint(number << 3 | wire_type) + payload


def packed(number: int, values: list[int]) -> bytes:
    return field(number, 2, b"".join(varint(v) for v in values))


def chunk_of(events: list[bytes], *, res=(1920, 1080), xb_extra: bytes = b"") -> bytes:
    """A DataChunk with one exposure block holding these serialized events."""
    xb = b"".join(field(7, 2, ev) for ev in events) + field(26, 0, res[0]) + field(27, 0, res[1]) + xb_extra
    return field(2, 2, xb)


SQUARE = [7, 3, 2, 4, 3, 2, 9, 12, 9, 3, 4, 11, 200, 14, 2, 3, 8, 13, 9, 4, 2, 3, 2, 4, 3]


# --- readings ------------------------------------------------------------------------------------

def test_app_uploads_read_the_same():
    for seed in range(5):
        assert_same_reading(make_chunk(seed).body)


@pytest.mark.parametrize("pixel_list", [False, True])
def test_simulated_uploads_read_the_same(pixel_list):
    events = simpix.simulate(48, seed=4)
    assert_same_reading(simpix.data_chunk(events, run_uuid=simpix.run_uuid_for(4), start_ms=fr.START_MS,
                                          pixel_list=pixel_list))


def test_packed_repeated_fields_read_as_unpacked_ones():
    """proto2 parsers accept a repeated scalar packed as well as unpacked."""
    bb = packed(1, [100]) + packed(2, [200]) + packed(3, SQUARE) + field(4, 0, 5)
    assert_same_reading(chunk_of([field(22, 2, bb) + field(1, 0, fr.START_MS)]))


def test_two_byte_block_fields_merge_and_the_last_side_length_wins():
    first = field(1, 0, 100) + field(2, 0, 200) + field(4, 0, 3)
    second = field(3, 2, b"".join(varint(v) for v in SQUARE)) + field(4, 0, 5)
    body = chunk_of([field(22, 2, first) + field(5, 1, np.float64(2.5).tobytes()) + field(22, 2, second)])
    assert_same_reading(body)
    ok, form = compiled(body)
    assert form[5].tolist() == [5] and form[7].tolist() == [2.5]


def test_unknown_fields_and_wrong_wire_types_are_skipped():
    bb = field(1, 0, 100) + field(2, 0, 200) + field(3, 2, b"".join(varint(v) for v in SQUARE))
    bb += field(9, 0, 7) + field(4, 5, b"\x05\x00\x00\x00") + field(15, 2, b"junk")
    ev = field(99, 2, b"\x01\x02") + field(22, 2, bb) + field(6, 5, b"\x00\x00\x80\x3f") + field(500, 0, 3)
    assert_same_reading(chunk_of([ev], xb_extra=field(26, 2, b"\x10") + field(1000, 1, b"\x00" * 8)))


def test_the_last_resolution_and_pixel_field_occurrence_win():
    pixel = field(1, 0, 5) + field(2, 0, 6) + field(3, 0, 70) + field(1, 0, 8)
    body = chunk_of([field(4, 2, pixel), field(4, 2, field(3, 0, 1 << 40))], res=(640, 480),
                    xb_extra=field(26, 0, 800))
    assert_same_reading(body)
    ok, form = compiled(body)
    assert form[6].tolist() == [[800, 480], [800, 480]]
    assert form[4].tolist() == [70, 0]   # 1 << 40 keeps its low 32 bits, as a uint32 does


def test_long_varints_in_values_read_the_same():
    vals = [v if i % 3 else v + (1 << 20) for i, v in enumerate(SQUARE)]
    bb = field(1, 0, 100) + field(2, 0, 200) + b"".join(field(3, 0, v) for v in vals)
    assert_same_reading(chunk_of([field(22, 2, bb)]))


def test_events_over_the_lit_pixel_bound_keep_no_pixels_and_are_flagged():
    xs = list(range(MAX_LIT_PIXELS + 1))
    pixels = b"".join(field(4, 2, field(1, 0, x) + field(2, 0, 3) + field(3, 0, 50)) for x in xs)
    body = chunk_of([pixels, field(4, 2, field(1, 0, 1) + field(2, 0, 1) + field(3, 0, 60))])
    assert_same_reading(body)
    ok, form = compiled(body)
    assert form[9].tolist() == [True, False] and form[0].tolist() == [0, 0, 1]


def test_a_group_makes_the_compiled_reader_decline_and_the_protobuf_path_answer():
    """Groups (wire types 3 and 4) are legal unknown fields to protobuf; the compiled reader
    hands such a body to the protobuf reading instead of guessing."""
    bb = field(1, 0, 100) + field(2, 0, 200) + field(3, 2, b"".join(varint(v) for v in SQUARE))
    group = varint(40 << 3 | 3) + field(1, 0, 5) + varint(40 << 3 | 4)
    body = chunk_of([group + field(22, 2, bb)])
    pb.DataChunk.FromString(body)   # protobuf accepts it
    assert not compiled(body)[0]
    assert classify_body(body).tolist() == classify_message(parse_chunk(body)).tolist()


# --- replay --------------------------------------------------------------------------------------

@st.composite
def blocks(draw):
    """Events of random hits on small frames (edges, overlaps, duplicates), spread or clustered."""
    events = []
    for _ in range(draw(st.integers(1, 4))):
        res_x, res_y = draw(st.integers(1, 40)), draw(st.integers(1, 40))
        side = draw(st.sampled_from([1, 3, 5, 7]))
        spread = draw(st.booleans())
        hx, hy = (st.integers(0, n - 1) if spread else st.integers(max(n // 2 - 3, 0), min(n // 2 + 3, n - 1))
                  for n in (res_x, res_y))
        hits = draw(st.lists(st.tuples(hx, hy), min_size=0, max_size=30))
        events.append((res_x, res_y, side, hits))
    return events


@settings(max_examples=300, deadline=None)
@given(blocks())
def test_compiled_replay_follows_the_byteblock_order(events):
    hit_start, val_start, hx, hy, side, rx, ry, want = [0], [0], [], [], [], [], [], []
    for res_x, res_y, s, hits in events:
        coords = block_coords([h[0] for h in hits], [h[1] for h in hits], s, res_x, res_y)
        want.append((coords, set(hits)))
        hx += [h[0] for h in hits]
        hy += [h[1] for h in hits]
        hit_start.append(len(hx))
        val_start.append(val_start[-1] + len(coords))
        side.append(s)
        rx.append(res_x)
        ry.append(res_y)
    arr = lambda v: np.array(v, dtype=np.int64)  # noqa: E731
    x, y, lit, bad = replay(arr(hit_start), arr(hx), arr(hy), arr(val_start), arr(side), arr(rx), arr(ry))
    assert bad == OK
    for e, (coords, hits) in enumerate(want):
        lo, hi = val_start[e], val_start[e + 1]
        assert list(zip(x[lo:hi].tolist(), y[lo:hi].tolist())) == coords
        assert lit[lo:hi].tolist() == [c in hits for c in coords]


def test_a_block_with_the_wrong_number_of_values_is_reported():
    arr = lambda v: np.array(v, dtype=np.int64)  # noqa: E731
    for n_vals in (24, 26):
        *_, bad = replay(arr([0, 1]), arr([10]), arr([10]), arr([0, n_vals]), arr([5]), arr([100]), arr([100]))
        assert bad == 0
