"""The continuous search loop: pending buckets -> one exact pass -> book-keeping, status, alerts.

Each pass:
1. holds the lease (one writer of candidates at a time; another process waits its turn);
2. takes a snapshot of the touched buckets (ingest.TouchedBucket) whose hit count exceeds what
   was searched (SearchedBucket), refreshes the hit indices so every acknowledged hit is
   searchable, and runs ``ContinuousSearch.run_pass`` on them;
3. only after the candidates are written records the snapshot's counts as searched, so a
   failed pass (ES down, write conflict, Spark job failure) leaves its buckets pending;
4. writes the status document the dashboards read and delivers due alerts.
"""
from __future__ import annotations

import logging
import os
import socket
import threading
import time
from dataclasses import dataclass, field

from django.conf import settings
from django.db import close_old_connections, transaction
from django.db.models import Q
from elasticsearch import Elasticsearch

from ingest.models import TouchedBucket
from search import alerts as alerting
from search.continuous import ContinuousSearch, PassReport, now_ms
from search.es_candidates import EsCandidateStore
from search.es_hits import EsHitSource
from search.incremental import ACTIVE, SearchParams
from search.models import SearchedBucket, SearchState
from search.spark_runner import SparkRunner
from search.status import note_failure, write_status

logger = logging.getLogger(__name__)


@dataclass
class LoopConfig:
    params: SearchParams
    prefix: str
    es_url: str
    every_s: float = 60.0
    bucket_ms: int = 60_000
    spark_threshold_hits: int | None = 2_000_000
    spark_command: str = ""
    spark_master: str = ""
    spark_timeout_s: float = 3600.0
    page_size: int = 10_000
    touch_slack_ms: int = 15 * 60_000
    lease_s: float = 600.0
    rate_span_ms: int = 120_000
    name: str = "default"
    alerts: alerting.AlertConfig | None = None

    @classmethod
    def from_settings(cls, **overrides) -> LoopConfig:
        s = settings
        def pick(name, default):
            value = overrides.pop(name, None)
            return default if value is None else value

        params = SearchParams(window_ms=int(pick("window_ms", s.CRAYFIS_SEARCH_WINDOW_MS)),
                              radius_m=float(pick("radius_m", s.CRAYFIS_SEARCH_RADIUS_M)),
                              min_devices=int(pick("min_devices", s.CRAYFIS_SEARCH_MIN_DEVICES)))
        values = dict(
            params=params, prefix=s.CRAYFIS_ES_PREFIX, es_url=s.CRAYFIS_ES_URL,
            every_s=s.CRAYFIS_SEARCH_EVERY_S, bucket_ms=s.CRAYFIS_INGEST_BUCKET_MS,
            spark_threshold_hits=s.CRAYFIS_SEARCH_SPARK_THRESHOLD_HITS,
            spark_command=s.CRAYFIS_SEARCH_SPARK_COMMAND, spark_master=s.CRAYFIS_SEARCH_SPARK_MASTER,
            spark_timeout_s=s.CRAYFIS_SEARCH_SPARK_TIMEOUT_S, page_size=s.CRAYFIS_SEARCH_PAGE_SIZE,
            touch_slack_ms=s.CRAYFIS_SEARCH_TOUCH_SLACK_MS, lease_s=s.CRAYFIS_SEARCH_LEASE_S,
            rate_span_ms=s.CRAYFIS_SEARCH_RATE_SPAN_MS, alerts=alerting.AlertConfig.from_settings())
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**values)


@dataclass
class PassOutcome:
    report: PassReport
    pending_after: int
    oldest_pending_bucket_ms: int | None
    lag_ms: int | None
    duration_ms: int
    alerts: dict = field(default_factory=dict)


def default_owner() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


