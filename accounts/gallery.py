"""The gallery of a phone's events: each hit drawn from the pixels its upload carried.

Events are those of the owner's own readable uploads (their DATA blocks' hits), newest upload
first and, within an upload, latest event first. A page needs only the uploads it shows: the
summaries say how many hits each upload holds, so only those bodies are decoded, with their
pixels (crayfis.wire), and classified (crayfis.morphology). An event is named by its upload and
its place among that upload's hits, which never changes: the raw body is kept as it came.

The image (``event_png``) shows the raw values the phone sent: the L2 pixels and, for the
byte-block format, the 5x5 squares around them; pixels the phone did not send are dark blue.
Values are drawn in grey from the event's smallest (black) to its largest (white) value, each
sensor pixel as a square of screen pixels. Events spread wider than MAX_SIDE sensor pixels (a
noisy frame) are cropped to the MAX_SIDE x MAX_SIDE around their brightest pixel.
"""
from __future__ import annotations

import datetime as dt
import io
from dataclasses import dataclass

from django.db.models import QuerySet
from PIL import Image

from crayfis.morphology.classify import class_names, classify_events
from crayfis.wire.records import DecodedChunk, EventRecord
from ingest.models import Upload
from quality.decoding import decode
from quality.models import UploadSummary

MAX_SIDE = 64          # sensor pixels shown at most along each side
TARGET_PX = 192        # an image is about this many screen pixels wide
NOT_SENT = (24, 32, 64)


def hit_events(chunk: DecodedChunk) -> list[EventRecord]:
    """The upload's hits in record order: the events of its DATA blocks with L2 pixels."""
    return [ev for xb in chunk.exposures if xb.state == "DATA" for ev in xb.events if ev.is_hit]


@dataclass(frozen=True)
class Item:
    upload_id: int
    index: int             # the hit's place among its upload's hits
    t_ms: int | None
    morphology: str | None
    n_pixels: int

    @property
    def utc(self) -> str:
        """The event's time as the phone dated it, to the millisecond (UTC)."""
        if self.t_ms is None:
            return "no time"
        return dt.datetime.fromtimestamp(self.t_ms / 1000, dt.UTC).strftime("%Y-%m-%d %H:%M:%S.%f")[:-3] + " UTC"


@dataclass(frozen=True)
class Page:
    items: list[Item]
    number: int
    total: int             # hits of the readable uploads
    has_next: bool


def _uploads_on_page(summaries: QuerySet[UploadSummary], first: int, last: int) -> list[tuple[int, int, int]]:
    """(upload id, first hit, last hit + 1) of the uploads that hold the page's events, newest
    upload first, counting hits from the newest event of the newest upload."""
    out, seen = [], 0
    for upload_id, n_hits in (summaries.filter(readable=True, n_hits__gt=0)
                              .order_by("-received_at", "-upload_id").values_list("upload_id", "n_hits")):
        if seen + n_hits > first:
            out.append((upload_id, max(first - seen, 0), min(last - seen, n_hits)))
        seen += n_hits
        if seen >= last:
            break
    return out


def page(uploads: QuerySet[Upload], summaries: QuerySet[UploadSummary], number: int, per_page: int) -> Page:
    """Page ``number`` (from 1) of the phone's events; ``uploads`` are the owner's own."""
    total = sum(summaries.filter(readable=True).values_list("n_hits", flat=True))
    first, last = (number - 1) * per_page, number * per_page
    items: list[Item] = []
    for upload_id, lo, hi in _uploads_on_page(summaries, first, last):
        upload = uploads.defer(None).get(id=upload_id)
        hits = hit_events(decode(upload, with_pixels=True))
        names = class_names(classify_events(hits)) if hits else []
        for back in range(lo, min(hi, len(hits))):   # latest event first
            i = len(hits) - 1 - back
            ev = hits[i]
            items.append(Item(upload_id, i, ev.t_ms, names[i], len(ev.pixels or ())))
    return Page(items, number, total, last < total)


def event_png(upload: Upload, index: int) -> bytes | None:
    """The PNG of hit ``index`` of the upload (body loaded); None when there is no such hit."""
    hits = hit_events(decode(upload, with_pixels=True))
    if not 0 <= index < len(hits) or not hits[index].pixels:
        return None
    return render(hits[index].pixels)


def render(pixels: list[tuple[int, int, int]]) -> bytes:
    """PNG of (x, y, value) pixels (see the module docstring)."""
    bright = max(pixels, key=lambda p: p[2])
    xs, ys = [p[0] for p in pixels], [p[1] for p in pixels]
    x0, x1, y0, y1 = min(xs) - 1, max(xs) + 1, min(ys) - 1, max(ys) + 1
    if x1 - x0 + 1 > MAX_SIDE:
        x0 = max(min(bright[0] - MAX_SIDE // 2, x1 - MAX_SIDE + 1), x0)
        x1 = x0 + MAX_SIDE - 1
    if y1 - y0 + 1 > MAX_SIDE:
        y0 = max(min(bright[1] - MAX_SIDE // 2, y1 - MAX_SIDE + 1), y0)
        y1 = y0 + MAX_SIDE - 1
    width, height = x1 - x0 + 1, y1 - y0 + 1
    lo, hi = min(p[2] for p in pixels), bright[2]
    span = max(hi - lo, 1)
    image = Image.new("RGB", (width, height), NOT_SENT)
    for x, y, v in pixels:
        if x0 <= x <= x1 and y0 <= y <= y1:
            grey = int(round(255 * (v - lo) / span))
            image.putpixel((x - x0, y - y0), (grey, grey, grey))
    scale = max(1, TARGET_PX // max(width, height))
    image = image.resize((width * scale, height * scale), Image.Resampling.NEAREST)
    out = io.BytesIO()
    image.save(out, format="PNG", optimize=True)
    return out.getvalue()
