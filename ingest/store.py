"""Group commit of accepted uploads: many requests, one transaction, one fsync.

One durable INSERT per request would cost one fsync each, capping a server at the disk's fsync
rate (docs/benchmarks.md, Anchors). Here every process has one writer thread: request threads
hand it their row and wait on a future; the writer takes everything queued, inserts it in ONE
transaction and resolves the futures only after COMMIT returned. Nothing is acknowledged
before it is on disk, and while one commit is in flight the next group gathers by itself (no
timer, so an idle server adds no latency). A duplicate (device_id, sha256) is skipped by the
database (ON CONFLICT DO NOTHING), so resends and races between processes store one row.

On SQLite the writer's connection does not checkpoint the WAL inside its commits (that would
copy megabytes into the database file while requests wait); a background thread per process
checkpoints every CRAYFIS_INGEST_CHECKPOINT_S instead (PASSIVE: it never blocks the writer).

Several processes (gunicorn workers) each have a writer; on SQLite they take turns through an
exclusive file lock beside the database before BEGIN IMMEDIATE. The kernel hands the lock over
at once, whereas SQLite's own busy handler polls with sleeps of up to 100 ms, which waiting
writers would add to the tail latency.

When the caller already runs inside a transaction (a test case, a management command) the row
is written in that transaction instead: a writer thread could not see or wait for it.
"""
from __future__ import annotations

import asyncio
import fcntl
import logging
import os
import queue
import threading
import time
from concurrent.futures import Future
from dataclasses import dataclass

from django.conf import settings
from django.db import close_old_connections, connection, transaction

from ingest.models import Upload

logger = logging.getLogger(__name__)

_COLUMNS = ("device_id", "sha256", "body", "size", "received_at", "remote_addr", "run_id",
            "camera_id", "crayfis_version", "crayfis_version_code", "app_code", "hash_code",
            "unlinked", "status", "attempts", "error", "payload_format", "client_upload_id")


@dataclass(slots=True)
class UploadRow:
    """What the request path commits (the Upload columns it owns)."""

    device_id: str
    sha256: str
    body: bytes
    received_at: object          # aware datetime
    remote_addr: str = ""
    run_id: str = ""
    camera_id: str = ""
    crayfis_version: str = ""
    crayfis_version_code: str = ""
    app_code: str = ""
    hash_code: str = ""
    unlinked: bool = False
    payload_format: str = "protobuf"     # "json-v1" for /api/v1/uploads
    client_upload_id: str | None = None  # JSON uploads: the client's upload_id

    def values(self) -> tuple:
        received = connection.ops.adapt_datetimefield_value(self.received_at)
        return (self.device_id, self.sha256, self.body, len(self.body), received, self.remote_addr,
                self.run_id, self.camera_id, self.crayfis_version, self.crayfis_version_code,
                self.app_code, self.hash_code, self.unlinked, "pending", 0, "", self.payload_format,
                self.client_upload_id)


class StoreUnavailable(RuntimeError):
    """The row could not be committed in time; the caller answers 503 and the phone resends."""


def _insert_sql() -> str:
    table = connection.ops.quote_name(Upload._meta.db_table)
    cols = ", ".join(connection.ops.quote_name(c) for c in _COLUMNS)
    marks = ", ".join(["%s"] * len(_COLUMNS))
    # Both SQLite (>= 3.24) and PostgreSQL spell the idempotent insert the same way.
    return f"INSERT INTO {table} ({cols}) VALUES ({marks}) ON CONFLICT (device_id, sha256) DO NOTHING"


def insert_rows(rows: list[UploadRow]) -> None:
    """Insert rows in the current connection's transaction (duplicates are skipped)."""
    sql = _insert_sql()
    with connection.cursor() as cursor:
        cursor.executemany(sql, [row.values() for row in rows])


