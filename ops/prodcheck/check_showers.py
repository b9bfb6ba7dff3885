"""Check 1: simulated phones post through https; the cluster gets the hits; the continuous search
finds every injected shower; the https dashboard shows the candidates.

The phones are `manage.py simulate --post https://...` (the app-like poster, trusting only this
run's certificate); the same network is written to Parquet with its truth (`--parquet`), which
names the showers to find and is the Parquet input of check 3. The search runs with the
production defaults (tau, R, k from settings).
"""
from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

from django.db import connection

from ops.prodcheck.errors import CheckFailed
from ops.prodcheck.scenario import Scenario
from ops.prodcheck.topology import ES_PREFIX, REPO, Topology

SHOWERS = Scenario(seed=17, phones=1000, minutes=15, showers=4)
MATCH_MS = 1_000   # a candidate starting this close to a shower's time is that shower
INDEXED_TIMEOUT_S = 600.0  # how long a backlog may take to be indexed after the load


def run(topo: Topology, context: dict, progress) -> None:
    prepare(topo, context, progress)
    found = _wait_for_showers(topo, context["truth"]["showers"], progress)
    page = topo.get("/candidates/")
    missing = [c for c in found.values() if c.encode() not in page[1]]
    if page[0] != 200 or missing:
        raise CheckFailed(f"https /candidates/ ({page[0]}) does not list {missing}")
    progress(f"dashboard: /api/dash/candidates and /candidates/ list all {len(found)} showers")
    _check_cluster(topo)
    progress("elasticsearch: green, every index with 1 replica on the other node")


def prepare(topo: Topology, context: dict, progress) -> None:
    """The showers network in Parquet (context: parquet, truth) and posted, indexed, in the cluster.

    Done once per run: the Spark and fault checks use the same data when check 1 did not run.
    """
    if "truth" in context:
        return
    sim_dir = topo.root / "sim" / "showers"
    truth = _write_parquet(topo, sim_dir)
    showers = truth["showers"]
    progress(f"phones: {SHOWERS.phones} over {SHOWERS.area_km} km^2, {SHOWERS.minutes:.0f} min, "
             f"{len(showers)} showers, {truth['n_hits']} hits; posting to {topo.base_url}/submit ...")
    posted = _post(topo)
    if posted.get("failed") or posted.get("silenced"):
        raise CheckFailed(f"the phones could not deliver every upload: {posted}")
    if posted["hits"] != truth["n_hits"]:
        raise CheckFailed(f"posted {posted['hits']} hits, the Parquet truth has {truth['n_hits']}")
    progress(f"phones: {posted['posted']} uploads acknowledged ({posted.get('statuses')})")
    wait_indexed(topo, progress)
    n_hits = _count_hits(topo)
    if n_hits != truth["n_hits"]:
        raise CheckFailed(f"the cluster holds {n_hits} hits, the phones sent {truth['n_hits']}")
    progress(f"indexer: every upload indexed; the cluster holds all {n_hits} hits")
    _trust_phones(topo, progress)
    context.update(parquet=sim_dir / "hits", truth=truth)


def _write_parquet(topo: Topology, out: Path) -> dict:
    argv = [sys.executable, "manage.py", "simulate", "--parquet", str(out), *SHOWERS.simulate_options(),
            "--verbosity", "0"]
    proc = subprocess.run(argv, cwd=REPO, env=topo.django_env(), capture_output=True, text=True, timeout=600)
    if proc.returncode != 0:
        raise CheckFailed(f"simulate --parquet failed: {proc.stderr.strip().splitlines()[-1:]}")
    return json.loads((out / "truth.json").read_text())


