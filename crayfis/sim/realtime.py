"""A live network on the wall clock, for demos: hits for "now", uploads as phones would send.

``RealtimeNetwork.advance(now_ms)`` makes the hits since the previous call (noise + showers,
the same models as the batch simulator), feeds them to each live phone's RunRecorder, and
returns the uploads that became due: cache files that reached datachunk_size, runs that
ended, and (so a demo shows data quickly) files older than ``max_chunk_age_ms``. A shower is
injected every ``shower_every_s`` on average. Live intervals and showers are planned one
horizon (a day) at a time. ``run_realtime`` drives it until stopped.

Replies from the server can tune phones as the app allows: ``apply_reply`` honours
set_datachunk_size, set_xb_period and set_L1_trig.target_epm (thread-safe; applied at the
next advance).
"""
from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import replace

import numpy as np

from crayfis.definition import DAY_MS
from crayfis.sim import phone as ph
from crayfis.sim.background import background_frames
from crayfis.sim.config import SimConfig
from crayfis.sim.datachunks import DATACHUNK_SIZE, XB_PERIOD_MS, ZERO_BIAS_PRESCALE, PhoneHits, RunRecorder, Upload
from crayfis.sim.fleet import make_fleet
from crayfis.sim.live import LiveIntervals, plan_live_intervals
from crayfis.sim.network import as_generator, assemble_hits
from crayfis.sim.showers import sample_showers, shower_hits


