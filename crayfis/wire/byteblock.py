"""The ByteBlock pixel order (docs/wire-protocol.md section 4), shared by the decoder and the encoder.

The app copies the square of side 2r+1 around every L2 hit, hits in list order, rows (dy) outer
and columns (dx) inner; a coordinate already copied by an earlier square is skipped, and an
off-frame coordinate is marked as covered but contributes no value. Decoding is replaying that
order, so encoder and decoder share `block_coords` and are exact inverses by construction.
"""
from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from functools import lru_cache

# Bound on replay work (hits x side^2): the app sends <= 120 hits x 25; this stops a crafted body
# from making the decoder loop for minutes.
MAX_REPLAY_COORDS = 2_000_000
MAX_SIDE_LENGTH = 99


class ByteBlockError(ValueError):
    """The block cannot be replayed (bad side length, off-frame hit, wrong number of values)."""


def radius_of(side_length: int) -> int:
    if side_length < 1 or side_length % 2 == 0 or side_length > MAX_SIDE_LENGTH:
        raise ByteBlockError(f"side_length {side_length} is not an odd number in 1..{MAX_SIDE_LENGTH}")
    return (side_length - 1) // 2


def _check(hits: list[tuple[int, int]], side_length: int, res_x: int, res_y: int) -> int:
    r = radius_of(side_length)
    if res_x <= 0 or res_y <= 0:
        raise ByteBlockError("byte_block needs the frame size (res_x, res_y)")
    if len(hits) * side_length * side_length > MAX_REPLAY_COORDS:
        raise ByteBlockError(f"{len(hits)} hits of side {side_length} exceed the replay bound")
    for x, y in hits:
        if x >= res_x or y >= res_y:
            raise ByteBlockError(f"hit ({x}, {y}) outside the {res_x}x{res_y} frame")
    return r


def block_coords(xs: Sequence[int], ys: Sequence[int], side_length: int,
                 res_x: int, res_y: int) -> list[tuple[int, int]]:
    """The (x, y) coordinate of each value of the block, in wire order."""
    if len(xs) != len(ys):
        raise ByteBlockError(f"{len(xs)} x but {len(ys)} y coordinates")
    return _replay(list(zip(xs, ys)), side_length, res_x, res_y)


def _replay(hits: list[tuple[int, int]], side_length: int, res_x: int, res_y: int) -> list[tuple[int, int]]:
    r = _check(hits, side_length, res_x, res_y)
    covered: set[tuple[int, int]] = set()
    out: list[tuple[int, int]] = []
    span = range(-r, r + 1)
    for cx, cy in hits:
        for dy in span:
            y = cy + dy
            for dx in span:
                c = (cx + dx, y)
                if c in covered:
                    continue
                covered.add(c)
                if 0 <= c[0] < res_x and 0 <= y < res_y:
                    out.append(c)
    return out


@lru_cache(maxsize=64)
def _offsets(r: int, stride: int) -> tuple[int, ...]:
    return tuple(dy * stride + dx for dy in range(-r, r + 1) for dx in range(-r, r + 1))


