"""Check 4: faults under load, each with nothing acknowledged lost and nothing duplicated.

  a. one Elasticsearch node killed (SIGKILL) mid-ingest and brought back: every upload indexed,
     the cluster holds each hit once, green again;
  b. a Spark worker killed (its whole process tree) while it runs a task of the job: the job
     completes on the other worker with the same candidates as local mode;
  c. the web server (gunicorn master and workers) killed with SIGKILL under load, started again:
     every upload that got a 202 is in PostgreSQL, every upload lands exactly once;
  d. PostgreSQL restarted under load: phones get 503, resend, and every upload lands exactly once,
     indexed within DRAIN_AFTER_RESTART_S of the load's end (well inside the indexer's lease).

Each of a, c, d posts a network of its own (distinct phones) through the TLS proxy with
ops.prodcheck.load, which resends every upload until acknowledged, as the app does.
"""
from __future__ import annotations

import os
import signal
import time

from django.db import connection

from crayfis.privacy import pseudonym
from ops import esnode
from ops.prodcheck import check_showers, check_spark
from ops.prodcheck.errors import CheckFailed
from ops.prodcheck.load import Load, LoadReport, upload_key
from ops.prodcheck.ports import HOST
from ops.prodcheck.procs import session_processes
from ops.prodcheck.scenario import Scenario
from ops.prodcheck.topology import ES_PREFIX, Topology

DATACHUNK_BYTES = 4_000     # smaller cache files than the app's 50 kB: more, smaller uploads
RATE_PER_S = 80.0
FAULT_AT = 0.3              # the fault strikes once this share of the uploads is acknowledged
# After PostgreSQL's restart the backlog must drain well inside the indexer's lease (300 s): rows
# a live indexer claimed just before the restart are given back, not left to their lease.
DRAIN_AFTER_RESTART_S = 120.0


def run(topo: Topology, context: dict, progress) -> None:
    check_showers.prepare(topo, context, progress)
    es_node_killed(topo, progress)
    spark_worker_killed(topo, context, progress)
    web_server_killed(topo, progress)
    postgres_restarted(topo, progress)


# -- the faults -------------------------------------------------------------------------------
def es_node_killed(topo: Topology, progress) -> None:
    victim = topo.es_nodes[1]   # not the node the services talk to
    master = topo.es_get("/_cat/master?format=json")[0]["node"]
    role = "the elected master" if master == victim.node_name else "not the master"

    def fault():
        pid = esnode.node_pid(victim)
        if pid is None:
            raise CheckFailed(f"no pid for the Elasticsearch node at {victim.url}")
        os.kill(pid, signal.SIGKILL)
        progress(f"fault a: killed Elasticsearch node {victim.node_name} (pid {pid}, {role}) mid-ingest")
        time.sleep(5)
        try:
            esnode.start(victim, progress=lambda m: None)
        except esnode.EsNodeError as exc:
            raise CheckFailed(f"the killed node did not come back: {exc}") from None
        progress(f"fault a: {victim.node_name} is back")

    uploads, report = _load_with_fault(topo, Scenario(seed=201, phones=300, minutes=20), fault, progress)
    health = topo.es_get("/_cluster/health?wait_for_status=green&wait_for_nodes=2&timeout=120s")
    if health["status"] != "green" or health["number_of_nodes"] != 2:
        raise CheckFailed(f"after the node came back the cluster is {health['status']} "
                          f"with {health['number_of_nodes']} nodes")
    _verify(topo, "a (Elasticsearch node killed)", uploads, report, progress)


def spark_worker_killed(topo: Topology, context: dict, progress) -> None:
    if "parquet-local" not in context:
        context["parquet-local"] = check_spark.run_job(topo, "parquet-local", str(context["parquet"]), progress)
    killed = {}

    def kill_a_busy_worker(proc):
        """Kill the first worker seen running a Python task of the job (its executor and Python too)."""
        while proc.poll() is None and not killed:
            for i in range(len(topo.ports.spark_workers)):
                svc = topo.supervisor.services[topo.spark.worker_name(i)]
                if svc.alive() and any("pyspark" in cmd for _, cmd in session_processes(svc.pid)):
                    svc.kill()
                    killed["worker"] = svc.name
                    progress(f"fault b: killed {svc.name} (worker, executor and Python) while it ran a task")
                    break
            time.sleep(0.2)

    result = check_spark.run_job(topo, "parquet-worker-killed", str(context["parquet"]), progress,
                                 pyfiles=check_spark.shipped_code(topo), during=kill_a_busy_worker)
    if not killed:
        raise CheckFailed("fault b: the job ended before a worker could be killed mid-task")
    check_spark.same_candidates(context["parquet-local"], result, "fault b: job with a worker killed vs local mode")
    progress(f"fault b: the job completed with the same {len(result['rows'])} candidates as local mode")
    topo.spark.restart_worker(int(killed["worker"].rsplit("-", 1)[1]) - 1)


