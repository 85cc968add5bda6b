"""``GET /healthz``: whether the relay can do its work, for load balancers and people.

Outside /v1 and without credentials. 200 ``{"status": "ok", "checks": ...}``
when the store, Redis and the worker are fine; 503 ``{"status": "degraded",
"failed": [...], "checks": ...}`` naming what is not. Devices are listed
online or not, and do not change the status; like ``/metrics``, the list is
shown only to whom ``metrics.monitor_may_read`` lets read it (an empty list
to others), since a load balancer needs the status, not which devices exist.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from flask import Blueprint

from relay_server.api import health_report as health
from relay_server.api.context import current
from relay_server.api.metrics import monitor_may_read
from zimsend_common.timefmt import utcnow

bp = Blueprint("health", __name__)


@bp.get("/healthz")
def healthz() -> tuple[dict[str, Any], int]:
    """The state of the store, Redis, the worker and each device."""
    relay = current()
    checks = {
        "store": health.check_store(relay.store),
        "redis": health.check_redis(relay.redis),
        "worker": health.check_worker(relay.redis),
    }
    failed = [name for name, check in checks.items() if not check.ok]
    document: dict[str, Any] = {
        "status": "degraded" if failed else "ok",
        "checks": {name: check.to_dict() for name, check in checks.items()},
        "devices": _devices() if monitor_may_read() else [],
    }
    if failed:
        document["failed"] = failed
    return document, 503 if failed else 200


def _devices() -> list[dict[str, Any]]:
    relay = current()
    now = utcnow()
    offline_after = timedelta(seconds=relay.settings.relay.device_offline_after_seconds)
    return [
        health.device_document(state, now, offline_after) for state in health.device_states(relay.store, relay.redis)
    ]
