"""Spark section of the coincidence benchmark: the whole job on local[2] from Parquet.

    python bench/coincidence_spark.py [--spark-sizes 1e6 3e6 1e7 3e7] [--append-docs]
    python bench/coincidence.py --sections spark ...      (the same, as a section)
    python bench/coincidence_spark.py --cold [--cold-size 3e7] [--cold-runs 3] [--append-docs]

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

``--cold``: the job as a scientist runs it, ``python -m spark_jobs.coincidence --master local[2]``
in a new process each time (new JVM, new Python workers; numba's machine code already cached on
disk by a first, uncounted run), ``--cold-runs`` times on ``--cold-size`` hits written in the
archive layout (``write_archive_layout``, device statistics stored as compaction stores them),
median reported; in turns with it the same command on the same files without their stored
statistics (the baseline: the job counts devices in a first stage), and beside both the same job run
warm (``--job-repeats`` times, median) in a session of this process that has run it once. Where
a cold run's time goes, each part measured on its own: interpreter start and the job's imports
(a new ``python -c "import spark_jobs.coincidence"``), JVM and session start (the job's own
report), Python worker start (a new context's first two-task Python stage against its third),
numba cache load (first call against second of the task's compiled functions on a few hits, in
a new process), the job's preparation in a new session (the listing of the input; the
device-statistics stage run first and again) and, as the rest, the first tasks (cold job wall
against warm job wall).
"""
from __future__ import annotations

import argparse
import datetime as _dt
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from pyarrow.fs import LocalFileSystem

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from pyspark.sql import functions as F  # noqa: E402

from bench.coincidence_workloads import WORKLOADS, generate  # noqa: E402
from crayfis.archive.device_sidecar import SIDECAR_DIR, write_sidecar  # noqa: E402
from crayfis.coincidence.kernel import find_coincidences  # noqa: E402
from crayfis.definition import SearchParams  # noqa: E402
from spark_jobs.coincidence import JobConfig, run_job  # noqa: E402
from spark_jobs.job_config import WorkSplit  # noqa: E402
from spark_jobs.session import COORDINATOR_JVM, build_session, start_spark  # noqa: E402

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


ARCHIVE_FILE_ROWS = 1 << 23  # rows per file of the archive layout (compacted files)
ARCHIVE_ROW_GROUP = 1 << 20  # rows per row group
ARCHIVE_SHIFT_MS = -15 * 60_000  # the hits start 15 minutes before a UTC midnight: two day partitions


def write_archive_layout(h, root: Path) -> list[Path]:
    """The generated hits laid out as the hit archive lays them out: one directory per UTC day
    (``day=YYYY-MM-DD``), files of at most ARCHIVE_FILE_ROWS rows in time order, row groups in
    time order, each file's device statistics beside it (crayfis/archive/device_sidecar.py); the
    job's input columns plus two provenance columns (``upload_id``, ``archived_ms``) that the job
    does not read. Shifted to start before a midnight, so a
    search crosses two day partitions."""
    t = h.t + ARCHIVE_SHIFT_MS  # generate() gives time order
    day = t // 86_400_000
    paths = []
    for d in np.unique(day).tolist():  # a loop over days and files, not hits
        rows = np.flatnonzero(day == d)
        folder = root / f"day={_dt.datetime.fromtimestamp(d * 86_400, _dt.UTC):%Y-%m-%d}"
        folder.mkdir(parents=True, exist_ok=True)
        for part, lo in enumerate(range(0, len(rows), ARCHIVE_FILE_ROWS)):
            take = rows[lo:lo + ARCHIVE_FILE_ROWS]
            hit_id = pc.binary_join_element_wise("h", pa.array(take).cast(pa.string()), "")
            device = pc.binary_join_element_wise("p", pa.array(h.dev[take]).cast(pa.string()), "")
            table = pa.table({"hit_id": hit_id, "device_id": device, "t_ms": t[take],
                              "lat": h.lat[take], "lon": h.lon[take],
                              "upload_id": h.dev[take] * 100_000 + t[take] // 180_000 % 100_000,
                              "archived_ms": t[take] + 60_000})
            path = folder / f"part-{part:05d}.parquet"
            pq.write_table(table, path, row_group_size=ARCHIVE_ROW_GROUP)
            write_sidecar(LocalFileSystem(), str(path))  # as compaction stores them
            paths.append(path)
    return paths


def without_statistics(archive: Path, copy: Path) -> Path:
    """The same data files (hard links), without the device statistics stored beside them."""
    shutil.copytree(archive, copy, copy_function=os.link, ignore=shutil.ignore_patterns(SIDECAR_DIR))
    return copy


