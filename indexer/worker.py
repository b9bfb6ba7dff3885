"""The indexer: pending uploads -> decoded records -> Elasticsearch, each upload exactly once.

Exactly once comes from two rules together. (1) Claims: a process takes a batch of pending rows
by stamping them with its owner name and a lease (a conditional UPDATE inside one write
transaction; SELECT ... FOR UPDATE SKIP LOCKED on PostgreSQL), so several indexers never share a
batch, and a crashed indexer's rows become claimable when the lease runs out (a process that
lives through a database error gives back the rows it claimed and dropped, and one that stops
gives back all it holds, so the lease is left to processes that died). (2) Documents have
deterministic ids and go in with op_type=create, so if a lease did run out and two processes
sent the same upload, the second copy is answered 409 and counts as done.

An upload is marked `indexed` only after Elasticsearch acknowledged every one of its documents
and its hits are staged in the Parquet archive (indexer/archive.py says why that order makes the
archive exactly-once too).
Elasticsearch unreachable -> the batch is kept and retried with capped exponential backoff
(nothing is lost, nothing counts against the upload). A document rejected for good (a 4xx other
than 409/429), or an upload whose documents keep failing, or a body that does not decode ->
`quarantined` with the error; the rest of the queue goes on. So is an upload whose times fall
outside the event-time window (ingest/event_window.py) unless an operator released it, with the
reason; and a precalibration map counts as no later than the time its upload was received.
"""
from __future__ import annotations

import gc
import logging
import os
import socket
import threading
import time
import traceback
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field

import numpy as np
from django.conf import settings
from django.db import DatabaseError, close_old_connections, connection, transaction
from django.db.models import Q
from django.utils import timezone
from elasticsearch import ApiError, Elasticsearch, TransportError

from accounts import pairing, trust
from crayfis.archive.rows import HitColumns, hit_columns
from crayfis.es.documents import build_actions
from crayfis.es.naming import DATED_KINDS
from crayfis.es.templates import ensure_templates
from crayfis.wire import jsonapi
from crayfis.wire.decode import WireDecodeError, decode_submit
from crayfis.wire.records import DecodedChunk
from indexer.archive import archive_from_settings, batch_key
from indexer.bulk import bulk_send, create_lines
from indexer.esjson import fast_serializers
from indexer.morphology import hit_classes, label_hits
from ingest.devices import pseudonym_of
from ingest.event_window import EventWindow
from ingest.models import Device, PreCalibration, TouchedBucket, Upload, UploadStatus
from ingest.quarantine import HELD_BACK

logger = logging.getLogger(__name__)

_RETRYABLE_STATUS = {429, 500, 502, 503, 504}


def now_ms() -> int:
    return time.time_ns() // 1_000_000


@dataclass
class IndexerConfig:
    """Knobs of one indexer process; `from_settings` fills every one from the settings
    (CRAYFIS_ES_*, CRAYFIS_PSEUDONYM_KEY, CRAYFIS_INDEXER_*, CRAYFIS_INGEST_BUCKET_MS, the
    event-time window's CRAYFIS_INGEST_MAX_* and CRAYFIS_ARCHIVE_DIR), which hold the defaults.
    An empty archive_dir writes no archive."""

    prefix: str
    pseudonym_key: str
    replicas: int
    batch: int
    lease_s: float
    poll_s: float
    backoff_min_s: float
    backoff_max_s: float
    bulk_bytes: int
    max_attempts: int
    bucket_ms: int
    max_event_age_s: int
    max_event_lead_s: int
    max_months_per_upload: int
    morphology: bool   # classify every hit (indexer/morphology.py)
    archive_dir: str

    @classmethod
    def from_settings(cls, **overrides) -> IndexerConfig:
        """The settings' values, with the overrides that are not None in their place."""
        s = settings
        values = dict(prefix=s.CRAYFIS_ES_PREFIX, pseudonym_key=s.CRAYFIS_PSEUDONYM_KEY,
                      replicas=s.CRAYFIS_ES_REPLICAS, batch=s.CRAYFIS_INDEXER_BATCH,
                      lease_s=s.CRAYFIS_INDEXER_LEASE_S, poll_s=s.CRAYFIS_INDEXER_POLL_S,
                      backoff_min_s=s.CRAYFIS_INDEXER_BACKOFF_MIN_S, backoff_max_s=s.CRAYFIS_INDEXER_BACKOFF_MAX_S,
                      bulk_bytes=s.CRAYFIS_INDEXER_BULK_BYTES, max_attempts=s.CRAYFIS_INDEXER_MAX_ATTEMPTS,
                      bucket_ms=s.CRAYFIS_INGEST_BUCKET_MS, max_event_age_s=s.CRAYFIS_INGEST_MAX_EVENT_AGE_S,
                      max_event_lead_s=s.CRAYFIS_INGEST_MAX_EVENT_LEAD_S,
                      max_months_per_upload=s.CRAYFIS_INGEST_MAX_MONTHS_PER_UPLOAD,
                      morphology=s.CRAYFIS_INDEXER_MORPHOLOGY,
                      archive_dir=s.CRAYFIS_ARCHIVE_DIR)
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**values)

    @property
    def event_window(self) -> EventWindow:
        return EventWindow(max_age_ms=self.max_event_age_s * 1000, max_lead_ms=self.max_event_lead_s * 1000,
                           max_months=self.max_months_per_upload)


