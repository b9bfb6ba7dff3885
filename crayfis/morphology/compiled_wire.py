"""Compiled (numba) read of every event's L2 payload straight from a serialized DataChunk.

The indexer decodes uploads without pixel lists; reading each event's byte block again through
the protobuf objects costs a Python loop per event, more than the classifier's whole budget. This
walks the body's protobuf wire format once in compiled code and keeps only what the classifier
reads, with protobuf's own rules: exposure blocks and events in message order (DecodedChunk.events
order), a singular field's last occurrence wins, a repeated uint32 may come unpacked (as the app
sends it) or packed, the occurrences of the singular `byte_block` merge (repeated fields append),
uint32 values are the low 32 bits of their varint, and a field with an unexpected wire type is an
unknown field, skipped. The payload is the decoder's (crayfis.wire.decode._event): the byte block
when it holds hits or values (side length 0 read as the app's default), else the `pixels` list.

Anything else, such as a group (wire types 3 and 4) or a truncated field, makes `read` report
failure and the caller reads the message through protobuf instead (crayfis.morphology.message);
tests pin both readings to the same arrays.

One pass over the bytes, into arrays sized by the body's length (every value, event or block
takes at least one byte, so the body bounds their number; only the pages written are touched).
Runs of one unpacked repeated field, the app's whole byte block, are read in a tight loop.
"""
from __future__ import annotations

import numpy as np
from numba import njit

from crayfis.wire import crayfis_pb2 as pb
from crayfis.wire.decode import DEFAULT_SIDE_LENGTH


def _number(message, name: str) -> int:
    return message.DESCRIPTOR.fields_by_name[name].number


F_EXPOSURE_BLOCKS = _number(pb.DataChunk, "exposure_blocks")
F_EVENTS, F_RES_X, F_RES_Y = (_number(pb.ExposureBlock, n) for n in ("events", "res_x", "res_y"))
F_PIXELS, F_AVG, F_STD, F_BYTE_BLOCK = (_number(pb.Event, n) for n in ("pixels", "avg", "std", "byte_block"))
F_PIX_X, F_PIX_Y, F_PIX_VAL = (_number(pb.Pixel, n) for n in ("x", "y", "val"))
F_BB_X, F_BB_Y, F_BB_VAL, F_BB_SIDE = (_number(pb.ByteBlock, n) for n in ("x", "y", "val", "side_length"))
VARINT, FIXED64, LEN, FIXED32 = 0, 1, 2, 5
U32 = np.uint64(0xFFFFFFFF)

# cursor slots: exposure blocks and events seen, values written per destination
C_XB, C_EV, C_BX, C_BY, C_BV, C_PIX = range(6)
N_CURSORS = 6
MAX_ONE_BYTE_FIELD = 15     # field numbers up to 15 have a one-byte tag
# per-event integer columns: its exposure block, byte block seen, side length, span starts of
# byte block x / y / val and of pixels (each span ends where the next event's starts)
E_XB, E_BB, E_SIDE, E_BX, E_BY, E_BV, E_PIX = range(7)
N_EVENT_COLS = 7


@njit(cache=True, nogil=True, inline="always")
def _varint(buf, pos, end):
    """(value, next position); position -1 when the varint is truncated or over 10 bytes."""
    if pos < end and buf[pos] < 0x80:
        return np.uint64(buf[pos]), pos + 1
    value = np.uint64(0)
    for i in range(10):
        if pos >= end:
            break
        b = buf[pos]
        pos += 1
        value |= np.uint64(b & 0x7F) << np.uint64(7 * i)
        if b < 0x80:
            return value, pos
    return np.uint64(0), -1


@njit(cache=True, nogil=True, inline="always")
def _skip(buf, pos, end, wire_type):
    """Position after a field's payload; -1 for a group, a bad wire type or a truncated payload."""
    if wire_type == VARINT:
        for k in range(pos, min(pos + 10, end)):
            if buf[k] < 0x80:
                return k + 1
        return -1
    if wire_type == FIXED64:
        pos += 8
    elif wire_type == FIXED32:
        pos += 4
    elif wire_type == LEN:
        n, pos = _varint(buf, pos, end)
        if pos < 0 or n > np.uint64(end - pos):
            return -1
        pos += int(n)
    else:
        return -1
    return pos if pos <= end else -1


@njit(cache=True, nogil=True, inline="always")
def _field(buf, pos, end):
    """(field number, wire type, payload start, payload end, next position) of the field at pos;
    next position -1 when malformed. The payload of a LEN field excludes its length prefix."""
    tag, pos = _varint(buf, pos, end)
    if pos < 0:
        return 0, 0, 0, 0, -1
    number, wire_type = int(tag >> np.uint64(3)), int(tag & np.uint64(7))
    after = _skip(buf, pos, end, wire_type)
    if wire_type == LEN and after >= 0:
        return number, wire_type, _varint(buf, pos, end)[1], after, after
    return number, wire_type, pos, after, after


