"""``zimsend-relay worker``: the relay's worker process.

One process runs RQ's work loop in its main thread (RQ needs it there for
signals and job timeouts) on the simulated-device queue, with RQ's scheduler
beside it over that queue and the events queue (for events deferred while
the store is down); the event pump (agents' events, a batch at a time,
without RQ's loop: see ``relay_server.worker.event_pump``), the release of
due scheduled messages, the periodic maintenance and the webhook pump each
run in a thread of their own. When Redis is down it waits and starts again
(the webhook pump needs no Redis and goes on). Of two workers on one
deployment, only the one holding the worker lease applies events, releases
scheduled messages and runs the maintenance; the other stands by until the
lease is free (see ``relay_server.worker.lease``).

Its counters and histograms go to the shared Prometheus directory
(``relay_server.api.metrics_dir``), where ``/metrics`` reads them.

RQ's scheduler is supervised: RQ itself starts it again when its process
died, but only in its own maintenance, every 10 minutes by default; the
worker has that run every ``SCHEDULER_CHECK_SECONDS`` and logs each restart.
It also ends with the worker: on Linux the kernel sends it SIGTERM when the
worker's process dies, however it dies.

On PostgreSQL its statements are cut after ``worker_statement_timeout_seconds``
(``relay_server.worker.database_waits``): a lock held elsewhere costs rounds,
each said, instead of holding every duty.
"""

from __future__ import annotations

import argparse
import ctypes
import logging
import os
import signal
import sys
import threading
import time
from collections.abc import Callable
from types import FrameType
from typing import Any

from redis import Redis
from redis.exceptions import RedisError
from rq import Queue, SimpleWorker
from rq.exceptions import StopRequested
from rq.job import Job
from rq.scheduler import RQScheduler

from relay_server.api import metrics_dir
from relay_server.store.store import DatabaseUnreachable, SchemaNewerThanCode, Store
from relay_server.webhooks.pump import WebhookPump
from relay_server.worker import context, simulated
from relay_server.worker.due import DueRelease
from relay_server.worker.epoch import EpochWatch
from relay_server.worker.event_pump import EventPump
from relay_server.worker.lease import Duty, LeasedDuties, WorkerLease
from relay_server.worker.maintenance import Maintenance
from relay_server.worker.purge import DailyPurge
from zimsend_common import bus, redis_client, wire
from zimsend_common.config import ConfigError, Settings, load_settings
from zimsend_common.logs import configure_logging
from zimsend_common.private_files import private_directory

log = logging.getLogger(__name__)

