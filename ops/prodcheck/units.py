"""The commands of deploy/systemd/*.service, as prod-check runs them on this machine.

prod-check starts the web server, the indexers and the search from the very ExecStartPre= and
ExecStart= lines an operator installs, so the unit files are tested with the rest: the unit's
/srv/crayfis/venv becomes this checkout's virtualenv and its WorkingDirectory this checkout.
"""
from __future__ import annotations

import shlex
from dataclasses import dataclass
from pathlib import Path

from ops.prodcheck.errors import SetupError

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
UNIT_VENV = "/srv/crayfis/venv"


@dataclass(frozen=True)
class UnitCommands:
    pre: list[list[str]]
    start: list[str]


def unit_commands(unit: str, venv: Path, deploy: Path = DEPLOY) -> UnitCommands:
    """ExecStartPre= and ExecStart= of deploy/systemd/<unit>, with the venv path localised."""
    path = deploy / "systemd" / unit
    try:
        lines = path.read_text().splitlines()
    except OSError as exc:
        raise SetupError(f"cannot read {path}: {exc.strerror}") from None
    pre, start = [], None
    for line in lines:
        key, _, value = line.partition("=")
        if key.strip() in ("ExecStartPre", "ExecStart"):
            argv = [_localise(word, venv) for word in shlex.split(value)]
            if key.strip() == "ExecStart":
                start = argv
            else:
                pre.append(argv)
    if start is None:
        raise SetupError(f"{path} has no ExecStart= line")
    return UnitCommands(pre, start)


def _localise(word: str, venv: Path) -> str:
    return str(venv) + word[len(UNIT_VENV):] if word.startswith(UNIT_VENV + "/") else word


def site_config(values: dict[str, str], deploy: Path = DEPLOY) -> str:
    """deploy/nginx-crayfis.conf with every @NAME@ replaced; SetupError if one is left."""
    text = (deploy / "nginx-crayfis.conf").read_text()
    for name, value in values.items():
        text = text.replace(f"@{name}@", value)
    body = "\n".join(line for line in text.splitlines() if not line.lstrip().startswith("#"))
    if "@" in body:
        left = sorted({word for word in body.split() if word.startswith("@")})
        raise SetupError(f"deploy/nginx-crayfis.conf: no value for {', '.join(left)}")
    return text
