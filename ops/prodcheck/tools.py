"""The programs the production topology runs, found on this machine or named in one clear line.

`make prod-check` installs the Debian packages first (ops/prodcheck/debian-packages.sh); these
checks catch what is still missing, or a --pg-bindir that holds no PostgreSQL.
"""
from __future__ import annotations

import importlib.util
import shutil
from dataclasses import dataclass
from pathlib import Path

import pyspark

from ops.prodcheck.errors import SetupError
from ops.prodcheck.postgres import postgres_bindir

SBIN = "/usr/sbin:/sbin"
# The Python packages of pyproject.toml's `prod` extra the topology uses (module -> pip name).
PROD_MODULES = {"psycopg": "psycopg", "redis": "redis"}   # nginx lives here on Debian; not on every user's PATH


@dataclass(frozen=True)
class Tools:
    pg_bin: Path
    nginx: str
    redis: str
    openssl: str
    chromium: str
    spark_home: Path

    @property
    def spark_class(self) -> Path:
        return self.spark_home / "bin" / "spark-class"

    @property
    def spark_submit(self) -> Path:
        return self.spark_home / "bin" / "spark-submit"


def program(name: str, package: str) -> str:
    """The path of a program (PATH, then /usr/sbin and /sbin), or SetupError naming its Debian package."""
    found = shutil.which(name) or shutil.which(name, path=SBIN)
    if not found:
        raise SetupError(f"no {name}: not found on PATH (apt-get install {package})")
    return found


def find_tools(pg_bindir: str | None = None) -> Tools:
    """Every program prod-check needs, or SetupError for the first one missing."""
    for module, package in PROD_MODULES.items():
        if importlib.util.find_spec(module) is None:
            raise SetupError(f"no Python package {package} (the prod extra): pip install -e '.[prod]' "
                             "(make install does)")
    if not shutil.which("java"):
        raise SetupError("no Java: java not found on PATH; Elasticsearch and Spark need Java 17+ "
                         "(apt-get install openjdk-17-jdk-headless)")
    spark_home = Path(pyspark.__file__).parent
    if not (spark_home / "bin" / "spark-class").exists():
        raise SetupError(f"pyspark at {spark_home} has no bin/spark-class: reinstall pyspark")
    return Tools(pg_bin=postgres_bindir(pg_bindir), nginx=program("nginx", "nginx"),
                 redis=program("redis-server", "redis-server"), openssl=program("openssl", "openssl"),
                 chromium=program("chromium", "chromium"), spark_home=spark_home)
