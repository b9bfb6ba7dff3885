"""Spark section of the coincidence benchmark: the whole job on local[2] from Parquet.

    python bench/coincidence_spark.py [--spark-sizes 1e6 3e6 1e7 3e7] [--append-docs]
    python bench/coincidence.py --sections spark ...      (the same, as a section)

Same generated hits as the kernel sections (bench/coincidence_workloads.py ``generate``, workload
``--scaling-workload``), written to Parquet with string ids (hit_id "h<i>", device_id "p<n>").
In one Spark session, per size:
  - pass-through: mapInArrow that yields its input, over all five columns and over the three
    numeric ones (what any Python stage costs: the floor for a job that runs numpy in Spark);
  - the job: ``spark_jobs.coincidence.run_job`` (statistics, partitioning, kernel per
    partition, background model, candidates, outputs), wall time after the session is up:
    ``--job-repeats`` times (median reported, every run listed) on its default path (the
    Parquet here is written in time order, so the shuffle-free path of ordered_parquet.py), and
    once forced through the general slabs x tiles shuffle (``--shuffle``);
  - the kernel alone on the same hits in this process (one thread), and a check that the job's
    triggered anchors and candidates equal the kernel's.
Wall times (Spark runs several processes); the VM is shared, so its load average is recorded.
"""
from __future__ import annotations

import argparse
import datetime as _dt
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from pyspark.sql import functions as F  # noqa: E402

from bench.coincidence_workloads import WORKLOADS, generate  # noqa: E402
from crayfis.coincidence.kernel import find_coincidences  # noqa: E402
from crayfis.definition import SearchParams  # noqa: E402
from spark_jobs.coincidence import JobConfig, run_job  # noqa: E402
from spark_jobs.job_config import WorkSplit  # noqa: E402
from spark_jobs.session import build_session  # noqa: E402

DOCS = ROOT / "docs" / "benchmarks.md"
RUN_DATE = _dt.datetime.now(_dt.UTC).strftime("%Y-%m-%d")  # of the run
MACHINE = "2-core shared VM, 24 GiB"


def write_parquet(h, path: Path) -> None:
    """The generated hits as job input: string ids built by Arrow, not per-row Python."""
    n = len(h)
    hit_id = pc.binary_join_element_wise("h", pa.array(np.arange(n)).cast(pa.string()), "")
    device = pc.binary_join_element_wise("p", pa.array(h.dev).cast(pa.string()), "")
    table = pa.table({"hit_id": hit_id, "device_id": device, "t_ms": h.t, "lat": h.lat,
                      "lon": h.lon})
    pq.write_table(table, path, row_group_size=1 << 20)


def load() -> str:
    return " / ".join(f"{x:.1f}" for x in os.getloadavg())


def passthrough(spark, path: Path, columns: list[str]) -> float:
    """Seconds for mapInArrow yielding its input over ``columns`` (sum forces every row)."""
    df = spark.read.parquet(str(path)).select(*columns)

    def same(batches):
        yield from batches

    t0 = time.perf_counter()
    df.mapInArrow(same, df.schema).agg(F.count(F.lit(1))).collect()
    return time.perf_counter() - t0


def kernel_alone(h, w) -> tuple[float, int, int]:
    t0 = time.process_time()
    res = find_coincidences(h.t, h.lat, h.lon, h.dev, w.window_ms, w.radius_m, w.min_devices)
    return time.process_time() - t0, len(res.triggered), res.n_candidates