@njit(cache=True, nogil=True)
def _packed_u32(buf, lo, hi, out, cur, slot):
    """A packed run of uint32 values: append each; False when a varint overruns the run."""
    pos, k = lo, cur[slot]
    while pos < hi:
        value, pos = _varint(buf, pos, hi)
        if pos < 0:
            return False
        out[k] = value & U32
        k += 1
    cur[slot] = k
    return True


@njit(cache=True, nogil=True)
def _unpacked_run(buf, pos, end, tag_byte, out, cur, slot):
    """The value at pos and every further (tag_byte, value) pair right after it: append each.
    Returns the position after the run, -1 when a varint is malformed.

    The app's byte block is such a run. One- and two-byte values (pixel values are both, in no
    predictable order) are decoded without a data-dependent branch, inline: numba compiles a
    helper call that returns the position in this loop several times slower."""
    k = cur[slot]
    while 0 <= pos < end:
        b0 = np.int64(buf[pos])
        b1 = np.int64(buf[pos + 1]) if pos + 1 < end else np.int64(0x80)
        more = b0 >> 7
        if more & (b1 >> 7):
            value, pos = _varint(buf, pos, end)
        else:
            value = np.uint64((b0 & 0x7F) | (((b1 & 0x7F) << 7) * more))
            pos += 1 + more
        if pos >= 0:
            out[k] = value & U32
            k += 1
            if pos >= end or buf[pos] != tag_byte:
                break
            pos += 1
            if pos >= end:   # a tag with no value after it
                pos = -1
    cur[slot] = k
    return pos


@njit(cache=True, nogil=True)
def _repeated_u32(buf, pos, end, number, wire_type, p_lo, p_hi, out, cur, slot):
    """One field of a repeated uint32 at pos (tag included); the position after it (and after a
    run of the same unpacked field), -1 when malformed."""
    if wire_type == LEN:
        return p_hi if _packed_u32(buf, p_lo, p_hi, out, cur, slot) else -1
    if wire_type != VARINT:
        return _field(buf, pos, end)[4]  # another encoding: an unknown field, skipped
    if number <= MAX_ONE_BYTE_FIELD:
        return _unpacked_run(buf, p_lo, end, buf[pos], out, cur, slot)
    value, after = _varint(buf, p_lo, end)
    out[cur[slot]] = value & U32
    cur[slot] += 1
    return after


@njit(cache=True, nogil=True)
def _byte_block(buf, lo, hi, e, cur, ev_int, bx, by, bv):
    pos = lo
    while pos < hi:
        number, wire_type, p_lo, p_hi, after = _field(buf, pos, hi)
        if after < 0:
            return False
        if number == F_BB_X:
            after = _repeated_u32(buf, pos, hi, number, wire_type, p_lo, p_hi, bx, cur, C_BX)
        elif number == F_BB_Y:
            after = _repeated_u32(buf, pos, hi, number, wire_type, p_lo, p_hi, by, cur, C_BY)
        elif number == F_BB_VAL:
            after = _repeated_u32(buf, pos, hi, number, wire_type, p_lo, p_hi, bv, cur, C_BV)
        elif number == F_BB_SIDE and wire_type == VARINT:
            ev_int[e, E_SIDE] = np.int64(_varint(buf, p_lo, hi)[0] & U32)
        if after < 0:
            return False
        pos = after
    return True


@njit(cache=True, nogil=True)
def _pixel(buf, lo, hi, k, px):
    """One Pixel message into row k of px (x, y, val); False if malformed."""
    px[k, 0] = px[k, 1] = px[k, 2] = 0
    pos = lo
    while pos < hi:
        number, wire_type, p_lo, _, after = _field(buf, pos, hi)
        if after < 0:
            return False
        if wire_type == VARINT:
            column = 0 if number == F_PIX_X else 1 if number == F_PIX_Y else 2 if number == F_PIX_VAL else -1
            if column >= 0:
                px[k, column] = _varint(buf, p_lo, hi)[0] & U32
        pos = after
    return True


@njit(cache=True, nogil=True)
def _event_payload(buf, number, p_lo, p_hi, e, cur, ev_int, bx, by, bv, px):
    """A length-delimited field of an Event: the byte block or a pixel; True if well formed."""
    if number == F_BYTE_BLOCK:
        ev_int[e, E_BB] = 1
        return _byte_block(buf, p_lo, p_hi, e, cur, ev_int, bx, by, bv)
    if number == F_PIXELS:
        cur[C_PIX] += 1
        return _pixel(buf, p_lo, p_hi, cur[C_PIX] - 1, px)
    return True


