"""The continuous search loop: trust changes and pending buckets -> one exact pass -> book-keeping,
queued alerts, status.

Each pass:
1. holds the lease (one writer of candidates at a time; another process waits its turn);
2. re-marks the trust fields of the candidates of devices whose trust changed since the last
   successful pass (``EsCandidateStore.retrust``), so a candidate is public exactly while k of
   its members are trusted;
3. takes a snapshot of the touched buckets (ingest.TouchedBucket) whose hit count exceeds what
   was searched (SearchedBucket), refreshes the hit indices so every acknowledged hit is
   searchable, and runs ``ContinuousSearch.run_pass`` on them;
4. only after the candidates are written, in ONE database transaction: records the snapshot's
   counts as searched, advances the cursors, and queues an alert for every public, significant
   candidate of the pass's region (or of the re-marked ones) not announced yet. A pass that
   fails before that commit leaves its buckets pending and its alerts unqueued (the next pass
   does both); none can mark buckets searched and lose their alerts;
5. writes the status document the dashboards read.

Nothing is sent from here: `manage.py deliver_alerts` delivers the queue (search/alerts.py).
"""
from __future__ import annotations

import datetime as dt
import logging
import os
import socket
import threading
import time
from dataclasses import dataclass, field

from django.conf import settings
from django.db import close_old_connections, transaction
from django.db.models import Max, Q
from elasticsearch import Elasticsearch

from crayfis.definition import MINUTE_MS, SECOND_MS, SearchParams
from ingest.models import Device, TouchedBucket
from search import alerts as alerting
from search.continuous import ContinuousSearch, PassReport, now_ms
from search.es_candidates import EsCandidateStore
from search.es_hits import EsHitSource
from search.models import SearchedBucket, SearchState
from search.region import hit_ranges
from search.scoring import EsSignificance
from search.spark_runner import SparkRunner
from search.status import note_failure, write_status

logger = logging.getLogger(__name__)

# The newest hit is looked for up to this far after now: a phone whose clock runs further ahead
# must not make the search look behind forever.
CLOCK_AHEAD_MS = 10 * MINUTE_MS


