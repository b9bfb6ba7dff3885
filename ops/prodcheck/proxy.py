"""nginx as the TLS proxy, serving deploy/nginx-crayfis.conf from a directory of its own.

prod-check runs the production site file this way, and bench/ingest.py measures /submit through
it. Around the site, a minimal main configuration with every path inside the directory: in the
foreground (the caller supervises it), two worker processes, the access log in a file.
"""
from __future__ import annotations

import grp
import os
import pwd
import subprocess
from dataclasses import dataclass
from pathlib import Path

from ops.prodcheck import units
from ops.prodcheck.errors import SetupError
from ops.prodcheck.procs import RunAs
from ops.prodcheck.tls import Certificate

# nginx's temporary-file directives, each pointed at a directory of its own under home/tmp.
TEMP_DIRS = {"client_body_temp_path": "body", "proxy_temp_path": "proxy", "fastcgi_temp_path": "fastcgi",
             "uwsgi_temp_path": "uwsgi", "scgi_temp_path": "scgi"}


def nginx_workers_account() -> RunAs | None:
    """nginx's master runs as root when we are root; its workers then run as nobody."""
    if os.geteuid() != 0:
        return None
    entry = pwd.getpwnam("nobody")
    return RunAs("nobody", entry.pw_uid, entry.pw_gid)


@dataclass(frozen=True)
class TlsProxy:
    """The site file with LISTEN, a certificate and the upstream web servers filled in."""

    nginx: str           # the program
    home: Path           # configuration, pid file and temporary files
    logs: Path
    cert: Certificate
    listen: str          # "127.0.0.1:8443"
    upstreams: tuple[str, ...]   # "127.0.0.1:8101", ...
    server_name: str = "127.0.0.1 localhost"

    @property
    def conf(self) -> Path:
        return self.home / "nginx.conf"

    def argv(self) -> list[str]:
        return [self.nginx, "-p", str(self.home), "-c", str(self.conf), "-e", str(self.logs / "nginx-error.log")]

    def prepare(self) -> list[str]:
        """Write the configuration, have nginx test it (SetupError if it refuses); the argv to run."""
        for sub in TEMP_DIRS.values():
            (self.home / "tmp" / sub).mkdir(parents=True, exist_ok=True)
        self.logs.mkdir(parents=True, exist_ok=True)
        upstreams = " ".join(f"server {address};" for address in self.upstreams)
        site = units.site_config({"SERVER_NAME": self.server_name, "LISTEN": self.listen,
                                  "CERT": str(self.cert.cert), "KEY": str(self.cert.key), "UPSTREAMS": upstreams})
        (self.home / "crayfis.conf").write_text(site)
        run_as = nginx_workers_account()
        if run_as:
            run_as.chown(self.home / "tmp")
        self.conf.write_text(self._main_config(run_as))
        test = subprocess.run([*self.argv(), "-t", "-q"], capture_output=True, text=True)
        if test.returncode != 0:
            last = ((test.stderr or test.stdout).strip().splitlines() or ["no output"])[-1]
            raise SetupError(f"nginx refuses its configuration: {last}")
        return self.argv()

    def _main_config(self, run_as: RunAs | None) -> str:
        user = f"user {run_as.name} {grp.getgrgid(run_as.gid).gr_name};\n" if run_as else ""
        home = self.home
        return (f"daemon off;\n{user}worker_processes 2;\npid {home / 'nginx.pid'};\n"
                f"error_log {self.logs / 'nginx-error.log'} warn;\n"
                "events { worker_connections 1024; }\n"
                "http {\n"
                "    default_type application/octet-stream;\n"
                f"    access_log {self.logs / 'nginx-access.log'};\n"
                + "".join(f"    {directive} {home / 'tmp' / sub};\n" for directive, sub in TEMP_DIRS.items())
                + f"    include {home / 'crayfis.conf'};\n"
                "}\n")