@njit(cache=True, nogil=True)
def _event(buf, lo, hi, xb, cur, ev_int, ev_flt, bx, by, bv, px):
    """One Event: its byte block and pixels appended, its avg and std kept; False if malformed.
    The field walk is inline for speed (see _unpacked_run)."""
    e = cur[C_EV]
    cur[C_EV] += 1
    ev_int[e, E_XB], ev_int[e, E_BB], ev_int[e, E_SIDE] = xb, 0, 0
    ev_int[e, E_BX], ev_int[e, E_BY], ev_int[e, E_BV], ev_int[e, E_PIX] = cur[C_BX], cur[C_BY], cur[C_BV], cur[C_PIX]
    ev_flt[e, 0] = ev_flt[e, 1] = 0.0
    pos, ok = lo, True
    while ok and 0 <= pos < hi:
        if buf[pos] < 0x80:
            tag = np.uint64(buf[pos])
            pos += 1
        else:
            tag, pos = _varint(buf, pos, hi)
        number, wire_type = int(tag >> np.uint64(3)), int(tag & np.uint64(7))
        if pos < 0:
            ok = False
        elif wire_type == VARINT:
            end = min(pos + 10, hi)
            while pos < end and buf[pos] >= 0x80:
                pos += 1
            pos = pos + 1 if pos < end else -1
        elif wire_type == FIXED64:
            if (number == F_AVG or number == F_STD) and pos + 8 <= hi:
                ev_flt[e, 0 if number == F_AVG else 1] = buf[pos:pos + 8].view(np.float64)[0]
            pos += 8
        elif wire_type == FIXED32:
            pos += 4
        elif wire_type == LEN:
            if pos < hi and buf[pos] < 0x80:
                n, p_lo = np.uint64(buf[pos]), pos + 1
            else:
                n, p_lo = _varint(buf, pos, hi)
            pos = p_lo + int(n) if p_lo >= 0 and n <= np.uint64(hi - p_lo) else -1
            ok = pos >= 0 and _event_payload(buf, number, p_lo, pos, e, cur, ev_int, bx, by, bv, px)
        else:
            ok = False
    return ok and pos == hi


@njit(cache=True, nogil=True)
def _exposure(buf, lo, hi, cur, xb_res, ev_int, ev_flt, arrays):
    bx, by, bv, px = arrays
    xb = cur[C_XB]
    cur[C_XB] += 1
    xb_res[xb, 0] = xb_res[xb, 1] = 0
    pos = lo
    while pos < hi:
        number, wire_type, p_lo, p_hi, after = _field(buf, pos, hi)
        if after < 0:
            return False
        if number == F_EVENTS and wire_type == LEN:
            if not _event(buf, p_lo, p_hi, xb, cur, ev_int, ev_flt, bx, by, bv, px):
                return False
        elif (number == F_RES_X or number == F_RES_Y) and wire_type == VARINT:
            xb_res[xb, 0 if number == F_RES_X else 1] = _varint(buf, p_lo, hi)[0] & U32
        pos = after
    return True


@njit(cache=True, nogil=True)
def _count(buf):
    """(ok, exposure blocks, events): the two outer levels only, each event skipped by its length."""
    n_xb = n_ev = 0
    pos, n = 0, len(buf)
    while pos < n:
        number, wire_type, p_lo, p_hi, pos = _field(buf, pos, n)
        if pos < 0:
            return False, 0, 0
        if number == F_EXPOSURE_BLOCKS and wire_type == LEN:
            n_xb += 1
            q = p_lo
            while q < p_hi:
                inner, inner_type, _, _, q = _field(buf, q, p_hi)
                if q < 0:
                    return False, 0, 0
                n_ev += inner == F_EVENTS and inner_type == LEN
    return True, n_xb, n_ev


