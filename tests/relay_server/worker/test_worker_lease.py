"""Of two relay workers on one deployment, one is active and the other stands by (``lease``)."""

from __future__ import annotations

import json
import os
import signal
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import pytest
import redis
import sqlalchemy as sa
from group_process import GroupProcess
from own_redis import OwnRedis
from sealed_heartbeats import leave_heartbeat
from store_factories import new_message
from waiting import wait_until
from worker_process import start_worker, stopped_within

from gateway_agent.agent.ledger import Ledger
from gateway_agent.agent.outbox import Outbox
from relay_server.store.dispatch_schema import device_events
from relay_server.store.models import Caller, Message
from relay_server.store.schema import message_events
from relay_server.store.store import Store
from relay_server.worker.event_pump import PROCESSING_KEY
from relay_server.worker.lease import LEASE_SECONDS, RENEW_SECONDS, Duty, LeasedDuties, Term, WorkerLease, who
from zimsend_common import bus, redis_client, signing, wire
from zimsend_common.timefmt import isoformat_z, utcnow

# Once the active worker is gone: its lease expires, a standby takes it at its next try
# and starts one renewal later; the rest is a loaded machine's slack.
TAKEOVER_SECONDS = LEASE_SECONDS + 2 * RENEW_SECONDS + 5


def test_a_holder_takes_its_lease_again_when_redis_lost_it(redisdb):
    lease = WorkerLease(redisdb)
    assert lease.keep() == lease.name and lease.held()

    redisdb.flushall()

    assert lease.keep() == lease.name and lease.held()
    assert redisdb.get(wire.WORKER_LEASE_KEY) == lease.name.encode()


def test_a_holder_whose_lost_lease_a_standby_took_first_stops_holding_it_at_its_next_renewal(redisdb):
    holder, standby = WorkerLease(redisdb), WorkerLease(redisdb)
    holder.keep()
    assert standby.keep() == holder.name and not standby.held()

    redisdb.flushall()
    assert standby.keep() == standby.name

    assert holder.keep() == standby.name
    assert not holder.held()


def test_a_term_ends_for_good_once_its_lease_ran_out_unrenewed(redisdb):
    lease = WorkerLease(redisdb, seconds=0.3)
    lease.keep()
    term = Term(lease)
    assert not term.is_set()

    time.sleep(0.4)  # as a process paused for longer than its lease

    assert term.is_set()
    assert lease.keep() == lease.name  # nobody took it meanwhile: held again, but that term is over
    assert term.is_set()


def test_a_lease_given_back_is_free_for_another_and_one_taken_since_is_left_alone(redisdb):
    first, second = WorkerLease(redisdb), WorkerLease(redisdb)
    first.keep()
    first.release()
    assert second.keep() == second.name

    first.release()

    assert redisdb.get(wire.WORKER_LEASE_KEY) == second.name.encode()


def test_a_holder_whose_renewal_was_answered_after_its_lease_ran_out_takes_it_again_at_once(
    own_redis: OwnRedis, caplog: pytest.LogCaptureFixture
):
    lease = WorkerLease(redis_client.connect(own_redis.url, redis_client.WORKER), seconds=2 * RENEW_SECONDS)
    terms: list[Term] = []

    def duty(term: threading.Event) -> None:
        terms.append(cast("Term", term))
        while not term.is_set():
            term.wait(0.02)

    stop = threading.Event()
    worker = threading.Thread(target=LeasedDuties(lease, lambda: [("duty", duty)]).run, args=(stop,))
    worker.start()
    try:
        wait_until(lambda: terms, "the first term", 10)
        own_redis.pause()  # as Redis frozen, or this process starved: the renewal asked meanwhile is answered late
        time.sleep(lease.seconds + 1.5 * RENEW_SECONDS)
        own_redis.resume()
        wait_until(lambda: len(terms) == 2, "a second term", 10)
    finally:
        own_redis.resume()
        stop.set()
        worker.join(timeout=10)

    assert terms[0].is_set()
    # It held the lease all along: nobody else did, and it did not wait a renewal standing by for itself.
    assert not [record for record in caplog.records if record.message.startswith("worker stands by")]


