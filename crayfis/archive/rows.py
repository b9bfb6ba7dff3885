"""Archive rows from decoded uploads: one row per hit, in the archive's columns.

Only hits are rows (events with an L2 payload, `is_hit`): the coincidence job reads every row
of its Parquet input as a hit, and zero-bias samples without a payload are not hits (their
counts are on the exposure block documents, their bytes in the raw store). A hit's id, time
and position come from the rules in crayfis/es/documents.py, so a hit is the same in the
archive as in Elasticsearch.
"""
from __future__ import annotations

from collections.abc import Iterable

import pyarrow as pa

from crayfis.archive.schema import COLUMNS, SCHEMA
from crayfis.es.documents import block_hit_ids, block_id, block_time, hit_key_prefix, hit_position, hit_time
from crayfis.privacy import pseudonym
from crayfis.wire.records import DecodedChunk

__all__ = ["HitColumns", "hit_columns"]

_NAMES = tuple(name for name, _, _ in COLUMNS)


class HitColumns:
    """Archive columns as Python lists, appended to upload by upload, then one Arrow table."""

    __slots__ = ("columns",)

    def __init__(self):
        self.columns: dict[str, list] = {name: [] for name in _NAMES}

    def __len__(self) -> int:
        return len(self.columns["hit_id"])

    def extend(self, other: HitColumns) -> None:
        for name, values in self.columns.items():
            values.extend(other.columns[name])

    def table(self) -> pa.Table:
        return pa.table({name: pa.array(values, type=SCHEMA.field(name).type)
                         for name, values in self.columns.items()}, schema=SCHEMA)

    @classmethod
    def concat(cls, parts: Iterable[HitColumns]) -> HitColumns:
        out = cls()
        for part in parts:
            out.extend(part)
        return out


def hit_columns(chunk: DecodedChunk, *, key: bytes | str, device_id: str, upload: int | None,
                received_ms: int | None) -> HitColumns:
    """The archive rows of every hit in `chunk`, in wire order.

    `device_id` is the raw Device-id of the upload; only its pseudonym under `key` is kept.
    `upload` is the raw-store row the chunk was decoded from, `received_ms` when it was stored.
    """
    dev = pseudonym(device_id, key)
    out = HitColumns()
    c = out.columns
    for xb in chunk.exposures:
        prefix = hit_key_prefix(dev, xb)
        xb_id = block_id(dev, xb)
        t_xb = block_time(xb, received_ms)
        for ev, hid in zip(xb.events, block_hit_ids(prefix, xb.events), strict=True):
            if not ev.is_hit:
                continue
            pos = hit_position(ev, xb) or (None, None, None, None, None)
            c["hit_id"].append(hid)
            c["device_id"].append(dev)
            c["t_ms"].append(hit_time(ev, t_xb))
            c["lat"].append(pos[0])
            c["lon"].append(pos[1])
            c["gps_accuracy"].append(pos[2])
            c["altitude"].append(pos[3])
            c["fixtime_ms"].append(pos[4])
            c["t_nano"].append(ev.t_nano)
            c["exposure_ns"].append(ev.exposure_ns)
            c["n_pix"].append(ev.n_pix)
            c["max_val"].append(ev.max_val)
            c["avg"].append(ev.avg)
            c["std"].append(ev.std)
            c["pressure"].append(ev.pressure)
            c["orient_x"].append(ev.orient_x)
            c["orient_y"].append(ev.orient_y)
            c["orient_z"].append(ev.orient_z)
            c["zero_bias"].append(ev.zero_bias is not None)
            c["run"].append(xb.run_uuid)
            c["xbn"].append(xb.xbn)
            c["xb_id"].append(xb_id)
            c["build"].append(xb.build)
            c["model"].append(xb.model)
            c["upload"].append(upload)
            c["received_ms"].append(received_ms)
    return out