# The queues RQ's loop runs; the events queue is the event pump's.
WORKER_QUEUES = (wire.SIMULATED_QUEUE,)
# The queues RQ's scheduler moves due jobs back onto: deferred events too.
SCHEDULED_QUEUES = (*WORKER_QUEUES, wire.EVENTS_QUEUE)
# The jobs RQ's loop runs, by the names the wire gives them; a job naming
# anything else is refused, never imported.
RelayJob = bus.job_class("RelayJob", {wire.SIMULATED_SEND_FUNC: simulated.send_message})
DEFAULT_MAINTENANCE_SECONDS = 10.0
REDIS_RETRY_SECONDS = 1.0
# How long the thread listening for RQ's commands (such as a stop) waits on
# Redis at a time (RQ's own 60 s would make SIGTERM take a minute). Stopping,
# RQ waits 1 s for the thread, then closes its connection: a thread still in
# its wait then closes it at the same moment and dies on redis-py's race
# (PubSub.reset), so the wait stays well under that second.
COMMAND_WAIT_SECONDS = 0.5
# RQ waits for a job in one blocking call of (ttl - 15) s; a signal that the OS
# hands to another of the process's threads is acted on only when it returns.
WORKER_TTL_SECONDS = 18
DATABASE_RETRY_SECONDS = 2.0  # between tries to open the store at start
# The threads that may use the database at once beside the webhook attempts (``webhook_workers``):
# RQ's loop, the lease, the event pump, the due release, the maintenance, the purge and the webhook
# pump's round. Fewer, and attempts waited for a connection, or opened one each and closed it.
DUTY_CONNECTIONS = 7
SCHEDULER_CHECK_SECONDS = 10
_PR_SET_PDEATHSIG = 1  # linux/prctl.h
_STOP_SIGNALS = {signal.SIGINT, signal.SIGTERM}
# The forking thread's signal mask from before a fork: its own (a duty thread blocks both).
_held = threading.local()


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
    # First of all: a stop asked for while the worker starts (``systemctl stop`` as the
    # unit starts, say) is heard, not fatal. The start then ends at its next step,
    # having finished what it was at (a migration of the store, a round of a duty
    # thread), and the worker stops as it would once running: cleanly, with status 0.
    stop = threading.Event()
    _on_signals(lambda signum, frame: stop.set())
    try:
        settings = load_settings()
    except ConfigError as exc:
        print(f"zimsend-relay worker: {exc}", file=sys.stderr)
        return 2
    configure_logging(settings.logging)
    metrics_dir.enter_multiprocess_mode(settings)
    _children_end_with(os.getpid())
    try:
        return run_worker(settings, maintenance_seconds=args.maintenance_seconds, stop=stop)
    except SchemaNewerThanCode as exc:  # raised opening the store, before any duty started
        print(f"zimsend-relay worker: {exc}", file=sys.stderr)
        return 1


def open_store(settings: Settings, stop: threading.Event) -> Store | None:
    """The store, keeping a PostgreSQL connection for each webhook attempt and each duty that
    may use one at once, once its database answers (PostgreSQL restarting as the worker starts, or
    not yet up at boot); None when told to stop meanwhile. A relay started then waits the same
    way only per request (503): a worker that gave up here would apply no report until restarted."""
    while True:
        try:
            return Store.open(
                settings.relay.resolved_database_url(),
                statement_timeout=settings.relay.worker_statement_timeout_seconds,
                connections=settings.relay.webhook_workers + DUTY_CONNECTIONS,
            )
        except DatabaseUnreachable as exc:
            log.warning("worker waits for the database", extra={"error": str(exc)})
        # Not stop.wait, as below: the signal handler sets ``stop``.
        deadline = time.monotonic() + DATABASE_RETRY_SECONDS
        while time.monotonic() < deadline:
            if stop.is_set():
                return None
            time.sleep(0.1)


def run_worker(settings: Settings, *, maintenance_seconds: float, stop: threading.Event | None = None) -> int:
    """Run until SIGINT or SIGTERM, or until ``stop`` is set (by those signals' handler,
    installed before); returns the process's exit status."""
    stop = stop or threading.Event()
    private_directory(settings.relay.data_dir)
    store = open_store(settings, stop)
    if store is None:
        return 0  # told to stop while it waited for the database
    redis = redis_client.connect(settings.relay.redis_url, redis_client.WORKER)
    ctx = context.WorkerContext(store=store, redis=redis, settings=settings)
    context.install(ctx)
    duties = LeasedDuties(WorkerLease(redis), lambda: _leased_duties(ctx, maintenance_seconds))
    threads = [
        threading.Thread(target=_run_without_signals, args=(duty.run, stop), name=name, daemon=True)
        for name, duty in (
            ("lease", duties),
            ("webhooks", WebhookPump(ctx)),
        )
    ]
    for thread in threads:
        thread.start()
    try:
        while not stop.is_set() and not _work(redis, settings, stop):
            # Not stop.wait: the signal handler sets ``stop``, and setting it while this
            # thread holds its lock (as wait does, briefly) would never return.
            time.sleep(REDIS_RETRY_SECONDS)
    finally:
        stop.set()
        for thread in threads:
            thread.join(timeout=5)
        store.close()
    return 0