class Spans:
    """When each worker's duty ran: a list of (start, end) per worker, by ``time.monotonic``."""

    def __init__(self) -> None:
        self.spans: dict[str, list[tuple[float, float]]] = {}

    def duty(self, worker: str) -> list[tuple[str, Duty]]:
        def run(term: threading.Event) -> None:
            start = time.monotonic()
            while not term.is_set():
                term.wait(0.02)
            self.spans.setdefault(worker, []).append((start, time.monotonic()))

        return [("duty", run)]

    def overlap(self) -> float:
        """The longest time both workers' duties ran at once."""
        [first, second] = self.spans.values()
        return max((min(a[1], b[1]) - max(a[0], b[0]) for a in first for b in second), default=0.0)


def test_after_redis_lost_the_lease_two_workers_duties_never_run_at_once(redisdb):
    spans = Spans()
    stop = threading.Event()
    workers = [LeasedDuties(WorkerLease(redisdb), lambda name=name: spans.duty(name)) for name in ("a", "b")]
    threads = [threading.Thread(target=worker.run, args=(stop,)) for worker in workers]
    for thread in threads:
        thread.start()
        time.sleep(RENEW_SECONDS / 2)  # b's tries fall between a's renewals
    try:
        wait_until(lambda: redisdb.exists(wire.WORKER_LEASE_KEY), "a holder", 10)
        time.sleep(2 * RENEW_SECONDS)  # its duty runs
        # Lost just after the holder renewed it: the standby's next try comes first.
        wait_until(lambda: redisdb.pttl(wire.WORKER_LEASE_KEY) > (LEASE_SECONDS - 0.05) * 1000, "a renewal", 10)
        redisdb.flushall()
        time.sleep(3 * RENEW_SECONDS)
    finally:
        stop.set()
        for thread in threads:
            thread.join(timeout=10)
    assert set(spans.spans) == {"a", "b"}  # the lease changed hands
    assert spans.overlap() <= 0.1  # at most the end of one duty's round


@dataclass
class Worker:
    process: GroupProcess
    log: Path

    def said(self, message: str) -> list[dict]:
        """The lines of its log with that message."""
        lines = [json.loads(line) for line in self.log.read_text(errors="replace").splitlines() if line.startswith("{")]
        return [line for line in lines if line.get("message") == message]


@dataclass
class Deployment:
    store: Store
    redis: redis.Redis
    caller: Caller
    workers: list[Worker]

    def roles(self) -> tuple[Worker, Worker]:
        """The active worker and the one standing by, by what the standby says."""

        def standby_said() -> tuple[Worker, Worker] | None:
            for standby in self.workers:
                for line in standby.said("worker stands by: another worker is active"):
                    [active] = [w for w in self.workers if line["active_worker"].endswith(f":{w.process.pid}")]
                    return active, standby
            return None

        roles = wait_until(standby_said, "one worker to say it stands by", 60)
        # Its duties started (the due release's first look beats): it acts, and is no longer only about to.
        wait_until(lambda: self.redis.exists(wire.WORKER_HEARTBEAT_KEY), "the active worker's first round", 30)
        return roles

    def agent(self, tmp_path: Path) -> tuple[Outbox, Ledger]:
        """The outbox of a new device's agent, with its ledger."""
        device, password = self.store.devices.add(self.caller.client_id)
        ledger = Ledger(tmp_path / f"{device.device_id}.sqlite3")
        key = signing.device_signing_key(password)
        return Outbox(ledger, self.redis, device.device_id, key, rehand_seconds=600), ledger

    def report_sent(self, outbox: Outbox, count: int) -> list[Message]:
        messages = self.store.insert_messages([new_message(self.caller) for _ in range(count)])
        for message in messages:
            outbox.report("sent", {"message_id": message.message_id, "sent_at": isoformat_z(utcnow())})
        return messages

    def sent_records(self) -> Counter[str]:
        """How many times each message was recorded sent."""
        query = sa.select(message_events.c.message_id).where(message_events.c.status == "sent")
        with self.store.engine.connect() as conn:
            return Counter(conn.execute(query).scalars())