def run_cold(args, w, archive: Path, out: Path) -> dict:
    """One cold job: a new ``python -m spark_jobs.coincidence`` process; its summary, with the
    process's wall time (``process_s``) and its session start (``session_start_s``)."""
    cmd = [sys.executable, "-m", "spark_jobs.coincidence", "--input", str(archive),
           "--output", str(out), "--window-ms", str(w.window_ms), "--radius-m", str(w.radius_m),
           "--min-devices", str(w.min_devices), "--master", "local[2]"]
    env = {**os.environ, "SPARK_LOCAL_DIRS": args.spark_tmp}
    t0 = time.perf_counter()
    done = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True)
    process_s = time.perf_counter() - t0
    if done.returncode:
        raise RuntimeError(f"cold job failed ({done.returncode}): {done.stderr[-2000:]}")
    summary = json.loads((out / "summary.json").read_text())
    session = re.search(r"session start ([0-9.]+) s", done.stdout)
    if session is None:
        raise RuntimeError(f"no session start in the job's report: {done.stdout!r}")
    shutil.rmtree(out, ignore_errors=True)
    return {**summary, "process_s": process_s, "session_start_s": float(session.group(1))}


IMPORT_PROBE = "import spark_jobs.coincidence, spark_jobs.job_steps"

WORKER_PROBE = """
import json, time
import pyarrow as pa
from spark_jobs.driver_tasks import run_tasks
from spark_jobs.session import COORDINATOR_JVM, start_spark
spark = start_spark("cold-probe", "local[2]", jvm_options=COORDINATOR_JVM)
def one(number):
    yield pa.record_batch({"task": [number]})
walls = []
for _ in range(3):
    t0 = time.perf_counter()
    run_tasks(spark.sparkContext, 2, one)
    walls.append(time.perf_counter() - t0)
spark.stop()
print(json.dumps(walls))
"""

NUMBA_PROBE = """
import json, time
import numpy as np
from crayfis.coincidence.device_stats import device_sums
from crayfis.coincidence.kernel import triggered_windows
from crayfis.coincidence.significance import estimate_background
rng = np.random.default_rng(1)
n = 2000
t = np.sort(rng.integers(0, 60_000, n)).astype(np.int64)
lat = 34.0 + rng.random(n) * 0.05
lon = -118.0 + rng.random(n) * 0.05
dev = rng.integers(0, 50, n).astype(np.int64)
def task():
    device_sums(dev, np.ones(n, bool), t, lat, lon, 50)
    estimate_background(t, lat, lon, dev, 100, 1000.0, 3)
    triggered_windows(t, lat, lon, dev, 100, 1000.0, 3)
calls = []
for _ in range(2):
    t0 = time.perf_counter()
    task()
    calls.append(time.perf_counter() - t0)
print(json.dumps(calls))
"""


PREPARE_PROBE = """
import json, sys, time
from crayfis.coincidence.device_partials import DEVICE_PARTIALS
from spark_jobs.driver_tasks import run_table
from spark_jobs import ordered_parquet
from spark_jobs.hits_input import parquet_input
from spark_jobs.row_group_plan import plan_tasks
from spark_jobs.session import COORDINATOR_JVM, start_spark
spark = start_spark("cold-probe", "local[2]", jvm_options=COORDINATOR_JVM)
t0 = time.perf_counter()
files = parquet_input(spark, sys.argv[1]).files()
out = {"listing_s": time.perf_counter() - t0}
groups = ordered_parquet.row_groups(files)
n = 2 * spark.sparkContext.defaultParallelism
specs = ordered_parquet.statistics_specs(groups, plan_tasks(groups, int(sys.argv[2]), None, None, n).tasks, n)
stages = []
for _ in range(2):
    t0 = time.perf_counter()
    run_table(spark.sparkContext, len(specs),
              ordered_parquet.device_partials(files, groups, specs, None, None),
              DEVICE_PARTIALS)
    stages.append(time.perf_counter() - t0)
spark.stop()
print(json.dumps({**out, "first_stage_s": stages[0], "second_stage_s": stages[1]}))
"""


def probe(code: str, *argv: str) -> tuple[float, str]:
    """Wall time of a new ``python -c code`` process and its output."""
    t0 = time.perf_counter()
    done = subprocess.run([sys.executable, "-c", code, *argv], cwd=ROOT, capture_output=True,
                          text=True)
    wall = time.perf_counter() - t0
    if done.returncode:
        raise RuntimeError(f"probe failed: {done.stderr[-2000:]}")
    return wall, done.stdout.strip().splitlines()[-1] if done.stdout.strip() else ""