class _WritersTurn:
    """An exclusive flock on `<database>.writer-lock`, taken around each SQLite write transaction."""

    def __init__(self):
        self._fd: int | None = None
        self._path: str | None = None

    def __enter__(self):
        if connection.vendor != "sqlite" or connection.is_in_memory_db():
            return self
        path = f"{connection.settings_dict['NAME']}.writer-lock"
        if self._fd is None or self._path != path:
            self._fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
            self._path = path
        fcntl.flock(self._fd, fcntl.LOCK_EX)
        return self

    def __exit__(self, *exc):
        if self._fd is not None and connection.vendor == "sqlite" and not connection.is_in_memory_db():
            fcntl.flock(self._fd, fcntl.LOCK_UN)
        return False


_turn = _WritersTurn()


def _writers_turn() -> _WritersTurn:
    return _turn


class GroupCommitWriter:
    """A per-process writer thread that commits queued rows in groups."""

    def __init__(self, max_rows: int, max_bytes: int):
        self.max_rows = max_rows
        self.max_bytes = max_bytes
        # (row, waiter): a concurrent Future (thread callers) or a _LoopWaiter (asyncio callers)
        self._queue: queue.SimpleQueue[tuple[UploadRow, object]] = queue.SimpleQueue()
        self._pid = os.getpid()
        self.groups = 0           # commits done (for the benchmark's group-size figure)
        self.rows = 0
        self._thread = threading.Thread(target=self._run, name="upload-group-commit", daemon=True)
        self._thread.start()
        self._tuned_connection = None
        if connection.vendor == "sqlite" and settings.CRAYFIS_INGEST_CHECKPOINT_S > 0:
            threading.Thread(target=self._checkpoint_loop, args=(settings.CRAYFIS_INGEST_CHECKPOINT_S,),
                             name="upload-wal-checkpoint", daemon=True).start()

    def _tune_connection(self) -> None:
        """On SQLite, leave WAL checkpoints to the checkpoint thread (once per new connection)."""
        if connection.vendor != "sqlite" or settings.CRAYFIS_INGEST_CHECKPOINT_S <= 0:
            return
        connection.ensure_connection()
        raw = connection.connection
        if raw is not self._tuned_connection:
            raw.execute("PRAGMA wal_autocheckpoint=0")
            self._tuned_connection = raw

    def _checkpoint_loop(self, every_s: float) -> None:
        while True:
            time.sleep(every_s)
            try:
                close_old_connections()
                with connection.cursor() as cursor:
                    cursor.execute("PRAGMA wal_checkpoint(PASSIVE)")
            except Exception:  # a busy or restarting database: try again next round
                logger.debug("WAL checkpoint skipped", exc_info=True)

    def submit(self, row: UploadRow) -> Future:
        fut: Future = Future()
        self._queue.put((row, fut))
        return fut

    def _take_group(self) -> list[tuple[UploadRow, Future]]:
        group = [self._queue.get()]
        size = len(group[0][0].body)
        while len(group) < self.max_rows and size < self.max_bytes:
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                break
            group.append(item)
            size += len(item[0].body)
        return group

    def _run(self) -> None:
        while True:
            group = self._take_group()
            try:
                self._commit(group)
            except Exception:  # keep the writer alive whatever happens
                logger.exception("group commit failed")

    def _commit(self, group: list[tuple[UploadRow, Future]]) -> None:
        close_old_connections()
        try:
            self._tune_connection()
            with _writers_turn(), transaction.atomic():
                insert_rows([row for row, _ in group])
        except Exception as exc:
            logger.warning("group of %d failed (%s); committing rows one by one", len(group), exc)
            self._commit_singly(group)
            return
        self.groups += 1
        self.rows += len(group)
        _settle([(waiter, None) for _, waiter in group])

    def _commit_singly(self, group: list[tuple[UploadRow, Future]]) -> None:
        """A failed group is retried row by row, so one bad row cannot fail its neighbours."""
        outcomes = []
        for row, waiter in group:
            try:
                close_old_connections()
                with _writers_turn(), transaction.atomic():
                    insert_rows([row])
            except Exception as exc:
                outcomes.append((waiter, StoreUnavailable(f"{type(exc).__name__}: {exc}")))
            else:
                outcomes.append((waiter, None))
        _settle(outcomes)