@contextmanager
def two_workers(
    tmp_path: Path, sqlite_url: str, redis_proc: Any, redisdb: redis.Redis, **settings: str
) -> Iterator[Deployment]:
    """Two workers on one store and one Redis, as when one is started by hand beside the unit."""
    store = Store.open(sqlite_url)
    client, key = store.clients.create("acme")
    caller = store.clients.authenticate(client.client_id, key)
    assert caller is not None
    url = f"redis://{redis_proc.host}:{redis_proc.port}/0"
    workers = []
    try:
        for name in ("first", "second"):
            (tmp_path / name).mkdir()
            process = start_worker(tmp_path / name, sqlite_url, url, **settings)
            workers.append(Worker(process, tmp_path / name / "worker.log"))
        yield Deployment(store, redisdb, caller, workers)
    finally:
        for worker in workers:
            worker.process.kill()
        store.close()


@pytest.fixture
def deployment(tmp_path, sqlite_url, redis_proc, redisdb) -> Iterator[Deployment]:
    with two_workers(tmp_path, sqlite_url, redis_proc, redisdb) as deployment:
        yield deployment


@pytest.mark.slow  # runs two zimsend-relay workers as processes
def test_of_two_workers_one_stands_by_naming_the_active_one_which_alone_records_devices_coming_online(
    deployment: Deployment,
):
    devices = [deployment.store.devices.add(deployment.caller.client_id) for _ in range(10)]
    # Both running: RQ's loop runs in every worker, active or not.
    wait_until(lambda: deployment.redis.scard("rq:workers") == 2, "both workers running", 60)
    time.sleep(2)
    for device, password in devices:
        leave_heartbeat(deployment.redis, device.device_id, password, utcnow(), signal_percent=70)

    def connected() -> Counter[str]:
        query = sa.select(device_events.c.device_id).where(device_events.c.event == "device.connected")
        with deployment.store.engine.connect() as conn:
            return Counter(conn.execute(query).scalars())

    wait_until(lambda: len(connected()) == len(devices), "every device online", 30)
    time.sleep(1)  # a few more maintenance rounds of both
    assert set(connected().values()) == {1}  # one device.connected webhook each, not two
    active, standby = deployment.roles()
    assert len(standby.said("worker stands by: another worker is active")) == 1  # said once
    assert active.said("worker stands by: another worker is active") == []


@pytest.mark.slow  # runs two zimsend-relay workers as processes
def test_of_two_workers_only_the_active_one_runs_the_daily_purge(tmp_path, sqlite_url, redis_proc, redisdb):
    with two_workers(tmp_path, sqlite_url, redis_proc, redisdb, ZIMSEND_LOG_LEVEL="INFO") as deployment:
        active, standby = deployment.roles()
        wait_until(lambda: active.said("purged messages"), "the active worker's purge", 30)
        assert standby.said("purged messages") == []


@pytest.mark.slow  # runs two zimsend-relay workers as processes
def test_when_the_active_worker_is_killed_the_standby_takes_over_and_applies_each_pending_event_once(
    tmp_path, deployment: Deployment
):
    active, standby = deployment.roles()
    agents = [deployment.agent(tmp_path) for _ in range(3)]
    outboxes = [outbox for outbox, _ in agents]
    messages: list[Message] = []
    for n in range(40):  # three agents reporting as they send, the active worker applying
        messages += [message for outbox in outboxes for message in deployment.report_sent(outbox, 1)]
        if n == 20:
            os.kill(active.process.pid, signal.SIGKILL)  # mid-stream, as the OOM killer would
            killed_at = time.monotonic()
        time.sleep(0.01)

    wait_until(lambda: standby.said("worker took over: it is the active one"), "the standby to take over", 60)
    assert time.monotonic() - killed_at < TAKEOVER_SECONDS
    every = {message.message_id for message in messages}
    wait_until(lambda: set(deployment.sent_records()) == every, "every event applied", 30)
    assert set(deployment.sent_records().values()) == {1}
    queue = bus.queue_key(wire.EVENTS_QUEUE)
    wait_until(lambda: deployment.redis.llen(PROCESSING_KEY) + deployment.redis.llen(queue) == 0, "queues empty", 10)
    assert not list(deployment.redis.scan_iter("rq:job:device_*"))  # no event job left behind
    for outbox, ledger in agents:
        assert outbox.flush() is True
        assert ledger.handed_events() == []  # every event acknowledged, and forgotten


