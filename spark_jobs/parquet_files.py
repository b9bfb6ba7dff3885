"""Parquet files of the job's input as pyarrow reads them, with no Spark and no Elasticsearch
client: the listing of a local input, opening a file by the URI it is listed under, and hit ids
read back by hit code. The search tasks import this module in every Python worker, so it stays
light.
"""
from __future__ import annotations

import os
import urllib.parse

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
from pyarrow import fs

ROW_BITS = 36  # rows per Parquet file < 2**36; up to 2**27 files


def local_path(uri: str) -> str:
    """The local path of a ``file:`` URI, in any of its spellings (file:/x, file:///x, quoted)."""
    return "/" + urllib.parse.unquote(uri[len("file:"):]).lstrip("/")


def normal_path(uri: str) -> str:
    """One spelling of a local file URI: 'file:///x' and 'file:/x' both become 'file:/x'."""
    return "file:/" + uri[len("file:///"):] if uri.startswith("file:///") else uri


def open_parquet(uri: str, dictionary_ids: bool = False):
    """A pyarrow ParquetFile for a file URI as Spark lists it (file:/..., s3://, hdfs://).

    ``dictionary_ids``: device_id comes back dictionary-encoded, straight from the file's
    dictionary pages, so per-device work runs over small integers instead of strings."""
    kw = {"read_dictionary": ["device_id"]} if dictionary_ids else {}
    filesystem, path = filesystem_path(uri)
    return pq.ParquetFile(path, filesystem=filesystem, **kw)


def filesystem_path(uri: str) -> tuple[fs.FileSystem, str]:
    """(pyarrow filesystem, path in it) of a file URI as Spark lists it."""
    if uri.startswith("file:"):
        return fs.LocalFileSystem(), local_path(uri)
    return fs.FileSystem.from_uri(uri)


def read_parquet_hit_ids(files: list[str], codes, columns=("hit_id", "device_id")):
    """(hit_code, *columns) table, as strings, for the given codes (sorted, distinct), read
    straight from the Parquet files: only the row groups that hold them, only those columns
    (the driver or a task reads a few row groups, not the data set)."""
    codes = np.sort(np.asarray(codes, dtype=np.int64))
    codes = codes[np.r_[True, codes[1:] != codes[:-1]]] if len(codes) else codes  # sort, not hash
    code_parts, parts = [], {c: [] for c in columns}
    file_no = codes >> ROW_BITS
    distinct_files = file_no[np.r_[True, file_no[1:] != file_no[:-1]]] if len(file_no) else file_no
    for f in distinct_files.tolist():  # a loop over files and row groups, not hits
        pf = open_parquet(files[f])
        sizes = [pf.metadata.row_group(i).num_rows for i in range(pf.metadata.num_row_groups)]
        starts = np.concatenate(([0], np.cumsum(sizes))).astype(np.int64)
        lo, hi = np.searchsorted(file_no, [f, f + 1])  # codes are sorted: one run per file
        mine = codes[lo:hi]
        rows = mine & ((1 << ROW_BITS) - 1)
        if len(rows) and rows[-1] >= starts[-1]:
            raise RuntimeError("a hit code beyond the end of its Parquet file")
        group = np.searchsorted(starts, rows, side="right") - 1
        cut = np.flatnonzero(np.r_[True, group[1:] != group[:-1], True])
        for c0, c1 in zip(cut[:-1].tolist(), cut[1:].tolist()):  # one run per row group
            g = int(group[c0])
            part = pf.read_row_group(g, columns=list(columns))
            take = pa.array(rows[c0:c1] - starts[g])
            code_parts.append(mine[c0:c1])
            for c in columns:
                parts[c].extend(part.column(c).take(take).cast(pa.string()).chunks)
    # chunks, not ChunkedArrays: pa.chunked_array would convert those value by value in Python
    return pa.table({"hit_code": pa.array(np.concatenate(code_parts) if code_parts else [], pa.int64()),
                     **{c: pa.chunked_array(parts[c], pa.string()) for c in columns}})


def hidden_name(name: str) -> bool:
    """A file or directory name the listing skips: those Spark's listing skips ('.'-names,
    '_'-names that are not partition directories such as ``_incoming``, ``_tmp``,
    ``_SUCCESS``; files being copied) and the Parquet summary files ``_metadata`` and
    ``_common_metadata``, which Spark lists but which hold other files' footers, not rows."""
    return (name.startswith(".") or (name.startswith("_") and "=" not in name)
            or name.endswith("._COPYING_"))


def local_parquet_files(path: str) -> list[str] | None:
    """The data files under a local path as Spark's listing gives them (every file in the tree
    but the hidden ones, ``hidden_name``; the path itself if it is a file), as sorted
    ``file:`` URIs; None where ``path`` is not a plain local path (another scheme, or a glob
    pattern, which only Spark expands).

    Listed with os.scandir in the driver: a new session's ``spark.read.parquet`` lists the
    tree and infers a schema before any task runs, which the job does not need (its tasks
    read the footers and columns with pyarrow)."""
    if path.startswith("file:"):
        local = local_path(path)
    elif "://" in path:
        return None
    else:
        local = path
    if any(c in local for c in "*?[{\\") or not os.path.exists(local):
        return None
    local = os.path.abspath(local)
    if not os.path.isdir(local):
        found = [local]
    else:
        found = []
        pending = [local]
        while pending:
            with os.scandir(pending.pop()) as entries:
                for e in entries:
                    if hidden_name(e.name):
                        continue
                    if e.is_dir():
                        pending.append(e.path)
                    else:
                        found.append(e.path)
    return sorted(local_uri(f) for f in found)


def local_uri(path: str) -> str:
    """An absolute local path in ``normal_path``'s spelling (``open_parquet`` reads it)."""
    return "file:" + urllib.parse.quote(path, safe="/=")