class _LoopWaiter:
    """An asyncio future waiting on the writer, with the event loop it belongs to."""

    __slots__ = ("loop", "future")

    def __init__(self, loop: asyncio.AbstractEventLoop):
        self.loop = loop
        self.future = loop.create_future()


def _settle(outcomes: list) -> None:
    """Resolve waiters after their commit: thread futures directly, asyncio futures with ONE
    call_soon_threadsafe per event loop per group (one wake-up of the loop, not one per row)."""
    by_loop: dict = {}
    for waiter, exc in outcomes:
        if isinstance(waiter, _LoopWaiter):
            by_loop.setdefault(waiter.loop, []).append((waiter.future, exc))
        elif exc is None:
            waiter.set_result(True)
        else:
            waiter.set_exception(exc)
    for loop, pairs in by_loop.items():
        try:
            loop.call_soon_threadsafe(_settle_on_loop, pairs)
        except RuntimeError:  # the loop closed (worker shutting down): nobody is waiting any more
            pass


def _settle_on_loop(pairs: list) -> None:
    for future, exc in pairs:
        if future.done():  # timed out and cancelled: the phone got a 503 and will resend
            continue
        if exc is None:
            future.set_result(True)
        else:
            future.set_exception(exc)


_writer: GroupCommitWriter | None = None
_writer_lock = threading.Lock()


def _get_writer() -> GroupCommitWriter:
    """The process's writer, started on first use (after gunicorn's fork, never before)."""
    global _writer
    if _writer is None or _writer._pid != os.getpid():
        with _writer_lock:
            if _writer is None or _writer._pid != os.getpid():
                _writer = GroupCommitWriter(settings.CRAYFIS_INGEST_GROUP_MAX_ROWS,
                                            settings.CRAYFIS_INGEST_GROUP_MAX_BYTES)
    return _writer


def commit_upload(row: UploadRow) -> None:
    """Return only once the row (or an identical earlier one) is durably committed.

    Raises StoreUnavailable when that cannot be done within CRAYFIS_INGEST_COMMIT_TIMEOUT_S
    (kept below the app's 5 s read timeout, so the phone gets a 503 rather than a timeout).
    """
    if connection.in_atomic_block or not settings.CRAYFIS_INGEST_GROUP_COMMIT:
        try:
            with transaction.atomic():
                insert_rows([row])
        except Exception as exc:
            raise StoreUnavailable(f"{type(exc).__name__}: {exc}") from exc
        return
    fut = _get_writer().submit(row)
    try:
        fut.result(timeout=settings.CRAYFIS_INGEST_COMMIT_TIMEOUT_S)
    except TimeoutError as exc:
        raise StoreUnavailable("commit timed out") from exc


async def commit_upload_async(row: UploadRow) -> None:
    """commit_upload for code on an event loop (ingest/asgi.py): the loop is never blocked."""
    loop = asyncio.get_running_loop()
    if not settings.CRAYFIS_INGEST_GROUP_COMMIT:
        await loop.run_in_executor(None, _commit_in_thread, row)
        return
    waiter = _LoopWaiter(loop)
    _get_writer()._queue.put((row, waiter))
    try:
        await asyncio.wait_for(waiter.future, settings.CRAYFIS_INGEST_COMMIT_TIMEOUT_S)
    except TimeoutError as exc:
        raise StoreUnavailable("commit timed out") from exc


def _commit_in_thread(row: UploadRow) -> None:
    try:
        commit_upload(row)
    finally:
        close_old_connections()


def writer_stats() -> dict:
    """Groups and rows committed by this process's writer (0 when it never started)."""
    if _writer is None:
        return {"groups": 0, "rows": 0}
    return {"groups": _writer.groups, "rows": _writer.rows}
