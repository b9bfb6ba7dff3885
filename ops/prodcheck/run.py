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
import traceback
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
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):   # SIGINT too: a shell may start us ignoring it
        signal.signal(sig, _interrupt)
    root = Path(tempfile.mkdtemp(prefix="crayfis-prodcheck-"))
    root.chmod(0o755)   # the unprivileged accounts (PostgreSQL, Elasticsearch, nginx workers) enter it
    topo = None
    error = None
    interrupted = False
    outcome: dict[str, str] = {}
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
        outcome = _run_checks(topo, args.wanted, progress)
    except SetupError as exc:
        error = str(exc)
    except KeyboardInterrupt:
        interrupted = True
    finally:
        if topo is not None and topo.supervisor.started_anything():
            progress("tearing down ...")
            topo.teardown()
    return _summary(progress, root, args, outcome, error, interrupted, started=topo is not None
                    and topo.supervisor.started_anything())


def _run_checks(topo: Topology, wanted: list[str], progress) -> dict[str, str]:
    """{'1 showers': 'ok' or 'FAILED: why'} for each check asked for, in order."""
    checks = _check_names()
    context: dict = {}
    outcome = {}
    for name in wanted:
        fn = checks[name]
        label = f"{name} {fn.__module__.rsplit('_', 1)[-1]}"
        progress(f"check {label} ...")
        try:
            fn(topo, context, progress)
            topo.supervisor.expect_running(*topo.long_running())
        except (CheckFailed, SetupError) as exc:
            outcome[label] = f"FAILED: {exc}"
        except Exception as exc:  # a bug or a tool's own error: the check fails, the rest still run
            first = (str(exc).strip().splitlines() or [""])[0][:300]
            outcome[label] = f"FAILED: {type(exc).__name__}: {first}"
            (topo.root / "log").mkdir(parents=True, exist_ok=True)
            (topo.root / "log" / f"check-{name}.traceback").write_text(traceback.format_exc())
        else:
            outcome[label] = "ok"
        progress(f"check {label}: {outcome[label]}")
    return outcome


def _summary(progress: Progress, root: Path, args, outcome: dict, error: str | None, interrupted: bool,
             started: bool) -> int:
    """The one summary line; the run's directory kept only when its logs can explain a failure."""
    minutes, seconds = divmod(int(progress.elapsed()), 60)
    took = f"{minutes}m{seconds:02d}s"
    logs = f" (logs: {root / 'log'})"
    if interrupted:
        print(f"prod-check: interrupted after {took}; everything started was stopped{logs}", flush=True)
        return 130
    if error is not None:
        if not started:
            shutil.rmtree(root, ignore_errors=True)
        print(f"prod-check: error: {error}{logs if started else ''}", file=sys.stderr, flush=True)
        return 1
    if all(v == "ok" for v in outcome.values()):
        if not args.keep:
            shutil.rmtree(root, ignore_errors=True)
        done = ", ".join(f"{k} {v}" for k, v in outcome.items()) or "topology up and down, no checks"
        print(f"prod-check: PASS in {took}: {done}", flush=True)
        return 0
    failed = ", ".join(f"{k} {v}" for k, v in outcome.items())
    print(f"prod-check: FAIL in {took}: {failed}{logs}", flush=True)
    return 1
