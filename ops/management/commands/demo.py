"""python manage.py demo: the whole system on one machine, until Ctrl-C.

Why one command: a newcomer (and `make demo`) gets a live network at once: the embedded
Elasticsearch node, the web server, the indexer, a simulated phone network posting to /submit,
the continuous coincidence search and the alert worker (which delivers what the search queues,
to the channels CRAYFIS_ALERT_* configure; none by default), each a child process. Their output (the web server's
access log of thousands of uploads a minute among it) goes to var/log/<name>.log; the terminal
shows one status line every few seconds: uploads, hits indexed, candidates.
"""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError

from crayfis.es.templates import ensure_templates
from dashboards import data
from indexer.worker import backlog
from ingest.models import Upload
from ops import esnode
from ops.elastic import embedded_node_config, get_es, index_prefix

MANAGE = str(Path(settings.BASE_DIR) / "manage.py")


def status_line() -> str:
    """'uploads 1,234 (5 pending, lag 2 s) | hits indexed 45,678 | candidates 3', each part on its own
    (a part whose source is down says so instead of stopping the demo)."""
    try:
        state = backlog()
        uploads = f"uploads {Upload.objects.count():,} ({state['pending']:,} pending, lag {state['lag_s']:.0f} s)"
    except Exception as exc:  # the database is busy or gone: say so, keep going
        uploads = f"uploads ? ({type(exc).__name__})"
    try:
        numbers = data.overview()
        found = f"hits indexed {numbers['hits_total']:,} | candidates {numbers['candidates_total']:,}"
    except Exception as exc:  # Elasticsearch not answering (yet)
        found = f"hits indexed ? | candidates ? ({type(exc).__name__})"
    return f"{uploads} | {found}"


def _tail(path: Path, lines: int = 5) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").strip().splitlines()[-lines:])
    except OSError:
        return ""


class Command(BaseCommand):
    help = "Run the server, indexer, simulated phone network, continuous search and alert worker together."

    def add_arguments(self, parser):
        parser.add_argument("--addr", default="127.0.0.1:8000", help="host:port of the web server")
        parser.add_argument("--phones", type=int, default=1000, help="simulated phones")
        parser.add_argument("--area-km", type=float, default=1.0, help="side of the simulated square region")
        parser.add_argument("--shower-every", type=float, default=120.0, help="mean seconds between injected showers")
        parser.add_argument("--search-every", default="20s", help="continuous search period")
        # Cleaner phones than the app's 20/min, so that showers stand out at the search's default
        # tau, R and k without noise candidates (docs/study.md shows what the app's rate needs).
        parser.add_argument("--rate-per-min", type=float, default=2.0, help="noise triggers per phone per minute")
        parser.add_argument("--response", default="optimistic", help="phone response to shower particles")
        # The app's 180 s exposure blocks (tunable by the server's set_xb_period) would keep the
        # first hits off the dashboard for minutes; the demo's phones close blocks every 30 s.
        parser.add_argument("--xb-period", type=float, default=30.0, help="exposure block length, s")
        parser.add_argument("--seed", type=int, default=None)
        parser.add_argument("--status-every", type=float, default=5.0, help="seconds between status lines")

    def handle(self, *args, **opts):
        cfg = embedded_node_config()
        if cfg is not None:
            try:
                self.stdout.write(esnode.start(cfg, progress=self.stdout.write))
            except esnode.EsNodeError as exc:
                raise CommandError(str(exc)) from None
        elif esnode.health(settings.CRAYFIS_ES_URL) is None:
            raise CommandError(f"no Elasticsearch answers at {settings.CRAYFIS_ES_URL}")
        call_command("migrate", interactive=False, verbosity=0)
        ensure_templates(get_es(), index_prefix(), replicas=settings.CRAYFIS_ES_REPLICAS)

        base = f"http://{opts['addr']}"
        sim = ["simulate", "--realtime", "--post", f"{base}/submit", "--phones", str(opts["phones"]),
               "--area-km", str(opts["area_km"]), "--shower-every", str(opts["shower_every"]),
               "--rate-per-min", str(opts["rate_per_min"]), "--response", opts["response"],
               "--xb-period", str(opts["xb_period"]), "--max-chunk-age", "20"]
        if opts["seed"] is not None:
            sim += ["--seed", str(opts["seed"])]
        children = {
            "web": ["runserver", "--noreload", opts["addr"]],
            "indexer": ["index_uploads"],
            "phones": sim,
            "search": ["search_continuously", "--every", opts["search_every"]],
            "alerts": ["deliver_alerts"],
        }
        logs = Path(settings.VAR_DIR) / "log"
        logs.mkdir(parents=True, exist_ok=True)
        # Every simulated phone posts from this machine's one address: the per-address /submit rate
        # (which is there for a NAT full of real phones) would refuse most of the fleet.
        env = dict(os.environ)
        env.setdefault("CRAYFIS_INGEST_RATE_PER_IP", "")
        procs: dict[str, subprocess.Popen] = {}
        try:
            for name, argv in children.items():
                with open(logs / f"{name}.log", "ab") as log:
                    procs[name] = subprocess.Popen([sys.executable, MANAGE, *argv], stdout=log,
                                                   stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                                   env=env)
                if name == "web":
                    self._wait_for_web(base)
            self.stdout.write(f"demo running: {base}/ (dashboard), {base}/healthz, {base}/admin/ - Ctrl-C stops")
            self.stdout.write(f"logs (web access log included): {logs}/{{{','.join(children)}}}.log")
            self._report(procs, opts["status_every"])
            dead = [n for n, p in procs.items() if p.poll() is not None]
            for name in dead:
                self.stderr.write(f"{name} exited ({procs[name].returncode}); last lines of {logs / name}.log:\n"
                                  f"{_tail(logs / f'{name}.log')}")
            raise CommandError(f"demo stopped: {', '.join(dead)} exited")
        except KeyboardInterrupt:
            self.stdout.write("stopping ...")
        finally:
            for proc in procs.values():
                if proc.poll() is None:
                    proc.send_signal(signal.SIGTERM)
            for proc in procs.values():
                try:
                    proc.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    proc.kill()

    def _report(self, procs: dict[str, subprocess.Popen], every_s: float) -> None:
        """A status line every every_s seconds while every child runs."""
        next_at = time.monotonic()
        while all(p.poll() is None for p in procs.values()):
            if time.monotonic() >= next_at:
                self.stdout.write(f"{time.strftime('%H:%M:%S')}  {status_line()}")
                self.stdout.flush()
                next_at += every_s
            time.sleep(0.5)

    def _wait_for_web(self, base: str, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                urllib.request.urlopen(f"{base}/healthz", timeout=2)
                return
            except urllib.error.HTTPError:
                return  # it answers (503 just means a dependency is still coming up)
            except OSError:
                time.sleep(0.5)
        raise CommandError(f"the web server did not answer at {base} within {timeout:.0f} s")
