"""The archive on its own (no Django, no Elasticsearch): rows, staging, compaction, reading.

Exactly once is checked the way it can fail: the same batch staged twice, overlapping batches,
a compaction interrupted after publishing and before deleting what it read, hits of a day that
arrive after it was sealed, two days, and a lost lease.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.parquet as pq
import pytest

from crayfis.archive import compact as compaction
from crayfis.archive.compact import LeaseLost, compact
from crayfis.archive.reader import read_hits
from crayfis.archive.rows import HitColumns, hit_columns
from crayfis.archive.schema import ARCHIVE_SCHEMA_VERSION, SCHEMA, UNITS
from crayfis.archive.store import ArchiveOptions, HitArchive, day_start_ms
from crayfis.definition import DAY_MS
from crayfis.es.documents import build_actions
from crayfis.privacy import pseudonym
from crayfis.wire.decode import decode_submit
from ingest.synthetic import make_chunk

KEY = b"archive-key"
NOW = 1_900_000_000_000  # far after every test day: days are sealable
DATA = Path(__file__).parents[1] / "wire" / "data"
EXPECTED = json.loads((DATA / "expected.json").read_text())


def options(**kw) -> ArchiveOptions:
    base = dict(licence="CC-BY-4.0", rows_per_file=400, row_group_rows=128, staged_max_files=4)
    return ArchiveOptions(**{**base, **kw})


def upload_columns(seed: int, **kw) -> HitColumns:
    c = make_chunk(seed, **kw)
    chunk = decode_submit(c.body, c.headers, with_pixels=False)
    return hit_columns(chunk, key=KEY, device_id=c.headers["Device-id"], upload=seed, received_ms=c.last_ms)


@pytest.fixture
def archive(tmp_path) -> HitArchive:
    return HitArchive(str(tmp_path / "archive"), options())


def all_sealed(archive: HitArchive) -> pa.Table:
    return read_hits(archive)


def test_rows_are_the_hits_of_the_documents_without_the_raw_device_id():
    spec = EXPECTED["v1.0.4-data.bin"]
    chunk = decode_submit((DATA / "v1.0.4-data.bin").read_bytes(), spec["headers"], with_pixels=False)
    device_id = spec["headers"]["Device-id"]
    table = hit_columns(chunk, key=KEY, device_id=device_id, upload=3, received_ms=1).table()
    docs = [a["_source"] for a in build_actions(chunk, prefix="p", key=KEY, device_id=device_id, received_ms=1)
            if a["_index"].startswith("p-hits-")]
    hits = [d for d in docs if d["is_hit"]]
    assert len(hits) == len(docs) - 1  # the zero-bias sample is not a hit, so not a row
    assert table.column("hit_id").to_pylist() == [d["hit_id"] for d in hits]
    assert table.column("t_ms").to_pylist() == [d["t_ms"] for d in hits]
    assert table.column("lat").to_pylist() == [d["location"]["lat"] for d in hits]
    assert set(table.column("device_id").to_pylist()) == {pseudonym(device_id, KEY)}
    for column in table.columns:  # the raw Device-id appears nowhere
        assert device_id not in {str(v) for v in column.to_pylist()}
    assert table.schema.names[:5] == ["hit_id", "device_id", "t_ms", "lat", "lon"]


def test_files_describe_themselves(archive):
    archive.stage(upload_columns(1), "b1")
    compact(archive, NOW, 0)
    [f] = [f for d in archive.sealed_days() for f in archive.day_files(d)]
    meta = pq.ParquetFile(f).schema_arrow.metadata
    assert meta[b"crayfis.archive_schema_version"] == str(ARCHIVE_SCHEMA_VERSION).encode()
    assert meta[b"crayfis.licence"] == b"CC-BY-4.0"
    assert meta[b"crayfis.code_version"].startswith(b"0.")
    assert set(json.loads(meta[b"crayfis.units"])) == set(SCHEMA.names) == set(UNITS)
    assert pq.ParquetFile(f).schema_arrow.field("t_ms").metadata[b"unit"].startswith(b"event time, Unix ms")
    sorting = pq.ParquetFile(f).metadata.row_group(0).sorting_columns
    assert [SCHEMA.names[c.column_index] for c in sorting] == ["t_ms", "hit_id"]


def test_the_same_batch_twice_and_overlapping_batches_leave_each_hit_once(archive):
    parts = [upload_columns(s) for s in range(6)]
    everything = HitColumns.concat(parts)
    archive.stage(everything, "b1")
    archive.stage(everything, "b1")                      # the same batch again: same file
    archive.stage(HitColumns.concat(parts[2:4]), "b2")   # another batch holding some of the same hits
    report = compact(archive, NOW, 0)
    got = all_sealed(archive)
    want = everything.table()
    assert got.num_rows == want.num_rows == len(set(want.column("hit_id").to_pylist()))
    assert sorted(got.column("hit_id").to_pylist()) == sorted(want.column("hit_id").to_pylist())
    assert report.copies_dropped == len(HitColumns.concat(parts[2:4]))
    assert archive.staged_days() == []


def test_sealed_files_and_row_groups_are_in_time_order(archive):
    archive.stage(HitColumns.concat(upload_columns(s) for s in range(12)), "b")
    compact(archive, NOW, 0)
    ranges = []
    for day in archive.sealed_days():
        files = archive.day_files(day)
        assert len(files) > 1  # 1,800 rows at 400 per file
        for f in files:
            meta = pq.ParquetFile(f).metadata
            for g in range(meta.num_row_groups):
                st = meta.row_group(g).column(SCHEMA.get_field_index("t_ms")).statistics
                ranges.append((st.min, st.max))
                assert meta.row_group(g).num_rows <= 128
    assert all(a[1] <= b[0] for a, b in zip(ranges, ranges[1:]))  # row groups do not overlap
    t = all_sealed(archive).column("t_ms").to_numpy()
    assert np.all(np.diff(t) >= 0)


def test_an_interrupted_compaction_is_finished_by_the_next_without_copies(archive, monkeypatch):
    batch = HitColumns.concat(upload_columns(s) for s in range(4))
    archive.stage(batch, "b1")
    # the first pass publishes the day, then dies before deleting what it read
    monkeypatch.setattr(HitArchive, "delete", lambda self, paths: (_ for _ in ()).throw(OSError("crash")))
    with pytest.raises(OSError):
        compact(archive, NOW, 0)
    monkeypatch.undo()
    assert all_sealed(archive).num_rows == len(batch)
    report = compact(archive, NOW, 0)  # the staged file is read again: all of it is there already
    assert report.already_archived == len(batch) and report.rows_written == 0
    assert all_sealed(archive).num_rows == len(batch)
    assert archive.staged_days() == []


def test_a_failure_before_publishing_shows_nothing_and_loses_nothing(archive, monkeypatch):
    batch = upload_columns(5)
    archive.stage(batch, "b1")
    monkeypatch.setattr(HitArchive, "publish", lambda self, tmp, final: (_ for _ in ()).throw(OSError("full")))
    with pytest.raises(OSError):
        compact(archive, NOW, 0)
    monkeypatch.undo()
    assert archive.sealed_days() == [] and all_sealed(archive).num_rows == 0
    assert archive.staged_days() != []
    compact(archive, NOW, 0)
    assert all_sealed(archive).num_rows == len(batch)


def test_late_hits_are_added_once_and_the_rest_recognised(archive):
    first = HitColumns.concat(upload_columns(s) for s in range(3))
    late = upload_columns(3)
    archive.stage(first, "b1")
    compact(archive, NOW, 0)
    [day] = archive.sealed_days()
    archive.stage(HitColumns.concat([first, late]), "b2")  # a re-queued batch with one new upload
    report = compact(archive, NOW, 0)
    assert report.already_archived == len(first) and report.rows_written == len(late) == report.late_files * len(late)
    names = sorted(Path(f).name for f in archive.day_files(day))
    assert [n for n in names if n.startswith("late-")] and [n for n in names if n.startswith("part-")]
    got = all_sealed(archive)
    assert got.num_rows == len(first) + len(late) == len(set(got.column("hit_id").to_pylist()))
    archive.stage(late, "b3")  # and once more: nothing new
    assert compact(archive, NOW, 0).rows_written == 0
    assert all_sealed(archive).num_rows == len(first) + len(late)


def test_open_days_wait_and_their_staged_files_are_merged(archive):
    batches = [upload_columns(s) for s in range(6)]
    for i, b in enumerate(batches):
        archive.stage(b, f"b{i}")
    [day] = archive.staged_days()
    end_of_day = day_start_ms(day) + DAY_MS
    report = compact(archive, end_of_day + 1000, seal_after_ms=3_600_000)  # not yet sealable
    assert report.sealed == [] and report.merged == 4  # the 4 oldest of 6 files merged into one
    assert archive.sealed_days() == [] and len(archive.staged_files(day)) == 3
    report = compact(archive, end_of_day + 3_600_000, seal_after_ms=3_600_000)
    assert report.sealed == [day]
    assert all_sealed(archive).num_rows == sum(len(b) for b in batches)


def test_hits_of_two_days_go_to_their_days(archive):
    midnight = day_start_ms("2026-03-02")
    a = upload_columns(1, start_ms=day_start_ms("2026-03-01") + 1000)
    seed = next(s for s in range(2, 200)   # an upload whose events cross midnight
                if make_chunk(s, start_ms=midnight - 3_600_000).first_ms < midnight <= make_chunk(
                    s, start_ms=midnight - 3_600_000).last_ms)
    b = upload_columns(seed, start_ms=midnight - 3_600_000)
    archive.stage(HitColumns.concat([a, b]), "b")
    compact(archive, NOW, 0)
    assert archive.sealed_days() == ["2026-03-01", "2026-03-02"]
    for day in archive.sealed_days():
        t = ds.dataset(archive.day_files(day)).to_table().column("t_ms").to_numpy()
        assert (t >= day_start_ms(day)).all() and (t < day_start_ms(day) + DAY_MS).all()
    whole = read_hits(archive)
    assert whole.num_rows == len(a) + len(b)
    lo = midnight
    assert read_hits(archive, lo, lo + DAY_MS).num_rows == int((whole.column("t_ms").to_numpy() >= lo).sum())


def test_a_lost_lease_stops_before_publishing(archive):
    archive.stage(upload_columns(1), "b")
    with pytest.raises(LeaseLost):
        compact(archive, NOW, 0, still_mine=lambda: False)
    assert archive.sealed_days() == [] and archive.staged_days() != []


def test_readers_of_the_root_see_sealed_days_only(archive):
    archive.stage(upload_columns(1), "b1")
    compact(archive, NOW, 0)
    archive.stage(upload_columns(2), "b2")  # staged, not compacted
    seen = ds.dataset(archive.root, format="parquet", partitioning="hive").to_table()
    assert seen.num_rows == len(upload_columns(1))


def test_stale_temp_files_are_removed(archive, tmp_path):
    archive.stage(upload_columns(1), "b1")
    leftover = archive.temp_path(".parquet")
    archive.fs.create_dir(leftover.rsplit("/", 1)[0], recursive=True)
    with archive.fs.open_output_stream(leftover) as out:
        out.write(b"half a file")
    assert compaction.remove_stale_temp(archive, now_s=0, older_than_s=1) == 0
    assert compaction.remove_stale_temp(archive, now_s=NOW / 1000, older_than_s=1) == 1