@pytest.mark.slow  # runs two zimsend-relay workers as processes
def test_a_worker_stopped_cleanly_gives_the_lease_back_and_the_standby_takes_over_at_once(deployment: Deployment):
    active, standby = deployment.roles()

    active.process.send_signal(signal.SIGTERM)
    assert stopped_within(active.process, 20, active.log) == 0
    stopped_at = time.monotonic()

    wait_until(lambda: standby.said("worker took over: it is the active one"), "the standby to take over", 20)
    assert time.monotonic() - stopped_at < LEASE_SECONDS  # it did not wait for the lease to expire


@pytest.mark.slow  # runs two zimsend-relay workers as processes
def test_a_worker_paused_longer_than_its_lease_finds_the_standby_active_and_stands_by_itself(
    tmp_path, deployment: Deployment
):
    active, standby = deployment.roles()
    outbox, ledger = deployment.agent(tmp_path)
    messages = deployment.report_sent(outbox, 5)
    # Applied first: paused in a transaction, it would hold SQLite's lock, and stop every writer.
    wait_until(lambda: len(deployment.sent_records()) == 5, "the first events applied", 30)

    os.kill(active.process.pid, signal.SIGSTOP)  # as a VM frozen, or a process starved, for a while
    try:
        messages += deployment.report_sent(outbox, 5)
        wait_until(lambda: standby.said("worker took over: it is the active one"), "the standby to take over", 60)
    finally:
        os.kill(active.process.pid, signal.SIGCONT)
    wait_until(lambda: active.said("worker stands by: another worker is active"), "the paused one to stand by", 20)
    [lost] = active.said("worker lost its lease: its duties stop until it holds it again")
    assert lost["cause"] == f"taken by {standby.said('worker took over: it is the active one')[0]['worker']}"
    messages += deployment.report_sent(outbox, 5)

    every = {message.message_id for message in messages}
    wait_until(lambda: set(deployment.sent_records()) == every, "every event applied", 30)
    assert set(deployment.sent_records().values()) == {1}
    assert outbox.flush() is True
    wait_until(lambda: outbox.flush() and ledger.handed_events() == [], "every event acknowledged", 10)


@pytest.mark.slow  # runs zimsend-relay worker as a process, twice
def test_a_worker_started_on_the_machine_of_a_killed_holder_takes_its_lease_without_waiting_for_it(
    tmp_path, sqlite_url, redis_proc, redisdb
):
    url = f"redis://{redis_proc.host}:{redis_proc.port}/0"
    (tmp_path / "killed").mkdir(), (tmp_path / "restarted").mkdir()
    killed = start_worker(tmp_path / "killed", sqlite_url, url)
    restarted = None
    try:
        wait_until(lambda: redisdb.exists(wire.WORKER_HEARTBEAT_KEY), "its first round", 60)
        killed.kill()  # as the OOM killer would; systemd then starts it again
        redisdb.expire(wire.WORKER_LEASE_KEY, 600)  # were it waited for, it would be for long

        restarted = start_worker(tmp_path / "restarted", sqlite_url, url)

        def holder() -> str:
            return who((redisdb.get(wire.WORKER_LEASE_KEY) or b"").decode())

        wait_until(lambda: holder().endswith(f":{restarted.pid}"), "the restarted worker to hold the lease", 60)
    finally:
        killed.kill()
        if restarted is not None:
            restarted.kill()