def cold_parts(runs: int, archive: Path, window_ms: int) -> dict:
    """Medians over ``runs`` new processes of: interpreter start + the job's imports, a new
    session's Python worker start, numba cache load, and the job's preparation split (the
    listing of ``archive``, the device-statistics stage run first and again) (module doc)."""
    imports = [probe(IMPORT_PROBE)[0] for _ in range(runs)]
    workers = [json.loads(probe(WORKER_PROBE)[1]) for _ in range(runs)]
    numba = [json.loads(probe(NUMBA_PROBE)[1]) for _ in range(runs)]
    prepare = [json.loads(probe(PREPARE_PROBE, str(archive), str(window_ms))[1]) for _ in range(runs)]
    return {**{k: float(np.median([r[k] for r in prepare])) for k in prepare[0]},
            "imports_s": float(np.median(imports)),
            "worker_start_s": float(np.median([w[0] - w[2] for w in workers])),
            "numba_load_s": float(np.median([c[0] - c[1] for c in numba]))}


def section_cold(args) -> list[str]:
    """The cold job against the warm one on the archive layout (module doc)."""
    w = WORKLOADS[args.scaling_workload]
    n = int(args.cold_size)
    tmp = Path(tempfile.mkdtemp(prefix="bench-cold-", dir=args.spark_tmp))
    params = SearchParams(w.window_ms, w.radius_m, w.min_devices)
    try:
        h = generate(w, n)
        archive = tmp / "archive"
        files = write_archive_layout(h, archive)
        k_s, k_trig, k_cand = kernel_alone(h, w)
        del h
        print(f"{n:,} hits in {len(files)} files under {archive}; kernel {k_trig}/{k_cand}", flush=True)
        plain = without_statistics(archive, tmp / "archive-plain")
        run_cold(args, w, archive, tmp / "out-first")  # numba's cache on disk, uncounted
        run_cold(args, w, plain, tmp / "out-first")
        before = load()
        cold, cold_plain = [], []
        for i in range(args.cold_runs):  # in turns, each kind first every other time
            for kind in (("stored", "plain") if i % 2 == 0 else ("plain", "stored")):
                into = cold if kind == "stored" else cold_plain
                into.append(run_cold(args, w, archive if kind == "stored" else plain,
                                     tmp / f"out-cold-{i}"))
                print(f"cold run {i + 1} ({kind} statistics): process {into[-1]['process_s']:.1f} s, "
                      f"job {into[-1]['wall_s']:.1f} s", flush=True)
        for r, stored in [*((r, len(files)) for r in cold), *((r, 0) for r in cold_plain)]:
            if r["parameters"]["files_with_stored_device_statistics"] != stored:
                raise AssertionError(f"{r['parameters']} (expected {stored} files with statistics)")
        parts = cold_parts(args.cold_runs, archive, w.window_ms)
        print(f"parts: {parts}", flush=True)
        spark = start_spark("bench-coincidence-cold", "local[2]", {
            "spark.sql.shuffle.partitions": "2", "spark.default.parallelism": "2",
            "spark.local.dir": args.spark_tmp}, jvm_options=COORDINATOR_JVM)  # as the CLI's
        try:
            cfg = JobConfig(input=str(archive), output=str(tmp / "out-warm"), params=params)
            run_job(spark, cfg)  # the session's first run: what makes the next ones warm
            warm = [run_job(spark, cfg) for _ in range(args.job_repeats)]
        finally:
            spark.stop()
        after = load()
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    for r in (*cold, *cold_plain, *warm):
        if (r["triggered_anchors"], r["candidates"]) != (k_trig, k_cand):
            raise AssertionError(f"job {r['triggered_anchors']}/{r['candidates']} != kernel "
                                 f"{k_trig}/{k_cand} ({r['parameters']['layout']})")
    return cold_lines(w, n, len(files), cold, cold_plain, warm, parts, before, after)


