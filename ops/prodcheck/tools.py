"""The programs the production topology runs, found on this machine or named in one clear line.

`make prod-check` installs the Debian packages first (ops/prodcheck/debian-packages.sh); these
checks catch what is still missing, or a --pg-bindir that holds no PostgreSQL.
"""
from __future__ import annotations

import glob
import shutil
from dataclasses import dataclass
from pathlib import Path

import pyspark

from ops.prodcheck.errors import SetupError

SBIN = "/usr/sbin:/sbin"   # nginx lives here on Debian; not on every user's PATH


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


def _program(name: str, package: str) -> str:
    found = shutil.which(name) or shutil.which(name, path=SBIN)
    if not found:
        raise SetupError(f"no {name}: not found on PATH (apt-get install {package})")
    return found


def find_tools(pg_bindir: str | None = None) -> Tools:
    """Every program prod-check needs, or SetupError for the first one missing."""
    if not shutil.which("java"):
        raise SetupError("no Java: java not found on PATH; Elasticsearch and Spark need Java 17+ "
                         "(apt-get install openjdk-17-jdk-headless)")
    spark_home = Path(pyspark.__file__).parent
    if not (spark_home / "bin" / "spark-class").exists():
        raise SetupError(f"pyspark at {spark_home} has no bin/spark-class: reinstall pyspark")
    return Tools(pg_bin=postgres_bindir(pg_bindir), nginx=_program("nginx", "nginx"),
                 redis=_program("redis-server", "redis-server"), openssl=_program("openssl", "openssl"),
                 chromium=_program("chromium", "chromium"), spark_home=spark_home)
