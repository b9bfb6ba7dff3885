"""Device statistics stored beside the archive's sealed files, so a search over whole files
need not read every hit once more just to count each device's hits.

What: for each sealed data file ``day=D/NAME.parquet``, ``day=D/_devices/NAME.arrow`` holds the
device partial rows of all its rows (crayfis/coincidence/device_partials.py: per device id its
rows, valid hits, time range and summed unit vectors), as one Arrow IPC file. The names start
with ``_``, so Spark, pyarrow.dataset and the archive's own listings never take it for data.

Why it can be trusted: the partials of disjoint files combine into the partials of their union,
so a reader may take stored partials for the files it reads whole and compute the rest; and a
statistics file names the data file it describes by a SHA-256 of that file's size and Parquet
footer (which holds every column chunk's offset, size and statistics). A reader uses it only
while the data file still has that footer: a rewritten, replaced or truncated data file makes
it count as missing, and the reader computes the file's statistics from its rows, as it would
without one. Compaction writes it with each sealed file (compact.py); ``backfill`` adds it to
files written before.
"""
from __future__ import annotations

import hashlib
import uuid

import pyarrow as pa
import pyarrow.parquet as pq
from pyarrow import fs

from crayfis.coincidence.device_partials import DEVICE_PARTIALS, combine_partials, table_partials

__all__ = ["SIDECAR_DIR", "backfill", "file_partials", "footer_digest", "read_sidecar",
           "sidecar_path", "write_sidecar"]

SIDECAR_DIR = "_devices"
FOOTER_KEY = b"crayfis.data_footer_sha256"
_COLUMNS = ["device_id", "t_ms", "lat", "lon"]
_WRITE_OPTIONS = pa.ipc.IpcWriteOptions(compression="zstd")


def sidecar_path(data_path: str) -> str:
    """Where the statistics of the data file ``data_path`` (``DIR/NAME.parquet``) live."""
    folder, name = data_path.rsplit("/", 1)
    return f"{folder}/{SIDECAR_DIR}/{name.removesuffix('.parquet')}.arrow"


def footer_digest(filesystem: fs.FileSystem, path: str) -> str:
    """SHA-256 (hex) of a Parquet file's size and footer bytes: what a statistics file is bound
    to. Raises ValueError for a file that does not end like Parquet."""
    with filesystem.open_input_file(path) as f:
        size = f.size()
        if size < 12:
            raise ValueError(f"{path}: too short for Parquet")
        tail = f.read_at(8, size - 8)
        length = int.from_bytes(tail[:4], "little")
        if tail[4:] != b"PAR1" or length > size - 12:
            raise ValueError(f"{path}: no Parquet footer")
        footer = f.read_at(length, size - 8 - length)
    digest = hashlib.sha256(size.to_bytes(8, "little"))
    digest.update(footer)
    return digest.hexdigest()


def file_partials(filesystem: fs.FileSystem, path: str) -> pa.Table:
    """The device partials of every row of a Parquet file, read row group by row group."""
    pf = pq.ParquetFile(path, filesystem=filesystem, read_dictionary=["device_id"])
    parts = [table_partials(pf.read_row_group(g, columns=_COLUMNS))
             for g in range(pf.metadata.num_row_groups)]
    return combine_partials(pa.Table.from_batches(parts, schema=DEVICE_PARTIALS))


def write_sidecar(filesystem: fs.FileSystem, data_path: str, partials: pa.Table | None = None,
                  *, publish_as: str | None = None) -> str:
    """Store the statistics of the finished data file ``data_path``: ``partials`` when the
    writer kept them (partial rows of all the file's rows, in any cut), else read from the file.
    ``publish_as``: the name the data file will be moved to (its footer, and so the binding, stay
    the same), so the statistics can be in place before the data appears. Written under a
    temporary name, then moved: a reader sees all of it or none. Returns its path."""
    if partials is None:
        partials = file_partials(filesystem, data_path)
    else:
        partials = combine_partials(partials)
    table = partials.replace_schema_metadata({FOOTER_KEY: footer_digest(filesystem, data_path).encode()})
    target = sidecar_path(publish_as or data_path)
    folder = target.rsplit("/", 1)[0]
    filesystem.create_dir(folder, recursive=True)
    temp = f"{folder}/.{uuid.uuid4().hex}.tmp"
    with (filesystem.open_output_stream(temp) as out,
          pa.ipc.new_file(out, table.schema, options=_WRITE_OPTIONS) as writer):
        writer.write_table(table)
    filesystem.move(temp, target)
    return target


def read_sidecar(filesystem: fs.FileSystem, data_path: str) -> pa.Table | None:
    """The stored device partials of ``data_path``, or None when there are none it can trust:
    no statistics file, an unreadable one, another schema, or a data file whose footer is not the
    one they were computed from."""
    try:
        with filesystem.open_input_file(sidecar_path(data_path)) as f:
            table = pa.ipc.open_file(f).read_all()
        bound = (table.schema.metadata or {}).get(FOOTER_KEY)
        if not table.schema.remove_metadata().equals(DEVICE_PARTIALS):
            return None
        if bound is None or bound.decode() != footer_digest(filesystem, data_path):
            return None
    except (OSError, ValueError, pa.ArrowInvalid):
        return None
    return table.replace_schema_metadata(None)


def backfill(filesystem: fs.FileSystem, data_paths: list[str]) -> int:
    """Write statistics for the data files that have none to trust; returns how many."""
    written = 0
    for path in data_paths:
        if read_sidecar(filesystem, path) is None:
            write_sidecar(filesystem, path)
            written += 1
    return written
