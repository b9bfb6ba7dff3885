"""Hand-built events: an image of raw values on a dark frame, uploaded the way the app does it.

`upload(images)` turns each image ({(x, y): value} over a dark frame) into one v1.0.4 Event: its
L2 pixels are the values above L2_THRESHOLD in scan order (at most 120), sent as a byte block of
5x5 squares whose other values come from the image or the dark frame; `pixel_list=True` sends
the older `pixels` list instead. The body is decoded with the project's decoder.
"""
from __future__ import annotations

import math

import numpy as np

from crayfis.wire import build
from crayfis.wire.decode import decode_submit
from crayfis.wire.records import EventRecord

RES = (1920, 1080)
L2_THRESHOLD = 10
RUN = "0b7f5b7e-4a8f-4c39-9d7e-6a1f2b3c4d5e"
START_MS = 1_795_000_000_000


def dark(x: int, y: int) -> int:
    """A dark frame: pedestal 3 with a deterministic +-1 ripple, always at or below L2."""
    return 2 + (x * 7 + y * 13) % 3


def hits_of(image: dict[tuple[int, int], int], cap: int = 120) -> list[tuple[int, int]]:
    """The app's L2 pixels: above the threshold, scan order (rows, then columns), at most cap."""
    return sorted((xy for xy, v in image.items() if v > L2_THRESHOLD), key=lambda xy: (xy[1], xy[0]))[:cap]


def event(image: dict[tuple[int, int], int], t_ms: int, *, pixel_list: bool = False, avg: float = 3.0,
          std: float = 1.0):
    hits = hits_of(image)
    if pixel_list:
        ev = build.event(t_ms, xbn=1, res=RES, avg=avg, std=std)
        for x, y in hits:
            ev.pixels.add(x=x, y=y, val=image[(x, y)])
        return ev
    return build.event(t_ms, xbn=1, hits=hits, values=lambda x, y: image.get((x, y), dark(x, y)), res=RES,
                       avg=avg, std=std)


def body(images: list[dict], *, pixel_list: bool = False, events=None) -> bytes:
    """One DataChunk with one DATA block holding an event per image (or the given pb events)."""
    evs = events if events is not None else [event(im, START_MS + 1000 * (i + 1), pixel_list=pixel_list)
                                             for i, im in enumerate(images)]
    xb = build.exposure_block(RUN, xbn=1, start_ms=START_MS, end_ms=START_MS + 1000 * (len(evs) + 1),
                              events=evs, l1_threshold=L2_THRESHOLD + 1.0, l2_threshold=L2_THRESHOLD, res=RES)
    return build.data_chunk(run_configs=[build.run_config(RUN, start_ms=START_MS, res=RES)], exposure_blocks=[xb])


def decoded(data: bytes) -> list[EventRecord]:
    return decode_submit(data, {"Device-id": "test-phone"}).events


# --- shapes ---------------------------------------------------------------------------------------

def blob(cx: float, cy: float, peak: float, sigma: float) -> dict[tuple[int, int], int]:
    """A round deposit: a Gaussian of this peak and rms (pixels), on the dark frame."""
    r = int(math.ceil(4 * sigma)) + 1
    out = {}
    for y in range(int(cy) - r, int(cy) + r + 1):
        for x in range(int(cx) - r, int(cx) + r + 1):
            s = peak * math.exp(-((x + 0.5 - cx) ** 2 + (y + 0.5 - cy) ** 2) / (2 * sigma ** 2))
            out[(x, y)] = min(int(round(dark(x, y) + s)), 255)
    return out


def path(points: np.ndarray, charge: float = 120.0, sigma: float = 0.6) -> dict[tuple[int, int], int]:
    """A deposit along a polyline (N x 2 points, pixels): charge per pixel of path, diffused with
    this rms, on the dark frame."""
    seg = np.diff(points, axis=0)
    lengths = np.hypot(seg[:, 0], seg[:, 1])
    samples = [points[i] + seg[i] * t for i in range(len(seg))
               for t in np.linspace(0, 1, max(int(lengths[i] * 8), 1), endpoint=False)]
    samples = np.array(samples + [points[-1]])
    weight = charge * lengths.sum() / len(samples)
    lo = np.floor(samples.min(axis=0) - 4 * sigma - 1).astype(int)
    hi = np.ceil(samples.max(axis=0) + 4 * sigma + 1).astype(int)
    out = {}
    for y in range(lo[1], hi[1] + 1):
        for x in range(lo[0], hi[0] + 1):
            d2 = (samples[:, 0] - x - 0.5) ** 2 + (samples[:, 1] - y - 0.5) ** 2
            s = weight * np.exp(-d2 / (2 * sigma ** 2)).sum() / (2 * math.pi * sigma ** 2)
            out[(x, y)] = min(int(round(dark(x, y) + s)), 255)
    return out


def line(x0: float, y0: float, length: float, angle_deg: float, **kw) -> dict[tuple[int, int], int]:
    a = math.radians(angle_deg)
    return path(np.array([[x0, y0], [x0 + length * math.cos(a), y0 + length * math.sin(a)]]), **kw)


def arc(cx: float, cy: float, radius: float, start_deg: float, span_deg: float, **kw) -> dict:
    t = np.radians(np.linspace(start_deg, start_deg + span_deg, 64))
    return path(np.column_stack([cx + radius * np.cos(t), cy + radius * np.sin(t)]), **kw)


def transform(image: dict, kind: str) -> dict:
    """The image turned by 90/180/270 degrees or mirrored about its own middle, on the grid exactly."""
    cx = (min(x for x, _ in image) + max(x for x, _ in image)) // 2
    cy = (min(y for _, y in image) + max(y for _, y in image)) // 2
    maps = {
        "rot90": lambda x, y: (cx - (y - cy), cy + (x - cx)),
        "rot180": lambda x, y: (2 * cx - x, 2 * cy - y),
        "rot270": lambda x, y: (cx + (y - cy), cy - (x - cx)),
        "mirror_x": lambda x, y: (2 * cx - x, y),
        "mirror_y": lambda x, y: (x, 2 * cy - y),
        "transpose": lambda x, y: (cx + (y - cy), cy + (x - cx)),
    }
    f = maps[kind]
    return {f(x, y): v for (x, y), v in image.items()}
