"""Every address prod-check binds, all on 127.0.0.1, in the ranges this project reserves for it,
all below the kernel's ephemeral range (32768-60999 on Linux), where any passing connection's
local end could hold one.

The Elasticsearch nodes form a cluster of their own (own name, seed hosts only these ports), so
the shared node on 9200 never joins it.
"""
from __future__ import annotations

import errno
import socket
from dataclasses import dataclass

from ops.prodcheck.errors import SetupError

HOST = "127.0.0.1"


@dataclass(frozen=True)
class Ports:
    https: int = 8443                 # nginx, TLS
    web: int = 8101                   # gunicorn behind nginx
    postgres: int = 15432
    redis: int = 6390
    es_http: tuple[int, ...] = (9258, 9259)   # transport: +100 (9358, 9359)
    spark_master: int = 7177
    spark_master_ui: int = 8180
    spark_workers: tuple[int, ...] = (8191, 8192)
    spark_worker_uis: tuple[int, ...] = (8181, 8182)
    spark_driver: int = 8110
    spark_driver_blocks: int = 8111
    spark_executor_blocks: int = 8130  # executors count up from here

    def named(self) -> list[tuple[int, str]]:
        """(port, what) for every port a service here listens on."""
        pairs = [(self.https, "nginx"), (self.web, "gunicorn"), (self.postgres, "PostgreSQL"),
                 (self.redis, "Redis"), (self.spark_master, "Spark master"),
                 (self.spark_master_ui, "Spark master UI"), (self.spark_driver, "Spark driver"),
                 (self.spark_driver_blocks, "Spark driver block manager")]
        for port in self.es_http:
            pairs += [(port, "Elasticsearch HTTP"), (port + 100, "Elasticsearch transport")]
        pairs += [(p, "Spark worker") for p in self.spark_workers]
        pairs += [(p, "Spark worker UI") for p in self.spark_worker_uis]
        pairs += [(self.spark_executor_blocks + i, "Spark executor block manager") for i in range(2)]
        return pairs


def port_taken(port: int) -> bool:
    """Whether something listens on the port. SO_REUSEADDR, as the servers set it: connections of
    an earlier run still in TIME_WAIT do not count."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((HOST, port))
        except OSError as exc:
            if exc.errno in (errno.EADDRINUSE, errno.EACCES):
                return True
            raise
    return False


def require_free(ports: Ports) -> None:
    """SetupError naming the first port that something already listens on."""
    for port, what in ports.named():
        if port_taken(port):
            raise SetupError(f"port {port} ({what}) is taken on {HOST}: stop what listens there "
                             "(ss -ltnp shows it) and run prod-check again")
