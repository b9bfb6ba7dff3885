"""The driver JVM's class-data sharing archive: written by one JVM, then used by the next."""
from __future__ import annotations

import os
from pathlib import Path

from spark_jobs import class_sharing
from spark_jobs.class_sharing import driver_java_options, java_release


def fake_java_home(root: Path, version: str) -> Path:
    home = root / "jdk"
    (home / "bin").mkdir(parents=True)
    (home / "release").write_text(f'IMPLEMENTOR="x"\nJAVA_VERSION="{version}"\n')
    return home


def spark_home(root: Path) -> str:
    (root / "spark" / "jars").mkdir(parents=True)
    (root / "spark" / "jars" / "spark-core.jar").write_bytes(b"jar")
    return str(root / "spark")


def test_first_jvm_writes_the_archive_one_at_a_time_then_all_use_it(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.setenv("JAVA_HOME", str(fake_java_home(tmp_path, "17.0.15")))
    home = spark_home(tmp_path)
    writer = driver_java_options(home)
    assert writer.startswith("-XX:ArchiveClassesAtExit=")
    archive = Path(writer.split()[0].split("=", 1)[1])
    assert archive.parent == tmp_path / "cache" / "crayfis" / "spark-cds"
    assert driver_java_options(home) == ""  # another JVM is writing it
    archive.write_bytes(b"archive")  # the writer's JVM exits
    assert driver_java_options(home).startswith(f"-XX:SharedArchiveFile={archive} ")
    # other jars: another archive
    (Path(home) / "jars" / "spark-sql.jar").write_bytes(b"jar")
    assert driver_java_options(home).startswith("-XX:ArchiveClassesAtExit=")


def test_the_same_jars_elsewhere_get_their_own_archive(tmp_path, monkeypatch):
    # the JVM ignores an archive written for another class path without a word (another
    # virtualenv or checkout with the same pyspark): before the fix both got one key and the
    # second copy ran without class sharing
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.setenv("JAVA_HOME", str(fake_java_home(tmp_path, "17.0.15")))
    first, second = spark_home(tmp_path / "a"), spark_home(tmp_path / "b")
    written = Path(driver_java_options(first).split()[0].split("=", 1)[1])
    written.write_bytes(b"archive")
    assert driver_java_options(first).startswith(f"-XX:SharedArchiveFile={written} ")
    assert driver_java_options(second).startswith("-XX:ArchiveClassesAtExit=")


def test_a_dead_writers_lock_expires(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.setenv("JAVA_HOME", str(fake_java_home(tmp_path, "17.0.15")))
    home = spark_home(tmp_path)
    archive = Path(driver_java_options(home).split()[0].split("=", 1)[1])
    old = os.stat(archive.with_suffix(".lock")).st_mtime - class_sharing.STALE_LOCK_S - 1
    os.utime(archive.with_suffix(".lock"), (old, old))
    assert driver_java_options(home).startswith("-XX:ArchiveClassesAtExit=")


def test_old_or_unknown_java_gets_no_options(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.setenv("JAVA_HOME", str(fake_java_home(tmp_path, "1.8.0_392")))
    assert java_release(tmp_path / "jdk")[0] == 8
    assert driver_java_options(spark_home(tmp_path)) == ""
    monkeypatch.setenv("JAVA_HOME", str(tmp_path / "nowhere"))
    assert driver_java_options(str(tmp_path / "spark")) == ""
