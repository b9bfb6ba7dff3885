"""Streaming the archive (crayfis/archive/reader.py): `scan_hits` gives read_hits' rows in the
same order a batch at a time, late files merged in; `complete_days` leaves out days with staged
hits; `in_box` has geo_bounding_box's edges."""
from __future__ import annotations

import pyarrow as pa
import pyarrow.dataset as ds
import pytest

from crayfis.archive.compact import compact
from crayfis.archive.reader import complete_days, days_of, in_box, read_hits, scan_hits
from crayfis.archive.rows import HitColumns
from crayfis.archive.store import HitArchive, day_start_ms
from crayfis.definition import DAY_MS
from crayfis.es.geobox import LAT_STEP, LON_STEP, encode
from tests.core.archive.test_archive import NOW, options, upload_columns

DAY = "2026-03-01"


@pytest.fixture
def archive(tmp_path) -> HitArchive:
    return HitArchive(str(tmp_path / "archive"), options())


def _with_late_files(archive: HitArchive) -> HitColumns:
    """A sealed day of parts (400 rows a file, row groups of 128) and three late files whose
    times interleave with the parts'."""
    start = day_start_ms(DAY) + 1000
    archive.stage(HitColumns.concat(upload_columns(s, start_ms=start) for s in range(6)), "b0")
    compact(archive, NOW, 0)
    late = [upload_columns(s, start_ms=start) for s in range(6, 9)]
    for i, cols in enumerate(late):
        archive.stage(cols, f"late{i}")
        compact(archive, NOW, 0)
    names = [f.rsplit("/", 1)[-1] for f in archive.day_files(DAY)]
    assert sum(n.startswith("late-") for n in names) == 3 and sum(n.startswith("part-") for n in names) >= 2
    return HitColumns.concat([*(upload_columns(s, start_ms=start) for s in range(6)), *late])


@pytest.mark.parametrize("batch_rows", [7, 100, 100_000])
def test_scan_merges_late_files_into_time_order(archive, batch_rows):
    everything = _with_late_files(archive)
    want = read_hits(archive)
    assert want.num_rows == len(everything)
    tables = list(scan_hits(archive, [DAY], None, None, batch_rows=batch_rows))
    got = pa.concat_tables(tables).select(want.column_names)
    assert got.equals(want)
    if batch_rows == 7:   # one batch per run at a time, never the day
        assert max(t.num_rows for t in tables) <= 4 * 7


def test_scan_filters_time_and_a_predicate_like_read_hits(archive):
    _with_late_files(archive)
    whole = read_hits(archive)
    t = whole.column("t_ms").to_pylist()
    lo, hi = t[len(t) // 5], t[len(t) // 2]
    device = whole.column("device_id")[(len(t) // 5 + len(t) // 2) // 2].as_py()
    got = pa.concat_tables(scan_hits(archive, [DAY], lo, hi, ["hit_id", "t_ms"], ds.field("device_id") == device,
                                     batch_rows=50))
    want = [r["hit_id"] for r in whole.to_pylist() if lo <= r["t_ms"] < hi and r["device_id"] == device]
    assert got.column("hit_id").to_pylist() == want and want


def test_complete_days_leave_out_open_days_and_days_with_staged_hits(archive):
    _with_late_files(archive)
    other = "2026-03-03"
    archive.stage(upload_columns(20, start_ms=day_start_ms(other) + 1000), "open")   # staged, not sealed
    start, end = day_start_ms("2026-02-28"), day_start_ms("2026-03-05")
    assert days_of(start, end) == ["2026-02-28", "2026-03-01", "2026-03-02", "2026-03-03", "2026-03-04"]
    assert complete_days(archive, start, end) == {DAY}
    archive.stage(upload_columns(21, start_ms=day_start_ms(DAY) + 5000), "late-again")   # a late hit staged
    assert complete_days(archive, start, end) == set()
    compact(archive, NOW, 0)
    assert complete_days(archive, start, end) == {DAY, other}
    assert complete_days(archive, day_start_ms(DAY) + DAY_MS, day_start_ms(other)) == set()


def test_in_box_has_the_geo_point_edges():
    """A point is inside when its geo_point codes lie between the box's (crayfis/es/geobox.py,
    whose ranges are checked against the node in tests/core/es/test_geobox_live.py): points on
    the edges and a third of a step beyond them (same code) are inside, a whole step beyond is
    outside, which plain inclusive ranges on the doubles would get wrong."""
    w, s, e, n = 6.1, 46.1, 6.2, 46.3
    pts = [(s, 6.15), (n, 6.15), (46.2, w), (46.2, e), (s - LAT_STEP, 6.15), (46.2, e + LON_STEP), (None, None),
           (s - LAT_STEP / 3, 6.15), (n + LAT_STEP / 3, 6.15)]
    assert [encode(p[0], LAT_STEP) for p in pts[7:]] == [encode(s, LAT_STEP), encode(n, LAT_STEP)]
    table = pa.table({"lat": [p[0] for p in pts], "lon": [p[1] for p in pts], "i": list(range(len(pts)))})
    inside = set(table.filter(in_box("lat", "lon", (w, s, e, n))).column("i").to_pylist())
    assert inside == {0, 1, 2, 3, 7, 8}
    crossing = pa.table({"lat": [0.0, 0.0, 0.0], "lon": [179.5, -179.5, 0.0], "i": [0, 1, 2]})
    assert crossing.filter(in_box("lat", "lon", (179.0, -1.0, -179.0, 1.0))).column("i").to_pylist() == [0, 1]
    assert table.filter(in_box("lat", "lon", (w, n, e, s))).num_rows == 0