def _leased_duties(ctx: context.WorkerContext, maintenance_seconds: float) -> list[tuple[str, Duty]]:
    """The duties only the worker holding the lease runs, each in a thread of its own, made
    anew for each of its terms: each starts as in a worker just started (the event pump
    first takes what the last holder left, the epoch watch knows nothing of the last
    holder's releases, the daily purge purges at once)."""
    epoch = EpochWatch(ctx.recovery_grace, ctx.store.claims_at_stake, ctx.store.mark_worker_looked)
    due = DueRelease(ctx, epoch, ctx.settings.relay.due_check_seconds)
    maintenance = Maintenance(ctx, maintenance_seconds, epoch, due)
    return [
        ("events", EventPump(ctx).run),
        ("due-release", due.run),
        ("maintenance", maintenance.run),
        ("purge", DailyPurge(ctx).run),
    ]


def _children_end_with(parent: int) -> None:
    """Have every process this one forks (RQ's scheduler: the worker forks nothing else)
    receive SIGTERM when this process dies. Killed (SIGKILL, the OOM killer), the worker
    would otherwise leave its scheduler running, holding the lock the next worker needs.

    A fork also starts with SIGINT and SIGTERM at their default action (end the
    process) until it installs handlers of its own. With the worker's handlers,
    copied, such a signal only set a flag of the worker's copy: a scheduler told
    to stop before RQ had installed its handlers never ended, and the worker's
    stop waited for it for ever. The two signals are held across the fork, so
    one sent meanwhile reaches the child once its handlers are the default ones.
    """
    if sys.platform == "linux":
        os.register_at_fork(
            before=_hold_stop_signals,
            after_in_parent=_release_stop_signals,
            after_in_child=lambda: _end_with(parent),
        )


def _hold_stop_signals() -> None:
    _held.mask = signal.pthread_sigmask(signal.SIG_BLOCK, _STOP_SIGNALS)


def _release_stop_signals() -> None:
    signal.pthread_sigmask(signal.SIG_SETMASK, _held.mask)


def _end_with(parent: int) -> None:
    for signum in _STOP_SIGNALS:
        signal.signal(signum, signal.SIG_DFL)
    _release_stop_signals()
    ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)
    if os.getppid() != parent:  # it died before the request was made
        os.kill(os.getpid(), signal.SIGTERM)


def _run_without_signals(run: Callable[[threading.Event], None], stop: threading.Event) -> None:
    # SIGINT and SIGTERM must reach the main thread: only there do they
    # interrupt RQ's blocking wait for a job.
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT, signal.SIGTERM})
    run(stop)


