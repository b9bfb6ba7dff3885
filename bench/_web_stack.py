"""Production's web stack for `bench/ingest.py --proxy`, one per database engine.

nginx with deploy/nginx-crayfis.conf (TLS, a certificate made for the run) in front of gunicorn
started by the ExecStartPre=/ExecStart= lines of deploy/systemd/crayfis-web.service, with
deploy/crayfis.env's GUNICORN_CMD_ARGS (workers and bind address set here), on a SQLite file or
on a PostgreSQL server of its own (production durability: fsync and synchronous commit on). The
pieces are make prod-check's (ops/prodcheck); everything is on 127.0.0.1 in one directory and is
stopped by `stop()`, newest first.
"""
from __future__ import annotations

import secrets
import shlex
import ssl
import subprocess
import sys
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from _http import free_port

from ops.prodcheck import units
from ops.prodcheck.errors import SetupError
from ops.prodcheck.postgres import Postgres, postgres_bindir, unprivileged_account
from ops.prodcheck.procs import Service, Supervisor, wait_until
from ops.prodcheck.proxy import TlsProxy
from ops.prodcheck.tls import make_certificate
from ops.prodcheck.tools import program

ROOT = Path(__file__).resolve().parents[1]
HOST = "127.0.0.1"
ENV_TEMPLATE = ROOT / "deploy" / "crayfis.env"


def production_gunicorn_args(workers: int, port: int) -> str:
    """deploy/crayfis.env's GUNICORN_CMD_ARGS with --workers and --bind replaced."""
    line = next(line for line in ENV_TEMPLATE.read_text().splitlines() if line.startswith("GUNICORN_CMD_ARGS="))
    kept = [word for word in shlex.split(line.partition("=")[2])
            if not word.startswith(("--workers=", "--bind="))]
    return shlex.join([f"--workers={workers}", f"--bind={HOST}:{port}", *kept])


@dataclass
class WebStack:
    engine: str                      # "sqlite" or "postgres"
    root: Path
    supervisor: Supervisor = field(default_factory=lambda: Supervisor(print))
    postgres: Postgres | None = None
    https_port: int = 0
    env: dict[str, str] = field(default_factory=dict)

    @property
    def url(self) -> str:
        return f"https://{HOST}:{self.https_port}"

    def pids(self) -> dict[str, int]:
        """The main process of gunicorn, nginx and PostgreSQL (their workers are their children)."""
        pids = {"gunicorn": self.supervisor.services["web"].pid, "nginx": self.supervisor.services["nginx"].pid}
        if self.postgres is not None:
            pids["postgres"] = int((self.postgres.data / "postmaster.pid").read_text().split()[0])
        return pids

    def stored_uploads(self) -> int:
        out = _manage(self.env, "shell", "-c", "from ingest.models import Upload; print(Upload.objects.count())")
        return int(out.splitlines()[-1])   # the shell may say what it imported first

    def stop(self) -> None:
        self.supervisor.teardown()


def _manage(env: dict[str, str], *args: str) -> str:
    proc = subprocess.run([sys.executable, "manage.py", *args], cwd=ROOT, env=env, capture_output=True, text=True)
    if proc.returncode != 0:
        last = ((proc.stderr or proc.stdout).strip().splitlines() or ["no output"])[-1]
        raise SetupError(f"manage.py {args[0]} failed: {last}")
    return proc.stdout.strip()


def _database_url(stack: WebStack, pg_settings: dict[str, str]) -> str:
    if stack.engine == "sqlite":
        return f"sqlite:///{stack.root / 'db.sqlite3'}"
    stack.postgres = Postgres(postgres_bindir(None), stack.root / "pg", free_port(), unprivileged_account(),
                              server_settings=pg_settings)
    stack.postgres.init()
    stack.supervisor.on_teardown("postgres", stack.postgres.stop)
    stack.postgres.start()
    stack.postgres.create_database()
    return stack.postgres.url


def _answers(url: str, context: ssl.SSLContext | None) -> bool:
    try:
        urllib.request.urlopen(url, timeout=2, context=context)
    except urllib.error.HTTPError:
        pass   # it answers (503: a dependency, Elasticsearch, is not needed here)
    except OSError:
        return False
    return True


def start_stack(engine: str, root: Path, workers: int, base_env: dict[str, str],
                pg_settings: dict[str, str] | None = None) -> WebStack:
    """The stack up and answering https; SetupError (everything started stopped again) if not.
    pg_settings: PostgreSQL server settings on top of its defaults (`-c name=value`)."""
    root.mkdir(parents=True)
    root.chmod(0o755)   # PostgreSQL and nginx's workers run as other accounts under root
    stack = WebStack(engine, root)
    try:
        web_port = free_port()
        database_url = _database_url(stack, pg_settings or {})
        stack.env = dict(base_env, DATABASE_URL=database_url, CRAYFIS_VAR_DIR=str(root / "var"),
                         SECRET_KEY=secrets.token_urlsafe(50), CRAYFIS_PSEUDONYM_KEY=secrets.token_urlsafe(32),
                         ALLOWED_HOSTS=f"{HOST},localhost", CRAYFIS_TLS_PROXY="1", CRAYFIS_API_NUM_PROXIES="1",
                         GUNICORN_CMD_ARGS=production_gunicorn_args(workers, web_port))
        _manage(stack.env, "migrate", "--noinput")
        commands = units.unit_commands("crayfis-web.service", Path(sys.executable).parent.parent)
        for argv in commands.pre:
            subprocess.run(argv, cwd=ROOT, env=stack.env, check=True, capture_output=True)
        stack.supervisor.run(Service("web", commands.start, root / "log" / "web.log", env=stack.env, cwd=ROOT))
        wait_until(lambda: _answers(f"http://{HOST}:{web_port}/healthz", None), 60, f"gunicorn ({engine})",
                   alive=lambda: stack.supervisor.expect_running("web"))
        cert = make_certificate(program("openssl", "openssl"), root / "tls")
        stack.https_port = free_port()
        proxy = TlsProxy(program("nginx", "nginx"), root / "nginx", root / "log", cert,
                         listen=f"{HOST}:{stack.https_port}", upstreams=(f"{HOST}:{web_port}",))
        stack.supervisor.run(Service("nginx", proxy.prepare(), root / "log" / "nginx.log"))
        wait_until(lambda: _answers(f"{stack.url}/healthz", cert.client_context()), 30, f"nginx ({engine})",
                   alive=lambda: stack.supervisor.expect_running("nginx", "web"))
    except BaseException:
        stack.stop()
        raise
    return stack
