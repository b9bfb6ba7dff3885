"""deploy/ holds what an operator copies, and it stays true: the environment template names
every setting there is, the systemd units run commands that exist, nginx accepts the site."""
import re
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.management import get_commands

from ops.prodcheck import tls, units
from ops.prodcheck.tools import program

REPO = Path(__file__).resolve().parents[2]
UNITS = ["crayfis-web.service", "crayfis-indexer@.service", "crayfis-search.service", "crayfis-alerts.service",
         "crayfis-notify.service", "crayfis-archive.service"]
# Read by gunicorn itself, not by Django.
NOT_DJANGO = {"GUNICORN_CMD_ARGS"}


def _settings_names() -> set[str]:
    text = (REPO / "config" / "settings.py").read_text()
    return set(re.findall(r'env_(?:str|bool|int|float|list)\("([A-Z0-9_]+)"', text))


def _env_file_names() -> set[str]:
    names = set()
    for line in (REPO / "deploy" / "crayfis.env").read_text().splitlines():
        m = re.match(r"^#?\s*([A-Z][A-Z0-9_]+)=", line)
        if m:
            names.add(m.group(1))
    return names


def test_environment_template_lists_exactly_the_settings():
    settings, listed = _settings_names(), _env_file_names() - NOT_DJANGO
    assert settings - listed == set(), "settings missing from deploy/crayfis.env"
    assert listed - settings == set(), "deploy/crayfis.env names settings that no longer exist"


@pytest.mark.parametrize("unit", UNITS)
def test_units_run_commands_that_exist(unit):
    venv = Path(sys.executable).parent.parent
    commands = units.unit_commands(unit, venv)
    for argv in [*commands.pre, commands.start]:
        assert Path(argv[0]).exists() and argv[0].startswith(str(venv)), argv
        if argv[1:2] == ["manage.py"]:
            assert argv[2] in get_commands(), f"{unit}: no manage.py {argv[2]}"
    text = (REPO / "deploy" / "systemd" / unit).read_text()
    assert "EnvironmentFile=/etc/crayfis/crayfis.env" in text and "Restart=always" in text


def test_web_unit_serves_ingest_asgi_with_the_asgi_worker():
    start = units.unit_commands("crayfis-web.service", Path(sys.executable).parent.parent).start
    assert start[1:] == ["ingest.asgi:application", "--worker-class", "asgi"]


def test_nginx_accepts_the_site_config(tmp_path):
    """The real nginx parses the site file with values filled in (what prod-check serves)."""
    nginx, openssl = program("nginx", "nginx"), program("openssl", "openssl")
    cert = tls.make_certificate(openssl, tmp_path / "tls")
    site = units.site_config({"SERVER_NAME": "daq.example.org", "LISTEN": "127.0.0.1:8449",
                              "CERT": str(cert.cert), "KEY": str(cert.key), "UPSTREAMS": "server 127.0.0.1:8000;"})
    (tmp_path / "site.conf").write_text(site)
    (tmp_path / "nginx.conf").write_text(f"pid {tmp_path}/nginx.pid; error_log stderr; events {{}}\n"
                                         f"http {{ access_log off; include {tmp_path}/site.conf; }}\n")
    proc = subprocess.run([nginx, "-t", "-p", str(tmp_path), "-c", str(tmp_path / "nginx.conf"),
                           "-e", "stderr"], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert "location = /submit" in site and "X-Forwarded-Proto $scheme" in site


def test_site_config_refuses_a_value_left_out():
    with pytest.raises(units.SetupError, match="no value for @KEY@"):
        units.site_config({"SERVER_NAME": "a", "LISTEN": "443", "CERT": "/c", "UPSTREAMS": "server a:1;"})
