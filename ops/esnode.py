"""Run real Elasticsearch 8 nodes on this machine, from Maven Central artifacts.

Why: every part of the system (indexer, Spark reader, dashboards, tests) talks to a real node, and
a newcomer must get one with no Docker and nothing downloaded outside the package registries.
Maven unpacks Elastic's integ-test-zip distribution (see services/elasticsearch/pom.xml) into
var/es/dist; each node keeps its config, data and logs under var/es/node-<port>/ (or under the
config's state_dir: `make prod-check` keeps its cluster in a temporary directory).

One node (the default) runs with `discovery.type: single-node`; nodes given seed hosts form one
cluster with their peers (`start_cluster`), all from the same unpacked distribution. A single
node also gets a catch-all index template of the lowest priority that lets replicas follow the
number of nodes (`index.auto_expand_replicas: 0-1`), so an index no CRAYFIS template covers (the
search's status index) is green on one node instead of waiting for a replica that has nowhere to go.

Elasticsearch refuses to run as root, so when this process is root the nodes run as `nobody`.
Django-free on purpose: tests and `make prod-check` start extra nodes through the same code.
"""
from __future__ import annotations

import grp
import hashlib
import json
import os
import pwd
import re
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
# Besides its heap, a node needs memory for direct buffers, metaspace, threads and the page cache
# of its Lucene files: ask for this much per GiB of heap, plus a fixed allowance per node.
MEMORY_PER_HEAP = 1.5
MEMORY_PER_NODE = 256 * 2**20
NODE_DEFAULTS_TEMPLATE = "node-defaults"


class EsNodeError(RuntimeError):
    """A problem starting or stopping an embedded node, worded for a one-line CLI error."""


@dataclass
class NodeConfig:
    """Where and how one embedded node runs.

    seed_hosts (host:transport-port of every node of the cluster, this one included) and
    initial_masters (their node names) make it a member of a multi-node cluster; without them
    it is a single-node cluster.
    """

    http_port: int = 9200
    transport_port: int | None = None
    heap: str = "1g"
    var_dir: Path = field(default_factory=lambda: REPO_ROOT / "var")
    cluster_name: str = "crayfis-embedded"
    state_dir: Path | None = None
    seed_hosts: tuple[str, ...] = ()
    initial_masters: tuple[str, ...] = ()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.http_port}"

    @property
    def transport(self) -> int:
        return self.transport_port or self.http_port + 100

    @property
    def node_name(self) -> str:
        return f"embedded-{self.http_port}"

    @property
    def es_root(self) -> Path:
        # Resolved: when var/es links outside a private checkout, the node gets the real path.
        return (self.var_dir / "es").resolve()

    @property
    def dist_home(self) -> Path:
        return self.es_root / "dist" / f"elasticsearch-{ES_VERSION}"

    @property
    def node_dir(self) -> Path:
        base = self.state_dir.resolve() if self.state_dir is not None else self.es_root
        return base / f"node-{self.http_port}"

    @property
    def pid_file(self) -> Path:
        return self.node_dir / "es.pid"


def cluster_configs(http_ports: list[int], *, cluster_name: str, heap: str, var_dir: Path,
                    state_dir: Path | None = None) -> list[NodeConfig]:
    """One NodeConfig per port, each naming all of them as seeds and initial masters."""
    probes = [NodeConfig(http_port=port) for port in http_ports]
    seeds = tuple(f"127.0.0.1:{p.transport}" for p in probes)
    masters = tuple(p.node_name for p in probes)
    return [NodeConfig(http_port=port, heap=heap, var_dir=var_dir, cluster_name=cluster_name,
                       state_dir=state_dir, seed_hosts=seeds, initial_masters=masters)
            for port in http_ports]


def health(url: str, timeout: float = 2.0) -> dict | None:
    """Cluster health as a dict, or None when nothing answers at url."""
    try:
        with urllib.request.urlopen(f"{url}/_cluster/health", timeout=timeout) as resp:
            return json.loads(resp.read())
    except (urllib.error.URLError, OSError, ValueError):
        return None


def heap_bytes(heap: str) -> int:
    """'512m', '1g', '2G' (a JVM -Xmx size) in bytes; EsNodeError for anything else."""
    m = re.fullmatch(r"\s*(\d+)\s*([kmgKMG])\s*", heap or "")
    if not m:
        raise EsNodeError(f"heap size {heap!r} is not a JVM size like 512m or 1g (CRAYFIS_ES_HEAP)")
    return int(m.group(1)) * {"k": 2**10, "m": 2**20, "g": 2**30}[m.group(2).lower()]


