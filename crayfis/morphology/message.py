"""EventPixels of every event of a parsed DataChunk, read through protobuf.

The indexer's path reads the serialized body in compiled code (compiled_wire, via
classify.classify_body); this is the same reading through the protobuf objects, taken for the
rare body the compiled reader declines, and the reference the tests hold it to. Each event's L2
payload is the decoder's (crayfis.wire.decode): a byte_block with hits or values, else the
`pixels` list. Byte blocks are replayed in compiled code (compiled_replay). Events come in
decode_chunk's order: exposure blocks in message order, their events in order, so the result
lines up with DecodedChunk.events.
"""
from __future__ import annotations

import numpy as np

from crayfis.morphology.compiled_replay import OK, replay
from crayfis.morphology.pixels import EventPixels
from crayfis.morphology.rules import MAX_LIT_PIXELS
from crayfis.wire import crayfis_pb2 as pb
from crayfis.wire.decode import DEFAULT_SIDE_LENGTH


def _payload(ev) -> tuple[list, list, list, int]:
    """(x, y, val, side) of one event's L2 payload; side 0 for a `pixels` list."""
    if ev.HasField("byte_block"):
        bb = ev.byte_block
        xs, vals = bb.x[:], bb.val[:]
        if xs or vals:
            return xs, bb.y[:], vals, bb.side_length or DEFAULT_SIDE_LENGTH
    pixels = ev.pixels
    if pixels:
        return [p.x for p in pixels], [p.y for p in pixels], [p.val for p in pixels], 0
    return [], [], [], 0


def _offsets(counts: list[int]) -> np.ndarray:
    out = np.zeros(len(counts) + 1, dtype=np.int64)
    np.cumsum(counts, out=out[1:])
    return out


def wire_form(msg: pb.DataChunk, max_hits: int = MAX_LIT_PIXELS):
    """compiled_wire.read's arrays (without its ok flag), read through protobuf: (hit_start, hit
    x, hit y, val_start, values, side, res, avg, std, crowded); ValueError when the x and y
    counts of a block differ."""
    hx: list[int] = []
    hy: list[int] = []
    vals: list[int] = []
    n_hits, n_vals, sides, res, mean, std, crowded = [], [], [], [], [], [], []
    for xb in msg.exposure_blocks:
        rx, ry = xb.res_x, xb.res_y
        for ev in xb.events:
            xs, ys, vs, side = _payload(ev)
            if len(xs) != len(ys):
                raise ValueError(f"event at {ev.timestamp}: {len(xs)} x but {len(ys)} y coordinates")
            crowded.append(len(xs) > max_hits)
            if crowded[-1]:
                xs = ys = vs = ()
            hx.extend(xs)
            hy.extend(ys)
            vals.extend(vs)
            n_hits.append(len(xs))
            n_vals.append(len(vs))
            sides.append(side)
            res.append((rx, ry))
            mean.append(ev.avg)
            std.append(ev.std)
    return (_offsets(n_hits), np.array(hx, dtype=np.int64), np.array(hy, dtype=np.int64), _offsets(n_vals),
            np.array(vals, dtype=np.int64), np.array(sides, dtype=np.int64),
            np.array(res, dtype=np.int64).reshape(-1, 2), np.array(mean, dtype=np.float64),
            np.array(std, dtype=np.float64), np.array(crowded, dtype=np.bool_))


def to_pixels(form) -> EventPixels:
    """Replay the byte blocks of a wire form; ValueError for one that does not replay to its values."""
    hit_start, hx, hy, val_start, vals, side, res, mean, std, crowded = form
    x, y, lit, bad = replay(hit_start, hx, hy, val_start, side, np.ascontiguousarray(res[:, 0]),
                            np.ascontiguousarray(res[:, 1]))
    if bad != OK:
        raise ValueError(f"event {bad}: its byte block does not replay to its "
                         f"{val_start[bad + 1] - val_start[bad]} values")
    finite = np.isfinite(mean), np.isfinite(std)
    return EventPixels(val_start, x, y, vals, lit, np.where(finite[0], mean, np.nan), np.where(finite[1], std, np.nan),
                       crowded)


def from_message(msg: pb.DataChunk) -> EventPixels:
    """The pixels of every event of a parsed DataChunk (the protobuf reading)."""
    return to_pixels(wire_form(msg))
