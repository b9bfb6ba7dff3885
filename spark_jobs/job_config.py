"""What one run of the coincidence job is asked to do: the search (``definition.SearchParams``),
how the work is cut (``WorkSplit``), and where hits come from and results go (``JobConfig``).
The command line (``coincidence.py``) builds these; the steps (``job_steps.py``) read them."""
from __future__ import annotations

import os
import re
import tempfile
from dataclasses import dataclass, field

from crayfis.definition import SearchParams

DEFAULT_ES_URL = "http://127.0.0.1:9200"
DEFAULT_ES_PREFIX = "crayfis"


def default_es_url() -> str:
    """``CRAYFIS_ES_URL``, else the local node."""
    return os.environ.get("CRAYFIS_ES_URL", DEFAULT_ES_URL)


@dataclass(frozen=True)
class WorkSplit:
    """How the job cuts the work into Spark tasks (docs/coincidence.md, "How the work is
    split"). None of it changes the result, only how fast and in how much memory it comes."""

    tile_deg: float = 2.0  # spatial tiles about this size (never narrower than 2R)
    n_slabs: int | None = None  # time slabs; None: from rows_per_slab and the parallelism
    slab_ms: int | None = None  # fixed slabs at multiples of this (instead of even slabs)
    rows_per_slab: int = 1_000_000  # bounds one kernel call (a slab x tile partition)
    rows_per_task: int = 8_000_000  # slabs per Spark task: the background model's fixed cost
    # (neighbours and segment edges of every device) is paid once per task
    ordered_fast_path: bool = True  # time-ordered Parquet row groups without a shuffle


NO_STAGING = "none"  # --es-stage-dir value: es:// hits are read into Spark rows


@dataclass(frozen=True)
class JobConfig:
    input: str  # Parquet file or directory, or es://INDEX-PATTERN
    output: str
    params: SearchParams
    split: WorkSplit = WorkSplit()
    start_ms: int | None = None
    end_ms: int | None = None
    master: str | None = None
    to_es: bool = False
    time_slides: int = 0
    slide_seed: int = 1
    es_url: str = field(default_factory=default_es_url)
    es_prefix: str | None = None
    es_slices: int | None = None
    es_stage_dir: str | None = None  # es:// input staged as Parquet here (es_staging.py)
    use_exposures: bool = True


def es_prefix_for(cfg: JobConfig) -> str:
    """Index prefix for --to-es and exposures: --es-prefix, else the es:// input's, else
    ``CRAYFIS_ES_PREFIX``, else ``DEFAULT_ES_PREFIX``."""
    if cfg.es_prefix:
        return cfg.es_prefix
    m = re.match(r"^es://(.+?)-hits(-.*)?$", cfg.input)
    if m:
        return m.group(1)
    return os.environ.get("CRAYFIS_ES_PREFIX", DEFAULT_ES_PREFIX)


def stage_parent(master: str, requested: str | None) -> str | None:
    """Where es:// input is staged as Parquet (es_staging.py): under ``requested`` (a folder
    every worker sees), else under the system's temporary folder when the master is local.
    None: read into Spark rows (``requested`` is ``NO_STAGING``, or a cluster without one)."""
    if requested == NO_STAGING:
        return None
    if requested:
        return os.path.abspath(requested)
    return tempfile.gettempdir() if master.startswith("local") else None


def es_rows_in_jvm(cfg: JobConfig) -> bool:
    """Whether es:// input will be read into Spark rows, not staged; with the master left to
    spark-submit (unknown before the context starts), a cluster is assumed."""
    return cfg.input.startswith("es://") and stage_parent(cfg.master or "", cfg.es_stage_dir) is None
