"""A PostgreSQL server of its own: initdb, pg_ctl start/stop/restart.

prod-check runs one per run, and the test suite's PostgreSQL pass one per session
(tests/postgres.py). PostgreSQL refuses to run as root, so under root it runs as the `postgres` account (Debian's
package makes it) or else `nobody`. It listens on 127.0.0.1 only, with password (SCRAM)
authentication for TCP and its Unix socket inside the run's directory.
"""
from __future__ import annotations

import glob
import os
import pwd
import secrets
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

from ops.prodcheck.errors import SetupError
from ops.prodcheck.procs import RunAs

USER = "crayfis"
DATABASE = "crayfis"


def unprivileged_account() -> RunAs | None:
    """Who runs PostgreSQL: None (this user) unless this process is root."""
    if os.geteuid() != 0:
        return None
    for name in ("postgres", "nobody"):
        try:
            entry = pwd.getpwnam(name)
        except KeyError:
            continue
        return RunAs(name, entry.pw_uid, entry.pw_gid)
    raise SetupError("running as root, and neither a 'postgres' nor a 'nobody' account exists to run PostgreSQL")


def postgres_bindir(explicit: str | None) -> Path:
    """The directory holding initdb and pg_ctl: --pg-bindir, else PATH, else Debian's newest."""
    def has_both(d: Path) -> bool:
        return (d / "initdb").is_file() and (d / "pg_ctl").is_file()

    if explicit is not None:
        if not has_both(Path(explicit)):
            raise SetupError(f"no PostgreSQL: {explicit} holds no initdb and pg_ctl (--pg-bindir)")
        return Path(explicit)
    on_path = shutil.which("initdb")
    if on_path and has_both(Path(on_path).resolve().parent):
        return Path(on_path).resolve().parent
    debian = sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=lambda p: int(Path(p).parent.name)
                    if Path(p).parent.name.isdigit() else 0)
    for d in reversed(debian):
        if has_both(Path(d)):
            return Path(d)
    raise SetupError("no PostgreSQL: initdb and pg_ctl are neither on PATH nor under "
                     "/usr/lib/postgresql/*/bin (apt-get install postgresql)")


@dataclass
class Postgres:
    bindir: Path
    root: Path
    port: int
    run_as: RunAs | None
    password: str = field(default_factory=lambda: secrets.token_urlsafe(18))
    # Extra server settings (`-c name=value`), e.g. the test suite's throw-away durability.
    server_settings: dict[str, str] = field(default_factory=dict)

    @property
    def data(self) -> Path:
        return self.root / "data"

    @property
    def log(self) -> Path:
        return self.root / "postgres.log"

    @property
    def url(self) -> str:
        return f"postgres://{USER}:{self.password}@127.0.0.1:{self.port}/{DATABASE}"

    def _run(self, program: str, *args: str, check_what: str) -> None:
        kwargs = self.run_as.popen_kwargs() if self.run_as else {}
        env = dict(os.environ, PGPASSWORD=self.password, LC_ALL="C.UTF-8")
        proc = subprocess.run([str(self.bindir / program), *args], capture_output=True, text=True,
                              cwd=str(self.root), env=env, **kwargs)
        if proc.returncode != 0:
            last = ((proc.stderr or proc.stdout).strip().splitlines() or ["no output"])[-1]
            raise SetupError(f"PostgreSQL {check_what} failed: {last} (log: {self.log})")

    def init(self) -> None:
        (self.root / "socket").mkdir(parents=True, exist_ok=True)
        pwfile = self.root / "pwfile"
        pwfile.write_text(self.password + "\n")
        pwfile.chmod(0o600)
        if self.run_as:
            self.run_as.chown(self.root)
        self._run("initdb", "-D", str(self.data), "-U", USER, f"--pwfile={pwfile}", "-E", "UTF8",
                  "--no-locale", "--auth-local=trust", "--auth-host=scram-sha-256", check_what="initdb")
        pwfile.unlink()

    def start(self) -> None:
        options = f"-p {self.port} -k {self.root / 'socket'} -c listen_addresses=127.0.0.1"
        options += "".join(f" -c {name}={value}" for name, value in self.server_settings.items())
        self._run("pg_ctl", "-D", str(self.data), "-l", str(self.log), "-w", "-t", "60", "-o", options,
                  "start", check_what="start")

    def create_database(self) -> None:
        self._run("createdb", "-h", "127.0.0.1", "-p", str(self.port), "-U", USER, DATABASE,
                  check_what="createdb")

    def restart(self) -> None:
        """A fast restart: open connections are cut, the server is back when this returns."""
        self._run("pg_ctl", "-D", str(self.data), "-l", str(self.log), "-m", "fast", "-w", "-t", "60", "restart",
                  check_what="restart")

    def stop(self) -> None:
        if (self.data / "postmaster.pid").exists():
            self._run("pg_ctl", "-D", str(self.data), "-m", "fast", "-w", "-t", "60", "stop",
                      check_what="stop")