@dataclass
class Prepared:
    """One claimed upload, decoded, with its bulk actions."""

    upload_id: int
    device_id: str
    received_at: object
    attempts: int
    actions: list = field(default_factory=list)
    hit_times: np.ndarray | None = None
    precals: list = field(default_factory=list)
    app_code: str = ""
    cells: frozenset = frozenset()   # public cells of its exposure blocks (the device's history)
    received_ms: int = 0   # the server's receive time: a precalibration map's end counts no later
    archive_rows: HitColumns | None = None


@dataclass
class Batch:
    """A decoded batch ready to send: each distinct document once, with the uploads it belongs to."""

    prepared: list[Prepared]
    lines: list[bytes]          # NDJSON create pairs (indexer.bulk.create_lines)
    owners: list[list[int]]     # upload ids of each line


@dataclass
class Totals:
    """Running counts for progress logs and the benchmark."""

    indexed: int = 0
    quarantined: int = 0
    retried: int = 0
    docs: int = 0
    hits: int = 0
    es_outages: int = 0  # Elasticsearch or the archive did not answer

    def add(self, other: Totals) -> None:
        for name in self.__dataclass_fields__:
            setattr(self, name, getattr(self, name) + getattr(other, name))


@dataclass
class _Pipeline:
    """The run loop's state: the batch whose bulk request is in flight (with the future of its
    outcome), the batch Elasticsearch acknowledged but the database has not recorded yet, the
    size of the next claim, and whether a database error cut the last turn short."""

    claim_size: int
    inflight: tuple[Batch, Future] | None = None
    unmarked: tuple[Batch, tuple] | None = None
    interrupted: bool = False

    def held(self) -> list[int]:
        """The uploads this pipeline still carries (in flight, or acknowledged and unrecorded)."""
        return [p.upload_id for step in (self.inflight, self.unmarked) if step is not None
                for p in step[0].prepared]


@dataclass
class _Progress:
    """When the run loop last logged its progress, and the totals then."""

    every_s: float
    last_s: float
    logged: Totals


class Unavailable(RuntimeError):
    """A store the batch must reach did not answer: retry the whole batch later."""


class EsUnavailable(Unavailable):
    """Elasticsearch did not answer (connection refused, timeout)."""


class ArchiveUnavailable(Unavailable):
    """The archive could not be written (filesystem full, unreachable object store)."""


class HeldBack(Exception):
    """The upload decodes, but its event times fall outside the window: quarantine it with this reason."""


def _refresh_connection() -> None:
    """Drop a stale or broken database connection, unless the caller holds a transaction open."""
    if not connection.in_atomic_block:
        close_old_connections()


UPLOAD_FIELDS = ("id", "device_id", "body", "received_at", "run_id", "camera_id", "crayfis_version",
                 "crayfis_version_code", "attempts", "payload_format", "app_code", "released_at")