class RealtimeNetwork:
    def __init__(self, config: SimConfig, rng: np.random.Generator | int | None = None, *,
                 start_ms: int | None = None, shower_every_s: float = 300.0,
                 max_chunk_age_ms: int = 60_000, datachunk_size: int = DATACHUNK_SIZE,
                 xb_period_ms: int = XB_PERIOD_MS,
                 zero_bias_prescale: float = ZERO_BIAS_PRESCALE, horizon_ms: int = DAY_MS):
        rng = as_generator(rng)
        self.config = config
        self.origin_ms = int(time.time() * 1000) if start_ms is None else int(start_ms)
        fleet_rng, profile_rng, self._plan_parent, self._tick_parent, run_rng = rng.spawn(5)
        self.fleet = make_fleet(config.fleet, fleet_rng)
        self.profiles = ph.make_profiles(self.fleet, self.origin_ms, profile_rng)
        self._run_base = int(run_rng.integers(0, 2**63))
        self.shower_every_ms = int(shower_every_s * 1000) if shower_every_s > 0 else 0
        self.max_chunk_age_ms = max_chunk_age_ms
        self.horizon_ms = horizon_ms
        self.options = {"datachunk_size": datachunk_size, "xb_period_ms": xb_period_ms,
                        "zero_bias_prescale": zero_bias_prescale}
        self._device_options: dict[int, dict] = {}
        self._target_epm = np.full(self.fleet.n, config.fleet.rate_per_min)
        self._index = {d: i for i, d in enumerate(self.fleet.device_id.tolist())}
        self._replies: deque = deque()
        self._ids = self.fleet.device_id_array()
        self.now_ms = self.origin_ms
        self.showers: list[dict] = []  # truth of every shower planned so far
        self.n_hits = 0
        self._runs: dict[int, RunRecorder] = {}  # live interval row -> recorder
        self._pending: dict[int, list[np.ndarray]] = {}  # device -> hit columns not yet sent
        self._plan(self.origin_ms)

    # -- planning -------------------------------------------------------------------------
    def _plan(self, h0: int) -> None:
        """Live intervals, showers and shower hits for the horizon starting at h0."""
        rng = self._plan_parent.spawn(1)[0]
        h1 = h0 + self.horizon_ms
        self.horizon = (h0, h1)
        self.live: LiveIntervals = plan_live_intervals(self.config.fleet, self.fleet.lon, h0, h1, rng)
        times: tuple[int, ...] = ()
        if self.shower_every_ms:
            slots = np.arange(h0, h1, self.shower_every_ms)
            times = tuple((slots + rng.integers(0, self.shower_every_ms, slots.size)).tolist())
            times = tuple(t for t in times if t < h1)
        scfg = replace(self.config.showers, forced=len(times), forced_times_ms=times or None,
                       forced_energies_eV=None)
        f = self.config.fleet
        table = sample_showers(scfg, f.area_km, f.center_lat, f.center_lon, h0, h1, self.live, rng)
        table.shower_id += len(self.showers)
        self.shower_hits = shower_hits(table, self.fleet, self.live, self.origin_ms, scfg, rng)
        self.showers.extend(table.to_records())
        self._started = np.zeros(len(self.live), dtype=bool)

    # -- replies --------------------------------------------------------------------------
    def apply_reply(self, upload: Upload, reply: dict) -> None:
        """Queue a server reply for the device that sent ``upload`` (any thread)."""
        self._replies.append((upload.device_id, reply))

    def _apply_replies(self) -> None:
        while self._replies:
            device_id, reply = self._replies.popleft()
            d = self._index.get(device_id)
            if d is None:
                continue
            opts = self._device_options.setdefault(d, {})
            if isinstance(reply.get("set_datachunk_size"), int) and reply["set_datachunk_size"] > 0:
                opts["datachunk_size"] = reply["set_datachunk_size"]
            if isinstance(reply.get("set_xb_period"), int) and reply["set_xb_period"] > 0:
                opts["xb_period_ms"] = reply["set_xb_period"] * 1000
            trig = reply.get("set_L1_trig")
            epm = trig.get("target_epm") if isinstance(trig, dict) else None
            if isinstance(epm, (int, float)) and 0 < epm < 600:
                self.fleet.rate_hz[d] *= epm / self._target_epm[d]
                self._target_epm[d] = epm
            for rec in self._runs.values():
                if rec.device == d:
                    rec.buffer.datachunk_size = opts.get("datachunk_size", rec.buffer.datachunk_size)
                    rec.xb_period_ms = opts.get("xb_period_ms", rec.xb_period_ms)

    # -- time -----------------------------------------------------------------------------
    def advance(self, now_ms: int) -> list[Upload]:
        """Simulate up to now_ms (phone clock) and return the uploads that became due."""
        self._apply_replies()
        out: list[Upload] = []
        while self.now_ms < now_ms:
            step_end = min(int(now_ms), self.horizon[1])
            out += self._step(self.now_ms, step_end)
            self.now_ms = step_end
            if step_end == self.horizon[1]:
                self._plan(step_end)
        return out

    def _step(self, t0: int, t1: int) -> list[Upload]:
        rng = self._tick_parent.spawn(1)[0]
        dev, frame = background_frames(self.fleet, self.live.clip(t0, t1), self.origin_ms, rng)
        sh = self.shower_hits
        inside = (sh.t_ms >= t0) & (sh.t_ms < t1)
        sid = np.concatenate([np.full(dev.size, -1, np.int64), sh.shower_id[inside]])
        dev = np.concatenate([dev, sh.device[inside]])
        frame = np.concatenate([frame, sh.frame[inside]])
        hits = assemble_hits(self.fleet, self._ids, dev, frame, sid, self.origin_ms, rng)
        self.n_hits += hits.num_rows
        self._queue_hits(hits)
        out: list[Upload] = []
        live = self.live
        starting = np.flatnonzero(~self._started & (live.start_ms < t1))
        for row in starting.tolist():
            self._started[row] = True
            d = int(live.device[row])
            opts = {**self.options, **self._device_options.get(d, {})}
            rec = RunRecorder(self.fleet, self.origin_ms, d, self.profiles[d],
                              int(live.start_ms[row]), int(live.end_ms[row]),
                              np.random.default_rng([self._run_base, d, row, live.start_ms[row]]),
                              **opts)
            self._runs[row] = rec
            out += rec.start()
        for row, rec in list(self._runs.items()):
            out += rec.advance(t1, self._hits_of(rec.device))
            self._drop_sent(rec.device, rec.xb_start)
            if rec.finished:
                del self._runs[row]
            elif rec.buffer.opened_ms is not None and \
                    t1 - rec.buffer.opened_ms >= self.max_chunk_age_ms:
                up = rec.buffer.flush(t1)
                if up is not None:
                    out.append(up)
        return out

    def _queue_hits(self, hits) -> None:
        if hits.num_rows == 0:
            return
        cols = [hits.column(c).to_numpy() for c in ("device_index", "t_ms", "lat", "lon",
                                                     "gps_accuracy")]
        order = np.argsort(cols[0], kind="stable")  # hits are time-sorted already
        cols = [c[order] for c in cols]
        devices, starts = np.unique(cols[0], return_index=True)
        bounds = np.append(starts, cols[0].size)
        for j, d in enumerate(devices.tolist()):
            sl = slice(bounds[j], bounds[j + 1])
            self._pending.setdefault(d, []).append(np.stack([c[sl].astype(np.float64)
                                                             for c in cols[1:]]))

    def _hits_of(self, d: int) -> PhoneHits:
        parts = self._pending.get(d)
        if not parts:
            z = np.zeros(0)
            return PhoneHits(z.astype(np.int64), z, z, z)
        if len(parts) > 1:
            parts[:] = [np.concatenate(parts, axis=1)]
        a = parts[0]
        return PhoneHits(a[0].astype(np.int64), a[1], a[2], a[3].astype(np.float32))

    def _drop_sent(self, d: int, before_ms: int) -> None:
        parts = self._pending.get(d)
        if parts:
            a = parts[0]
            keep = a[0] >= before_ms
            if keep.all():
                return
            if keep.any():
                parts[:] = [a[:, keep]]
            else:
                del self._pending[d]

    def flush_all(self) -> list[Upload]:
        """Every partial cache file, as the app does when data taking stops."""
        return [up for rec in self._runs.values() if (up := rec.buffer.flush(self.now_ms))]


def run_realtime(network: RealtimeNetwork, sink: Callable[[Upload], None], *,
                 tick_s: float = 1.0, stop: threading.Event | None = None,
                 max_seconds: float | None = None, clock: Callable[[], float] = time.time,
                 on_tick: Callable[[RealtimeNetwork, int], None] | None = None) -> int:
    """Advance ``network`` to the wall clock every tick and hand each due upload to ``sink``,
    until ``stop`` is set or ``max_seconds`` pass; then flush partial files. Returns the number
    of uploads handed over."""
    stop = stop or threading.Event()
    began = clock()
    n = 0
    while not stop.is_set():
        for up in network.advance(int(clock() * 1000)):
            sink(up)
            n += 1
        if on_tick:
            on_tick(network, n)
        if max_seconds is not None and clock() - began >= max_seconds:
            break
        stop.wait(tick_s)
    for up in network.flush_all():
        sink(up)
        n += 1
    return n
