"""The embedded nodes: idempotent start, status, one cluster of two, green health, no secret
needed, and one-line errors when tools or memory are missing."""
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import urllib.request
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from ops import esnode

REPO = Path(__file__).resolve().parents[2]


def _put(url: str, body: dict) -> dict:
    req = urllib.request.Request(url, data=json.dumps(body).encode(), method="PUT",
                                 headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=30) as resp:
        return json.loads(resp.read())


def _get(url: str):
    with urllib.request.urlopen(url, timeout=30) as resp:
        return json.loads(resp.read())


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def state_dir():
    """A directory the node's unprivileged user can reach (pytest's tmp_path is private to root)."""
    path = Path(tempfile.mkdtemp(prefix="crayfis-esnode-test-"))
    path.chmod(0o755)
    yield path
    shutil.rmtree(path, ignore_errors=True)


def test_start_is_idempotent_and_status_reports_health(es_url, capsys):
    call_command("esnode", "start")
    out = capsys.readouterr().out
    assert "already running" in out
    call_command("esnode", "status")
    state = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert state["running"] is True
    assert state["health"] in ("green", "yellow")


def test_esnode_command_needs_no_secret_and_no_debug(tmp_path):
    """An operator's bare environment (no SECRET_KEY, debug off) runs esnode; `check` refuses in one message."""
    env = {k: v for k, v in os.environ.items() if k not in ("SECRET_KEY", "CRAYFIS_DEBUG", "DJANGO_SETTINGS_MODULE",
                                                            "CRAYFIS_PSEUDONYM_KEY")}
    env.update(CRAYFIS_VAR_DIR=str(tmp_path), CRAYFIS_ES_URL=f"http://127.0.0.1:{_free_port()}")
    for action, expected in (("status", '"running": false'), ("stop", "not running")):
        proc = subprocess.run([sys.executable, "manage.py", "esnode", action], cwd=REPO, env=env,
                              capture_output=True, text=True, timeout=120)
        assert proc.returncode == 0, proc.stderr
        assert expected in proc.stdout and "Traceback" not in proc.stderr
    check = subprocess.run([sys.executable, "manage.py", "check"], cwd=REPO, env=env, capture_output=True,
                           text=True, timeout=120)
    assert check.returncode != 0 and "ops.E001" in check.stderr and "Traceback" not in check.stderr


def test_missing_java_is_one_clear_line(monkeypatch, tmp_path):
    monkeypatch.setenv("PATH", str(tmp_path))  # neither java nor mvn can be found
    cfg = esnode.NodeConfig(http_port=9, var_dir=tmp_path)
    with pytest.raises(esnode.EsNodeError, match="^Java 17\\+ not found"):
        esnode.start(cfg)


def test_not_enough_memory_is_one_clear_line(tmp_path):
    meminfo = tmp_path / "meminfo"
    meminfo.write_text("MemTotal:  4000000 kB\nMemAvailable:  2000000 kB\n")
    esnode.check_memory(1, "512m", meminfo)
    with pytest.raises(esnode.EsNodeError, match="^not enough memory for 2 Elasticsearch nodes with a 1g heap"):
        esnode.check_memory(2, "1g", meminfo)
    with pytest.raises(esnode.EsNodeError, match="not a JVM size"):
        esnode.heap_bytes("lots")


def test_a_cluster_refuses_to_start_without_the_memory(state_dir, settings):
    cfgs = esnode.cluster_configs([9256, 9257], cluster_name="crayfis-test", heap="4000g",
                                  var_dir=settings.VAR_DIR, state_dir=state_dir)
    with pytest.raises(esnode.EsNodeError, match="^not enough memory for 2 Elasticsearch nodes"):
        esnode.start_cluster(cfgs, progress=lambda m: None)
    assert esnode.health(cfgs[0].url) is None


def test_external_cluster_is_never_started(settings):
    settings.CRAYFIS_ES_URL = "http://es.example.org:9200"
    with pytest.raises(CommandError, match="external cluster"):
        call_command("esnode", "start")


@pytest.mark.elasticsearch
def test_a_second_node_starts_green_and_stops_on_its_own_port(es_url, settings):
    """A real extra node (what the outage tests use): own port, own data dir, same distribution.

    An index no template covers (like the search's status index) is green on it: the node's
    default template lets replicas follow the nodes there are, so no replica waits for a second node.
    """
    cfg = esnode.NodeConfig(http_port=9251, var_dir=settings.VAR_DIR, heap="512m")
    try:
        assert "started" in esnode.start(cfg, progress=lambda m: None)
        assert esnode.status(cfg)["running"] is True
        assert cfg.node_dir.name == "node-9251"
        _put(f"{cfg.url}/untemplated-status/_doc/search?refresh=true", {"last_pass_ms": 1})
        state = _get(f"{cfg.url}/_cluster/health?wait_for_status=green&timeout=30s")
        assert state["status"] == "green" and state["unassigned_shards"] == 0
    finally:
        assert "stopped" in esnode.stop(cfg)
    assert esnode.health(cfg.url) is None


@pytest.mark.elasticsearch
def test_two_nodes_form_one_green_cluster_with_a_replica_each(es_url, settings, state_dir):
    """Two nodes of the same distribution join one cluster of their own (never the shared node's):
    an index with one replica is green, its copies on both nodes."""
    cfgs = esnode.cluster_configs([9252, 9253], cluster_name="crayfis-test-cluster", heap="512m",
                                  var_dir=settings.VAR_DIR, state_dir=state_dir)
    try:
        assert "of 2 nodes" in esnode.start_cluster(cfgs, progress=lambda m: None)
        _put(f"{cfgs[0].url}/replicated", {"settings": {"number_of_shards": 1, "number_of_replicas": 1}})
        state = _get(f"{cfgs[1].url}/_cluster/health/replicated?wait_for_status=green&timeout=60s")
        assert state["status"] == "green" and state["number_of_nodes"] == 2
        assert state["cluster_name"] == "crayfis-test-cluster"
        shards = _get(f"{cfgs[0].url}/_cat/shards/replicated?format=json")
        assert sorted(s["prirep"] for s in shards) == ["p", "r"] and len({s["node"] for s in shards}) == 2
        assert esnode.health(es_url)["number_of_nodes"] == 1   # the shared node stays alone
    finally:
        for cfg in cfgs:
            esnode.stop(cfg)
    assert all(esnode.health(c.url) is None for c in cfgs)