class RelayWorker(SimpleWorker):
    """RQ's SimpleWorker on the bus's terms (JSON jobs, allow-listed functions), that also
    tells this process when a stop was asked for."""

    def __init__(self, stop: threading.Event, redis: Redis) -> None:
        super().__init__(
            list(WORKER_QUEUES),
            connection=redis,
            worker_ttl=WORKER_TTL_SECONDS,
            maintenance_interval=SCHEDULER_CHECK_SECONDS,
            job_class=RelayJob,
            queue_class=bus.BusQueue,
            serializer=bus.JSONSerializer,
        )
        self.stop = stop
        self._waiting = False
        self._said_held_elsewhere = False

    def request_stop(self, signum: int, frame: FrameType | None) -> None:
        """Have RQ's loop stop: at once while it waits for a job, else at its next turn.

        RQ's own handler raises ``StopRequested`` wherever the main thread happens to be.
        Raised in a garbage-collection callback (logging's, say, in the middle of releasing
        its lock) the exception is swallowed: the lock stays held, the other threads hang
        on their next log line and the worker never stops. So it is raised only inside a
        wait for a job, where the main thread mostly sits in Redis's blocking read; and
        the request is always a flag too, which the loop reads within one wait, so a stop
        whose exception still goes astray ends it all the same.
        """
        self.stop.set()
        self._stop_requested = True
        if self._waiting:
            super().request_stop(signum, frame)

    def dequeue_job_and_maintain_ttl(
        self, timeout: int | None, max_idle_time: int | None = None
    ) -> tuple[Job, Queue] | None:
        """The next job, or None once a stop was asked for (RQ's loop then ends).

        RQ waits through timeout after timeout; here a wait lasts one timeout
        (``WORKER_TTL_SECONDS - 15``), so a stop asked for outside a wait, or one
        whose exception went astray, is seen within it.
        """
        if timeout is None:  # burst mode looks once and does not wait
            return super().dequeue_job_and_maintain_ttl(timeout, max_idle_time)
        while not self._stop_requested:
            self._waiting = True
            try:
                # RQ's idle limit ends its wait after that long with None.
                job = super().dequeue_job_and_maintain_ttl(timeout, max_idle_time=timeout)
            finally:
                self._waiting = False
            if job is not None:
                return job
        return None

    def subscribe(self) -> None:
        """Listen for RQ's commands in a thread that returns within ``COMMAND_WAIT_SECONDS``."""
        self.pubsub = self.connection.pubsub()
        self.pubsub.subscribe(**{self.pubsub_channel_name: self.handle_payload})
        self.pubsub_thread = self.pubsub.run_in_thread(  # type: ignore[assignment]  # RQ types it None
            sleep_time=COMMAND_WAIT_SECONDS,
            daemon=True,
            # RQ's handler, which waits out a lost connection the way its loop does.
            exception_handler=self._pubsub_exception_handler,
        )

    def _start_scheduler(self, *args: Any, **kwargs: Any) -> None:
        """RQ's scheduler, over ``SCHEDULED_QUEUES``: RQ gives it the queues of the loop only."""
        queues = self.queues
        # RQ reads the scheduler's queues off the worker's own, there and nowhere else.
        self.queues = [bus.queue(name, self.connection, RelayJob) for name in SCHEDULED_QUEUES]
        try:
            super()._start_scheduler(*args, **kwargs)
        finally:
            self.queues = queues

    def run_maintenance_tasks(self) -> None:
        """RQ's maintenance, which starts a dead scheduler again; logs when it had to, and once
        that it could not yet. A scheduler that never ran here is no loss: another worker's
        holds the lock (RQ's maintenance takes it over once that one is gone)."""
        # RQ starts no scheduler at its first maintenance, only at later ones.
        lost = self.last_cleaned_at is not None and _died(self.scheduler)
        super().run_maintenance_tasks()
        if lost and _running(self.scheduler):
            log.warning("RQ scheduler had stopped; started again")
            self._said_held_elsewhere = False
        elif lost and not self._said_held_elsewhere:
            log.warning("RQ scheduler is stopped and its lock held elsewhere; trying again")
            self._said_held_elsewhere = True


def _died(scheduler: RQScheduler | None) -> bool:
    """Whether this worker's scheduler ran, and its process is gone."""
    return scheduler is not None and scheduler._process is not None and not scheduler._process.is_alive()


def _running(scheduler: RQScheduler | None) -> bool:
    if scheduler is None:
        return False
    # RQ keeps no public handle on its scheduler's process.
    process = scheduler._process
    return process is not None and process.is_alive()


def _work(redis: Redis, settings: Settings, stop: threading.Event) -> bool:
    """Run RQ's loop once; True when it stopped on request, False when Redis failed it."""
    _on_signals(lambda signum, frame: stop.set())
    worker: RelayWorker | None = None
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
        if worker is not None and _running(worker.scheduler):
            # RQ stops its scheduler only in its loop's own teardown. A stop or a Redis
            # failure outside that loop would leave the scheduler's process running:
            # this process would wait for it at exit, or start a second one.
            worker.stop_scheduler()
    # RQ's loop also ends on errors it only logs; a stop request is what ends ours.
    return stop.is_set()


def _on_signals(handler: Callable[[int, FrameType | None], object]) -> None:
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, handler)
