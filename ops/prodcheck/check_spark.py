"""Check 3: the coincidence job spark-submitted to the standalone master, its executors on a
Python without the project (the code shipped as a zip with --py-files), on Parquet and on
es:// input; its candidates equal those of the same job in local mode.

The Parquet input is check 1's network with its truth, so the job must also find every shower;
the es:// input is the cluster the phones' uploads were indexed into.
"""
from __future__ import annotations

import json
import math
import os
import subprocess
import sys
import time
from pathlib import Path

import pyarrow.parquet as pq
from django.conf import settings

from ops.prodcheck import check_showers
from ops.prodcheck.errors import CheckFailed
from ops.prodcheck.ports import HOST
from ops.prodcheck.spark import project_is_importable
from ops.prodcheck.topology import ES_PREFIX, REPO, Topology
from ops.pyfiles import build_zip

JOB = REPO / "spark_jobs" / "coincidence.py"


def run(topo: Topology, context: dict, progress) -> None:
    check_showers.prepare(topo, context, progress)
    pyfiles = shipped_code(topo)
    if project_is_importable(topo.worker_python, topo.root / "spark"):
        raise CheckFailed(f"the workers' Python {topo.worker_python} imports the project by itself")
    progress(f"spark: executors' Python lacks the project; the code goes as {pyfiles.name} (--py-files)")
    for name, source in (("parquet", str(context["parquet"])), ("es", f"es://{ES_PREFIX}-hits-*")):
        local = run_job(topo, f"{name}-local", source, progress)
        cluster = run_job(topo, f"{name}-cluster", source, progress, pyfiles=pyfiles)
        same_candidates(local, cluster, f"{name}: standalone cluster vs local mode")
        context[f"{name}-local"] = local
        progress(f"spark: {name} input: {cluster['summary']['hits_read']} hits, "
                 f"{len(cluster['rows'])} candidates, equal to local mode's")
    showers = context["truth"]["showers"]
    missed = [s["shower_id"] for s in showers
              if not any(abs(r["t_start_ms"] - s["t_ms"]) <= check_showers.MATCH_MS
                         for r in context["parquet-local"]["rows"])]
    if missed:
        raise CheckFailed(f"the job missed showers {missed} of the Parquet input")


def shipped_code(topo: Topology) -> Path:
    return build_zip(topo.root / "spark" / "crayfis_backend.zip")


def job_args(source: str, out: Path, topo: Topology) -> list[str]:
    return ["--input", source, "--output", str(out), "--es-url", topo.es_url,
            "--window-ms", str(settings.CRAYFIS_SEARCH_WINDOW_MS),
            "--radius-m", repr(float(settings.CRAYFIS_SEARCH_RADIUS_M)),
            "--min-devices", str(settings.CRAYFIS_SEARCH_MIN_DEVICES)]


def job_command(topo: Topology, source: str, out: Path, pyfiles: Path | None) -> tuple[list[str], dict]:
    """The job in local mode (pyfiles None) or spark-submitted to the standalone master."""
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYSPARK_PYTHON", "SPARK_HOME")}
    env["SPARK_LOCAL_IP"] = HOST
    if pyfiles is None:
        return [sys.executable, "-m", "spark_jobs.coincidence", "--master", "local[2]",
                *job_args(source, out, topo)], env
    env["SPARK_HOME"] = str(topo.tools.spark_home)
    return topo.spark.submit_argv(job_args(source, out, topo), topo.worker_python, pyfiles, JOB), env


def run_job(topo: Topology, name: str, source: str, progress, pyfiles: Path | None = None,
            during=None) -> dict:
    """Run one job to the end; its summary and candidate rows. `during(proc)` runs while it does."""
    out = topo.root / "jobs" / name
    out.parent.mkdir(parents=True, exist_ok=True)
    argv, env = job_command(topo, source, out, pyfiles)
    log = topo.logs / f"job-{name}.log"
    t0 = time.monotonic()
    with open(log, "wb") as fh:
        proc = subprocess.Popen(argv, cwd=str(out.parent), env=env, stdout=fh, stderr=subprocess.STDOUT,
                                start_new_session=True)
        try:
            if during is not None:
                during(proc)
            code = proc.wait(timeout=1800)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    if code != 0:
        tail = log.read_text(errors="replace").strip().splitlines()[-3:]
        raise CheckFailed(f"job {name} exited {code}: {' | '.join(tail)} (log: {log})")
    rows = sorted(pq.read_table(out / "candidates.parquet").to_pylist(), key=lambda r: r["candidate_id"])
    summary = json.loads((out / "summary.json").read_text())
    progress(f"spark: job {name} done in {time.monotonic() - t0:.0f} s")
    return {"rows": rows, "summary": summary}


def same_candidates(a: dict, b: dict, what: str) -> None:
    """Every candidate equal: ids, members, times, counts exactly; floats to 1e-9 relative."""
    if a["summary"]["hits_read"] != b["summary"]["hits_read"]:
        raise CheckFailed(f"{what}: {a['summary']['hits_read']} vs {b['summary']['hits_read']} hits read")
    ids_a = [r["candidate_id"] for r in a["rows"]]
    ids_b = [r["candidate_id"] for r in b["rows"]]
    if ids_a != ids_b:
        raise CheckFailed(f"{what}: candidates differ: only in one {sorted(set(ids_a) ^ set(ids_b))[:5]}")
    for ra, rb in zip(a["rows"], b["rows"]):
        for column, va in ra.items():
            vb = rb[column]
            if isinstance(va, float) and isinstance(vb, float):
                equal = math.isclose(va, vb, rel_tol=1e-9, abs_tol=1e-300) or (math.isnan(va) and math.isnan(vb))
            else:
                equal = va == vb
            if not equal:
                raise CheckFailed(f"{what}: candidate {ra['candidate_id']} differs in {column}: {va!r} vs {vb!r}")