@dataclass(frozen=True)
class LoopConfig:
    """Everything a search loop needs; ``from_settings`` fills it from the CRAYFIS_SEARCH_*
    settings, where every default is written."""

    params: SearchParams
    prefix: str
    es_url: str
    every_s: float
    bucket_ms: int
    spark_threshold_hits: int | None  # None: never hand a group to the Spark job
    spark_command: str
    spark_master: str
    spark_timeout_s: float
    page_size: int
    touch_slack_ms: int
    lease_s: float
    rate_span_ms: int
    alerts: alerting.AlertConfig | None
    name: str = "default"  # the SearchState row: one per search

    @classmethod
    def from_settings(cls, **overrides) -> LoopConfig:
        """The settings' values; ``overrides`` (field names, or window_ms / radius_m /
        min_devices for the parameters) replace them as given."""
        s = settings
        params = SearchParams(window_ms=overrides.pop("window_ms", s.CRAYFIS_SEARCH_WINDOW_MS),
                              radius_m=overrides.pop("radius_m", s.CRAYFIS_SEARCH_RADIUS_M),
                              min_devices=overrides.pop("min_devices", s.CRAYFIS_SEARCH_MIN_DEVICES))
        values = dict(
            params=params, prefix=s.CRAYFIS_ES_PREFIX, es_url=s.CRAYFIS_ES_URL,
            every_s=s.CRAYFIS_SEARCH_EVERY_S, bucket_ms=s.CRAYFIS_INGEST_BUCKET_MS,
            spark_threshold_hits=s.CRAYFIS_SEARCH_SPARK_THRESHOLD_HITS,
            spark_command=s.CRAYFIS_SEARCH_SPARK_COMMAND, spark_master=s.CRAYFIS_SEARCH_SPARK_MASTER,
            spark_timeout_s=s.CRAYFIS_SEARCH_SPARK_TIMEOUT_S, page_size=s.CRAYFIS_SEARCH_PAGE_SIZE,
            touch_slack_ms=s.CRAYFIS_SEARCH_TOUCH_SLACK_MS, lease_s=s.CRAYFIS_SEARCH_LEASE_S,
            rate_span_ms=s.CRAYFIS_SEARCH_RATE_SPAN_MS, alerts=alerting.AlertConfig.from_settings())
        unknown = set(overrides) - set(values) - {"name"}
        if unknown:
            raise TypeError(f"not a LoopConfig field: {', '.join(sorted(unknown))}")
        values.update(overrides)
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
        self.store = EsCandidateStore(es, config.prefix, config.params, config.page_size,
                                      replicas=settings.CRAYFIS_ES_REPLICAS)
        runner = None
        if config.spark_threshold_hits is not None:
            runner = SparkRunner(config.es_url, config.prefix, config.spark_command,
                                 config.spark_master, config.spark_timeout_s)
        if scorer == "significance":  # None: candidates without significance
            scorer = EsSignificance(es, config.prefix, config.params, config.rate_span_ms,
                                    config.page_size)
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
        ).update(owner=self.owner, lease_until_ms=t + int(self.config.lease_s * SECOND_MS))
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

    def trust_changes(self, state: SearchState) -> tuple[list[str], int]:
        """(pseudonyms of devices whose trust changed since the last successful pass, the newest
        change among them in Unix ms). Looks back CRAYFIS_SEARCH_TOUCH_SLACK_MS before the
        cursor (a change stamped before its transaction committed); re-marking is idempotent."""
        rows = Device.objects.filter(trust_changed_at__isnull=False)
        if state.trust_seen_ms:
            since = state.trust_seen_ms - self.config.touch_slack_ms
            rows = rows.filter(trust_changed_at__gte=dt.datetime.fromtimestamp(since / SECOND_MS, dt.UTC))
        newest = rows.aggregate(newest=Max("trust_changed_at"))["newest"]
        names = sorted(set(rows.exclude(pseudonym="").values_list("pseudonym", flat=True)))
        seen = int(newest.timestamp() * SECOND_MS) if newest is not None else state.trust_seen_ms
        return names, max(seen, state.trust_seen_ms)

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
        changed, trust_seen = self.trust_changes(state)
        retrusted = self.store.retrust(changed, t0)
        newest_before = self.hits.newest_hit_ms(t0 + CLOCK_AHEAD_MS)
        snapshot = self.pending(state)
        if snapshot:
            self.hits.refresh()
        report = self.search.run_pass(snapshot.keys())
        announce = self._alertable(report, retrusted)
        t1 = now_ms()
        with transaction.atomic():
            self._mark_searched(snapshot, t1)
            cursor = max([state.cursor_touched_ms] + [t for _, t in snapshot.values()])
            SearchState.objects.filter(name=state.name).update(
                cursor_touched_ms=cursor, last_pass_ms=t1, passes=state.passes + 1,
                searched_through_ms=newest_before, trust_seen_ms=trust_seen)
            queued = alerting.queue_alerts(announce, self.config.alerts, t1) if announce else []
        after = self.pending(self._state())
        oldest = min(after) if after else None
        newest_now = self.hits.newest_hit_ms(t1 + CLOCK_AHEAD_MS)
        # lag: how far the newest hit now lies beyond what this pass's snapshot covered
        lag = None if newest_now is None else max(0, newest_now - (newest_before or newest_now))
        outcome = PassOutcome(report=report, pending_after=len(after), oldest_pending_bucket_ms=oldest,
                              lag_ms=lag, duration_ms=t1 - t0)
        outcome.alerts = {"queued": len(queued)} if queued else {}
        write_status(self.es, self.config.prefix, outcome, self.config.params, t1)
        self._log(outcome)
        return outcome

    def _alertable(self, report: PassReport, retrusted: list[str]) -> list[dict]:
        """The public candidates this pass may announce: those its region holds (written now or
        in a pass that failed before queueing) and those whose trust was re-marked."""
        cfg = self.config.alerts
        if cfg is None or not cfg.enabled:
            return []
        ranges = hit_ranges(report.region, self.config.params.window_ms)
        return self.store.alertable(ranges, retrusted, cfg.far_per_year)

    def _log(self, o: PassOutcome) -> None:
        r = o.report
        logger.info(
            "pass: %d buckets, region %s, %d hits read, %d in-process + %d spark groups, "
            "%d components, changes %s, %d ms (%s); pending %d, oldest pending %s, lag %s ms%s",
            r.buckets, _span(r.region), r.hits_read, r.groups_in_process, r.groups_large, r.components,
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
    return f"{len(region)} intervals / {total / SECOND_MS:.1f} s"
