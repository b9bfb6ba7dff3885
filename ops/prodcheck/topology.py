"""The production topology on one machine, every piece bound to 127.0.0.1, state in one directory.

PostgreSQL, Redis (the shared cache), two Elasticsearch nodes as one cluster with replicas 1, a
Spark standalone master with two workers, gunicorn `ingest.asgi` (2 workers) behind nginx with a
generated certificate, two indexers, the continuous search and the alert worker: started in dependency order,
each stopped again by `Supervisor.teardown`.
"""
from __future__ import annotations

import json
import os
import secrets
import socket
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from ops import esnode
from ops.prodcheck import units
from ops.prodcheck.errors import SetupError
from ops.prodcheck.ports import HOST, Ports
from ops.prodcheck.postgres import Postgres, unprivileged_account
from ops.prodcheck.procs import Service, Supervisor, wait_until
from ops.prodcheck.proxy import TlsProxy
from ops.prodcheck.spark import SparkCluster, ensure_worker_python
from ops.prodcheck.tls import Certificate, make_certificate
from ops.prodcheck.tools import Tools

REPO = Path(__file__).resolve().parents[2]
CLUSTER_NAME = "crayfis-prodcheck"
ES_PREFIX = "crayfis"
INDEXERS = 2
WEB_WORKERS = 2
# The search re-searches touched buckets this often (production default: a minute).
SEARCH_EVERY_S = 5


