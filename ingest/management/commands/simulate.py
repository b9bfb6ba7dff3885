"""manage.py simulate: a simulated CRAYFIS phone network, posted to /submit or written to Parquet.

  manage.py simulate --phones 1000 --area-km 1 --hours 2 --showers 5 --seed 1 --parquet var/sim1
  manage.py simulate --phones 200 --hours 1 --seed 1 --post http://127.0.0.1:8000/submit
  manage.py simulate --phones 300 --post http://127.0.0.1:8000/submit --realtime

Batch runs are deterministic for a seed and a start (without --seed one is drawn and printed;
--start defaults to 2026-01-01T22:00Z for --parquet, and for --post to the last 22:00 UTC at least
--hours before now, so that the server's event-time window takes the data: posting an older
history needs the window opened, or its uploads released, docs/ingest.md). --showers M
injects M showers above --shower-energy-min (default 1e20 eV, detectable at ~1000 phones/km^2)
at times when phones are live, on top of the natural flux. --realtime runs on the wall clock
until stopped (Ctrl-C) or --duration seconds, with a shower every --shower-every seconds
(or --showers per hour when given). The last line printed is a JSON summary.
"""
from __future__ import annotations

import json
import signal
import threading
import time
from datetime import UTC, datetime

import numpy as np
from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from crayfis.sim.config import RESPONSES, FleetConfig, ShowerConfig, SimConfig
from crayfis.sim.datachunks import DATACHUNK_SIZE, iter_uploads
from crayfis.sim.network import simulate_network
from crayfis.sim.parquet import write_parquet
from crayfis.sim.poster import Poster, check_url
from crayfis.sim.realtime import RealtimeNetwork, run_realtime


