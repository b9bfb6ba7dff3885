"""Request rates per client on /submit: decided in the process, counted in the shared cache.

A rate is written as Django REST framework writes them, "N/s", "N/min", "N/hour" or "N/day" ("" =
no limit), and means at most N admitted requests in any period of that length. The count is a
sliding-window estimate: the requests admitted in the current fixed window plus those of the
previous window, weighted by how much of it still lies within the last period. A refused request
is not counted, so a client that keeps sending too fast still gets through at the rate. A refusal
says how many seconds to wait until a request would be admitted (Retry-After).

Why decided in the process: /submit answers in about a millisecond of CPU, and a round trip to
the shared cache (Redis in production) on every request would cost a large share of that and,
under ingest.asgi, stall the event loop while it waits. So `admit` only reads and updates counts
this process holds: what it admitted itself, plus what the shared cache said every process
together had admitted when it last looked. A background thread per process brings those up to
date every CRAYFIS_INGEST_RATE_SYNC_S seconds: it adds to the cache's counter of each window what
this process admitted since, and reads back the total (cache alias CRAYFIS_API_THROTTLE_CACHE).
A key is shared only once this process has admitted an eighth of its limit in the current window
(SHARE_FROM; at least two requests): the keys of ordinary clients, such as a phone uploading
every few minutes, never cost a cache write, and only clients near their limit do.

What this allows: within one process the limit is exact. Over W processes a client that spreads
its requests evenly can get up to (W - 1) / 8 of its limit more before the processes see each
other's counts, plus what it sends within one sync interval. These limits bound the load one
client can put on the server, not what it can forge (docs/security.md), so that is enough; a
refusal never loses data (the app keeps its file and sends it at its next flush).

Memory: at most MAX_KEYS counts per process; past that, the counts of keys seen once are dropped
(and if that is not enough, all of them: for a moment the limits are lifted rather than the
process grown without bound).
"""
from __future__ import annotations

import functools
import logging
import os
import threading
import time
import weakref
from dataclasses import dataclass
from hashlib import blake2b

from django.conf import settings
from django.core.cache import caches

logger = logging.getLogger(__name__)

MAX_KEYS = 100_000
SHARE_FROM = 8   # a key's counts are shared from 1/SHARE_FROM of its limit in a window on
_PERIODS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


@dataclass(frozen=True, slots=True)
class Rate:
    """At most `limit` requests in any `period_s` seconds."""

    limit: int
    period_s: int


@functools.lru_cache(maxsize=64)
def parse_rate(text: str) -> Rate | None:
    """The Rate of "N/period" (DRF's syntax: the period's first letter counts); None for ""."""
    text = (text or "").strip()
    if not text:
        return None
    try:
        count, period = text.split("/")
        rate = Rate(int(count), _PERIODS[period.strip()[:1].lower()])
    except (ValueError, KeyError, IndexError):
        raise ValueError(f"a rate is written 'N/s', 'N/min', 'N/hour' or 'N/day', not {text!r}") from None
    if rate.limit < 1:
        raise ValueError(f"a rate must allow at least one request, not {text!r}")
    return rate


class _Count:
    """One key's requests in one fixed window, as this process knows them."""

    __slots__ = ("admitted", "synced", "shared")

    def __init__(self):
        self.admitted = 0   # admitted by this process
        self.synced = 0     # the part of `admitted` already added to the shared counter
        self.shared = 0     # the shared counter when last read (this process's synced part included)

    @property
    def total(self) -> int:
        return self.shared + self.admitted - self.synced


def wait_s(rate: Rate, previous: int, current: int, elapsed: float) -> float:
    """Seconds until one more request fits, given the counts of the previous and the current
    window and the part of the current window already gone (0 <= elapsed < 1); 0 if it fits now.
    """
    limit = rate.limit
    if previous * (1.0 - elapsed) + current + 1 <= limit:
        return 0.0
    if current + 1 <= limit:   # the previous window's weight has to fall far enough
        return max(0.0, (1.0 - (limit - current - 1) / previous) - elapsed) * rate.period_s
    # the current window is full: wait for the next one, and for this one's weight to fall
    return ((1.0 - elapsed) + max(0.0, 1.0 - (limit - 1) / current)) * rate.period_s