@njit(cache=True, nogil=True)
def scan(buf):
    """(ok, cursors, exposure resolutions, event columns (+ an end row), event avg/std, (byte block
    x, y, val, pixels)). Blocks and events are counted first; values are bounded by the body's
    length (each takes a byte or more, a Pixel two)."""
    n = len(buf)
    cur = np.zeros(N_CURSORS, dtype=np.int64)
    ok, n_xb, n_ev = _count(buf)
    xb_res = np.empty((n_xb, 2), dtype=np.uint32)
    ev_int = np.empty((n_ev + 1, N_EVENT_COLS), dtype=np.int64)
    ev_flt = np.empty((n_ev, 2))
    arrays = (np.empty(n, dtype=np.uint32), np.empty(n, dtype=np.uint32), np.empty(n, dtype=np.uint32),
              np.empty((n // 2 + 1, 3), dtype=np.uint32))
    pos = 0
    while ok and pos < n:
        number, wire_type, p_lo, p_hi, pos = _field(buf, pos, n)
        ok = pos >= 0
        if ok and number == F_EXPOSURE_BLOCKS and wire_type == LEN:
            ok = _exposure(buf, p_lo, p_hi, cur, xb_res, ev_int, ev_flt, arrays)
    end = cur[C_EV]
    ev_int[end, E_BX], ev_int[end, E_BY], ev_int[end, E_BV], ev_int[end, E_PIX] = (
        cur[C_BX], cur[C_BY], cur[C_BV], cur[C_PIX])
    return ok, cur, xb_res, ev_int, ev_flt, arrays


@njit(cache=True, nogil=True)
def _payload_size(ev_int, e):
    """(format, number of hits, number of values) of event e: format 1 byte block, 0 pixels."""
    nx = ev_int[e + 1, E_BX] - ev_int[e, E_BX]
    nv = ev_int[e + 1, E_BV] - ev_int[e, E_BV]
    if ev_int[e, E_BB] and (nx > 0 or nv > 0):
        return 1, nx, nv
    n_pix = ev_int[e + 1, E_PIX] - ev_int[e, E_PIX]
    return 0, n_pix, n_pix


@njit(cache=True, nogil=True)
def gather(ev_int, xb_res, arrays, n_ev, max_hits):
    """Wire-form arrays of every event (see read); ok False when x and y counts disagree."""
    bx, by, bv, px = arrays
    hit_start = np.zeros(n_ev + 1, dtype=np.int64)
    val_start = np.zeros(n_ev + 1, dtype=np.int64)
    crowded = np.zeros(n_ev, dtype=np.bool_)
    for e in range(n_ev):
        _, nh, nv = _payload_size(ev_int, e)
        crowded[e] = nh > max_hits
        hit_start[e + 1] = hit_start[e] + (0 if crowded[e] else nh)
        val_start[e + 1] = val_start[e] + (0 if crowded[e] else nv)
    hx = np.empty(hit_start[n_ev], dtype=np.int64)
    hy = np.empty(hit_start[n_ev], dtype=np.int64)
    vals = np.empty(val_start[n_ev], dtype=np.int64)
    side = np.zeros(n_ev, dtype=np.int64)
    res = np.empty((n_ev, 2), dtype=np.int64)
    for e in range(n_ev):
        res[e, 0], res[e, 1] = xb_res[ev_int[e, E_XB], 0], xb_res[ev_int[e, E_XB], 1]
        block, nh, nv = _payload_size(ev_int, e)
        if block and ev_int[e + 1, E_BY] - ev_int[e, E_BY] != nh:
            return False, hit_start, hx, hy, val_start, vals, side, res, crowded
        if crowded[e]:
            continue
        h, v = hit_start[e], val_start[e]
        if block:
            side[e] = ev_int[e, E_SIDE] or DEFAULT_SIDE_LENGTH
            hx[h:h + nh] = bx[ev_int[e, E_BX]:ev_int[e, E_BX] + nh]
            hy[h:h + nh] = by[ev_int[e, E_BY]:ev_int[e, E_BY] + nh]
            vals[v:v + nv] = bv[ev_int[e, E_BV]:ev_int[e, E_BV] + nv]
        else:
            p = ev_int[e, E_PIX]
            hx[h:h + nh] = px[p:p + nh, 0]
            hy[h:h + nh] = px[p:p + nh, 1]
            vals[v:v + nv] = px[p:p + nh, 2]
    return True, hit_start, hx, hy, val_start, vals, side, res, crowded


@njit(cache=True, nogil=True)
def read(buf, max_hits):
    """The L2 payload of every event of a serialized DataChunk (uint8 array) in wire form:
    (ok, hit_start, hit x, hit y, val_start, values, side (0 = pixels list), res (n x 2), avg,
    std, crowded). ok is False when the bytes need protobuf's own parser. An event with more than
    max_hits hits is `crowded` and keeps none. Not a validator: run it on a body the decoder
    accepted (crayfis.morphology.message.wire_form is the protobuf reading of the same)."""
    ok, cur, xb_res, ev_int, ev_flt, arrays = scan(buf)
    n_ev = cur[C_EV]
    ok2, hit_start, hx, hy, val_start, vals, side, res, crowded = gather(ev_int, xb_res, arrays, n_ev, max_hits)
    return (ok and ok2, hit_start, hx, hy, val_start, vals, side, res, ev_flt[:n_ev, 0].copy(),
            ev_flt[:n_ev, 1].copy(), crowded)
