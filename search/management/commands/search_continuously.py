"""manage.py search_continuously [--every 60s] [--window-ms W --radius-m R --min-devices K] [--once]

Keeps the continuous search's candidates in `{prefix}-candidates` equal to one batch coincidence
search over all indexed hits: every period it re-searches the time buckets that received hits
since its last pass (late uploads included), upserts candidates with stable ids, writes its
status and sends alerts. Runs until SIGINT/SIGTERM (finishing the pass in hand); with --once,
one pass. A flag left out takes its CRAYFIS_SEARCH_* setting.
"""
from __future__ import annotations

import logging
import re
import signal
import threading

from django.core.management.base import BaseCommand, CommandError

from crayfis.es.client import make_client
from search.loop import LoopConfig, SearchLoop

_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "min": 60.0, "h": 3600.0}


def parse_duration(text: str) -> float:
    """'60s', '2m', '500ms', '1h' or a plain number of seconds -> seconds."""
    m = re.fullmatch(r"\s*(\d+(?:\.\d*)?)\s*(ms|s|min|m|h)?\s*", text or "")
    if not m:
        raise ValueError(f"not a duration: {text!r} (e.g. 60s, 2m, 500ms)")
    value = float(m.group(1)) * _UNITS[m.group(2) or "s"]
    if value <= 0:
        raise ValueError("the period must be > 0")
    return value


def loop_config(every: str | None = None, window_ms: int | None = None, radius_m: float | None = None,
                min_devices: int | None = None) -> LoopConfig:
    """The loop's configuration: the settings, with the flags that were given in their place."""
    given = {"window_ms": window_ms, "radius_m": radius_m, "min_devices": min_devices}
    try:
        if every is not None:
            given["every_s"] = parse_duration(every)
        return LoopConfig.from_settings(**{k: v for k, v in given.items() if v is not None})
    except ValueError as exc:  # a bad period or search parameter
        raise CommandError(str(exc)) from None


class Command(BaseCommand):
    help = "Re-search touched time buckets every period and keep the candidates exact and versioned."

    def add_arguments(self, parser):
        parser.add_argument("--every", default=None,
                            help="period between passes, e.g. 60s, 2m (CRAYFIS_SEARCH_EVERY_S)")
        parser.add_argument("--window-ms", type=int, default=None, help="tau, ms (CRAYFIS_SEARCH_WINDOW_MS)")
        parser.add_argument("--radius-m", type=float, default=None, help="R, m (CRAYFIS_SEARCH_RADIUS_M)")
        parser.add_argument("--min-devices", type=int, default=None, help="k (CRAYFIS_SEARCH_MIN_DEVICES)")
        parser.add_argument("--once", action="store_true", help="one pass, then exit")

    def handle(self, *args, every=None, window_ms=None, radius_m=None, min_devices=None, once=False,
               verbosity=1, **options):
        if verbosity > 0:
            logging.getLogger("search").setLevel(logging.INFO)
        config = loop_config(every, window_ms, radius_m, min_devices)
        stop = threading.Event()
        if threading.current_thread() is threading.main_thread():
            for sig in (signal.SIGINT, signal.SIGTERM):
                signal.signal(sig, lambda *_: stop.set())
        self.stdout.write(f"continuous search: every {config.every_s:g} s, {config.params.as_dict()}, "
                          f"prefix {config.prefix!r}")
        loop = SearchLoop(make_client(config.es_url, request_timeout=120), config)
        passes = loop.run(stop=stop, once=once)
        self.stdout.write(f"search stopped after {passes} passes")
