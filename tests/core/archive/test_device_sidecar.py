"""Device statistics stored beside sealed archive files: written by compaction, equal to the
statistics of the file's rows, and refused once they no longer describe the file."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.parquet as pq
import pytest
from pyarrow import fs

from crayfis.archive.compact import compact
from crayfis.archive.device_sidecar import backfill, file_partials, read_sidecar, sidecar_path, write_sidecar
from crayfis.archive.rows import HitColumns
from crayfis.archive.store import HitArchive
from crayfis.coincidence.device_partials import DEVICE_PARTIALS
from tests.core.archive.test_archive import NOW, all_sealed, options, upload_columns


@pytest.fixture
def archive(tmp_path) -> HitArchive:
    return HitArchive(str(tmp_path / "archive"), options())


def same_partials(a: pa.Table, b: pa.Table) -> None:
    assert a.schema.equals(DEVICE_PARTIALS) and b.schema.equals(DEVICE_PARTIALS)
    exact = ["device_id", "n_hits", "n_rows", "t_min_ms", "t_max_ms"]
    assert a.select(exact).to_pylist() == b.select(exact).to_pylist()
    for c in "xyz":  # sums of unit vectors: equal to rounding, whatever order they were added in
        assert np.allclose(a.column(c).to_numpy(zero_copy_only=False),
                           b.column(c).to_numpy(zero_copy_only=False), rtol=1e-12, atol=1e-12, equal_nan=True)


def test_compaction_stores_the_statistics_of_every_sealed_and_late_file(archive):
    archive.stage(HitColumns.concat(upload_columns(s) for s in range(4)), "b1")
    compact(archive, NOW, 0)
    archive.stage(upload_columns(9), "b2")  # late: the day is sealed
    compact(archive, NOW, 0)
    [day] = archive.sealed_days()
    files = archive.day_files(day)
    assert len(files) >= 3 and any(Path(f).name.startswith("late-") for f in files)
    for path in files:
        stored = read_sidecar(archive.fs, path)
        assert stored is not None, path
        same_partials(stored, file_partials(archive.fs, path))
    # per device, the stored counts add up to the day's rows
    counts = pa.concat_tables(read_sidecar(archive.fs, f) for f in files)
    assert sum(counts.column("n_rows").to_pylist()) == all_sealed(archive).num_rows
    # readers of the root still see hits only
    seen = ds.dataset(archive.root, format="parquet", partitioning="hive").to_table()
    assert seen.num_rows == all_sealed(archive).num_rows


def test_statistics_of_a_file_that_changed_are_refused(archive):
    archive.stage(HitColumns.concat(upload_columns(s) for s in range(2)), "b1")
    compact(archive, NOW, 0)
    path = archive.day_files(archive.sealed_days()[0])[0]
    assert read_sidecar(archive.fs, path) is not None
    # the same name, other rows (a file rewritten by hand, or restored from elsewhere)
    table = pq.read_table(path)
    pq.write_table(table.slice(1), path, row_group_size=128)
    assert read_sidecar(archive.fs, path) is None
    # the same rows written again with other row groups: another footer, refused too
    pq.write_table(table, path, row_group_size=100)
    assert read_sidecar(archive.fs, path) is None
    assert backfill(archive.fs, [path]) == 1
    same_partials(read_sidecar(archive.fs, path), file_partials(archive.fs, path))
    assert backfill(archive.fs, [path]) == 0


@pytest.mark.parametrize("damage", ["missing", "truncated", "other schema"])
def test_missing_or_damaged_statistics_are_none(archive, damage):
    archive.stage(upload_columns(1), "b1")
    compact(archive, NOW, 0)
    path = archive.day_files(archive.sealed_days()[0])[0]
    side = sidecar_path(path)
    if damage == "missing":
        archive.fs.delete_file(side)
    elif damage == "truncated":
        data = Path(side).read_bytes()
        Path(side).write_bytes(data[: len(data) // 2])
    else:
        stored = read_sidecar(archive.fs, path)
        write_sidecar(archive.fs, path, stored)  # bound to the file, but one column renamed:
        bound = pa.ipc.open_file(side).read_all()
        renamed = bound.rename_columns([*bound.column_names[:-1], "w"])
        with pa.OSFile(side, "wb") as out, pa.ipc.new_file(out, renamed.schema) as w:
            w.write_table(renamed)
    assert read_sidecar(archive.fs, path) is None


def test_statistics_of_files_written_elsewhere_can_be_added(tmp_path):
    local = fs.LocalFileSystem()
    path = str(tmp_path / "day=2026-01-01" / "part-00000.parquet")
    Path(path).parent.mkdir(parents=True)
    rows = upload_columns(3).table()
    pq.write_table(rows, path, row_group_size=50)
    assert read_sidecar(local, path) is None
    assert backfill(local, [path]) == 1
    stored = read_sidecar(local, path)
    assert sum(stored.column("n_rows").to_pylist()) == rows.num_rows
    assert stored.column("device_id").to_pylist() == sorted(set(rows.column("device_id").to_pylist()))
    same_partials(stored, file_partials(local, path))