class SearchLoop:
    def __init__(self, es: Elasticsearch, config: LoopConfig, owner: str | None = None,
                 scorer="significance"):
        self.es, self.config = es, config
        self.owner = owner or default_owner()
        self.hits = EsHitSource(es, config.prefix, config.page_size)
        self.store = EsCandidateStore(es, config.prefix, config.params, replicas=settings.CRAYFIS_ES_REPLICAS)
        runner = None
        if config.spark_threshold_hits is not None:
            runner = SparkRunner(config.es_url, config.prefix, config.spark_command,
                                 config.spark_master, config.spark_timeout_s)
        if scorer == "significance":  # None: candidates without significance
            from search.scoring import EsSignificance

            scorer = EsSignificance(es, config.prefix, config.params, config.rate_span_ms)
        self.search = ContinuousSearch(
            self.hits, self.store, config.params, config.bucket_ms,
            large_threshold=config.spark_threshold_hits, large_runner=runner, scorer=scorer)
        self._ready = False

    # --- lease and state ---------------------------------------------------------------------

    def _state(self) -> SearchState:
        state, _ = SearchState.objects.get_or_create(name=self.config.name)
        return state

    def acquire(self) -> bool:
        """Take or renew the lease; False while another live process holds it."""
        t = now_ms()
        self._state()
        got = SearchState.objects.filter(
            Q(name=self.config.name) & (Q(owner=self.owner) | Q(owner="") | Q(lease_until_ms__lt=t))
        ).update(owner=self.owner, lease_until_ms=t + int(self.config.lease_s * 1000))
        return got == 1

    def release(self) -> None:
        SearchState.objects.filter(name=self.config.name, owner=self.owner).update(owner="", lease_until_ms=0)

    def _check_params(self, state: SearchState) -> None:
        """New parameters: forget what was searched, so everything is searched again."""
        want = self.config.params.as_dict()
        if state.params != want:
            if state.params:
                logger.warning("search parameters changed %s -> %s: re-searching every bucket",
                               state.params, want)
            with transaction.atomic():
                SearchedBucket.objects.all().delete()
                SearchState.objects.filter(name=state.name).update(
                    params=want, cursor_touched_ms=0, searched_through_ms=None)

    # --- pending buckets -----------------------------------------------------------------------

    def pending(self, state: SearchState) -> dict[int, tuple[int, int]]:
        """bucket_ms -> (hits, touched_ms) for buckets with hits not yet searched."""
        since = state.cursor_touched_ms - self.config.touch_slack_ms if state.cursor_touched_ms else None
        rows = TouchedBucket.objects.all() if since is None else TouchedBucket.objects.filter(touched_ms__gte=since)
        touched = {b: (h, t) for b, h, t in rows.values_list("bucket_ms", "hits", "touched_ms")}
        seen = dict(SearchedBucket.objects.filter(bucket_ms__in=list(touched)).values_list("bucket_ms", "hits_seen")) \
            if len(touched) < 5_000 else dict(SearchedBucket.objects.values_list("bucket_ms", "hits_seen"))
        return {b: ht for b, ht in touched.items() if ht[0] > seen.get(b, 0)}

    def _mark_searched(self, snapshot: dict[int, tuple[int, int]], t: int) -> None:
        SearchedBucket.objects.bulk_create(
            [SearchedBucket(bucket_ms=b, hits_seen=h, searched_ms=t) for b, (h, _) in snapshot.items()],
            update_conflicts=True, unique_fields=["bucket_ms"], update_fields=["hits_seen", "searched_ms"],
            batch_size=500)

    # --- one pass --------------------------------------------------------------------------------

    def run_once(self) -> PassOutcome | None:
        """One pass (None if another process holds the lease)."""
        close_old_connections()
        if not self.acquire():
            return None
        t0 = now_ms()
        if not self._ready:
            self.store.ensure()
            self._ready = True
        state = self._state()
        self._check_params(state)
        state = self._state()
        newest_before = self.hits.newest_hit_ms(t0 + 600_000)
        snapshot = self.pending(state)
        if snapshot:
            self.hits.refresh()
        report = self.search.run_pass(snapshot.keys())
        t1 = now_ms()
        with transaction.atomic():
            self._mark_searched(snapshot, t1)
            cursor = max([state.cursor_touched_ms] + [t for _, t in snapshot.values()])
            SearchState.objects.filter(name=state.name).update(
                cursor_touched_ms=cursor, last_pass_ms=t1, passes=state.passes + 1,
                searched_through_ms=newest_before)
        after = self.pending(self._state())
        oldest = min(after) if after else None
        newest_now = self.hits.newest_hit_ms(t1 + 600_000)
        # lag: how far the newest hit now lies beyond what this pass's snapshot covered
        lag = None if newest_now is None else max(0, newest_now - (newest_before or newest_now))
        outcome = PassOutcome(report=report, pending_after=len(after), oldest_pending_bucket_ms=oldest,
                              lag_ms=lag, duration_ms=t1 - t0)
        write_status(self.es, self.config.prefix, outcome, self.config.params, t1)
        outcome.alerts = self._alerts(report, t1)
        self._log(outcome)
        return outcome

    def _alerts(self, report: PassReport, t: int) -> dict:
        cfg = self.config.alerts
        if cfg is None or not cfg.enabled:
            return {}
        active = [c for c in report.written if c.status == ACTIVE]
        queued = alerting.queue_alerts(active, report.scores, cfg, t)
        counts = alerting.deliver_due(cfg, t)
        return {"queued": len(queued), **counts}

    def _log(self, o: PassOutcome) -> None:
        r = o.report
        logger.info(
            "pass: %d buckets, region %s, %d hits read, %d numpy + %d spark groups, "
            "%d components, changes %s, %d ms (%s); pending %d, oldest pending %s, lag %s ms%s",
            r.buckets, _span(r.region), r.hits_read, r.groups_numpy, r.groups_large, r.components,
            r.changes or "{}", o.duration_ms, r.seconds, o.pending_after, o.oldest_pending_bucket_ms,
            o.lag_ms, f", alerts {o.alerts}" if o.alerts else "")

    # --- forever ---------------------------------------------------------------------------------

    def run(self, stop: threading.Event | None = None, once: bool = False) -> int:
        """Passes every ``every_s`` until stopped; returns the number of passes made."""
        stop = stop or threading.Event()
        passes = 0
        try:
            while not stop.is_set():
                started = time.monotonic()
                try:
                    if self.run_once() is not None:
                        passes += 1
                    elif once:
                        logger.warning("another search process holds the lease; nothing done")
                except Exception as exc:  # ES down, conflict, Spark failure: buckets stay pending
                    logger.exception("search pass failed; its buckets stay pending")
                    note_failure(self.es, self.config.prefix, exc, now_ms())
                    if once:
                        raise
                if once:
                    break
                stop.wait(max(0.0, self.config.every_s - (time.monotonic() - started)))
        finally:
            self.release()
        return passes


def _span(region) -> str:
    if not region:
        return "-"
    total = sum(hi - lo + 1 for lo, hi in region)
    return f"{len(region)} intervals / {total / 1000:.1f} s"