def available_memory(meminfo: Path = Path("/proc/meminfo")) -> int | None:
    """MemAvailable in bytes, or None where the kernel does not say."""
    try:
        for line in meminfo.read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        return None
    return None


def check_memory(n_nodes: int, heap: str, meminfo: Path = Path("/proc/meminfo")) -> None:
    """EsNodeError when this machine has too little free memory for n_nodes with this heap."""
    need = n_nodes * (MEMORY_PER_HEAP * heap_bytes(heap) + MEMORY_PER_NODE)
    have = available_memory(meminfo)
    if have is not None and have < need:
        nodes = "one Elasticsearch node" if n_nodes == 1 else f"{n_nodes} Elasticsearch nodes"
        raise EsNodeError(f"not enough memory for {nodes} with a {heap} heap each: "
                          f"{have / 2**30:.1f} GiB available, {need / 2**30:.1f} GiB needed "
                          "(free memory or lower CRAYFIS_ES_HEAP)")


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
    """Make var/es (and the state directory) reachable by the unprivileged user the node runs as.

    A checkout under a private folder (e.g. /root) cannot be entered by 'nobody'; then var/es
    becomes a link to a folder under /var/tmp, keyed by the checkout's path.
    """
    if _run_as_unprivileged() and cfg.state_dir is not None and not _reachable_by_others(cfg.state_dir):
        raise EsNodeError(f"the node runs as 'nobody', which cannot reach {cfg.state_dir}")
    link = cfg.var_dir / "es"
    if not _run_as_unprivileged() or link.exists():
        if _run_as_unprivileged() and not _reachable_by_others(cfg.es_root):
            raise EsNodeError(f"the node runs as 'nobody', which cannot reach {cfg.es_root}")
        return
    cfg.var_dir.mkdir(parents=True, exist_ok=True)
    if _reachable_by_others(cfg.var_dir):
        link.mkdir(mode=0o755)
        return
    key = hashlib.sha1(str(cfg.var_dir.resolve()).encode()).hexdigest()[:10]
    outside = Path("/var/tmp") / f"crayfis-es-{key}"
    outside.mkdir(mode=0o755, parents=True, exist_ok=True)
    outside.chmod(0o755)
    link.symlink_to(outside, target_is_directory=True)


def _node_settings(cfg: NodeConfig) -> dict:
    settings = {
        "cluster.name": cfg.cluster_name,
        "node.name": cfg.node_name,
        "network.host": "127.0.0.1",
        "http.port": cfg.http_port,
        "transport.port": cfg.transport,
        "xpack.security.enabled": "false",
        "path.data": str(cfg.node_dir / "data"),
        "path.logs": str(cfg.node_dir / "logs"),
        # One machine: keep the node writable even when the disk is fuller than ES likes.
        "cluster.routing.allocation.disk.threshold_enabled": "false",
        "action.destructive_requires_name": "false",
    }
    if cfg.seed_hosts:
        settings["discovery.seed_hosts"] = json.dumps(list(cfg.seed_hosts))
        settings["cluster.initial_master_nodes"] = json.dumps(list(cfg.initial_masters))
    else:
        settings["discovery.type"] = "single-node"
    return settings


def _write_config(cfg: NodeConfig) -> Path:
    conf_dir = cfg.node_dir / "config"
    if conf_dir.exists():
        shutil.rmtree(conf_dir)
    shutil.copytree(cfg.dist_home / "config", conf_dir)
    with open(conf_dir / "elasticsearch.yml", "a") as fh:
        fh.write("\n# written by ops.esnode\n")
        for key, value in _node_settings(cfg).items():
            fh.write(f"{key}: {value}\n")
    return conf_dir


def _chown_tree(path: Path, uid: int, gid: int) -> None:
    for root, _dirs, files in os.walk(path):
        os.chown(root, uid, gid)
        for name in files:
            os.chown(os.path.join(root, name), uid, gid)


def node_pid(cfg: NodeConfig) -> int | None:
    """The pid of the node this config started, while it runs; else None."""
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


