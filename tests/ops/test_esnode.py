"""The embedded node: idempotent start, status, and one-line errors when tools are missing."""
import json

import pytest
from django.core.management import CommandError, call_command

from ops import esnode


def test_start_is_idempotent_and_status_reports_health(es_url, capsys):
    call_command("esnode", "start")
    out = capsys.readouterr().out
    assert "already running" in out
    call_command("esnode", "status")
    state = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert state["running"] is True
    assert state["health"] in ("green", "yellow")


def test_missing_java_is_one_clear_line(monkeypatch, tmp_path):
    monkeypatch.setenv("PATH", str(tmp_path))  # neither java nor mvn can be found
    cfg = esnode.NodeConfig(http_port=9, var_dir=tmp_path)
    with pytest.raises(esnode.EsNodeError, match="^Java 17\\+ not found"):
        esnode.start(cfg)


def test_external_cluster_is_never_started(settings):
    settings.CRAYFIS_ES_URL = "http://es.example.org:9200"
    with pytest.raises(CommandError, match="external cluster"):
        call_command("esnode", "start")


def test_a_second_node_starts_and_stops_on_its_own_port(es_url, settings):
    """A real extra node (what the outage tests use): own port, own data dir, same distribution."""
    cfg = esnode.NodeConfig(http_port=9251, var_dir=settings.VAR_DIR, heap="512m")
    try:
        assert "started" in esnode.start(cfg, progress=lambda m: None)
        assert esnode.status(cfg)["running"] is True
        assert cfg.node_dir.name == "node-9251"
    finally:
        assert "stopped" in esnode.stop(cfg)
    assert esnode.health(cfg.url) is None