class Command(BaseCommand):
    help = "Simulate a phone network with air showers: POST it to /submit or write Parquet."

    def add_arguments(self, parser):
        add = parser.add_argument
        add("--phones", type=int, default=1000, help="number of phones (default 1000)")
        add("--area-km", type=float, default=1.0, help="side of the square region, km (default 1)")
        add("--hours", type=float, default=1.0, help="simulated span, hours (batch; default 1)")
        add("--showers", type=int, default=0,
            help="forced showers (batch: in the span; realtime: per hour)")
        add("--rate-per-min", type=float, default=20.0, help="median noise triggers per phone per minute")
        add("--seed", type=int, default=None, help="random seed (default: drawn and printed)")
        out = parser.add_mutually_exclusive_group()
        out.add_argument("--post", metavar="URL", help="POST DataChunks to this /submit URL")
        out.add_argument("--parquet", metavar="DIR", help="write hits + truth to this directory")
        add("--realtime", action="store_true", help="run on the wall clock until stopped (needs --post)")
        add("--duration", type=float, default=None, help="realtime: stop after this many seconds")
        add("--start", default=None, help="batch start, ISO UTC (default: --parquet 2026-01-01T22:00Z, a night; "
                                          "--post the last 22:00 UTC at least --hours ago)")
        add("--center", default="46.2,6.1", help="region centre 'lat,lon' (default 46.2,6.1)")
        add("--duty", choices=("night", "always"), default=None,
            help="phones live at night (batch default) or always (realtime default)")
        add("--cluster-fraction", type=float, default=0.0, help="share of phones in a city-like hot spot")
        add("--response", choices=sorted(RESPONSES), default="moderate", help="phone A*eps")
        add("--shower-energy-min", type=float, default=1e20, help="forced shower energies above, eV")
        add("--no-natural", action="store_true", help="no natural-flux showers, only forced ones")
        add("--shower-every", type=float, default=300.0, help="realtime: seconds between showers")
        add("--max-chunk-age", type=float, default=60.0, help="realtime: send cached files older than this, s")
        add("--xb-period", type=float, default=180.0, help="exposure block length, s (app: 180)")
        add("--datachunk-size", type=int, default=DATACHUNK_SIZE, help="upload threshold, bytes")
        add("--workers", type=int, default=8, help="concurrent POSTs")

    def handle(self, *args, **o):
        if not (o["post"] or o["parquet"]):
            raise CommandError("give --post URL or --parquet DIR")
        if o["realtime"] and not o["post"]:
            raise CommandError("--realtime needs --post URL")
        for name in ("phones", "workers", "datachunk_size"):
            if o[name] < 1:
                raise CommandError(f"--{name.replace('_', '-')} must be >= 1")
        for name in ("area_km", "hours", "rate_per_min"):
            if not o[name] > 0:
                raise CommandError(f"--{name.replace('_', '-')} must be > 0")
        if o["showers"] < 0:
            raise CommandError("--showers must be >= 0")
        if o["duration"] is not None and o["duration"] <= 0:
            raise CommandError("--duration must be > 0")
        if o["post"]:
            try:
                check_url(o["post"])
            except ValueError as e:
                raise CommandError(str(e)) from None
        if o["xb_period"] <= 0 or o["max_chunk_age"] <= 0 or o["shower_every"] < 0:
            raise CommandError("--xb-period and --max-chunk-age must be > 0, --shower-every >= 0")
        seed = o["seed"] if o["seed"] is not None else int(np.random.SeedSequence().entropy % 2**32)
        config = self._config(o)
        progress_on = o["verbosity"] > 0
        if o["realtime"]:
            summary = self._realtime(config, seed, o, progress_on)
        elif o["parquet"]:
            summary = self._parquet(config, seed, o["parquet"], progress_on)
        else:
            summary = self._post(config, seed, o, progress_on)
        self.stdout.write(json.dumps({"seed": seed, **summary}))

    # -- configuration --------------------------------------------------------------------
    def _config(self, o) -> SimConfig:
        try:
            lat, lon = (float(v) for v in o["center"].split(","))
        except ValueError:
            raise CommandError(f"--center must be 'lat,lon', not {o['center']!r}") from None
        duty = o["duty"] or ("always" if o["realtime"] else "night")
        start = SimConfig().start_ms if not o["post"] else recent_night_ms(o["hours"])
        if o["start"]:
            try:
                when = datetime.fromisoformat(o["start"].replace("Z", "+00:00"))
            except ValueError:
                raise CommandError(f"--start is not an ISO date-time: {o['start']!r}") from None
            if when.tzinfo is None:
                when = when.replace(tzinfo=UTC)
            start = int(when.timestamp() * 1000)
        try:
            fleet = FleetConfig(n_phones=o["phones"], area_km=o["area_km"], center_lat=lat,
                                center_lon=lon, rate_per_min=o["rate_per_min"], duty_cycle=duty,
                                cluster_fraction=o["cluster_fraction"])
            showers = ShowerConfig(natural=not o["no_natural"], response=o["response"],
                                   forced=0 if o["realtime"] else o["showers"],
                                   forced_energy_min_eV=o["shower_energy_min"])
            return SimConfig(start_ms=start, hours=o["hours"], fleet=fleet, showers=showers)
        except ValueError as e:
            raise CommandError(str(e)) from None

    # -- modes ----------------------------------------------------------------------------
    def _parquet(self, config, seed, directory, progress_on) -> dict:
        bar = tqdm(desc="simulate", unit="block", disable=not progress_on, file=self.stderr)
        try:
            s = write_parquet(config, directory, seed=seed, progress=_bar_progress(bar))
        except FileExistsError as e:
            raise CommandError(str(e)) from None
        finally:
            bar.close()
        return {"parquet": str(s.directory), "hits": s.n_hits, "shower_hits": s.n_shower_hits,
                "showers": s.n_showers, "files": s.n_files}

    def _post(self, config, seed, o, progress_on) -> dict:
        bar = tqdm(desc="simulate", unit="block", disable=not progress_on, file=self.stderr)
        result = simulate_network(config, seed, progress=_bar_progress(bar))
        bar.close()
        sent = tqdm(desc="post", unit="upload", disable=not progress_on, file=self.stderr)
        poster = self._poster(o, sent)
        uploads = iter_uploads(result, seed, datachunk_size=o["datachunk_size"],
                               xb_period_ms=int(o["xb_period"] * 1000))
        with poster:
            stats = poster.post_all(uploads)
        sent.close()
        return {"post": o["post"], "hits": result.hits.num_rows, "showers": len(result.showers),
                "shower_hits": int(result.showers.n_hit_devices.sum()), **_stats(stats)}

    def _realtime(self, config, seed, o, progress_on) -> dict:
        every = 3600.0 / o["showers"] if o["showers"] > 0 else o["shower_every"]
        net = RealtimeNetwork(config, seed, shower_every_s=every,
                              max_chunk_age_ms=int(o["max_chunk_age"] * 1000),
                              datachunk_size=o["datachunk_size"],
                              xb_period_ms=int(o["xb_period"] * 1000))
        bar = tqdm(desc="live", unit="upload", disable=not progress_on, file=self.stderr)
        poster = self._poster(o, bar, on_reply=net.apply_reply)
        stop = threading.Event()
        if threading.current_thread() is threading.main_thread():
            for sig in (signal.SIGINT, signal.SIGTERM):
                signal.signal(sig, lambda *_: stop.set())

        def status(network, n):
            now = network.now_ms
            done = sum(1 for s in network.showers if s["t_ms"] < now)
            bar.set_postfix(hits=network.n_hits, showers=done, refresh=False)

        began = time.time()
        with poster:
            run_realtime(net, poster.submit, stop=stop, max_seconds=o["duration"], on_tick=status)
        bar.close()
        showers = [s for s in net.showers if s["t_ms"] < net.now_ms]
        return {"post": o["post"], "seconds": round(time.time() - began, 1), "hits": net.n_hits,
                "showers": len(showers),
                "shower_hits": int(sum(s["n_hit_devices"] for s in showers)),
                **_stats(poster.stats)}

    def _poster(self, o, bar, on_reply=None) -> Poster:
        return Poster(o["post"], workers=o["workers"], on_reply=on_reply,
                      progress=lambda done, total: bar.update(1))


def recent_night_ms(hours: float, now_s: float | None = None) -> int:
    """The last 22:00 UTC from which `hours` of data end before now (Unix ms): a night, as the
    batch default, recent enough for the server's event-time window."""
    now_ms = int((time.time() if now_s is None else now_s) * 1000)
    day_ms, night_ms = 86_400_000, 22 * 3_600_000
    start = (now_ms - night_ms) // day_ms * day_ms + night_ms
    while start + hours * 3_600_000 > now_ms:
        start -= day_ms
    return start


def _bar_progress(bar):
    def progress(done: int, total: int) -> None:
        bar.total = total
        bar.n = done
        bar.refresh()
    return progress


def _stats(stats) -> dict:
    return {"posted": stats.posted, "failed": stats.failed, "silenced": stats.silenced,
            "requests": stats.attempts, "bytes": stats.bytes_sent,
            "statuses": {str(k): v for k, v in stats.statuses.items()}}
