"""Run Django in a child process under the documented production environment.

Settings are read from the environment once, at import, so production behaviour (DEBUG off,
behind the TLS proxy, the production block of config/settings.py) can only be seen in a fresh
process. The environment is the operator's template `deploy/crayfis.env` when the repository
has one (its placeholders filled: secrets generated here, a throw-away SQLite database, no
Redis), else what the README's Production section sets. Nothing of the test process's own
environment (its SECRET_KEY, CRAYFIS_* overrides) leaks into the child.
"""
from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
TEMPLATE = REPO / "deploy" / "crayfis.env"
README_ENV = {"ALLOWED_HOSTS": "daq.example.org", "CRAYFIS_TLS_PROXY": "1"}
# Needs a service the tests do not run (Redis), or is only read by other programs.
NOT_HERE = {"CRAYFIS_CACHE_URL", "GUNICORN_CMD_ARGS"}
_KEEP = ("PATH", "HOME", "LANG", "LC_ALL", "TMPDIR", "SSL_CERT_FILE", "JAVA_HOME")


def template_env() -> dict[str, str]:
    """KEY=VALUE lines of deploy/crayfis.env (comments and commented-out keys skipped)."""
    if not TEMPLATE.exists():
        return dict(README_ENV)
    out = {}
    for line in TEMPLATE.read_text().splitlines():
        line = line.strip()
        if line and not line.startswith("#") and "=" in line:
            key, _, value = line.partition("=")
            out[key.strip()] = value.strip()
    return out


def production_env(tmp_path: Path, **overrides: str | None) -> dict[str, str]:
    """The child's whole environment; an override of None removes that variable."""
    env = {k: os.environ[k] for k in _KEEP if k in os.environ}
    env.update({k: v for k, v in template_env().items() if k not in NOT_HERE})
    env.update(DJANGO_SETTINGS_MODULE="config.settings", CRAYFIS_VAR_DIR=str(tmp_path),
               DATABASE_URL=f"sqlite:///{tmp_path / 'db.sqlite3'}",
               CRAYFIS_ES_URL=os.environ.get("CRAYFIS_ES_URL", "http://127.0.0.1:9200"))
    if not env.get("SECRET_KEY"):
        env["SECRET_KEY"] = secrets.token_urlsafe(50)
    if not env.get("CRAYFIS_PSEUDONYM_KEY"):
        env["CRAYFIS_PSEUDONYM_KEY"] = secrets.token_urlsafe(50)
    for key, value in overrides.items():
        if value is None:
            env.pop(key, None)
        else:
            env[key] = value
    return env


def public_host(env: dict[str, str]) -> str:
    return env["ALLOWED_HOSTS"].split(",")[0].strip()


def manage(env: dict[str, str], *args: str, timeout: float = 180) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "manage.py", *args], cwd=REPO, env=env, capture_output=True,
                          text=True, timeout=timeout)


def run_django(env: dict[str, str], code: str, timeout: float = 180):
    """Run `code` after django.setup() in a child; it sets `result` (JSON-able), returned here.

    Raises AssertionError with the child's stderr when it fails.
    """
    script = ("import json, django\ndjango.setup()\n" + code +
              "\nprint('RESULT ' + json.dumps(result))\n")
    proc = subprocess.run([sys.executable, "-c", script], cwd=REPO, env=env, capture_output=True, text=True,
                          timeout=timeout)
    lines = [line for line in proc.stdout.splitlines() if line.startswith("RESULT ")]
    assert proc.returncode == 0 and lines, f"child failed ({proc.returncode}):\n{proc.stderr[-3000:]}"
    return json.loads(lines[-1][len("RESULT "):])
