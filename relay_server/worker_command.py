"""``zimsend-relay worker``: the relay's worker process.

One process runs RQ's work loop in its main thread (RQ needs it there for
signals and job timeouts) on the events, simulated-device and schedule
queues, with RQ's scheduler beside it, and the periodic maintenance in a
thread of its own. When Redis is down it waits and starts again.
"""

from __future__ import annotations

import argparse
import logging
import threading
import time

from redis import Redis
from redis.exceptions import RedisError
from rq import SimpleWorker

from relay_server.store.store import Store
from relay_server.worker import context
from relay_server.worker.maintenance import Maintenance
from zimsend_common import wire
from zimsend_common.config import Settings, load_settings
from zimsend_common.logs import configure_logging

log = logging.getLogger(__name__)

WORKER_QUEUES = (wire.EVENTS_QUEUE, wire.SIMULATED_QUEUE, wire.SCHEDULE_QUEUE)
DEFAULT_MAINTENANCE_SECONDS = 10.0
REDIS_RETRY_SECONDS = 1.0


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add ``worker`` to the relay's command line."""
    parser = subparsers.add_parser("worker", help="apply agent events, release scheduled SMS, recover queues")
    parser.add_argument(
        "--maintenance-seconds",
        type=float,
        default=DEFAULT_MAINTENANCE_SECONDS,
        help="how often to re-enqueue lost jobs and check devices (default: %(default)s)",
    )
    parser.set_defaults(handler=_main)


def _main(args: argparse.Namespace) -> int:
    settings = load_settings()
    configure_logging(settings.logging)
    return run_worker(settings, maintenance_seconds=args.maintenance_seconds)


def run_worker(settings: Settings, *, maintenance_seconds: float) -> int:
    """Run until SIGINT or SIGTERM; returns the process's exit status."""
    settings.relay.data_dir.mkdir(parents=True, exist_ok=True)
    store = Store.open(settings.relay.resolved_database_url())
    # RQ stores pickled jobs: its connection must hand back bytes.
    redis = Redis.from_url(settings.relay.redis_url, health_check_interval=10)
    ctx = context.WorkerContext(store=store, redis=redis, settings=settings)
    context.install(ctx)
    stop = threading.Event()
    maintenance = threading.Thread(
        target=Maintenance(ctx, maintenance_seconds).run, args=(stop,), name="maintenance", daemon=True
    )
    maintenance.start()
    try:
        while not _work(redis, settings):
            time.sleep(REDIS_RETRY_SECONDS)
    finally:
        stop.set()
        maintenance.join(timeout=5)
        store.close()
    return 0


def _work(redis: Redis, settings: Settings) -> bool:
    """Run RQ's loop once; True when it stopped on request, False when Redis failed it."""
    try:
        worker = SimpleWorker(list(WORKER_QUEUES), connection=redis)
        worker.work(with_scheduler=True, logging_level=settings.logging.log_level)
    except RedisError as exc:
        log.warning("worker waits for Redis", extra={"error": str(exc)})
        return False
    return worker._stop_requested
