"""``zimsend-relay worker``: the relay's worker process.

One process runs RQ's work loop in its main thread (RQ needs it there for
signals and job timeouts) on the events, simulated-device and schedule
queues, with RQ's scheduler beside it, the periodic maintenance in a
thread of its own, and the webhook pump in another. When Redis is down it waits and starts again.
"""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading
from collections.abc import Callable
from types import FrameType

from redis import Redis
from redis.exceptions import RedisError
from rq import SimpleWorker
from rq.exceptions import StopRequested

from relay_server.store.store import Store
from relay_server.webhooks.pump import WebhookPump
from relay_server.worker import context
from relay_server.worker.maintenance import Maintenance
from zimsend_common import wire
from zimsend_common.config import ConfigError, Settings, load_settings
from zimsend_common.logs import configure_logging

log = logging.getLogger(__name__)

WORKER_QUEUES = (wire.EVENTS_QUEUE, wire.SIMULATED_QUEUE, wire.SCHEDULE_QUEUE)
DEFAULT_MAINTENANCE_SECONDS = 10.0
REDIS_RETRY_SECONDS = 1.0
# RQ waits for a job in one blocking call of (ttl - 15) s; a signal that the OS
# hands to another of the process's threads is acted on only when it returns.
WORKER_TTL_SECONDS = 18


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
    try:
        settings = load_settings()
    except ConfigError as exc:
        print(f"zimsend-relay worker: {exc}", file=sys.stderr)
        return 2
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
        target=_run_without_signals,
        args=(Maintenance(ctx, maintenance_seconds), stop),
        name="maintenance",
        daemon=True,
    )
    maintenance.start()
    webhooks = threading.Thread(
        target=_run_without_signals, args=(WebhookPump(ctx), stop), name="webhooks", daemon=True
    )
    webhooks.start()
    try:
        while not stop.is_set() and not _work(redis, settings, stop):
            stop.wait(REDIS_RETRY_SECONDS)
    finally:
        stop.set()
        maintenance.join(timeout=5)
        webhooks.join(timeout=5)
        store.close()
    return 0


def _run_without_signals(duty: Maintenance | WebhookPump, stop: threading.Event) -> None:
    # SIGINT and SIGTERM must reach the main thread: only there do they
    # interrupt RQ's blocking wait for a job.
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT, signal.SIGTERM})
    duty.run(stop)


class RelayWorker(SimpleWorker):
    """RQ's SimpleWorker that also tells this process when a stop was asked for."""

    def __init__(self, stop: threading.Event, redis: Redis) -> None:
        super().__init__(list(WORKER_QUEUES), connection=redis, worker_ttl=WORKER_TTL_SECONDS)
        self.stop = stop

    def request_stop(self, signum: int, frame: FrameType | None) -> None:
        self.stop.set()
        super().request_stop(signum, frame)


def _work(redis: Redis, settings: Settings, stop: threading.Event) -> bool:
    """Run RQ's loop once; True when it stopped on request, False when Redis failed it."""
    _on_signals(lambda signum, frame: stop.set())
    try:
        # Even building a worker asks Redis something.
        worker = RelayWorker(stop, redis)
        # RQ installs the same handler once its loop starts; until then, ours.
        _on_signals(worker.request_stop)
        if not stop.is_set():
            worker.work(with_scheduler=True, logging_level=settings.logging.log_level)
    except StopRequested:
        pass
    except RedisError as exc:
        log.warning("worker waits for Redis", extra={"error": str(exc)})
    finally:
        _on_signals(lambda signum, frame: stop.set())
    # RQ's loop also ends on errors it only logs; a stop request is what ends ours.
    return stop.is_set()


def _on_signals(handler: Callable[[int, FrameType | None], object]) -> None:
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, handler)
