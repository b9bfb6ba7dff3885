"""Class-data sharing for the driver JVM: the classes a session loads, kept in an archive on
disk and mapped by the next JVM instead of being read from Spark's jars and verified again.

A new session's JVM loads and verifies thousands of classes (Spark, Scala, Netty, Arrow,
Janino) before the first task; with an archive of them (HotSpot's dynamic AppCDS,
``-XX:SharedArchiveFile``) the JVM maps them ready-made. The first session without an archive
writes it when its JVM exits (``-XX:ArchiveClassesAtExit``; that exit takes longer), a lock
file making sure only one JVM at a time writes it. The archive is keyed by the Java runtime,
Spark's jars and where they are, so another JDK, another pyspark or another virtualenv gets its
own. A JVM that cannot use an archive (another classpath or flags) runs without one, as before.
The JVM's unified-logging warnings, CDS's among them, are turned off with these options (errors
still go to stderr): a JVM that writes or cannot use an archive would otherwise print hundreds
of lines on the job's stdout.

Where: ``$XDG_CACHE_HOME/crayfis/spark-cds`` (else ``~/.cache/...``), or the temp directory if
that is not writable, as numba's cache (``crayfis/coincidence/compiled.py``). Delete the
directory to rebuild. Needs a JDK 13 or newer (``release`` file of the Java home); with an
older or unknown one nothing changes.
"""
from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
import time
from pathlib import Path

from crayfis.cache_dirs import is_writable_dir

MIN_JAVA = 13  # first JDK with -XX:ArchiveClassesAtExit
STALE_LOCK_S = 600  # a writer's lock older than this, with no archive, was left by a dead JVM
QUIET = "-Xlog:disable -Xlog:all=error:stderr"  # no CDS warnings on the job's stdout


def java_home() -> Path | None:
    """The Java home spark-submit will use: JAVA_HOME, else the ``java`` on PATH."""
    if os.environ.get("JAVA_HOME"):
        return Path(os.environ["JAVA_HOME"])
    java = shutil.which("java")
    return Path(os.path.realpath(java)).parent.parent if java else None


def java_release(home: Path) -> tuple[int, str] | None:
    """(feature version, the release file's text) of a Java home, None if unknown."""
    try:
        text = (home / "release").read_text()
    except OSError:
        return None
    for line in text.splitlines():
        if line.startswith("JAVA_VERSION="):
            version = line.split("=", 1)[1].strip().strip('"')
            major = version.split(".")[0]
            if major == "1":  # 1.8.0_x
                major = version.split(".")[1]
            return (int(major), text) if major.isdigit() else None
    return None


def archive_key(release: str, spark_home: str) -> str:
    """Digest of the Java runtime's release file and Spark's jars (their directory, names and
    sizes). The directory counts: the JVM maps an archive only for the class path it was
    written with, and silently ignores one written from a copy of the same jars elsewhere
    (another virtualenv or checkout)."""
    digest = hashlib.sha256(release.encode())
    jars = (Path(spark_home) / "jars").resolve()
    digest.update(f"{jars}\n".encode())
    for jar in sorted(jars.glob("*.jar")) if jars.is_dir() else []:
        digest.update(f"{jar.name}:{jar.stat().st_size}\n".encode())
    return digest.hexdigest()[:16]


def archive_dir() -> Path:
    user = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "crayfis" / "spark-cds"
    if is_writable_dir(user):
        return user
    return Path(tempfile.gettempdir()) / f"crayfis-spark-cds-{os.getuid()}"


def _take_lock(lock: Path) -> bool:
    """Whether this process may have its JVM write the archive (module doc)."""
    try:
        if time.time() - lock.stat().st_mtime > STALE_LOCK_S:
            lock.unlink(missing_ok=True)
    except OSError:
        pass
    try:
        os.close(os.open(lock, os.O_CREAT | os.O_EXCL | os.O_WRONLY))
    except OSError:
        return False
    return True


def driver_java_options(spark_home: str) -> str:
    """JVM options for the driver: use the archive, or write it at exit, or '' (module doc)."""
    home = java_home()
    found = java_release(home) if home is not None else None
    if found is None or found[0] < MIN_JAVA:
        return ""
    directory = archive_dir()
    if not is_writable_dir(directory):
        return ""
    archive = directory / f"{archive_key(found[1], spark_home)}.jsa"
    if archive.exists():
        return f"-XX:SharedArchiveFile={archive} {QUIET}"
    if _take_lock(archive.with_suffix(".lock")):
        return f"-XX:ArchiveClassesAtExit={archive} {QUIET}"
    return ""