def _median_run(runs: list[dict], key: str) -> dict:
    return sorted(runs, key=lambda r: r[key])[len(runs) // 2]


def cold_lines(w, n, n_files, cold, cold_plain, warm, parts, before, after) -> list[str]:
    c = _median_run(cold, "process_s")
    b = _median_run(cold_plain, "process_s")
    ratio = float(np.median([s["process_s"] / p["process_s"] for s, p in zip(cold, cold_plain)]))
    m = _median_run(warm, "wall_s")
    rest = c["process_s"] - c["session_start_s"] - c["wall_s"]
    first = c["wall_s"] - m["wall_s"]
    ct, bt, mt = c["timings"], b["timings"], m["timings"]
    cold_walls = " / ".join(f"{r['process_s']:.1f}" for r in cold)
    plain_walls = " / ".join(f"{r['process_s']:.1f}" for r in cold_plain)
    warm_walls = " / ".join(f"{r['wall_s']:.1f}" for r in warm)
    return [
        f"Cold job on local[2]: `python -m spark_jobs.coincidence --master local[2]` in a new "
        f"process per run, on {n:,} hits of workload {w.name} ({w.describe()}) in the archive "
        f"layout ({n_files} files under two `day=` partitions, row groups of "
        f"{ARCHIVE_ROW_GROUP:,} rows in time order, provenance columns beside the job's). numba's "
        "cache on disk was filled by an uncounted first run. Warm = the same job in a session of "
        "the bench process that had run it once. Load average (1/5/15 min) before the cold runs "
        f"{before}, after the warm runs {after}.", "",
        "| run | wall, median (runs) | hits/s | session start | job (prepare / search / candidates) "
        "| kernel / background CPU in tasks |",
        "|---|---|---|---|---|---|",
        f"| cold process (start to exit) | {c['process_s']:.1f} s "
        f"({cold_walls}) | {n / c['process_s'] / 1e6:.2f} M/s "
        f"| {c['session_start_s']:.1f} s | {c['wall_s']:.1f} s ({ct['prepare_s']:.1f} / "
        f"{ct['search_s']:.1f} / {ct['candidates_s']:.1f}) "
        f"| {c['kernel_cpu_s']:.1f} / {c['background_cpu_s']:.1f} s |",
        f"| cold process, baseline: the same files without their stored device statistics "
        f"(taken in turns with the row above) | {b['process_s']:.1f} s ({plain_walls}) "
        f"| {n / b['process_s'] / 1e6:.2f} M/s | {b['session_start_s']:.1f} s | {b['wall_s']:.1f} s "
        f"({bt['prepare_s']:.1f} / {bt['search_s']:.1f} / {bt['candidates_s']:.1f}) "
        f"| {b['kernel_cpu_s']:.1f} / {b['background_cpu_s']:.1f} s |",
        f"| warm job (run_job) | {m['wall_s']:.1f} s ({warm_walls}) "
        f"| {n / m['wall_s'] / 1e6:.2f} M/s | - | {m['wall_s']:.1f} s ({mt['prepare_s']:.1f} / "
        f"{mt['search_s']:.1f} / {mt['candidates_s']:.1f}) "
        f"| {m['kernel_cpu_s']:.1f} / {m['background_cpu_s']:.1f} s |", "",
        "Where the median cold process's time goes, each part measured on its own (medians of "
        f"{len(cold)} new processes):", "",
        "| part | s |", "|---|---|",
        f"| interpreter start + the job's imports (`python -c \"{IMPORT_PROBE}\"`; the command "
        f"imports the job's steps once Spark and its workers are starting) "
        f"| {parts['imports_s']:.2f} |",
        f"| JVM + SparkContext start (the cold job's own report; this path builds no SQL "
        f"session) | {c['session_start_s']:.2f} |",
        f"| Python worker start (a new context's first 2-task driver_tasks stage minus its "
        f"third) "
        f"| {parts['worker_start_s']:.2f} |",
        f"| numba cache load (first call minus second of device_sums, estimate_background, "
        f"triggered_windows on 2,000 hits, new process) | {parts['numba_load_s']:.2f} |",
        f"| in a new context: the listing of the input (`hits_input.parquet_input`: the driver "
        f"lists a local directory itself) | {parts['listing_s']:.2f} |",
        f"| in the cold job: listing, footers and task plan, before its first stage "
        f"(`timings.input_s`) | {ct['input_s']:.2f} |",
        f"| in a new context: the device-statistics stage (its first Python stage) run first / "
        f"again | {parts['first_stage_s']:.2f} / {parts['second_stage_s']:.2f} |",
        f"| cold job wall minus warm job wall (worker start, imports and numba load in the "
        f"workers, first tasks) | {first:.2f} |",
        f"| process minus session start minus job wall (interpreter start, imports, exit) "
        f"| {rest:.2f} |",
        "", f"Cold process with stored statistics / without, median of the per-turn ratios: "
        f"{ratio:.2f}. Triggered anchors and candidates of every run equal the kernel's on the "
        "same hits (checked in the run)."]


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
    p.add_argument("--cold", action="store_true",
                   help="the cold job against the warm one on the archive layout (module doc)")
    p.add_argument("--cold-size", type=float, default=3e7, help="hits of the cold section")
    p.add_argument("--cold-runs", type=int, default=3, help="cold processes (median reported)")
    args = p.parse_args(argv)
    lines = section_cold(args) if args.cold else section_spark(args)
    if args.cold:
        print("\n".join(lines), flush=True)
    title = "Cold Spark job" if args.cold else "Coincidence Spark job"
    started = f"{_dt.datetime.now(_dt.UTC):%Y-%m-%d %H:%M}"
    lines.append(f"\n(run {started} UTC, {MACHINE})")
    if args.append_docs:
        with DOCS.open("a") as f:
            f.write("\n".join([f"\n## {title}, run of {started} UTC ({MACHINE})", "",
                               f"Command: `python bench/coincidence_spark.py {' '.join(sys.argv[1:])}`",
                               ""] + lines + [""]))
        print(f"appended to {DOCS}")


if __name__ == "__main__":
    main()
