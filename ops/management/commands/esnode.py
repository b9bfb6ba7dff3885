"""python manage.py esnode start|stop|status: the embedded Elasticsearch node.

Needs no secret: it skips the system checks (ops.checks), so an operator can run it on a host
whose environment holds no SECRET_KEY and with debug off.
"""
import json

from django.core.management.base import BaseCommand, CommandError

from ops import esnode
from ops.elastic import embedded_node_config


class Command(BaseCommand):
    help = "Start, stop or inspect the embedded Elasticsearch node (var/es), used when CRAYFIS_ES_URL names it."
    requires_system_checks = []

    def add_arguments(self, parser):
        parser.add_argument("action", choices=["start", "stop", "status"])
        parser.add_argument("--timeout", type=float, default=180.0, help="seconds to wait for health on start")

    def handle(self, *args, action, timeout, **options):
        cfg = embedded_node_config()
        if cfg is None:
            from django.conf import settings

            raise CommandError(f"CRAYFIS_ES_URL={settings.CRAYFIS_ES_URL} is an external cluster: "
                               f"no embedded node to {action}")
        try:
            if action == "start":
                self.stdout.write(esnode.start(cfg, timeout=timeout, progress=self.stdout.write))
            elif action == "stop":
                self.stdout.write(esnode.stop(cfg))
            else:
                self.stdout.write(json.dumps(esnode.status(cfg)))
        except esnode.EsNodeError as exc:
            raise CommandError(str(exc)) from None
