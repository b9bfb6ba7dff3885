"""Bad arguments and missing inputs end in one line on stderr, before Spark starts."""
from __future__ import annotations

import subprocess
import sys

import pytest

GOOD = ["--output", "out", "--window-ms", "5", "--radius-m", "1000", "--min-devices", "3"]


def run(module, *args):
    return subprocess.run([sys.executable, "-m", module, *args], capture_output=True, text=True,
                          timeout=60)


@pytest.mark.parametrize("args, message", [
    (["--input", "x.parquet", "--output", "o", "--window-ms", "-1", "--radius-m", "1",
      "--min-devices", "3"], "--window-ms: must be >= 0"),
    (["--input", "x.parquet", *GOOD[:-1], "zero"], "--min-devices: not an integer"),
    (["--input", "x.parquet", *GOOD, "--radius-m", "nan"], "--radius-m: must be a finite number"),
    (["--input", "x.parquet", *GOOD, "--start", "yesterday"], "not an ISO 8601 time"),
    (["--input", "x.parquet", *GOOD, "--start", "2026-01-02", "--end", "2026-01-01"],
     "--start must be before --end"),
    ([*GOOD], "the following arguments are required: --input"),
])
def test_bad_arguments_are_one_line_and_status_2(args, message):
    r = run("spark_jobs.coincidence", *args)
    assert r.returncode == 2
    assert r.stderr.count("\n") == 1 and message in r.stderr and "Traceback" not in r.stderr


def test_missing_input_and_unreachable_es_are_one_line_and_status_1(tmp_path):
    r = run("spark_jobs.coincidence", "--input", str(tmp_path / "nope.parquet"), *GOOD)
    assert r.returncode == 1 and r.stderr.strip().endswith(f"input not found: {tmp_path / 'nope.parquet'}")
    assert r.stderr.count("\n") == 1
    r = run("spark_jobs.export_hits", "--input", "es://x-hits-*", "--start", "2026-01-01",
            "--end", "2026-01-02", "--output", str(tmp_path), "--es-url", "http://127.0.0.1:9")
    assert r.returncode == 1 and "does not answer" in r.stderr and r.stderr.count("\n") == 1


def test_unwritable_stage_dir_is_one_line_and_status_1(tmp_path, es_url):
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    r = run("spark_jobs.coincidence", "--input", "es://x-hits-*", *GOOD, "--es-url", es_url,
            "--es-stage-dir", str(blocker / "stage"))
    assert r.returncode == 1 and r.stderr.count("\n") == 1 and "Traceback" not in r.stderr
    assert f"--es-stage-dir {blocker / 'stage'}: " in r.stderr