def _launch(cfg: NodeConfig, java: str) -> subprocess.Popen:
    """Start the node's launcher (it daemonizes and writes the pid file); return the launcher."""
    ensure_distribution(cfg)
    for sub in ("data", "logs", "tmp"):
        (cfg.node_dir / sub).mkdir(parents=True, exist_ok=True)
    conf_dir = _write_config(cfg)
    env = dict(os.environ)
    env.update(
        ES_PATH_CONF=str(conf_dir),
        ES_JAVA_HOME=str(Path(os.path.realpath(java)).parent.parent),
        ES_JAVA_OPTS=f"-Xms{cfg.heap} -Xmx{cfg.heap}",
        ES_TMPDIR=str(cfg.node_dir / "tmp"),
    )
    kwargs = {}
    if _run_as_unprivileged():
        uid, gid = pwd.getpwnam("nobody").pw_uid, grp.getgrnam("nogroup").gr_gid
        _chown_tree(cfg.node_dir, uid, gid)
        kwargs = dict(user=uid, group=gid, extra_groups=[])
    with open(cfg.node_dir / "launcher.log", "wb") as log:
        return subprocess.Popen(
            [str(cfg.dist_home / "bin" / "elasticsearch"), "-d", "-p", str(cfg.pid_file)],
            env=env, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            cwd=str(cfg.node_dir), start_new_session=True, **kwargs,
        )


def _wait_healthy(cfgs: list[NodeConfig], launchers: list[subprocess.Popen], timeout: float) -> dict:
    """Wait until the first node reports all nodes joined and yellow or green; its health."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        state = health(cfgs[0].url)
        if state and state.get("status") in ("yellow", "green") \
                and state.get("number_of_nodes", 0) >= len(cfgs):
            return state
        for cfg, proc in zip(cfgs, launchers):
            if proc.poll() not in (None, 0):
                raise EsNodeError(f"Elasticsearch at {cfg.url} exited at start: {_last_line(cfg)}")
        time.sleep(1.0)
    cfg = next((c for c in cfgs if health(c.url) is None), cfgs[0])
    raise EsNodeError(f"Elasticsearch did not become healthy at {cfg.url}: {_last_line(cfg)} "
                      f"(log: {cfg.node_dir / 'launcher.log'})")


def _last_line(cfg: NodeConfig) -> str:
    try:
        lines = (cfg.node_dir / "launcher.log").read_text(errors="replace").strip().splitlines()
    except OSError:
        lines = []
    return lines[-1] if lines else "no output"


def install_node_defaults(url: str) -> None:
    """The lowest-priority template for every index: replicas follow the nodes there are (0-1).

    Any template of higher priority (every CRAYFIS template) replaces it entirely, so it only
    shapes indices nobody templated.
    """
    body = json.dumps({"index_patterns": ["*"], "priority": 0,
                       "template": {"settings": {"index.auto_expand_replicas": "0-1"}},
                       "_meta": {"owner": "ops.esnode"}}).encode()
    req = urllib.request.Request(f"{url}/_index_template/{NODE_DEFAULTS_TEMPLATE}", data=body, method="PUT",
                                 headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=30) as resp:
            resp.read()
    except (urllib.error.URLError, OSError) as exc:
        raise EsNodeError(f"could not install the node's default template at {url}: {exc}") from None


def start(cfg: NodeConfig, timeout: float = 180.0, progress=print) -> str:
    """Start the node unless one already answers; wait for yellow or green health."""
    existing = health(cfg.url)
    if existing:
        return f"already running at {cfg.url} ({existing.get('status')})"
    java = _require_tools()
    check_memory(1, cfg.heap)
    _prepare_es_root(cfg)
    launcher = _launch(cfg, java)
    progress(f"starting Elasticsearch {ES_VERSION} at {cfg.url} ...")
    state = _wait_healthy([cfg], [launcher], timeout)
    if not cfg.seed_hosts:
        install_node_defaults(cfg.url)
    return f"started at {cfg.url} ({state['status']})"


def start_cluster(cfgs: list[NodeConfig], timeout: float = 240.0, progress=print) -> str:
    """Start every node of a cluster at once (none can elect a master alone); wait until all joined."""
    running = [c.url for c in cfgs if health(c.url)]
    if running:
        raise EsNodeError(f"something already answers at {', '.join(running)}: not starting a cluster there")
    java = _require_tools()
    check_memory(len(cfgs), cfgs[0].heap)
    for cfg in cfgs:
        _prepare_es_root(cfg)
    progress(f"starting an Elasticsearch {ES_VERSION} cluster of {len(cfgs)} nodes at "
             f"{', '.join(c.url for c in cfgs)} ...")
    launchers = [_launch(cfg, java) for cfg in cfgs]
    state = _wait_healthy(cfgs, launchers, timeout)
    return f"cluster {state.get('cluster_name')} of {state['number_of_nodes']} nodes ({state['status']})"


def stop(cfg: NodeConfig, timeout: float = 60.0) -> str:
    """Stop the node this checkout started (by its pid file); a no-op when none runs."""
    pid = node_pid(cfg)
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
        "nodes": state.get("number_of_nodes") if state else None,
        "pid": node_pid(cfg),
        "data_dir": str(cfg.node_dir / "data"),
    }