def received_ms_of(row: dict) -> int:
    return int(row["received_at"].timestamp() * 1000)


def decode_upload(row: dict) -> DecodedChunk:
    """The records of one stored upload (an Upload row as a dict of UPLOAD_FIELDS)."""
    if row.get("payload_format") == jsonapi.FORMAT:   # /api/v1/uploads: same records, JSON decoder
        return jsonapi.decode_upload(bytes(row["body"]), row["device_id"])
    headers = {"Device-id": row["device_id"], "Run-id": row["run_id"], "Camera-id": row["camera_id"],
               "Crayfis-version": row["crayfis_version"],
               "Crayfis-version-code": row["crayfis_version_code"]}
    return decode_submit(bytes(row["body"]), headers, with_pixels=False)


def default_owner() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{threading.get_ident() % 100000}"


@contextmanager
def fewer_collections(gen0: int = 200_000):
    """Raise the collector's young-generation threshold while indexing.

    A batch allocates several containers per event, all alive until the batch is recorded. At
    Python's default threshold the collector would run every few dozen events and re-scan these
    survivors each time; the count is allocations minus frees, so with a threshold above what two
    batches hold it rarely fires at all. Cycles are still collected, only later (at most `gen0`
    objects' worth).
    """
    old = gc.get_threshold()
    gc.set_threshold(max(old[0], gen0), *old[1:])
    try:
        yield
    finally:
        gc.set_threshold(*old)


def make_indexer_client(url: str | None = None) -> Elasticsearch:
    """A client for bulk writes: no transport retries (the indexer retries whole batches)."""
    # One node URL, and the indexer keeps its own backoff: the transport must not park the node
    # as dead for up to 30 s after it comes back.
    return Elasticsearch(url or settings.CRAYFIS_ES_URL, request_timeout=60, max_retries=0,
                         retry_on_timeout=False, dead_node_backoff_factor=0.0, max_dead_node_backoff=0.0,
                         serializers=fast_serializers())


