"""Run a real single-node Elasticsearch 8 on this machine, from Maven Central artifacts.

Why: every part of the system (indexer, Spark reader, dashboards, tests) talks to a real node, and
a newcomer must get one with no Docker and nothing downloaded outside the package registries.
Maven unpacks Elastic's integ-test-zip distribution (see services/elasticsearch/pom.xml) into
var/es/dist; each node keeps its config, data and logs under var/es/node-<port>/.

Elasticsearch refuses to run as root, so when this process is root the node runs as `nobody`.
Django-free on purpose: tests start extra nodes (for outage tests) through the same code.
"""
from __future__ import annotations

import grp
import json
import os
import pwd
import shutil
import signal
import stat
import subprocess
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
POM = REPO_ROOT / "services" / "elasticsearch" / "pom.xml"
ES_VERSION = "8.19.21"


class EsNodeError(RuntimeError):
    """A problem starting or stopping the embedded node, worded for a one-line CLI error."""


@dataclass
class NodeConfig:
    """Where and how one embedded node runs."""

    http_port: int = 9200
    transport_port: int | None = None
    heap: str = "1g"
    var_dir: Path = field(default_factory=lambda: REPO_ROOT / "var")
    cluster_name: str = "crayfis-embedded"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.http_port}"

    @property
    def es_root(self) -> Path:
        # Resolved: when var/es links outside a private checkout, the node gets the real path.
        return (self.var_dir / "es").resolve()

    @property
    def dist_home(self) -> Path:
        return self.es_root / "dist" / f"elasticsearch-{ES_VERSION}"

    @property
    def node_dir(self) -> Path:
        return self.es_root / f"node-{self.http_port}"

    @property
    def pid_file(self) -> Path:
        return self.node_dir / "es.pid"


def health(url: str, timeout: float = 2.0) -> dict | None:
    """Cluster health as a dict, or None when nothing answers at url."""
    try:
        with urllib.request.urlopen(f"{url}/_cluster/health", timeout=timeout) as resp:
            return json.loads(resp.read())
    except (urllib.error.URLError, OSError, ValueError):
        return None


def _require_tools() -> str:
    java = shutil.which("java")
    if not java:
        raise EsNodeError("Java 17+ not found on PATH: install a JDK (apt-get install openjdk-17-jdk-headless)")
    if not shutil.which("mvn"):
        raise EsNodeError("Maven (mvn) not found on PATH: install it (apt-get install maven)")
    return java


def ensure_distribution(cfg: NodeConfig) -> Path:
    """Unpack the Elasticsearch distribution with Maven unless it is already there."""
    _require_tools()
    launcher = cfg.dist_home / "bin" / "elasticsearch"
    if launcher.exists():
        return cfg.dist_home
    out_dir = cfg.es_root / "dist"
    out_dir.mkdir(parents=True, exist_ok=True)
    cmd = ["mvn", "-q", "-B", "-f", str(POM), "dependency:unpack-dependencies", f"-DoutputDirectory={out_dir}",
           "-DoverWriteReleases=true"]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0 or not launcher.exists():
        last = (proc.stdout + proc.stderr).strip().splitlines()[-1:] or ["no output"]
        raise EsNodeError(f"Maven could not fetch Elasticsearch {ES_VERSION}: {last[0]}")
    return cfg.dist_home


def _run_as_unprivileged() -> bool:
    return os.geteuid() == 0


def _reachable_by_others(path: Path) -> bool:
    """True when every ancestor of path lets 'other' users traverse it (needed to run as nobody)."""
    for parent in [path, *path.parents]:
        if parent.exists() and not parent.stat().st_mode & stat.S_IXOTH:
            return False
    return True


def _prepare_es_root(cfg: NodeConfig) -> None:
    """Make var/es reachable by the unprivileged user the node runs as.

    A checkout under a private folder (e.g. /root) cannot be entered by 'nobody'; then var/es
    becomes a link to a folder under /var/tmp, keyed by the checkout's path.
    """
    link = cfg.var_dir / "es"
    if not _run_as_unprivileged() or link.exists():
        if _run_as_unprivileged() and not _reachable_by_others(cfg.es_root):
            raise EsNodeError(f"the node runs as 'nobody', which cannot reach {cfg.es_root}")
        return
    cfg.var_dir.mkdir(parents=True, exist_ok=True)
    if _reachable_by_others(cfg.var_dir):
        link.mkdir(mode=0o755)
        return
    import hashlib

    key = hashlib.sha1(str(cfg.var_dir.resolve()).encode()).hexdigest()[:10]
    outside = Path("/var/tmp") / f"crayfis-es-{key}"
    outside.mkdir(mode=0o755, parents=True, exist_ok=True)
    outside.chmod(0o755)
    link.symlink_to(outside, target_is_directory=True)


