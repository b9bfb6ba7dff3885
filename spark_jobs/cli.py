"""Shared command-line pieces for the Spark jobs: one-line errors, time and input arguments."""
from __future__ import annotations

import argparse
import datetime as dt
import os
import sys

from spark_jobs.job_config import NO_STAGING
from spark_jobs.parquet_files import local_parquet_files


class UserError(Exception):
    """A problem the user can fix (bad input path, ES not reachable): one line, no traceback."""


class OneLineParser(argparse.ArgumentParser):
    """argparse that reports a bad argument in one line (no usage dump) and exits 2."""

    def error(self, message: str):
        self.exit(2, f"{self.prog}: error: {message}\n")


def parse_time(text: str) -> int:
    """ISO 8601 (naive = UTC) or integer Unix ms -> Unix ms."""
    text = text.strip()
    if text.lstrip("-").isdigit():
        return int(text)
    value = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.UTC)
    return int(round(value.timestamp() * 1000))


def iso_time(text: str) -> int:
    try:
        return parse_time(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an ISO 8601 time or Unix ms: {text!r}") from None


def positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an integer: {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1: {value}")
    return value


def non_negative_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an integer: {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be >= 0: {value}")
    return value


def positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not (value > 0 and value < float("inf")):
        raise argparse.ArgumentTypeError(f"must be a finite number > 0: {text}")
    return value


def check_input(spec: str, es_url: str) -> None:
    """Fail fast (before Spark starts) on a missing local path, a local directory without
    files (``parquet_files.local_parquet_files``) or an unreachable ES."""
    if spec.startswith("es://"):
        if not spec[5:]:
            raise UserError("es:// needs an index pattern, e.g. es://crayfis-hits-*")
        from elasticsearch import Elasticsearch  # here: Parquet input never loads the client

        es = Elasticsearch(es_url, request_timeout=10, max_retries=0)
        try:
            es.cluster.health()
        except Exception as exc:  # any transport or auth failure is the user's to fix
            raise UserError(f"Elasticsearch at {es_url} does not answer: {type(exc).__name__}") from None
        finally:
            es.close()
    elif "://" not in spec and not os.path.exists(spec):
        raise UserError(f"input not found: {spec}")
    elif local_parquet_files(spec) == []:
        raise UserError(f"no Parquet files under {spec}")


def check_stage_dir(folder: str | None) -> None:
    """Fail fast on an ``--es-stage-dir`` this process cannot write into (None: none given)."""
    if not folder or folder == NO_STAGING:
        return
    try:
        os.makedirs(folder, exist_ok=True)
    except OSError as exc:
        raise UserError(f"--es-stage-dir {folder}: {exc.strerror or exc}") from None
    if not os.access(folder, os.W_OK | os.X_OK):
        raise UserError(f"--es-stage-dir {folder}: not writable")


def run_main(prog: str, body) -> int:
    """Run ``body()``; UserError -> one line on stderr and exit status 1."""
    try:
        return body() or 0
    except UserError as exc:
        print(f"{prog}: error: {exc}", file=sys.stderr)
        return 1


def exit_now(status: int) -> None:
    """End a batch command's process with ``status`` once its output is flushed, without the
    interpreter's teardown: finalising the modules a job loads (numba's compiled code, pyarrow,
    pyspark) costs a cold run about half a second after its work is done and its files are
    closed. A driver JVM this process started stops by itself when its standard input closes
    (pyspark's gateway), as it does after a normal exit."""
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(status)
