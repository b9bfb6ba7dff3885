"""python -m ops.prodcheck (make prod-check): bring the production topology up, check it, tear it down.

Prints a progress line per step, then one summary line; exit status 0 when every check passed.
A missing piece (no PostgreSQL, a port taken, no Java, too little memory) ends in one line
before anything starts. Everything started is stopped again on success, failure or Ctrl-C;
the run's directory (logs, data) is removed after a pass and kept after a failure.
"""
from __future__ import annotations

import argparse
import os
import shutil
import signal
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from ops import esnode
from ops.prodcheck.errors import CheckFailed, SetupError
from ops.prodcheck.ports import Ports, require_free
from ops.prodcheck.tools import find_tools
from ops.prodcheck.topology import Topology

# Memory the rest of the topology needs beside the Elasticsearch nodes: two Spark workers with
# their executors' Python, the job's driver, PostgreSQL, gunicorn, the indexers and the search.
REST_OF_TOPOLOGY_BYTES = 6 * 2**30


class Progress:
    """'[  12s] message' lines, flushed at once (make prints them as they come)."""

    def __init__(self):
        self.t0 = time.monotonic()

    def elapsed(self) -> float:
        return time.monotonic() - self.t0

    def __call__(self, message: str) -> None:
        print(f"[{self.elapsed():5.0f}s] {message}", flush=True)


def _check_names() -> dict[str, Callable]:
    from ops.prodcheck import check_browser, check_faults, check_showers, check_spark

    return {"1": check_showers.run, "2": check_browser.run, "3": check_spark.run, "4": check_faults.run}


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m ops.prodcheck", description=__doc__.splitlines()[0])
    p.add_argument("--checks", default="1,2,3,4",
                   help="which checks to run, e.g. 1,2 (default all; 'none' = bring up and tear down)")
    p.add_argument("--pg-bindir", help="directory of PostgreSQL's initdb and pg_ctl (default: PATH, "
                   "then /usr/lib/postgresql/*/bin)")
    p.add_argument("--keep", action="store_true", help="keep the run's directory even after a pass")
    args = p.parse_args(argv)
    wanted = [] if args.checks == "none" else [c.strip() for c in args.checks.split(",") if c.strip()]
    unknown = [c for c in wanted if c not in ("1", "2", "3", "4")]
    if unknown:
        p.error(f"--checks: unknown check {unknown[0]!r} (1 showers, 2 browser, 3 spark, 4 faults)")
    args.wanted = wanted
    return args


def _interrupt(signum, frame):
    raise KeyboardInterrupt


def _configure_django(topo: Topology) -> None:
    """This process reads the topology's database and settings like its services do."""
    os.environ.update(topo.django_env())
    import django

    django.setup()


def _check_memory(heap: str, n_nodes: int) -> None:
    try:
        esnode.check_memory(n_nodes, heap)
    except esnode.EsNodeError as exc:
        raise SetupError(str(exc)) from None
    need = n_nodes * (esnode.MEMORY_PER_HEAP * esnode.heap_bytes(heap) + esnode.MEMORY_PER_NODE) \
        + REST_OF_TOPOLOGY_BYTES
    have = esnode.available_memory()
    if have is not None and have < need:
        raise SetupError(f"not enough memory for the topology: {have / 2**30:.1f} GiB available, "
                         f"{need / 2**30:.1f} GiB needed")


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    progress = Progress()
    signal.signal(signal.SIGTERM, _interrupt)
    signal.signal(signal.SIGHUP, _interrupt)
    root = Path(tempfile.mkdtemp(prefix="crayfis-prodcheck-"))
    root.chmod(0o755)   # the unprivileged accounts (PostgreSQL, Elasticsearch, nginx workers) enter it
    topo = None
    outcome: dict[str, str] = {}
    passed = False
    try:
        tools = find_tools(args.pg_bindir)
        ports = Ports()
        require_free(ports)
        topo = Topology(tools, root, progress, ports=ports)
        _configure_django(topo)
        from django.conf import settings

        _check_memory(settings.CRAYFIS_ES_HEAP, len(ports.es_http))
        progress(f"prod-check: state in {root}")
        topo.up(settings.CRAYFIS_ES_HEAP)
        checks = _check_names()
        context: dict = {}
        for name in args.wanted:
            fn = checks[name]
            label = fn.__module__.rsplit("_", 1)[-1]
            progress(f"check {name} ({label}) ...")
            try:
                fn(topo, context, progress)
                topo.supervisor.expect_running(*topo.long_running())
            except (CheckFailed, SetupError) as exc:
                outcome[f"{name} {label}"] = f"FAILED: {exc}"
                progress(f"check {name} ({label}) FAILED: {exc}")
            else:
                outcome[f"{name} {label}"] = "ok"
                progress(f"check {name} ({label}) passed")
        passed = all(v == "ok" for v in outcome.values())
    except SetupError as exc:
        print(f"prod-check: error: {exc}", file=sys.stderr, flush=True)
        outcome["setup"] = "error"
    except KeyboardInterrupt:
        print(f"prod-check: interrupted after {progress.elapsed():.0f} s; stopping everything", flush=True)
        outcome["interrupted"] = "yes"
    finally:
        if topo is not None:
            progress("tearing down ...")
            topo.teardown()
    minutes, seconds = divmod(int(progress.elapsed()), 60)
    took = f"{minutes}m{seconds:02d}s"
    if passed or (not outcome and not args.wanted):
        if not args.keep:
            shutil.rmtree(root, ignore_errors=True)
        done = ", ".join(f"{k} {v}" for k, v in outcome.items()) or "topology up and down, no checks"
        print(f"prod-check: PASS in {took}: {done}", flush=True)
        return 0
    if "interrupted" in outcome:
        print(f"prod-check: INTERRUPTED after {took} (logs: {root / 'log'})", flush=True)
        return 130
    if "setup" in outcome:
        print(f"prod-check: FAIL in {took}: the topology did not come up (logs: {root / 'log'})", flush=True)
        return 1
    failed = ", ".join(f"{k} {v}" for k, v in outcome.items())
    print(f"prod-check: FAIL in {took}: {failed} (logs: {root / 'log'})", flush=True)
    return 1
