"""Child processes of prod-check: started with their output in a log file, stopped by their pid.

Every service runs in its own session (process group), so stopping or killing it reaches the
processes it started too (gunicorn's workers, a Spark worker's executor and Python workers) and
nothing else. `Supervisor.teardown` stops everything still running, newest first; it runs on
success, on failure and on Ctrl-C.
"""
from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from ops.prodcheck.errors import SetupError


@dataclass
class RunAs:
    """An unprivileged account to run a program as (used when prod-check runs as root)."""

    name: str
    uid: int
    gid: int

    def popen_kwargs(self) -> dict:
        return {"user": self.uid, "group": self.gid, "extra_groups": []}

    def chown(self, *paths: Path) -> None:
        for path in paths:
            for root, dirs, files in os.walk(path):
                os.chown(root, self.uid, self.gid)
                for name in dirs + files:
                    os.chown(os.path.join(root, name), self.uid, self.gid, follow_symlinks=False)


@dataclass
class Service:
    """One long-running child: argv, environment, log file; start, stop, kill, restart."""

    name: str
    argv: list[str]
    log_path: Path
    env: dict[str, str] | None = None
    cwd: Path | None = None
    run_as: RunAs | None = None
    proc: subprocess.Popen | None = field(default=None, repr=False)
    starts: int = 0

    def start(self) -> Service:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        kwargs = self.run_as.popen_kwargs() if self.run_as else {}
        with open(self.log_path, "ab") as log:
            try:
                self.proc = subprocess.Popen(self.argv, stdout=log, stderr=subprocess.STDOUT,
                                             stdin=subprocess.DEVNULL, env=self.env,
                                             cwd=str(self.cwd) if self.cwd else None,
                                             start_new_session=True, **kwargs)
            except OSError as exc:
                raise SetupError(f"{self.name}: cannot run {self.argv[0]}: {exc.strerror}") from None
        self.starts += 1
        return self

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc else None

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def _signal_session(self, sig: int) -> None:
        """The signal to every process of the service's session (its group, and any process a
        child moved to a group of its own, e.g. a Spark executor's Python daemon)."""
        if self.proc is None:
            return
        pids = {pid for pid, _ in session_processes(self.proc.pid)}
        if self.proc.poll() is None:   # never signal a reaped pid: it may belong to someone else now
            pids.add(self.proc.pid)
        for pid in pids:
            try:
                os.kill(pid, sig)
            except (ProcessLookupError, PermissionError):
                pass

    def kill(self) -> None:
        """SIGKILL to the whole session: no shutdown handler runs (a crash)."""
        self._signal_session(signal.SIGKILL)
        if self.proc is not None:
            self.proc.wait()

    def stop(self, timeout: float = 20.0) -> None:
        """SIGTERM to the main process (it stops its own children), then SIGKILL to the session."""
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                pass
        self._signal_session(signal.SIGKILL)  # stragglers of the session, if any
        self.proc.wait()

    def tail(self, lines: int = 5) -> str:
        try:
            text = self.log_path.read_text(errors="replace").strip().splitlines()
        except OSError:
            return ""
        return " | ".join(text[-lines:])


class Supervisor:
    """The services and clean-up steps of one prod-check run, undone newest first."""

    def __init__(self, progress: Callable[[str], None]):
        self.progress = progress
        self.services: dict[str, Service] = {}
        self._undo: list[tuple[str, Callable[[], None]]] = []

    def run(self, service: Service) -> Service:
        self.services[service.name] = service.start()
        self._undo.append((service.name, service.stop))
        return service

    def started_anything(self) -> bool:
        return bool(self._undo) or bool(self.services)

    def on_teardown(self, name: str, undo: Callable[[], None]) -> None:
        self._undo.append((name, undo))

    def expect_running(self, *names: str) -> None:
        """SetupError naming the first of these services that has exited, with its last log lines."""
        for name in names:
            svc = self.services[name]
            if not svc.alive():
                raise SetupError(f"{name} exited (status {svc.proc.returncode}): {svc.tail(3)} "
                                 f"(log: {svc.log_path})")

    def teardown(self) -> None:
        while self._undo:
            name, undo = self._undo.pop()
            try:
                undo()
            except Exception as exc:  # keep tearing down the rest whatever one step does
                self.progress(f"teardown: {name}: {type(exc).__name__}: {exc}")


def wait_until(condition: Callable[[], object], timeout: float, what: str, every: float = 0.5,
               alive: Callable[[], None] | None = None):
    """condition()'s first truthy value; SetupError after timeout. alive() may raise meanwhile."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if alive is not None:
            alive()
        if time.monotonic() > deadline:
            raise SetupError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(every)


def session_processes(sid: int) -> list[tuple[int, str]]:
    """(pid, command line) of every process in session sid (Linux /proc)."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
            # Fields after the parenthesised command: state ppid pgrp session ...
            session = int(stat.rsplit(")", 1)[1].split()[3])
            if session != sid:
                continue
            cmdline = Path(f"/proc/{entry}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except (OSError, IndexError, ValueError):
            continue
        found.append((int(entry), cmdline.strip()))
    return found