def _post(topo: Topology) -> dict:
    env = {**topo.django_env(), "SSL_CERT_FILE": str(topo.cert.cert)}
    argv = [sys.executable, "manage.py", "simulate", "--post", f"{topo.base_url}/submit",
            *SHOWERS.simulate_options(), "--verbosity", "0"]
    proc = subprocess.run(argv, cwd=REPO, env=env, capture_output=True, text=True, timeout=900)
    if proc.returncode != 0:
        raise CheckFailed(f"simulate --post failed: {proc.stderr.strip().splitlines()[-1:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def _trust_phones(topo: Topology, progress) -> None:
    """The operator approves the simulated phones (`manage.py trust_device`): a candidate is
    public, on the dashboard, only with k trusted members (docs/security.md), and these phones
    are a few minutes old, far short of trust by history. The search re-marks their candidates."""
    from ingest.models import Device

    connection.close()
    ids = sorted(Device.objects.values_list("device_id", flat=True))
    out = topo.manage("trust_device", *ids, "--by", "prod-check")
    progress(f"operator: {out.strip()} (the simulated phones)")


def pending_uploads() -> dict:
    from ingest.models import Upload, UploadStatus

    connection.close()   # a fresh connection: the server may have restarted since the last query
    return {"pending": Upload.objects.filter(status=UploadStatus.PENDING).count(),
            "quarantined": Upload.objects.filter(status=UploadStatus.QUARANTINED).count()}


def wait_indexed(topo: Topology, progress, timeout: float = INDEXED_TIMEOUT_S) -> None:
    deadline = time.monotonic() + timeout
    last = 0.0
    while True:
        state = pending_uploads()
        if state["quarantined"]:
            raise CheckFailed(f"{state['quarantined']} uploads quarantined")
        if state["pending"] == 0:
            return
        if time.monotonic() > deadline:
            raise CheckFailed(f"{state['pending']} uploads still pending after {timeout:.0f} s")
        if time.monotonic() - last > 15:
            progress(f"indexer: {state['pending']} uploads pending ...")
            last = time.monotonic()
        topo.supervisor.expect_running("indexer-1", "indexer-2")
        time.sleep(1.0)


def _count_hits(topo: Topology) -> int:
    topo.es_get(f"/{ES_PREFIX}-hits-*/_refresh")
    return topo.es_get(f"/{ES_PREFIX}-hits-*/_count?q=is_hit:true")["count"]


def _wait_for_showers(topo: Topology, showers: list[dict], progress, timeout: float = 300.0) -> dict:
    """{shower_id: candidate_id} once https /api/dash/candidates lists a candidate for each."""
    deadline = time.monotonic() + timeout
    while True:
        listed = topo.get_json("/api/dash/candidates?limit=100")["candidates"]
        found = {}
        for s in showers:
            near = [c for c in listed if abs(int(c["t_start_ms"]) - int(s["t_ms"])) <= MATCH_MS]
            if near:
                found[s["shower_id"]] = near[0]["candidate_id"]
        if len(found) == len(showers):
            progress(f"search: found all {len(showers)} showers "
                     f"({len(listed)} candidates listed: {', '.join(found.values())})")
            return found
        if time.monotonic() > deadline:
            raise CheckFailed(f"the continuous search found {len(found)} of {len(showers)} showers in "
                              f"{timeout:.0f} s ({len(listed)} candidates listed)")
        topo.supervisor.expect_running("search")
        time.sleep(2.0)


def _check_cluster(topo: Topology) -> None:
    health = topo.es_get("/_cluster/health?wait_for_status=green&timeout=60s")
    if health["status"] != "green" or health["number_of_nodes"] != len(topo.es_nodes):
        raise CheckFailed(f"cluster {health['status']} with {health['number_of_nodes']} nodes")
    settings = topo.es_get(f"/{ES_PREFIX}-*/_settings/index.number_of_replicas")
    wrong = sorted(name for name, s in settings.items()
                   if s["settings"]["index"]["number_of_replicas"] != "1")
    if wrong:
        raise CheckFailed(f"indices without the 1 replica CRAYFIS_ES_REPLICAS asks for: {', '.join(wrong)}")
