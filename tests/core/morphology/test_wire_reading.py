"""The indexer's path reads serialized DataChunks in compiled code (compiled_wire) and replays byte
blocks in compiled code (compiled_replay). Both are pinned here to the definitions they stand in
for: protobuf's own parsing (message.wire_form over the parsed message) and
crayfis.wire.byteblock's replay order."""
from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from itertools import chain
from pathlib import Path

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
from crayfis.wire.decode import WireDecodeError, decode_submit, parse_chunk
from ingest.synthetic import make_chunk

from . import frames as fr

ROOT = Path(__file__).resolve().parents[3]
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


def chunk_of(events: list[bytes], *, res=(1920, 1080), xb_extra: bytes = b"", res_first: bool = False) -> bytes:
    """A DataChunk with one exposure block holding these serialized events (the resolution after
    them, as protobuf writes it, or before them, so the last event ends the body)."""
    res_fields = field(26, 0, res[0]) + field(27, 0, res[1])
    events_fields = b"".join(field(7, 2, ev) for ev in events)
    xb = res_fields + xb_extra + events_fields if res_first else events_fields + res_fields + xb_extra
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


# --- crafted bodies ------------------------------------------------------------------------------

def random_varint(rng: np.random.Generator, longest: int) -> bytes:
    size = int(rng.integers(1, longest)) if rng.random() < 0.15 else int(rng.integers(0, 2))
    return bytes([0x80 | int(b) for b in rng.integers(0, 128, size)]) + bytes([int(rng.integers(0, 128))])


def random_fields(rng: np.random.Generator, numbers: list[int], clean: bool) -> bytes:
    """A message body of random fields: these numbers (and a stranger), runs of one tag, packed
    runs, and (unless clean) bad wire types, varints over 10 bytes, lengths that overrun, a cut
    anywhere. Either way it may end in a run's tag with no value after it."""
    longest = 10 if clean else 12
    out = bytearray()
    for _ in range(rng.integers(1, 12)):
        number = int(rng.choice(numbers + [int(rng.integers(1, 40))]))
        wire_type = int(rng.choice([0] * 10 + [2] * 4 + [1, 5] + ([] if clean else [3, 6])))
        out += varint(number << 3 | wire_type)
        if wire_type == 0:
            out += random_varint(rng, longest)
            for _ in range(rng.integers(0, 5)):   # the run goes on
                out += varint(number << 3) + random_varint(rng, longest)
        elif wire_type == 2:
            if clean:
                payload = b"".join(random_varint(rng, longest) for _ in range(rng.integers(0, 6)))
            else:
                payload = bytes(rng.integers(0, 256, rng.integers(0, 8)).astype(np.uint8))
            overrun = int(rng.integers(1, 4)) if not clean and rng.random() < 0.1 else 0
            out += varint(len(payload) + overrun) + payload
        elif wire_type in (1, 5):
            out += bytes(rng.integers(0, 256, 8 if wire_type == 1 else 4).astype(np.uint8))
    if wire_type == 0 and rng.random() < 0.3:
        out += varint(number << 3)                # a run's tag with no value after it
    return bytes(out if clean or rng.random() < 0.8 else out[:rng.integers(1, len(out) + 1)])


def crafted(seed: int, n: int):
    """Well-framed chunks whose byte blocks, pixels and events hold random fields."""
    rng = np.random.default_rng(seed)
    for _ in range(n):
        events = []
        for _ in range(rng.integers(1, 4)):
            clean = rng.random() < 0.7
            ev = random_fields(rng, [4, 5, 6, 22], clean) if rng.random() < 0.3 else b""
            ev += field(4, 2, random_fields(rng, [1, 2, 3], clean)) if rng.random() < 0.3 else b""
            events.append(ev + field(22, 2, random_fields(rng, [1, 2, 3, 4], clean)))
        yield chunk_of(events, res=(int(rng.integers(0, 60)), int(rng.integers(0, 60))), res_first=rng.random() < 0.5)


def mutations(seed: int, n: int, simulated: bool = True):
    """Bodies cut short, with bytes flipped or spliced: mostly junk, some still valid protobuf."""
    rng = np.random.default_rng(seed)
    bases = [make_chunk(s, n_events=6).body for s in range(3)]
    if simulated:
        bases.append(simpix.data_chunk(simpix.simulate(8, seed=seed), run_uuid=simpix.run_uuid_for(seed),
                                       start_ms=fr.START_MS))
    for _ in range(n):
        body = bytearray(bases[rng.integers(len(bases))])
        kind = rng.integers(3)
        if kind == 0:
            body = body[:rng.integers(len(body))]
        elif kind == 1:
            for i in rng.integers(0, len(body), rng.integers(1, 6)):
                body[i] = int(rng.integers(256))
        else:
            i = int(rng.integers(len(body)))
            body[i:i] = bytes(rng.integers(0, 256, rng.integers(1, 12)).astype(np.uint8))
        yield bytes(body)


def test_mutated_bodies_read_the_same_or_are_declined():
    """Where protobuf parses a mutated body and the compiled reader accepts it, both read the same."""
    agreed = 0
    for body in mutations(seed=1, n=800):
        ok, form = compiled(body)
        try:
            expected = wire_form(parse_chunk(body))
        except ValueError:   # not protobuf, or x/y counts differ (the decoder rejects both)
            continue
        if ok:
            for name, got, want in zip(NAMES, form, expected):
                np.testing.assert_array_equal(np.asarray(got), np.asarray(want), err_msg=name)
            agreed += 1
    assert agreed > 40


def classify_mutations(seed: int, n: int) -> int:
    """Read every mutated and crafted body; classify those the decoder accepts. Returns how many
    it accepted."""
    accepted = 0
    for body in chain(mutations(seed, n, simulated=False), crafted(seed, n)):
        compiled(body)
        try:
            decode_submit(body, {"Device-id": "fuzz"}, with_pixels=False)
        except WireDecodeError:
            continue
        classify_body(body)
        accepted += 1
    return accepted


def test_mutated_bodies_stay_within_bounds():
    """The compiled reader on every mutated and crafted body, and the whole compiled
    classification on those the decoder accepts (the only ones the indexer classifies), with
    numba's bounds checking on (a fresh compile in a child process): no index reaches outside an
    array. Checked to fail (IndexError) when _unpacked_run loses its guard against a run that
    ends in a tag with no value after it at the end of the body."""
    code = ("from tests.core.morphology.test_wire_reading import classify_mutations;"
            "print(classify_mutations(seed=2, n=400))")
    env = {**os.environ, "NUMBA_BOUNDSCHECK": "1", "NUMBA_CACHE_DIR": tempfile.mkdtemp(prefix="morph-numba-")}
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=900)
    assert done.returncode == 0, done.stderr[-3000:]
    assert int(done.stdout.split()[-1]) > 20
