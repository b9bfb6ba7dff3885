"""make prod-check's one-line errors for missing pieces, and the code it ships to Spark."""
import os
import socket
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

import pytest

from ops import pyfiles
from ops.prodcheck import tools
from ops.prodcheck.errors import SetupError
from ops.prodcheck.ports import Ports, require_free

REPO = Path(__file__).resolve().parents[2]


def _prodcheck(*args, env=None):
    return subprocess.run([sys.executable, "-m", "ops.prodcheck", *args], cwd=REPO, capture_output=True,
                          text=True, timeout=120, env=env)


def _leftover_dirs() -> set[str]:
    return {p for p in os.listdir(tempfile.gettempdir()) if p.startswith("crayfis-prodcheck-")}


def test_no_postgresql_is_one_line_and_leaves_nothing():
    before = _leftover_dirs()
    proc = _prodcheck("--pg-bindir", "/nonexistent")
    assert proc.returncode == 1
    assert proc.stderr == "prod-check: error: no PostgreSQL: /nonexistent holds no initdb and pg_ctl (--pg-bindir)\n"
    assert _leftover_dirs() == before


def test_no_java_is_one_line():
    env = {**os.environ, "PATH": str(Path(sys.executable).parent)}   # python, no java
    proc = _prodcheck(env=env)
    assert proc.returncode == 1 and proc.stderr.startswith("prod-check: error: no Java:")
    assert proc.stderr.count("\n") == 1 and "Traceback" not in proc.stderr


def test_no_redis_package_is_one_line(tmp_path):
    """Without the prod extra's redis package: the one line naming it, not an ImportError traceback
    (before the check, `import redis` at the top of ops/prodcheck/topology.py raised one)."""
    (tmp_path / "sitecustomize.py").write_text("import sys\nsys.modules['redis'] = None\n")   # hides it
    proc = _prodcheck(env={**os.environ, "PYTHONPATH": str(tmp_path)})
    assert proc.returncode == 1
    assert proc.stderr.startswith("prod-check: error: no Python package redis (the prod extra)")
    assert proc.stderr.count("\n") == 1 and "Traceback" not in proc.stderr


def test_too_little_memory_is_one_line():
    proc = _prodcheck(env={**os.environ, "CRAYFIS_ES_HEAP": "4000g"})
    assert proc.returncode == 1
    assert proc.stderr.startswith("prod-check: error: not enough memory for 2 Elasticsearch nodes with a 4000g heap")
    assert proc.stderr.count("\n") == 1


def test_unknown_check_is_a_usage_error():
    proc = _prodcheck("--checks", "1,9")
    assert proc.returncode == 2 and "unknown check '9'" in proc.stderr


def test_a_taken_port_is_named():
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        port = listener.getsockname()[1]
        with pytest.raises(SetupError, match=f"^port {port} \\(nginx\\) is taken on 127.0.0.1"):
            require_free(Ports(https=port))


def test_no_port_lies_where_the_kernel_picks_outgoing_ports():
    """A port in the ephemeral range can be held by any passing connection's local end (a test's
    client, a worker's), and prod-check then finds it taken (CI saw this for PostgreSQL)."""
    low, high = map(int, Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split())
    inside = [(port, what) for port, what in Ports().named() if low <= port <= high]
    assert inside == []


def test_postgresql_is_found_where_debian_puts_it():
    found = tools.postgres_bindir(None)
    assert (found / "initdb").is_file() and (found / "pg_ctl").is_file()


def test_the_spark_zip_holds_the_core_and_the_job_only(tmp_path):
    out = pyfiles.build_zip(tmp_path / "code.zip")
    names = zipfile.ZipFile(out).namelist()
    assert {n.split("/")[0] for n in names} == {"crayfis", "spark_jobs"}
    assert "spark_jobs/coincidence.py" in names and "crayfis/coincidence/kernel.py" in names
    assert all(n.endswith(".py") and "__pycache__" not in n for n in names)
    # Importable from the zip alone (what an executor's Python does with --py-files).
    code = "import spark_jobs.cli, crayfis.definition; print(spark_jobs.cli.__file__)"
    proc = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True,
                          env={**os.environ, "PYTHONPATH": str(out)})
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip().startswith(str(out))
