"""A Spark standalone cluster from pyspark's own launcher: one master, N workers, all on 127.0.0.1.

The executors run on a Python of their own: a virtualenv holding only the third-party packages
the coincidence job imports (pinned to the versions installed here), never this project, whose
code reaches them as a zip through spark-submit --py-files (ops.pyfiles). The virtualenv is kept
under var/prodcheck/ between runs, keyed by those versions.
"""
from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import urllib.error
import urllib.request
from dataclasses import dataclass
from importlib.metadata import version
from pathlib import Path

from ops.prodcheck.errors import SetupError
from ops.prodcheck.ports import HOST, Ports
from ops.prodcheck.procs import Service, Supervisor, wait_until

# What the job's tasks import (crayfis/coincidence, spark_jobs); pip adds their dependencies.
WORKER_PACKAGES = ("numpy", "scipy", "numba", "pyarrow", "elasticsearch", "msgspec")
WORKER_MEMORY = "1536m"
EXECUTOR_MEMORY = "1g"
DRIVER_MEMORY = "2g"


def worker_requirements() -> list[str]:
    return [f"{name}=={version(name)}" for name in WORKER_PACKAGES]


def ensure_worker_python(cache_dir: Path, progress) -> Path:
    """The executors' Python: a virtualenv with WORKER_PACKAGES only, made once per version set."""
    reqs = worker_requirements()
    key = hashlib.sha1("\n".join([sys.version, *reqs]).encode()).hexdigest()[:12]
    venv = cache_dir / f"spark-worker-python-{key}"
    python = venv / "bin" / "python"
    if (venv / ".complete").exists():
        return python
    shutil.rmtree(venv, ignore_errors=True)
    progress(f"making the Spark workers' own Python in {venv} ({', '.join(reqs)}) ...")
    for argv in ([sys.executable, "-m", "venv", str(venv)],
                 [str(python), "-m", "pip", "install", "-q", "--disable-pip-version-check", *reqs]):
        proc = subprocess.run(argv, capture_output=True, text=True)
        if proc.returncode != 0:
            last = ((proc.stderr or proc.stdout).strip().splitlines() or ["no output"])[-1]
            raise SetupError(f"could not make the Spark workers' Python: {last}")
    (venv / ".complete").touch()
    return python


def project_is_importable(python: Path, cwd: Path) -> bool:
    """Whether this Python can import the project without --py-files (it must not)."""
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    proc = subprocess.run([str(python), "-c", "import crayfis, spark_jobs"], cwd=str(cwd), env=env,
                          capture_output=True)
    return proc.returncode == 0


@dataclass
class SparkCluster:
    spark_home: Path
    ports: Ports
    root: Path
    logs: Path
    supervisor: Supervisor

    @property
    def master_url(self) -> str:
        return f"spark://{HOST}:{self.ports.spark_master}"

    def daemon_env(self) -> dict[str, str]:
        """A clean environment: nothing of this project's Python reaches the daemons."""
        keep = ("PATH", "HOME", "LANG", "LC_ALL", "JAVA_HOME", "TMPDIR")
        env = {k: v for k, v in os.environ.items() if k in keep}
        venv_bin = str(Path(sys.executable).parent)
        env["PATH"] = os.pathsep.join(p for p in env.get("PATH", "").split(os.pathsep) if p != venv_bin)
        env.update(SPARK_HOME=str(self.spark_home), SPARK_LOCAL_IP=HOST, SPARK_LOG_DIR=str(self.logs))
        return env

    def _spark_class(self, *args: str) -> list[str]:
        return [str(self.spark_home / "bin" / "spark-class"), *args]

    def worker_name(self, i: int) -> str:
        return f"spark-worker-{i + 1}"

    def worker_service(self, i: int) -> Service:
        work = self.root / f"worker-{i + 1}"
        work.mkdir(parents=True, exist_ok=True)
        argv = self._spark_class("org.apache.spark.deploy.worker.Worker", "--host", HOST,
                                 "--port", str(self.ports.spark_workers[i]),
                                 "--webui-port", str(self.ports.spark_worker_uis[i]),
                                 "--cores", "1", "--memory", WORKER_MEMORY, "--work-dir", str(work),
                                 self.master_url)
        return Service(self.worker_name(i), argv, self.logs / f"{self.worker_name(i)}.log",
                       env=self.daemon_env(), cwd=work)

    def start(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        argv = self._spark_class("org.apache.spark.deploy.master.Master", "--host", HOST,
                                 "--port", str(self.ports.spark_master),
                                 "--webui-port", str(self.ports.spark_master_ui))
        self.supervisor.run(Service("spark-master", argv, self.logs / "spark-master.log",
                                    env=self.daemon_env(), cwd=self.root))
        wait_until(self.master_state, 120, "the Spark master",
                   alive=lambda: self.supervisor.expect_running("spark-master"))
        for i in range(len(self.ports.spark_workers)):
            self.supervisor.run(self.worker_service(i))
        self.wait_for_workers()

    def wait_for_workers(self, timeout: float = 120.0) -> None:
        n = len(self.ports.spark_workers)
        names = ["spark-master"] + [self.worker_name(i) for i in range(n)]
        wait_until(lambda: self.alive_workers() >= n, timeout, f"{n} Spark workers to register",
                   alive=lambda: self.supervisor.expect_running(*names))

    def restart_worker(self, i: int) -> None:
        """A killed worker comes back as it first started (same ports and work directory)."""
        self.supervisor.run(self.worker_service(i))
        self.wait_for_workers()

    def master_state(self) -> dict | None:
        try:
            with urllib.request.urlopen(f"http://{HOST}:{self.ports.spark_master_ui}/json/", timeout=3) as resp:
                return json.loads(resp.read())
        except (urllib.error.URLError, OSError, ValueError):
            return None

    def alive_workers(self) -> int:
        state = self.master_state() or {}
        return sum(1 for w in state.get("workers", []) if w.get("state") == "ALIVE")

    def submit_argv(self, job_args: list[str], worker_python: Path, pyfiles: Path, job_file: Path) -> list[str]:
        """spark-submit of the coincidence job to this master, executors on worker_python."""
        p = self.ports
        conf = {
            "spark.pyspark.python": str(worker_python),
            "spark.pyspark.driver.python": sys.executable,
            "spark.driver.host": HOST, "spark.driver.bindAddress": HOST,
            "spark.driver.port": p.spark_driver, "spark.driver.blockManager.port": p.spark_driver_blocks,
            "spark.blockManager.port": p.spark_executor_blocks, "spark.port.maxRetries": 4,
            "spark.executor.memory": EXECUTOR_MEMORY, "spark.executor.cores": 1,
        }
        argv = [str(self.spark_home / "bin" / "spark-submit"), "--master", self.master_url,
                "--deploy-mode", "client", "--driver-memory", DRIVER_MEMORY, "--py-files", str(pyfiles)]
        for key, value in conf.items():
            argv += ["--conf", f"{key}={value}"]
        return argv + [str(job_file), *job_args]