def block_size(xs: Sequence[int], ys: Sequence[int], side_length: int, res_x: int, res_y: int) -> int:
    """How many values a consistent block holds, without building the coordinate list.

    Runs once per hit on the ingest path, so the common case avoids per-coordinate work: every
    square inside the frame (checked on the coordinate bounds) -> the size of the union of the
    squares, counted as the set bits of one Python int used as a bitmap over the hits' bounding
    box (one shift and OR per hit; `int.bit_count` counts). When the bounding box is too large
    for a small bitmap, squares pairwise apart hold n * side^2, else flat indices go into a set.
    Any square touching an edge, and every inconsistent input, takes the full replay (which
    raises the precise error).
    """
    n = len(xs)
    if n != len(ys):
        raise ByteBlockError(f"{n} x but {len(ys)} y coordinates")
    if not (0 < side_length <= MAX_SIDE_LENGTH) or side_length % 2 == 0 \
            or res_x <= 0 or res_y <= 0 or n * side_length * side_length > MAX_REPLAY_COORDS:
        return len(_replay(list(zip(xs, ys)), side_length, res_x, res_y))
    if n == 0:
        return 0
    r = side_length >> 1
    x_lo, x_hi, y_lo, y_hi = min(xs), max(xs), min(ys), max(ys)
    if x_lo < r or y_lo < r or x_hi >= res_x - r or y_hi >= res_y - r:
        return len(_replay(list(zip(xs, ys)), side_length, res_x, res_y))
    if n == 1:
        return side_length * side_length
    width = x_hi - x_lo + side_length
    if width * (y_hi - y_lo + side_length) <= _MAX_BITMAP_BITS:
        square = _square_bits(side_length, width)
        covered = 0
        for x, y in zip(xs, ys):
            covered |= square << ((y - y_lo) * width + x - x_lo)
        return covered.bit_count()
    return _sparse_union_size(list(zip(xs, ys)), side_length, r, res_x)


# Bounding boxes up to this many pixels are counted as one int bitmap (a 2 kB int at most).
_MAX_BITMAP_BITS = 1 << 14


@lru_cache(maxsize=1024)
def _square_bits(side: int, width: int) -> int:
    """A side x side square of set bits in a bitmap `width` bits wide, at the origin."""
    row = (1 << side) - 1
    return sum(row << (dy * width) for dy in range(side))


def _sparse_union_size(hits: list[tuple[int, int]], side_length: int, r: int, res_x: int) -> int:
    """Union size of interior squares spread over the frame (bounding box too large for a bitmap)."""
    n = len(hits)
    if n <= 8:
        for i, (x, y) in enumerate(hits):
            for x2, y2 in hits[i + 1:]:
                if -side_length < x - x2 < side_length and -side_length < y - y2 < side_length:
                    break
            else:
                continue
            break
        else:
            return n * side_length * side_length
    offs = _offsets(r, res_x)
    seen: set[int] = set()
    for x, y in hits:
        seen.update(map((y * res_x + x).__add__, offs))
    return len(seen)


def decode_block(xs: Sequence[int], ys: Sequence[int], vals: Sequence[int], side_length: int,
                 res_x: int, res_y: int) -> list[tuple[int, int, int]]:
    """(x, y, val) for every value of the block; ByteBlockError if the lengths disagree."""
    coords = block_coords(xs, ys, side_length, res_x, res_y)
    return _pair(coords, vals)


def decode_hits_block(hits: list[tuple[int, int]], vals: Sequence[int], side_length: int,
                      res_x: int, res_y: int) -> list[tuple[int, int, int]]:
    """decode_block for hits already paired as [(x, y)]."""
    return _pair(_replay(hits, side_length, res_x, res_y), vals)


def _pair(coords: list[tuple[int, int]], vals: Sequence[int]) -> list[tuple[int, int, int]]:
    if len(coords) != len(vals):
        raise ByteBlockError(f"byte_block holds {len(vals)} values, its squares cover {len(coords)}")
    return [(x, y, v) for (x, y), v in zip(coords, vals)]


PixelSource = Callable[[int, int], int] | Mapping[tuple[int, int], int] | Sequence[Sequence[int]]


def _lookup(values: PixelSource) -> Callable[[int, int], int]:
    if callable(values):
        return values
    if isinstance(values, Mapping):
        return lambda x, y: values[(x, y)]
    return lambda x, y: int(values[y][x])  # a 2-D array indexed [row][column]


def encode_block(xs: Sequence[int], ys: Sequence[int], values: PixelSource, side_length: int,
                 res_x: int, res_y: int) -> list[int]:
    """The `val` list the app would send for these hits; the exact inverse of decode_block.

    `values` gives the raw value at (x, y): a function f(x, y), a mapping {(x, y): v}, or a 2-D
    array indexed [y][x] (e.g. a numpy frame).
    """
    get = _lookup(values)
    return [get(x, y) for x, y in block_coords(xs, ys, side_length, res_x, res_y)]
