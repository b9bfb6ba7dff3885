"""Large re-searches go to the Spark job (spark_jobs.coincidence) instead of the in-process kernel.

The job reads the hit range straight from Elasticsearch (es://, point-in-time slices) and
writes candidates.parquet into a scratch directory; it is run WITHOUT --to-es, because the
continuous search must reconcile identities and revisions itself. Its candidates are read back
as ``Component``s; the caller keeps those anchored in the region (``keep_anchored_in``).
"""
from __future__ import annotations

import logging
import os
import shlex
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass

import pyarrow.parquet as pq

from crayfis.definition import SearchParams
from crayfis.es.candidates import Component
from crayfis.es.naming import index_pattern
from search.region import Interval
from spark_jobs.coincidence import parse_args, run_job
from spark_jobs.output import component_from_row

logger = logging.getLogger(__name__)


class SparkJobFailed(RuntimeError):
    """The job exited non-zero or ran past its time limit: the pass is retried later."""


@dataclass
class SparkRunner:
    """Callable as ``LargeRunner``: (hit range, anchor intervals, params) -> components."""

    es_url: str
    prefix: str
    command: str = ""  # argv prefix, shell-split; empty = this Python -m spark_jobs.coincidence
    master: str = ""
    timeout_s: float | None = None  # None: no time limit
    scratch_dir: str | None = None
    session: object = None  # a live SparkSession: run the job in this process (no JVM start)

    def argv(self, rng: Interval, params: SearchParams, out_dir: str) -> list[str]:
        base = shlex.split(self.command) if self.command else [sys.executable, "-m", "spark_jobs.coincidence"]
        argv = base + [
            "--input", f"es://{index_pattern(self.prefix, 'hits')}", "--output", out_dir,
            "--window-ms", str(params.window_ms), "--radius-m", repr(float(params.radius_m)),
            "--min-devices", str(params.min_devices),
            "--start", str(int(rng[0])), "--end", str(int(rng[1]) + 1),  # --end is exclusive
            "--es-url", self.es_url, "--es-prefix", self.prefix,
        ]
        if self.master:
            argv += ["--master", self.master]
        return argv

    def __call__(self, rng: Interval, anchors: Sequence[Interval], params: SearchParams) -> list[Component]:
        with tempfile.TemporaryDirectory(prefix="crayfis-search-", dir=self.scratch_dir) as tmp:
            out_dir = os.path.join(tmp, "out")
            argv = self.argv(rng, params, out_dir)
            if self.session is not None:
                return self._in_process(argv, out_dir)
            env = {**os.environ, "PYSPARK_PYTHON": os.environ.get("PYSPARK_PYTHON", sys.executable)}
            t0 = time.monotonic()
            try:
                done = subprocess.run(argv, capture_output=True, text=True, timeout=self.timeout_s,
                                      env=env, check=False)
            except subprocess.TimeoutExpired as exc:
                raise SparkJobFailed(f"Spark job ran past {self.timeout_s:.0f} s") from exc
            if done.returncode != 0:
                tail = (done.stderr or done.stdout or "").strip().splitlines()[-5:]
                raise SparkJobFailed(f"Spark job exited {done.returncode}: {' | '.join(tail)}")
            logger.info("Spark job searched [%d, %d] in %.1f s: %s", rng[0], rng[1],
                        time.monotonic() - t0, (done.stdout or "").strip().splitlines()[-1:])
            return read_components(os.path.join(out_dir, "candidates.parquet"))

    def _in_process(self, argv: list[str], out_dir: str) -> list[Component]:
        """The same job arguments, run on the held session."""
        cfg = parse_args(argv[argv.index("--input"):])
        summary = run_job(self.session, cfg)
        logger.info("Spark job (in process): %s hits, %s candidates", summary.get("hits_read"),
                    summary.get("candidates"))
        return read_components(os.path.join(out_dir, "candidates.parquet"))


def read_components(path: str) -> list[Component]:
    """candidates.parquet (spark_jobs/output.py CANDIDATE_SCHEMA) -> Components."""
    return [component_from_row(row) for row in pq.read_table(path).to_pylist()]