def _write_config(cfg: NodeConfig) -> Path:
    conf_dir = cfg.node_dir / "config"
    if conf_dir.exists():
        shutil.rmtree(conf_dir)
    shutil.copytree(cfg.dist_home / "config", conf_dir)
    transport = cfg.transport_port or cfg.http_port + 100
    settings = {
        "cluster.name": cfg.cluster_name,
        "node.name": f"embedded-{cfg.http_port}",
        "network.host": "127.0.0.1",
        "http.port": cfg.http_port,
        "transport.port": transport,
        "discovery.type": "single-node",
        "xpack.security.enabled": "false",
        "path.data": str(cfg.node_dir / "data"),
        "path.logs": str(cfg.node_dir / "logs"),
        # One machine: keep the node writable even when the disk is fuller than ES likes.
        "cluster.routing.allocation.disk.threshold_enabled": "false",
        "action.destructive_requires_name": "false",
    }
    with open(conf_dir / "elasticsearch.yml", "a") as fh:
        fh.write("\n# written by ops.esnode\n")
        for key, value in settings.items():
            fh.write(f"{key}: {value}\n")
    return conf_dir


def _chown_tree(path: Path, uid: int, gid: int) -> None:
    for root, _dirs, files in os.walk(path):
        os.chown(root, uid, gid)
        for name in files:
            os.chown(os.path.join(root, name), uid, gid)


def _read_pid(cfg: NodeConfig) -> int | None:
    try:
        pid = int(cfg.pid_file.read_text().strip())
    except (OSError, ValueError):
        return None
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return None
    except PermissionError:
        pass
    return pid


def start(cfg: NodeConfig, timeout: float = 180.0, progress=print) -> str:
    """Start the node unless one already answers; wait for yellow or green health."""
    existing = health(cfg.url)
    if existing:
        return f"already running at {cfg.url} ({existing.get('status')})"
    java = _require_tools()
    _prepare_es_root(cfg)
    ensure_distribution(cfg)
    for sub in ("data", "logs"):
        (cfg.node_dir / sub).mkdir(parents=True, exist_ok=True)
    conf_dir = _write_config(cfg)
    env = dict(os.environ)
    env.update(
        ES_PATH_CONF=str(conf_dir),
        ES_JAVA_HOME=str(Path(os.path.realpath(java)).parent.parent),
        ES_JAVA_OPTS=f"-Xms{cfg.heap} -Xmx{cfg.heap}",
        ES_TMPDIR=str(cfg.node_dir / "tmp"),
    )
    (cfg.node_dir / "tmp").mkdir(exist_ok=True)
    kwargs = {}
    if _run_as_unprivileged():
        uid, gid = pwd.getpwnam("nobody").pw_uid, grp.getgrnam("nogroup").gr_gid
        _chown_tree(cfg.node_dir, uid, gid)
        kwargs = dict(user=uid, group=gid, extra_groups=[])
    log_path = cfg.node_dir / "launcher.log"
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(
            [str(cfg.dist_home / "bin" / "elasticsearch"), "-d", "-p", str(cfg.pid_file)],
            env=env, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            cwd=str(cfg.node_dir), start_new_session=True, **kwargs,
        )
    deadline = time.monotonic() + timeout
    progress(f"starting Elasticsearch {ES_VERSION} at {cfg.url} ...")
    while time.monotonic() < deadline:
        state = health(cfg.url)
        if state and state.get("status") in ("yellow", "green"):
            return f"started at {cfg.url} ({state['status']})"
        if proc.poll() not in (None, 0):
            break
        time.sleep(1.0)
    tail = log_path.read_text(errors="replace").strip().splitlines()[-1:] or ["no output"]
    raise EsNodeError(f"Elasticsearch did not become healthy at {cfg.url}: {tail[0]} (log: {log_path})")


def stop(cfg: NodeConfig, timeout: float = 60.0) -> str:
    """Stop the node this checkout started (by its pid file); a no-op when none runs."""
    pid = _read_pid(cfg)
    if pid is None:
        return "not running" if not health(cfg.url) else f"a node at {cfg.url} was not started by this checkout"
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            break
        time.sleep(0.5)
    else:
        os.kill(pid, signal.SIGKILL)
    cfg.pid_file.unlink(missing_ok=True)
    return f"stopped (pid {pid})"


def status(cfg: NodeConfig) -> dict:
    """What runs at the node's address, and whether this checkout started it."""
    state = health(cfg.url)
    return {
        "url": cfg.url,
        "running": state is not None,
        "health": state.get("status") if state else None,
        "pid": _read_pid(cfg),
        "data_dir": str(cfg.node_dir / "data"),
    }