@dataclass
class Topology:
    tools: Tools
    root: Path
    progress: Callable[[str], None]
    ports: Ports = field(default_factory=Ports)
    secret_key: str = field(default_factory=lambda: secrets.token_urlsafe(50))
    pseudonym_key: str = field(default_factory=lambda: secrets.token_urlsafe(32))

    def __post_init__(self):
        self.logs = self.root / "log"
        self.logs.mkdir(parents=True, exist_ok=True)
        self.supervisor = Supervisor(self.progress)
        self.pg = Postgres(self.tools.pg_bin, self.root / "pg", self.ports.postgres, unprivileged_account())
        self.es_nodes: list[esnode.NodeConfig] = []
        self.spark = SparkCluster(self.tools.spark_home, self.ports, self.root / "spark", self.logs,
                                  self.supervisor)
        self.cert: Certificate | None = None
        self.worker_python: Path | None = None

    # -- addresses and environment ------------------------------------------------------------
    @property
    def base_url(self) -> str:
        return f"https://{HOST}:{self.ports.https}"

    @property
    def es_url(self) -> str:
        return f"http://{HOST}:{self.ports.es_http[0]}"

    def django_env(self) -> dict[str, str]:
        """The environment of every Django process: what deploy/crayfis.env holds in production.

        The caller's other CRAYFIS_* settings (CRAYFIS_ES_HEAP, say) pass through; debug stays off.
        """
        env = {k: v for k, v in os.environ.items() if k != "CRAYFIS_DEBUG"}
        env.update({
            "DJANGO_SETTINGS_MODULE": "config.settings",
            "PYTHONUNBUFFERED": "1",
            "SECRET_KEY": self.secret_key,
            "CRAYFIS_PSEUDONYM_KEY": self.pseudonym_key,
            "ALLOWED_HOSTS": f"{HOST},localhost",
            "DATABASE_URL": self.pg.url,
            "CRAYFIS_VAR_DIR": str(self.root / "var"),
            "CRAYFIS_ES_URL": self.es_url,
            "CRAYFIS_ES_PREFIX": ES_PREFIX,
            "CRAYFIS_ES_REPLICAS": "1",
            "CRAYFIS_CACHE_URL": f"redis://{HOST}:{self.ports.redis}/0",
            "CRAYFIS_TLS_PROXY": "1",
            "CRAYFIS_API_NUM_PROXIES": "1",
            "CSRF_TRUSTED_ORIGINS": self.base_url,
            "CRAYFIS_SEARCH_EVERY_S": str(SEARCH_EVERY_S),
            # gunicorn trusts no forwarding header itself (as on a web host behind a proxy on
            # another host): Django's CRAYFIS_TLS_PROXY is what tells https requests apart.
            "GUNICORN_CMD_ARGS": (f"--workers={WEB_WORKERS} --bind={HOST}:{self.ports.web} "
                                  f"--access-logfile={self.logs / 'web-access.log'} --graceful-timeout=5 "
                                  "--forwarded-allow-ips="),
        })
        return env

    # -- bring up -----------------------------------------------------------------------------
    def up(self, es_heap: str) -> None:
        self.es_nodes = esnode.cluster_configs(list(self.ports.es_http), cluster_name=CLUSTER_NAME,
                                               heap=es_heap, var_dir=REPO / "var", state_dir=self.root / "es")
        self.cert = make_certificate(self.tools.openssl, self.root / "tls")
        self.progress(f"tls: self-signed certificate for {HOST} ({self.cert.cert})")
        self._postgres()
        self._redis()
        self._elasticsearch()
        self.worker_python = ensure_worker_python(REPO / "var" / "prodcheck", self.progress)
        self.spark.start()
        self.progress(f"spark: master {self.spark.master_url} with {len(self.ports.spark_workers)} workers "
                      f"(executors on {self.worker_python})")
        self._migrate()
        self.start_web()
        self._nginx()
        self.wait_for_web()
        for i in range(INDEXERS):
            self._django_service(f"indexer-{i + 1}", "crayfis-indexer@.service")
        self._django_service("search", "crayfis-search.service")
        self._django_service("alerts", "crayfis-alerts.service")
        self.progress(f"workers: {INDEXERS} indexers, the continuous search (every {SEARCH_EVERY_S} s) "
                      "and the alert worker")

    def _postgres(self) -> None:
        self.pg.init()
        self.supervisor.on_teardown("postgres", self.pg.stop)
        self.pg.start()
        self.pg.create_database()
        who = self.pg.run_as.name if self.pg.run_as else "this user"
        self.progress(f"postgres: {HOST}:{self.ports.postgres} (as {who}, data in {self.pg.data})")

    def _redis(self) -> None:
        data = self.root / "redis"
        data.mkdir(parents=True, exist_ok=True)
        argv = [self.tools.redis, "--bind", HOST, "--port", str(self.ports.redis), "--dir", str(data),
                "--save", "", "--appendonly", "no", "--protected-mode", "yes"]
        self.supervisor.run(Service("redis", argv, self.logs / "redis.log"))
        wait_until(lambda: _redis_ping(self.ports.redis), 30, "Redis",
                   alive=lambda: self.supervisor.expect_running("redis"))
        self.progress(f"redis: {HOST}:{self.ports.redis} (the shared cache for throttles)")

    def _elasticsearch(self) -> None:
        for cfg in self.es_nodes:
            self.supervisor.on_teardown(f"elasticsearch {cfg.url}", lambda cfg=cfg: esnode.stop(cfg))
        try:
            said = esnode.start_cluster(self.es_nodes, progress=self.progress)
        except esnode.EsNodeError as exc:
            raise SetupError(str(exc)) from None
        self.progress(f"elasticsearch: {said}")

    def manage(self, *args: str, timeout: float = 600) -> str:
        """`manage.py ARGS` against this topology's settings; its stdout, SetupError on failure."""
        proc = subprocess.run([sys.executable, "manage.py", *args], cwd=REPO, env=self.django_env(),
                              capture_output=True, text=True, timeout=timeout)
        if proc.returncode != 0:
            last = ((proc.stderr or proc.stdout).strip().splitlines() or ["no output"])[-1]
            raise SetupError(f"manage.py {' '.join(args)} failed: {last}")
        return proc.stdout

    def _migrate(self) -> None:
        self.manage("migrate", "--noinput")
        self.progress("django: migrated the PostgreSQL database")

    def _django_service(self, name: str, unit: str) -> Service:
        commands = units.unit_commands(unit, Path(sys.executable).parent.parent)
        for argv in commands.pre:
            proc = subprocess.run(argv, cwd=REPO, env=self.django_env(), capture_output=True, text=True)
            if proc.returncode != 0:
                last = ((proc.stderr or proc.stdout).strip().splitlines() or ["no output"])[-1]
                raise SetupError(f"{unit}: ExecStartPre {' '.join(argv[1:])} failed: {last}")
        return self.supervisor.run(Service(name, commands.start, self.logs / f"{name}.log",
                                           env=self.django_env(), cwd=REPO))

    def start_web(self) -> Service:
        return self._django_service("web", "crayfis-web.service")

    def _nginx(self) -> None:
        proxy = TlsProxy(self.tools.nginx, self.root / "nginx", self.logs, self.cert,
                         listen=f"{HOST}:{self.ports.https}", upstreams=(f"{HOST}:{self.ports.web}",))
        self.supervisor.run(Service("nginx", proxy.prepare(), self.logs / "nginx.log"))
        self.progress(f"nginx: {self.base_url} -> gunicorn ingest.asgi ({WEB_WORKERS} workers) at "
                      f"{HOST}:{self.ports.web}")

    def wait_for_web(self, timeout: float = 90.0) -> None:
        def healthy() -> bool:
            try:
                return self.get("/healthz")[0] == 200
            except OSError:
                return False
        wait_until(healthy, timeout, f"{self.base_url}/healthz to answer 200",
                   alive=lambda: self.supervisor.expect_running("web", "nginx"))

    # -- talking to it ------------------------------------------------------------------------
    def get(self, path: str, timeout: float = 10.0) -> tuple[int, bytes]:
        """GET through the TLS proxy, trusting only this run's certificate."""
        try:
            with urllib.request.urlopen(self.base_url + path, timeout=timeout,
                                        context=self.cert.client_context()) as resp:
                return resp.status, resp.read()
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read()

    def request(self, method: str, path: str, body: bytes, headers: dict[str, str],
                timeout: float = 10.0) -> tuple[int, bytes]:
        req = urllib.request.Request(self.base_url + path, data=body, method=method, headers=headers)
        try:
            with urllib.request.urlopen(req, timeout=timeout, context=self.cert.client_context()) as resp:
                return resp.status, resp.read()
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read()

    def get_json(self, path: str) -> dict:
        status, body = self.get(path)
        if status != 200:
            raise SetupError(f"GET {path} answered {status}: {body[:200]!r}")
        return json.loads(body)

    def es_get(self, path: str) -> dict:
        with urllib.request.urlopen(self.es_url + path, timeout=60) as resp:
            return json.loads(resp.read())

    def es_post(self, path: str, body: dict) -> dict:
        req = urllib.request.Request(self.es_url + path, data=json.dumps(body).encode(), method="POST",
                                     headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=60) as resp:
            return json.loads(resp.read())

    def redis_keys(self, pattern: str) -> list[str]:
        """KEYS pattern on the shared cache (a handful of keys here; never do this in production)."""
        import redis  # the prod extra, checked present by find_tools before anything starts

        client = redis.Redis(host=HOST, port=self.ports.redis, socket_timeout=5)
        try:
            return [key.decode() for key in client.keys(pattern)]
        finally:
            client.close()

    def long_running(self) -> list[str]:
        return [name for name in self.supervisor.services if not name.startswith("spark-worker")]

    def teardown(self) -> None:
        self.supervisor.teardown()


def _redis_ping(port: int) -> bool:
    try:
        with socket.create_connection((HOST, port), timeout=2) as sock:
            sock.sendall(b"PING\r\n")
            return sock.recv(16).startswith(b"+PONG")
    except OSError:
        return False