class Limiter:
    """Sliding-window counts of (scope, ident) keys in one process; see the module docstring.

    `scopes` names, for each scope, the setting that holds its rate; rates are read on every
    request, so a changed setting applies at once.
    """

    def __init__(self, scopes: dict[str, str]):
        self._scopes = dict(scopes)
        self._counts: dict[tuple[str, str, int, int], _Count] = {}
        self._shared: set[tuple[str, str, int, int]] = set()   # the keys the sync adds and reads
        self._windows: dict[str, tuple[int, int]] = {}           # scope -> (period, window) last pruned
        self._lock = threading.Lock()
        self._syncer: threading.Thread | None = None
        self._syncer_pid = 0
        self._failing = False

    def clear(self) -> None:
        """Forget every count this process holds (the shared counters stay)."""
        with self._lock:
            self._counts.clear()
            self._shared.clear()
            self._windows.clear()

    def rate(self, scope: str) -> Rate | None:
        return parse_rate(getattr(settings, self._scopes[scope]))

    # --- the request path -----------------------------------------------------------------------

    def admit(self, idents: list[tuple[str, str]], now: float | None = None) -> float:
        """Admit one request under the rate of every (scope, ident) and count it in each; or,
        when any of them is full, count nothing and return the seconds to wait (> 0)."""
        now = time.time() if now is None else now
        keys = []
        wait = 0.0
        with self._lock:
            for scope, ident in idents:
                rate = self.rate(scope)
                if rate is None:
                    continue
                window, elapsed = divmod(now / rate.period_s, 1.0)
                key = (scope, ident, rate.period_s, int(window))
                current = self._counts.get(key)
                previous = self._counts.get((scope, ident, rate.period_s, key[3] - 1))
                wait = max(wait, wait_s(rate, previous.total if previous else 0,
                                        current.total if current else 0, elapsed))
                keys.append((key, max(2, rate.limit // SHARE_FROM)))
            if wait > 0.0:
                return wait
            for key, share_from in keys:
                count = self._counts.get(key)
                if count is None:
                    count = self._counts[key] = _Count()
                count.admitted += 1
                if count.admitted >= share_from:
                    self._shared.add(key)
            if len(self._counts) > MAX_KEYS:
                self._shrink()
        if keys:
            self._ensure_syncer()
        return 0.0

    def _shrink(self) -> None:
        """Drop the counts of keys seen once and never shared (far from any limit that allows two
        requests); all counts if that is not enough."""
        for key in [k for k, c in self._counts.items() if c.admitted <= 1 and k not in self._shared]:
            del self._counts[key]
        if len(self._counts) > MAX_KEYS // 2:
            self._counts.clear()
            self._shared.clear()

    # --- the shared counts ----------------------------------------------------------------------

    def sync(self, now: float | None = None) -> None:
        """Add this process's new admissions to the shared counters and read back the totals;
        forget windows that no longer count. The background thread calls it every interval."""
        now = time.time() if now is None else now
        with self._lock:
            self._forget_old(now)
            work = [(key, self._counts[key].admitted - self._counts[key].synced) for key in self._shared]
        if not work:
            return
        cache = caches[settings.CRAYFIS_API_THROTTLE_CACHE]
        totals = {}
        for key, delta in work:
            name = _cache_key(key)
            totals[key] = _add(cache, name, delta, 2 * key[2] + 1) if delta else cache.get(name, 0)
        with self._lock:
            for key, delta in work:
                count = self._counts.get(key)
                if count is not None:
                    count.synced += delta
                    count.shared = max(int(totals[key]), count.synced)

    def _forget_old(self, now: float) -> None:
        """Drop the windows that no longer count: older than the previous one, or of a period
        or a scope whose rate changed or was lifted. Looks through the counts only when a
        window has ended since it last did."""
        current = {}
        for scope in self._scopes:
            rate = self.rate(scope)
            if rate is not None:
                current[scope] = (rate.period_s, int(now // rate.period_s))
        if current == self._windows:
            return
        self._windows = current
        stale = [key for key in self._counts
                 if key[0] not in current or key[2] != current[key[0]][0] or key[3] < current[key[0]][1] - 1]
        for key in stale:
            del self._counts[key]
            self._shared.discard(key)

    def _ensure_syncer(self) -> None:
        """Start the background thread in this process (again after a fork: threads do not follow)."""
        if self._syncer_pid == os.getpid():
            return
        with self._lock:
            if self._syncer_pid == os.getpid():
                return
            self._syncer_pid = os.getpid()
            self._syncer = threading.Thread(target=_sync_forever, args=(weakref.ref(self),),
                                            name="crayfis-rate-sync", daemon=True)
            self._syncer.start()

    def _sync_once(self) -> None:
        try:
            self.sync()
        except Exception as exc:  # the cache is down: each process limits on its own meanwhile
            if not self._failing:
                logger.warning("rate counts not shared (each process limits on its own): %r", exc)
            self._failing = True
            return
        if self._failing:
            logger.warning("rate counts are shared again")
        self._failing = False


def _sync_forever(limiter_ref: weakref.ref) -> None:
    """The background thread: sync every interval while the limiter exists."""
    while True:
        time.sleep(max(0.05, float(settings.CRAYFIS_INGEST_RATE_SYNC_S)))
        limiter = limiter_ref()
        if limiter is None:
            return
        limiter._sync_once()
        del limiter


def _cache_key(key: tuple[str, str, int, int]) -> str:
    """A fixed-length cache key: idents are client addresses and Device-ids, kept out of the cache."""
    scope, ident, period_s, window = key
    return f"crayfis:rate:{scope}:{period_s}:{window}:{blake2b(ident.encode(), digest_size=12).hexdigest()}"


def _add(cache, name: str, delta: int, timeout: int) -> int:
    """Add delta to a shared counter (created when absent); the new total."""
    try:
        return cache.incr(name, delta)
    except ValueError:
        if cache.add(name, delta, timeout):
            return delta
        return cache.incr(name, delta)