def section_spark(args) -> list[str]:
    w = WORKLOADS[args.scaling_workload]
    sizes = [int(s) for s in args.spark_sizes]
    t0 = time.perf_counter()
    spark = build_session("bench-coincidence", "local[2]", {
        "spark.driver.memory": args.spark_driver_memory, "spark.sql.shuffle.partitions": "2",
        "spark.default.parallelism": "2", "spark.local.dir": args.spark_tmp})
    start_s = time.perf_counter() - t0
    spark.conf.set("spark.sql.execution.arrow.maxRecordsPerBatch", "100000")
    lines = [
        f"Spark job on local[2] from Parquet, workload {w.name} ({w.describe()}).",
        f"Session start {start_s:.1f} s (not counted below). Wall time; load average "
        "(1/5/15 min) before each size. Pass-through = mapInArrow yielding its input, with all five "
        "columns and with the three numeric ones. Kernel = find_coincidences on the same hits in "
        "one process, one thread (CPU time).", "",
        "| hits | default path | job wall, median (runs) | job hits/s, median "
        "| shuffle path wall | shuffle path hits/s "
        "| default: prepare / search / candidates s "
        "| default, in search: kernel / background CPU s | rows with halo "
        "| pass-through 5 cols | pass-through numeric | kernel, 1 thread | triggered | candidates "
        "| expected accidental | load avg |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    print(lines[0], flush=True)
    tmp = Path(tempfile.mkdtemp(prefix="bench-spark-", dir=args.spark_tmp))
    try:
        warm = generate(w, 200_000)
        write_parquet(warm, tmp / "warm.parquet")
        run_job(spark, JobConfig(input=str(tmp / "warm.parquet"), output=str(tmp / "warm-out"),
                                 params=SearchParams(w.window_ms, w.radius_m, w.min_devices)))
        for n in sizes:
            h = generate(w, n)
            path = tmp / f"hits-{n}.parquet"
            write_parquet(h, path)
            k_s, k_trig, k_cand = kernel_alone(h, w)
            del h
            before = load()
            p5 = passthrough(spark, path, ["hit_id", "device_id", "t_ms", "lat", "lon"])
            p3 = passthrough(spark, path, ["t_ms", "lat", "lon"])
            runs = [run_job(spark, JobConfig(input=str(path), output=str(tmp / f"out-{n}"),
                                             params=SearchParams(w.window_ms, w.radius_m, w.min_devices)))
                    for _ in range(args.job_repeats)]
            walls = [r["wall_s"] for r in runs]  # in run order
            s = sorted(runs, key=lambda r: r["wall_s"])[len(runs) // 2]  # the median run
            g = run_job(spark, JobConfig(input=str(path), output=str(tmp / f"out-g-{n}"),
                                         params=SearchParams(w.window_ms, w.radius_m, w.min_devices),
                                         split=WorkSplit(ordered_fast_path=False)))
            for r in (*runs, g):
                if (r["triggered_anchors"], r["candidates"]) != (k_trig, k_cand):
                    raise AssertionError(f"job {r['triggered_anchors']}/{r['candidates']} != kernel "
                                         f"{k_trig}/{k_cand} at {n} hits ({r['parameters']['layout']})")
            m = s["hits_read"]
            tm = s["timings"]
            lines.append(
                f"| {m:,} | {s['parameters']['layout']} | {s['wall_s']:.1f} s "
                f"({' / '.join(f'{x:.1f}' for x in walls)}) | {m / s['wall_s'] / 1e6:.2f} M/s "
                f"| {g['wall_s']:.1f} s | {m / g['wall_s'] / 1e6:.2f} M/s "
                f"| {tm['prepare_s']:.1f} / {tm['search_s']:.1f} / {tm['candidates_s']:.1f} "
                f"| {s['kernel_cpu_s']:.1f} / {s['background_cpu_s']:.1f} "
                f"| {s['rows_with_halo'] / m:.3f}x | {m / p5 / 1e6:.2f} M/s | {m / p3 / 1e6:.2f} M/s "
                f"| {m / k_s / 1e6:.2f} M/s | {s['triggered_anchors']:,} | {s['candidates']:,} "
                f"| {s['expected_accidental_triggers']:.1f} | {before} |")
            print(lines[-1], flush=True)
            shutil.rmtree(tmp / f"out-{n}", ignore_errors=True)
            shutil.rmtree(tmp / f"out-g-{n}", ignore_errors=True)
            path.unlink()
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
        spark.stop()
    lines += ["", "Triggered anchors and candidates of the job, on both paths, equal the kernel's on "
              "the same hits (checked in the run)."]
    return lines


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--spark-sizes", nargs="*", type=float, default=[1e6, 3e6, 1e7, 3e7])
    p.add_argument("--spark-driver-memory", default="8g")
    p.add_argument("--job-repeats", type=int, default=3,
                   help="runs of the job on its default path per size (median reported)")
    p.add_argument("--spark-tmp", default=tempfile.gettempdir(),
                   help="where the Parquet input and Spark's shuffle files go")


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_arguments(p)
    p.add_argument("--scaling-workload", default="metro")
    p.add_argument("--append-docs", action="store_true")
    args = p.parse_args(argv)
    lines = section_spark(args)
    lines.append(f"\n(run {_dt.datetime.now(_dt.UTC):%Y-%m-%d %H:%M} UTC)")
    if args.append_docs:
        with DOCS.open("a") as f:
            f.write("\n".join([f"\n## Coincidence Spark job ({RUN_DATE}, {MACHINE})", "",
                               f"Command: `python bench/coincidence_spark.py {' '.join(sys.argv[1:])}`",
                               ""] + lines + [""]))
        print(f"appended to {DOCS}")


if __name__ == "__main__":
    main()