class Indexer:
    """Claims, decodes and indexes uploads; see the module docstring for the guarantees."""

    def __init__(self, es: Elasticsearch, config: IndexerConfig | None = None, owner: str | None = None):
        self.es = es
        self.config = config or IndexerConfig.from_settings()
        self.owner = owner or default_owner()
        self.totals = Totals()
        self.archive = archive_from_settings(self.config.archive_dir)
        self._templates_ready = False
        self._backoff = self.config.backoff_min_s

    # --- claiming -----------------------------------------------------------------------------

    def _claimable(self, t_ms: int) -> Q:
        return Q(status=UploadStatus.PENDING) & (Q(claim_until_ms__isnull=True) | Q(claim_until_ms__lt=t_ms))

    def claim(self, limit: int | None = None) -> list[dict]:
        """Take up to `limit` (default `batch`) claimable uploads for this owner; returns their rows
        (with body)."""
        t = now_ms()
        until = t + int(self.config.lease_s * 1000)
        with transaction.atomic():
            qs = Upload.objects.filter(self._claimable(t)).order_by("id")
            if connection.features.has_select_for_update_skip_locked:
                qs = qs.select_for_update(skip_locked=True)
            ids = list(qs.values_list("id", flat=True)[: limit or self.config.batch])
            if not ids:
                return []
            Upload.objects.filter(Q(id__in=ids) & self._claimable(t)).update(
                claim_owner=self.owner, claim_until_ms=until)
        return list(Upload.objects.filter(id__in=ids, claim_owner=self.owner, status=UploadStatus.PENDING)
                    .order_by("id")
                    .values(*UPLOAD_FIELDS))

    def _renew(self, ids: list[int]) -> None:
        until = now_ms() + int(self.config.lease_s * 1000)
        Upload.objects.filter(id__in=ids, claim_owner=self.owner).update(claim_until_ms=until)

    # --- decoding -------------------------------------------------------------------------------

    def prepare(self, row: dict) -> Prepared:
        """Decode one upload and build its actions; raises for a poison upload, HeldBack for one
        outside the event-time window (unless released)."""
        chunk = decode_upload(row)
        received_ms = received_ms_of(row)
        actions = build_actions(chunk, prefix=self.config.prefix, key=self.config.pseudonym_key,
                                device_id=row["device_id"], received_ms=received_ms)
        hits_prefix = f"{self.config.prefix}-hits-"
        if self.config.morphology:
            label_hits(actions, hit_classes(bytes(row["body"]), chunk, row.get("payload_format")), hits_prefix)
        hit_times = np.fromiter((a["_source"]["t_ms"] for a in actions if a["_index"].startswith(hits_prefix)),
                                dtype=np.int64)
        if row.get("released_at") is None:
            reason = self.config.event_window.violation(chunk, hit_times, self._months(actions), received_ms)
            if reason:
                raise HeldBack(reason)
        exposures_prefix = f"{self.config.prefix}-exposures-"
        cells = frozenset(a["_source"]["cell"] for a in actions
                          if a["_index"].startswith(exposures_prefix) and a["_source"].get("cell"))
        archive_rows = (hit_columns(chunk, key=self.config.pseudonym_key, device_id=row["device_id"],
                                    upload=row["id"], received_ms=received_ms)
                        if self.archive is not None else None)
        return Prepared(row["id"], row["device_id"], row["received_at"], row["attempts"], actions,
                        hit_times, chunk.precalibrations, row.get("app_code") or "", cells,
                        received_ms=received_ms, archive_rows=archive_rows)

    def _months(self, actions: list) -> set[str]:
        """'YYYY.MM' of every dated index the actions go to."""
        dated = tuple(f"{self.config.prefix}-{kind}-" for kind in DATED_KINDS)
        return {name.rsplit("-", 1)[1] for name in {a["_index"] for a in actions} if name.startswith(dated)}

    # --- bulk -----------------------------------------------------------------------------------

    def _encode(self, prepared: list[Prepared]) -> Batch:
        """Each distinct document of the batch once, as NDJSON lines (CPU work: the main thread's)."""
        seen: dict[tuple[str, str], list[int]] = {}
        unique: list[dict] = []
        owners: list[list[int]] = []
        for p in prepared:
            for a in p.actions:
                key = (a["_index"], a["_id"])
                ids = seen.get(key)
                if ids is None:
                    seen[key] = ids = []
                    unique.append(a)
                    owners.append(ids)
                ids.append(p.upload_id)
        return Batch(prepared, create_lines(unique), owners)

    def _bulk(self, batch: Batch) -> tuple[set[int], dict[int, str], dict[int, str]]:
        """Send every line once; returns (uploads done, uploads to retry, uploads to quarantine)."""
        prepared = batch.prepared
        retry: dict[int, str] = {}
        poison: dict[int, str] = {}
        try:
            failures = bulk_send(self.es, batch.lines, max_bytes=self.config.bulk_bytes,
                                 backoff_s=self.config.backoff_min_s)
        except ApiError as exc:
            if exc.status_code in _RETRYABLE_STATUS:
                raise EsUnavailable(f"{exc.status_code}: {exc}") from exc
            # the whole request refused (e.g. 413): count an attempt against every upload in it
            message = f"{exc.status_code}: {exc}"[:2000]
            return set(), {p.upload_id: message for p in prepared}, {}
        except TransportError as exc:  # connection refused, timeout: nothing acknowledged
            raise EsUnavailable(f"{type(exc).__name__}: {exc}") from exc
        for pos, status, error in failures:
            message = f"{status}: {error}"[:2000]
            if status == 429:
                raise EsUnavailable(f"still saturated after retries: {message}")
            target = retry if status in _RETRYABLE_STATUS else poison
            for upload_id in batch.owners[pos]:
                target.setdefault(upload_id, message)
        done = {p.upload_id for p in prepared} - set(retry) - set(poison)
        return done, retry, poison

    # --- recording ------------------------------------------------------------------------------

    def _quarantine(self, upload_id: int, error: str) -> None:
        Upload.objects.filter(id=upload_id, claim_owner=self.owner).update(
            status=UploadStatus.QUARANTINED, error=error[:5000], claim_owner=None, claim_until_ms=None)

    def _mark(self, prepared: list[Prepared], done: set[int], retry: dict[int, str],
              poison: dict[int, str]) -> Totals:
        totals = Totals()
        by_id = {p.upload_id: p for p in prepared}
        t = now_ms()
        stamp = timezone.now()
        table = connection.ops.quote_name(Upload._meta.db_table)
        # One plain UPDATE per upload: a Django queryset per row costs more Python than the UPDATE.
        mark_indexed = (f"UPDATE {table} SET status = %s, indexed_at = %s, n_docs = %s, n_hits = %s, "
                        f"error = '', claim_owner = NULL, claim_until_ms = NULL "
                        f"WHERE id = %s AND claim_owner = %s")
        indexed_at = connection.ops.adapt_datetimefield_value(stamp)
        marked: list[Prepared] = []
        with transaction.atomic():
            with connection.cursor() as cursor:
                for upload_id in sorted(done):
                    p = by_id[upload_id]
                    cursor.execute(mark_indexed, (UploadStatus.INDEXED.value, indexed_at, len(p.actions),
                                                  len(p.hit_times), upload_id, self.owner))
                    if cursor.rowcount:
                        marked.append(p)
                        totals.indexed += 1
                        totals.docs += len(p.actions)
                        totals.hits += len(p.hit_times)
            for upload_id, error in poison.items():
                self._quarantine(upload_id, f"rejected by Elasticsearch: {error}")
                totals.quarantined += 1
            for upload_id, error in retry.items():
                attempts = by_id[upload_id].attempts + 1
                if attempts >= self.config.max_attempts:
                    self._quarantine(upload_id, f"gave up after {attempts} attempts: {error}")
                    totals.quarantined += 1
                    continue
                delay = min(self.config.backoff_max_s, self.config.backoff_min_s * 2 ** attempts)
                # unowned, held back by its time alone: a row this process owns is one it works on
                Upload.objects.filter(id=upload_id, claim_owner=self.owner).update(
                    attempts=attempts, error=error, claim_owner=None, claim_until_ms=t + int(delay * 1000))
                totals.retried += 1
            done_list = [by_id[i] for i in sorted(done)]
            self._touch_buckets(done_list, t)
            self._record_devices(done_list, stamp)
            self._store_precals(done_list)
            self._record_claims(marked)
        return totals

    def _record_claims(self, marked: list[Prepared]) -> None:
        """Pairing and the history that earns trust (accounts/pairing.py, accounts/trust.py):
        counted here, once per upload marked indexed, in the same transaction."""
        grown = pairing.record_indexed(
            pairing.Arrival(p.upload_id, p.device_id, p.app_code, p.received_at, len(p.hit_times), p.cells)
            for p in marked)
        if grown:
            trust.earn_by_history(grown)

    def _touch_buckets(self, done: list[Prepared], t: int) -> None:
        """One upsert per event-time bucket that received hits in this batch."""
        times = [p.hit_times for p in done if p.hit_times is not None and len(p.hit_times)]
        if not times:
            return
        buckets, counts = np.unique(np.concatenate(times) // self.config.bucket_ms, return_counts=True)
        table = connection.ops.quote_name(TouchedBucket._meta.db_table)
        sql = (f"INSERT INTO {table} (bucket_ms, first_touched_ms, touched_ms, hits) VALUES (%s, %s, %s, %s) "
               f"ON CONFLICT (bucket_ms) DO UPDATE SET touched_ms = excluded.touched_ms, "
               f"hits = {table}.hits + excluded.hits")
        rows = [(int(b) * self.config.bucket_ms, t, t, int(c)) for b, c in zip(buckets, counts)]
        with connection.cursor() as cursor:
            cursor.executemany(sql, rows)

    def _record_devices(self, done: list[Prepared], stamp) -> None:
        """Create devices on first upload (with their pseudonym) and count indexed uploads."""
        per_device: dict[str, list] = {}
        for p in done:
            entry = per_device.setdefault(p.device_id, [0, p.received_at])
            entry[0] += 1
            entry[1] = max(entry[1], p.received_at)
        if not per_device:
            return
        table = connection.ops.quote_name(Device._meta.db_table)
        sql = (f"INSERT INTO {table} (device_id, pseudonym, blocked, note, uploads_indexed, first_upload_at, "
               f"last_upload_at) VALUES (%s, %s, %s, %s, %s, %s, %s) ON CONFLICT (device_id) DO UPDATE SET "
               f"uploads_indexed = {table}.uploads_indexed + excluded.uploads_indexed, "
               f"pseudonym = excluded.pseudonym, "
               f"first_upload_at = COALESCE({table}.first_upload_at, excluded.first_upload_at), "
               f"last_upload_at = CASE WHEN {table}.last_upload_at IS NULL "
               f"OR {table}.last_upload_at < excluded.last_upload_at "
               f"THEN excluded.last_upload_at ELSE {table}.last_upload_at END")
        adapt = connection.ops.adapt_datetimefield_value
        rows = [(dev, pseudonym_of(dev), False, "", n, adapt(last), adapt(last))
                for dev, (n, last) in per_device.items()]
        with connection.cursor() as cursor:
            cursor.executemany(sql, rows)

    def _store_precals(self, done: list[Prepared]) -> None:
        """Keep the latest complete map per (device, camera, resolution) for /precal.json.

        "Latest" is by end time, counted no later than the upload's receive time (and as the
        receive time when the map has none, as the minimal record a phone sends back does):
        whatever end a sender claims, a map cannot outrank one received after it, so a map
        forged under a phone's Device-id is replaced by the phone's next real one.
        """
        for p in done:
            for pre in p.precals:
                if (pre.camera_id is None or not pre.res_x or not pre.res_y or pre.hot_hash is None
                        or pre.wgt_hash is None or pre.hot_hash < 0 or pre.wgt_hash < 0
                        or not pre.compressed_weights):
                    continue  # incomplete: the phone would reject or void it
                end_ms = min(pre.end_ms, p.received_ms) if pre.end_ms else p.received_ms
                key = dict(device_id=p.device_id, camera_id=pre.camera_id, res_x=pre.res_x, res_y=pre.res_y)
                current = PreCalibration.objects.filter(**key).values_list("end_ms", flat=True).first()
                if current is not None and end_ms < current:
                    continue  # a late flush of an older map
                PreCalibration.objects.update_or_create(**key, defaults=dict(
                    hot_hash=pre.hot_hash, wgt_hash=pre.wgt_hash, weights=pre.compressed_weights,
                    mask=list(pre.hotcell), interpolation=pre.interpolation,
                    compressed_format=pre.compressed_format or "", end_ms=end_ms,
                    run_uuid=pre.run_uuid or "", upload_id=p.upload_id))

    # --- one batch ------------------------------------------------------------------------------

    def _ensure_templates(self) -> None:
        if not self._templates_ready:
            try:
                ensure_templates(self.es, self.config.prefix, replicas=self.config.replicas)
            except TransportError as exc:
                raise EsUnavailable(f"templates: {type(exc).__name__}: {exc}") from exc
            self._templates_ready = True

    def _prepare_rows(self, rows: list[dict]) -> tuple[list[Prepared], Totals]:
        """Decode a claimed batch; poison uploads are quarantined here and left out."""
        totals = Totals()
        prepared: list[Prepared] = []
        for row in rows:
            try:
                prepared.append(self.prepare(row))
            except HeldBack as exc:
                self._quarantine(row["id"], f"{HELD_BACK}{exc}")
                totals.quarantined += 1
            except WireDecodeError as exc:
                self._quarantine(row["id"], f"WireDecodeError: {exc}")
                totals.quarantined += 1
            except Exception as exc:  # any other failure on one body must not block the queue
                logger.warning("upload %s does not build documents: %r", row["id"], exc)
                self._quarantine(row["id"], f"{type(exc).__name__}: {exc}\n{traceback.format_exc(limit=5)}")
                totals.quarantined += 1
        return prepared, totals

    def _send(self, batch: Batch):
        """Templates (first time), bulk, then the archive for what Elasticsearch acknowledged;
        touches no database (runs on the bulk thread)."""
        self._ensure_templates()
        outcome = self._bulk(batch)
        self._stage_archive(batch, outcome[0])
        return outcome

    # --- the archive hook ---------------------------------------------------------------------

    def _stage_archive(self, batch: Batch, done: set[int]) -> None:
        """Stage the hits of the uploads about to be marked indexed (indexer/archive.py)."""
        if self.archive is None or not done:
            return
        rows = HitColumns.concat(p.archive_rows for p in batch.prepared if p.upload_id in done)
        try:
            self.archive.stage(rows, batch_key(done))
        except OSError as exc:
            raise ArchiveUnavailable(f"archive {self.archive.uri}: {exc}") from exc

    def _acknowledged(self, batch: Batch, stop: threading.Event, totals: Totals, first=None):
        """The bulk outcome of a batch, waiting out outages of Elasticsearch or the archive
        (counted into `totals.es_outages`); None if stopped first. `first` is an attempt already
        made (a future from the bulk thread).
        """
        while True:
            try:
                outcome = first.result() if first is not None else self._send(batch)
                break
            except Unavailable as exc:
                first = None
                totals.es_outages += 1
                self._templates_ready = False  # a new or restarted cluster may lack them
                logger.warning("%s (%s); retrying %d uploads in %.1f s", type(exc).__name__,
                               str(exc)[:200], len(batch.prepared), self._backoff)
                if stop.wait(self._backoff):
                    return None  # stopped: _finish gives the rows back
                self._backoff = min(self.config.backoff_max_s, self._backoff * 2)
                _refresh_connection()
                self._renew([p.upload_id for p in batch.prepared])
        self._backoff = self.config.backoff_min_s
        return outcome

    def process(self, rows: list[dict], stop: threading.Event | None = None) -> Totals:
        """Index one claimed batch; retries while Elasticsearch is down (until `stop` is set)."""
        prepared, totals = self._prepare_rows(rows)
        if prepared:
            outcome = self._acknowledged(self._encode(prepared), stop or threading.Event(), totals)
            if outcome is not None:
                totals.add(self._mark(prepared, *outcome))
        return totals

    # --- loops ----------------------------------------------------------------------------------

    def run(self, once: bool = False, stop: threading.Event | None = None, log_every_s: float = 10.0) -> Totals:
        """Index until stopped (or, with once, until nothing is claimable); returns the totals.

        Pipelined: while one batch's bulk request is in flight (on a helper thread that only
        talks to Elasticsearch), this thread claims, decodes and encodes the next one, so decoding
        and Elasticsearch's indexing use the two cores at once; once a request is acknowledged the
        next goes out at once and only then is the acknowledged batch recorded. All database work
        stays here.
        """
        stop = stop or threading.Event()
        started = time.monotonic()
        progress = _Progress(log_every_s, started, Totals())
        pipe = _Pipeline(claim_size=self.config.batch)
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="indexer-bulk") as pool, fewer_collections():
            while not stop.is_set():
                _refresh_connection()
                try:
                    busy = self._turn(pipe, pool, stop)
                except DatabaseError as exc:  # database restarting or locked too long: claims stay safe
                    self._wait_out_database(exc, stop)
                    pipe.interrupted = True
                    continue
                if not busy:
                    if once:
                        break
                    stop.wait(self.config.poll_s)
                self._maybe_log(progress)
            self._finish(pipe, stop)
        logger.info("indexer %s stopping after %.1f s: %s", self.owner, time.monotonic() - started, self.totals)
        return self.totals

    def _turn(self, pipe: _Pipeline, pool: ThreadPoolExecutor, stop: threading.Event) -> bool:
        """One turn of the pipeline; False when there was nothing to claim and nothing in flight."""
        if pipe.interrupted:
            self._release_dropped(pipe.held())
            pipe.interrupted = False
        if pipe.unmarked is not None:  # recording failed on a database error: again
            self._record(pipe.unmarked)
            pipe.unmarked = None
        # Ramp up from an empty pipeline: a small first batch reaches Elasticsearch soon, and each
        # next one (decoded while the last is indexed) doubles.
        pipe.claim_size = (min(self.config.batch, 2 * pipe.claim_size) if pipe.inflight is not None
                           else max(1, self.config.batch // 8))
        rows = self.claim(pipe.claim_size)
        prepared, totals = self._prepare_rows(rows)
        self.totals.add(totals)
        batch = self._encode(prepared) if prepared else None
        if pipe.inflight is not None:
            sent, future = pipe.inflight
            outcome = self._acknowledged(sent, stop, self.totals, first=future)
            pipe.inflight = None  # only now: a database error in there leaves it in the pipeline
            if outcome is not None:
                pipe.unmarked = (sent, outcome)
        # The next request goes out before this thread records the last one, so Elasticsearch
        # is not idle while the database is written.
        if batch is not None:
            pipe.inflight = (batch, pool.submit(self._send, batch))
        if pipe.unmarked is not None:
            self._record(pipe.unmarked)
            pipe.unmarked = None
        return bool(rows) or pipe.inflight is not None

    def _release_dropped(self, held: list[int]) -> None:
        """Give back the rows this process claimed and no longer carries.

        A database error can cut a turn short after its claim committed (reading the rows,
        quarantining a poison one, renewing leases): those rows are this owner's and nothing here
        will send them, so without this they would wait out the whole lease, meant for a process
        that died. Rows waiting out a retry are unowned (``_mark``) and keep their delay; the
        batches in the pipeline stay claimed, as they are still recorded by this process.
        """
        released = (Upload.objects.filter(claim_owner=self.owner, status=UploadStatus.PENDING)
                    .exclude(id__in=held).update(claim_owner=None, claim_until_ms=None))
        if released:
            logger.info("gave back %d claimed uploads this process no longer carries", released)

    def _wait_out_database(self, exc: DatabaseError, stop: threading.Event) -> None:
        if connection.in_atomic_block:
            raise exc  # the caller's transaction is broken; only the caller can recover
        logger.warning("database error (%s); retrying in %.1f s", exc, self.config.poll_s)
        connection.close()
        stop.wait(self.config.poll_s)

    def _finish(self, pipe: _Pipeline, stop: threading.Event) -> None:
        """Stopped with a batch in flight or unrecorded: record it, then give back every row still
        claimed (a batch Elasticsearch did not acknowledge, one a database error dropped), so the
        next indexer takes them at once rather than after their lease."""
        try:
            if pipe.unmarked is not None:
                self._record(pipe.unmarked)
            if pipe.inflight is not None:
                outcome = self._acknowledged(pipe.inflight[0], stop, self.totals, first=pipe.inflight[1])
                if outcome is not None:
                    self._record((pipe.inflight[0], outcome))
            self._release_dropped([])
        except DatabaseError as exc:
            logger.warning("could not record the last batch (%s); its leases will expire", exc)

    def _maybe_log(self, progress: _Progress) -> None:
        now = time.monotonic()
        if now - progress.last_s >= progress.every_s:
            self._log_progress(now - progress.last_s, progress.logged)
            progress.last_s, progress.logged = now, Totals(**vars(self.totals))

    def _record(self, acknowledged) -> None:
        batch, outcome = acknowledged
        self.totals.add(self._mark(batch.prepared, *outcome))

    def _log_progress(self, dt: float, before: Totals) -> None:
        t, queue = self.totals, backlog()
        logger.info("indexed %d uploads (%.0f hits/s), quarantined %d, retrying %d; backlog %d, lag %.1f s",
                    t.indexed, (t.hits - before.hits) / max(dt, 1e-9), t.quarantined, t.retried,
                    queue["pending"], queue["lag_s"])


def backlog() -> dict:
    """Pending uploads and the age of the oldest (for logs, health and the benchmark)."""
    pending = Upload.objects.filter(status=UploadStatus.PENDING)
    oldest = pending.order_by("id").values_list("received_at", flat=True).first()
    return {"pending": pending.count(),
            "lag_s": (timezone.now() - oldest).total_seconds() if oldest else 0.0}
