"""``GET /metrics``: the gateway in Prometheus's text format, outside /v1 and without credentials.

Two kinds of metrics meet here. Counters and histograms (HTTP requests, the
worker's event and release counts) are counted by each process and added up
across processes by prometheus-client's multiprocess mode (``metrics_dir``);
without it (an app run in-process, as tests do) they are this process's own.
Gauges of what the gateway holds (messages by status, queue depths, devices,
dead letters, webhook attempts and deliveries) are read from the store and Redis at each
scrape (``state_metrics``), so every process answers the same.

Only loopback addresses may scrape unless ``metrics_allow_remote`` is set: the
device ids and counts are nobody else's business, and a Prometheus on the
same host (or a proxy that adds its own access control) is the usual set-up.
"""

from __future__ import annotations

import ipaddress
from datetime import timedelta

from flask import Blueprint, Response, jsonify, request
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, generate_latest, multiprocess

from relay_server.api.context import current
from relay_server.api.metrics_dir import multiprocess_directory
from relay_server.api.state_metrics import GatewayStateCollector

bp = Blueprint("metrics", __name__)


class _ThisProcess:
    """This process's own counters, when no multiprocess directory is in use."""

    def describe(self) -> list:
        return []

    def collect(self):
        return REGISTRY.collect()


@bp.get("/metrics")
def metrics() -> Response | tuple[Response, int]:
    """Every metric, as Prometheus reads them; 403 from a remote address unless allowed."""
    relay = current()
    if not monitor_may_read():
        error = {"code": "FORBIDDEN", "message": "/metrics answers loopback only; see metrics_allow_remote."}
        return jsonify({"success": False, "error": error}), 403
    registry = CollectorRegistry(auto_describe=False)
    directory = multiprocess_directory()
    if directory is not None:
        multiprocess.MultiProcessCollector(registry, path=str(directory))
    else:
        registry.register(_ThisProcess())
    offline_after = timedelta(seconds=relay.settings.relay.device_offline_after_seconds)
    registry.register(GatewayStateCollector(relay.store, relay.redis, offline_after))
    return Response(generate_latest(registry), content_type=CONTENT_TYPE_LATEST)


def monitor_may_read() -> bool:
    """Whether the caller may read what the gateway's monitoring shows of its devices:
    from a loopback address, or from anywhere with ``metrics_allow_remote``."""
    return current().settings.relay.metrics_allow_remote or _loopback(request.remote_addr)


def _loopback(address: str | None) -> bool:
    try:
        return address is not None and ipaddress.ip_address(address).is_loopback
    except ValueError:
        return False
