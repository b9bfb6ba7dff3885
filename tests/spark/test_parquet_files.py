"""The driver lists a local Parquet input as Spark's own listing does (less Parquet summary
files): the same data files, so the same rows searched."""
from __future__ import annotations

import subprocess
import sys
import urllib.parse

import pyarrow as pa
import pyarrow.parquet as pq

from spark_jobs.parquet_files import local_parquet_files, local_uri, normal_path

TREE = ["day=2026-11-01/part-00000.parquet", "day=2026-11-01/part-00001.parquet",
        "day=2026-11-02/late-k-s00001.parquet", "day=2026-11-02/with space.parquet",
        # skipped by Spark's listing
        "_incoming/day=2026-11-02/k.parquet", "_tmp/w.parquet", "_SUCCESS", ".hidden.parquet",
        "day=2026-11-01/.part-00002.parquet.crc", "day=2026-11-01/_metadata",
        "day=2026-11-02/part.parquet._COPYING_"]


def write_tree(root):
    table = pa.table({"hit_id": ["a"], "device_id": ["d"], "t_ms": [1], "lat": [0.0], "lon": [0.0]})
    for name in TREE:
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        pq.write_table(table, path)


def local_paths(uris):
    return sorted(urllib.parse.unquote(normal_path(u)[len("file:"):]) for u in uris)


def test_local_listing_equals_sparks(spark, tmp_path):
    write_tree(tmp_path)
    ours = local_parquet_files(str(tmp_path))
    sparks = local_paths(spark.read.parquet(str(tmp_path)).inputFiles())
    # Spark lists Parquet summary files too; they hold other files' footers, no rows
    assert local_paths(ours) == [p for p in sparks if not p.endswith("/_metadata")]
    assert len(ours) == 4 and ours == sorted(ours)
    assert local_parquet_files(local_uri(str(tmp_path))) == ours  # the file: spelling too


def test_a_file_lists_itself_and_other_inputs_are_left_to_spark(tmp_path):
    write_tree(tmp_path)
    one = tmp_path / "day=2026-11-02" / "with space.parquet"
    assert local_parquet_files(str(one)) == [local_uri(str(one))]
    assert local_parquet_files(str(tmp_path / "day=*")) is None  # a glob: Spark expands it
    assert local_parquet_files("s3a://bucket/hits") is None
    assert local_parquet_files(str(tmp_path / "missing")) is None


def test_a_directory_without_files_is_one_line_and_status_1(tmp_path):
    (tmp_path / "_incoming" / "day=2026-11-01").mkdir(parents=True)
    (tmp_path / "_incoming" / "day=2026-11-01" / "k.parquet").write_bytes(b"staged, not sealed")
    r = subprocess.run([sys.executable, "-m", "spark_jobs.coincidence", "--input", str(tmp_path),
                        "--output", str(tmp_path / "out"), "--window-ms", "5", "--radius-m", "1000",
                        "--min-devices", "3"], capture_output=True, text=True, timeout=60)
    assert r.returncode == 1 and r.stderr.count("\n") == 1
    assert r.stderr.strip().endswith(f"no Parquet files under {tmp_path}")