def web_server_killed(topo: Topology, progress) -> None:
    def fault():
        topo.supervisor.services["web"].kill()
        progress("fault c: killed gunicorn (master and workers) with SIGKILL under load")
        time.sleep(2)
        topo.start_web()
        topo.wait_for_web()
        progress("fault c: gunicorn started again")

    uploads, report = _load_with_fault(topo, Scenario(seed=202, phones=300, minutes=20), fault, progress)
    _verify(topo, "c (web server killed)", uploads, report, progress)


def postgres_restarted(topo: Topology, progress) -> None:
    def fault():
        t0 = time.monotonic()
        topo.pg.restart()
        progress(f"fault d: restarted PostgreSQL under load ({time.monotonic() - t0:.1f} s)")

    uploads, report = _load_with_fault(topo, Scenario(seed=203, phones=300, minutes=20), fault, progress)
    if not report.statuses.get(503):
        raise CheckFailed(f"fault d: no phone got a 503 while PostgreSQL restarted ({report.status_summary()})")
    _verify(topo, "d (PostgreSQL restarted)", uploads, report, progress, drain_s=DRAIN_AFTER_RESTART_S)


# -- load and verification --------------------------------------------------------------------
def _load_with_fault(topo: Topology, scenario: Scenario, fault, progress):
    uploads = scenario.uploads(DATACHUNK_BYTES)
    progress(f"load: {len(uploads)} uploads from {scenario.phones} phones at {RATE_PER_S:.0f}/s through "
             f"{topo.base_url}/submit")
    load = Load(HOST, topo.ports.https, topo.cert.client_context(), uploads, rate_per_s=RATE_PER_S).start()
    load.run_until(FAULT_AT, fault)
    report = load.wait()
    progress(f"load: {len(report.acked)} of {len(uploads)} acknowledged in {report.seconds:.0f} s, "
             f"{report.requests} requests ({report.status_summary()})")
    return uploads, report


def _verify(topo: Topology, what: str, uploads, report: LoadReport, progress,
            drain_s: float = check_showers.INDEXED_TIMEOUT_S) -> None:
    keys = {upload_key(u) for u in uploads}
    if report.unfinished:
        raise CheckFailed(f"fault {what}: {report.unfinished} uploads never acknowledged")
    stored = _stored_keys({device for device, _ in keys})
    if len(stored) != len(set(stored)):
        raise CheckFailed(f"fault {what}: {len(stored) - len(set(stored))} uploads stored twice")
    lost = report.acked - set(stored)
    if lost:
        raise CheckFailed(f"fault {what}: {len(lost)} acknowledged uploads are not in PostgreSQL")
    if set(stored) != keys:
        raise CheckFailed(f"fault {what}: PostgreSQL holds {len(stored)} of these phones' uploads, "
                          f"they sent {len(keys)}")
    t0 = time.monotonic()
    check_showers.wait_indexed(topo, progress, timeout=drain_s)
    drained_s = time.monotonic() - t0
    expected = sum(u.n_events for u in uploads)
    held = _hit_documents(topo, {device for device, _ in keys})
    if held != expected:
        raise CheckFailed(f"fault {what}: the cluster holds {held} of these phones' hit documents, "
                          f"their uploads carry {expected}")
    progress(f"fault {what}: every upload stored once in PostgreSQL and indexed ({drained_s:.0f} s after "
             f"the load); {held} hit documents, none lost or doubled")


def _stored_keys(devices: set[str]) -> list[tuple[str, str]]:
    from ingest.models import Upload

    connection.close()   # the database may have restarted since this process last asked
    return list(Upload.objects.filter(device_id__in=devices).values_list("device_id", "sha256"))


def _hit_documents(topo: Topology, devices: set[str]) -> int:
    names = sorted(pseudonym(d, topo.pseudonym_key) for d in devices)
    topo.es_get(f"/{ES_PREFIX}-hits-*/_refresh")
    return topo.es_post(f"/{ES_PREFIX}-hits-*/_count", {"query": {"terms": {"device": names}}})["count"]
