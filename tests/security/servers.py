"""Real servers for the tests that need a socket: gunicorn serving the project's entry points on a
free local port, against the test database."""
from __future__ import annotations

import os
import secrets
import socket
import subprocess
import sys
import time
from pathlib import Path

from tests.security.production import REPO

_KEEP = ("PATH", "HOME", "LANG", "LC_ALL", "TMPDIR", "CRAYFIS_ES_URL")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Gunicorn:
    """`gunicorn <app> -k <worker>` on 127.0.0.1:<free port>, one worker, stopped by pid."""

    def __init__(self, app: str, worker: str, database: str, var_dir: Path, **env: str):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        base = {k: os.environ[k] for k in _KEEP if k in os.environ}
        base.update(DJANGO_SETTINGS_MODULE="config.settings", SECRET_KEY=secrets.token_urlsafe(50),
                    CRAYFIS_PSEUDONYM_KEY=secrets.token_urlsafe(50), DATABASE_URL=f"sqlite:///{database}",
                    CRAYFIS_VAR_DIR=str(var_dir), ALLOWED_HOSTS="127.0.0.1", **env)
        args = [sys.executable, "-m", "gunicorn", app, "-k", worker, "-w", "1", "-b", f"127.0.0.1:{self.port}",
                "--graceful-timeout", "2", "--error-logfile", str(var_dir / f"gunicorn-{self.port}.log")]
        if worker == "gthread":
            args += ["--threads", "4"]
        self.proc = subprocess.Popen(args, cwd=REPO, env=base, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.log = var_dir / f"gunicorn-{self.port}.log"

    def __enter__(self) -> Gunicorn:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"gunicorn exited: {self.log.read_text()[-2000:] if self.log.exists() else ''}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                    return self
            except OSError:
                time.sleep(0.2)
        self.__exit__()
        raise RuntimeError("gunicorn did not start within 60 s")

    def __exit__(self, *exc) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
