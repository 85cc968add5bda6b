"""The event pump: agents' events taken off the events queue a batch at a time, applied in
order, each once, with no job the bus refuses ever run."""

from __future__ import annotations

import logging
import signal
import time
from datetime import timedelta
from pathlib import Path

import pytest
from database_outage import refusing_connections
from planted_jobs import attacks, plant
from prometheus_client import REGISTRY
from query_plans import statements_run
from relay_parts import AgentDevice, Parts
from worker_process import start_worker

from gateway_agent.agent.ledger import Ledger
from gateway_agent.agent.outbox import Outbox
from relay_server.store.models import Message
from relay_server.store.store import Store
from relay_server.worker import context, events
from relay_server.worker.event_pump import PROCESSING_KEY, EventJob, EventPump, finish, read_jobs, run_job, take
from zimsend_common import bus, signing, wire
from zimsend_common.config import Settings
from zimsend_common.timefmt import isoformat_z, utcnow


def agent_outbox(
    tmp_path: Path, parts: Parts, device: AgentDevice, rehand_seconds: float = 30.0
) -> tuple[Outbox, Ledger]:
    """The outbox of the device's agent, on Redis as the agent reaches it, with its ledger."""
    ledger = Ledger(tmp_path / f"{device.device_id}.sqlite3")
    return Outbox(ledger, parts.redis, device.device_id, device.signing_key, rehand_seconds=rehand_seconds), ledger


def report_sent(outbox: Outbox, message: Message) -> None:
    outbox.report("sent", {"message_id": message.message_id, "sent_at": isoformat_z(utcnow())})


def job_hashes(parts: Parts) -> list[bytes]:
    return list(parts.redis.scan_iter("rq:job:*"))


def applied(kind: str) -> float:
    return REGISTRY.get_sample_value("zimsend_events_applied_total", {"kind": kind}) or 0.0


def test_a_batch_of_sent_then_delivered_is_applied_in_order_acknowledged_and_its_jobs_gone(tmp_path, parts: Parts):
    caller = parts.client()
    device = parts.device(caller)
    outbox, ledger = agent_outbox(tmp_path, parts, device)
    messages = [parts.message(caller, body=f"Hello {n}") for n in range(5)]
    reported = {}
    for message in messages:
        sent_at = message.queued_at.replace(microsecond=0) + timedelta(seconds=1)
        delivered_at = sent_at + timedelta(seconds=3)
        outbox.report("sent", {"message_id": message.message_id, "sent_at": isoformat_z(sent_at)})
        outbox.report("delivered", {"message_id": message.message_id, "delivered_at": isoformat_z(delivered_at)})
        reported[message.message_id] = (sent_at, delivered_at)
    event_ids = [event_id for _, event_id in ledger.handed_events()]
    assert len(event_ids) == 10

    assert EventPump(parts.ctx).round() == 10

    for message in messages:
        now = parts.reload(message)
        assert (now.status, now.sent_at, now.delivered_at) == ("delivered", *reported[message.message_id])
    assert all(parts.redis.exists(wire.event_ack_key(device.device_id, event_id)) for event_id in event_ids)
    assert job_hashes(parts) == []
    assert parts.redis.llen(bus.queue_key(wire.EVENTS_QUEUE)) == 0
    assert parts.redis.llen(PROCESSING_KEY) == 0


def test_jobs_the_bus_refuses_or_keys_holding_no_job_are_logged_and_skipped_and_the_rest_applied(
    tmp_path, parts: Parts, caplog: pytest.LogCaptureFixture
):
    caller = parts.client()
    device = parts.device(caller)
    outbox, _ = agent_outbox(tmp_path, parts, device)
    first, last = parts.message(caller), parts.message(caller)
    report_sent(outbox, first)
    witnesses, planted = [], []
    for name, (witness, fields) in attacks(tmp_path).items():
        plant(parts.redis, wire.EVENTS_QUEUE, f"planted-{name}", fields)
        witnesses.append(witness)
        planted.append(EventJob.key_for(f"planted-{name}").encode())
    parts.redis.rpush(bus.queue_key(wire.EVENTS_QUEUE), b"\xff not a job id")
    # A device writes its own event job keys: one holding a string or a list where a job
    # hash belongs made Redis refuse the whole read, and stalled every client's events.
    not_hashes = [wire.event_job_id(device.device_id, f"planted{kind}") for kind in ("string", "list")]
    parts.redis.set(EventJob.key_for(not_hashes[0]), "not a hash")
    parts.redis.rpush(EventJob.key_for(not_hashes[1]), "not", "a", "hash")
    parts.redis.rpush(bus.queue_key(wire.EVENTS_QUEUE), *not_hashes)
    other_client = parts.client()
    theirs = parts.message(other_client)
    report_sent(agent_outbox(tmp_path / "other", parts, parts.device(other_client))[0], theirs)
    report_sent(outbox, last)

    with caplog.at_level(logging.WARNING):
        assert EventPump(parts.ctx).round() == 8  # the item naming no job is taken too, and dropped

    assert [parts.reload(message).status for message in (first, theirs, last)] == ["sent", "sent", "sent"]
    assert [witness for witness in witnesses if witness.exists()] == []
    messages = [record.getMessage() for record in caplog.records]
    assert messages.count("job refused") == 4
    assert messages.count("queue item refused") == 1
    # The device's own keys are gone with its events; jobs no event travels under stay as they are.
    assert sorted(job_hashes(parts)) == sorted(planted)
    assert parts.redis.llen(PROCESSING_KEY) == 0


def test_in_one_round_each_devices_events_are_checked_against_that_devices_own_key(tmp_path, parts: Parts):
    caller = parts.client()
    first, second = parts.device(caller), parts.device(caller)
    outbox, _ = agent_outbox(tmp_path, parts, first)
    mine, forged, theirs = parts.message(caller), parts.message(caller), parts.message(caller)
    report_sent(outbox, mine)
    # The first device's name on an event signed with the second's key, after both were read.
    forger = AgentDevice(first.device_id, caller.client_id, second.signing_key)
    forger_outbox, _ = agent_outbox(tmp_path / "forger", parts, forger)
    report_sent(agent_outbox(tmp_path / "second", parts, second)[0], theirs)
    report_sent(forger_outbox, forged)

    assert EventPump(parts.ctx).round() == 3

    assert [parts.reload(message).status for message in (mine, forged, theirs)] == ["sent", "queued", "sent"]


def test_a_round_reads_each_device_once_whatever_the_number_of_its_events(tmp_path, parts: Parts):
    caller = parts.client()
    first, second = parts.device(caller), parts.device(caller)
    for device, count in ((first, 4), (second, 2)):
        outbox, _ = agent_outbox(tmp_path / device.device_id, parts, device)
        for _ in range(count):
            report_sent(outbox, parts.message(caller))

    reads = statements_run(parts.store.engine, lambda: EventPump(parts.ctx).round(), "FROM devices")

    assert len(reads) == 2


def test_an_event_a_worker_took_and_died_with_is_applied_first_by_the_next_round_and_never_handed_on_again(
    tmp_path, parts: Parts
):
    caller = parts.client()
    device = parts.device(caller)
    outbox, ledger = agent_outbox(tmp_path, parts, device, rehand_seconds=0.3)
    message = parts.message(caller)
    report_sent(outbox, message)
    [(_, event_id)] = ledger.handed_events()
    before = applied("sent")

    # A worker takes the job and dies before applying its event; a newer event queues behind.
    assert len(take(parts.redis, 100, 1)) == 1
    later = parts.message(caller)
    report_sent(outbox, later)
    time.sleep(0.4)
    assert outbox.flush() is True  # its job still waits: nothing is handed on again
    assert parts.redis.llen(bus.queue_key(wire.EVENTS_QUEUE)) == 1

    assert EventPump(parts.ctx).round() == 1  # the next worker's first round takes what was left
    assert (parts.reload(message).status, parts.reload(later).status) == ("sent", "queued")
    assert parts.redis.exists(wire.event_ack_key(device.device_id, event_id)) == 1
    assert EventPump(parts.ctx).round() == 1
    assert parts.reload(later).status == "sent"

    time.sleep(0.4)
    assert outbox.flush() is True  # acknowledged: forgotten, never handed on again
    assert ledger.handed_events() == []
    assert EventPump(parts.ctx, wait_seconds=0).round() == 0
    assert applied("sent") - before == 2
    assert parts.redis.llen(PROCESSING_KEY) == 0 and job_hashes(parts) == []


@pytest.mark.slow  # runs zimsend-relay worker as a process
def test_an_event_deferred_while_the_store_was_down_comes_back_through_rqs_scheduler_and_is_applied(
    tmp_path, sqlite_url, redis_proc, redisdb
):
    store = Store.open(sqlite_url)
    parts = Parts(context.WorkerContext(store=store, redis=redisdb, settings=Settings()))
    caller = parts.client()
    device = parts.device(caller)
    message = parts.message(caller)
    document = device.event("sent", {"message_id": message.message_id, "sent_at": isoformat_z(utcnow())}).to_dict()
    # As apply_event defers an event that found the database unavailable.
    job_id = events.deferred_job_id()
    bus.queue(wire.EVENTS_QUEUE, redisdb).enqueue_in(
        timedelta(seconds=1), wire.APPLY_EVENT_FUNC, document, signing.sign(document, device.signing_key), job_id=job_id
    )
    worker = start_worker(tmp_path, sqlite_url, f"redis://{redis_proc.host}:{redis_proc.port}/0")
    try:
        ack = wire.event_ack_key(device.device_id, document["event_id"])
        deadline = time.monotonic() + 30
        while not redisdb.exists(ack) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert store.get_message_by_id(message.message_id).status == "sent"
        assert redisdb.exists(EventJob.key_for(job_id)) == 0  # gone with its acknowledgement
        worker.send_signal(signal.SIGTERM)
        assert worker.wait(timeout=20) == 0
    finally:
        worker.kill()
        store.close()


@pytest.mark.parametrize("database_url", [pytest.param("postgresql", marks=pytest.mark.postgres)], indirect=True)
def test_after_a_round_the_database_failed_the_same_pump_takes_that_rounds_events_before_newer_ones(
    tmp_path, parts: Parts, database_url
):
    caller = parts.client()
    device = parts.device(caller)
    outbox, _ = agent_outbox(tmp_path, parts, device)
    first, failed_with, newer = (parts.message(caller) for _ in range(3))
    pump = EventPump(parts.ctx, batch=1)
    report_sent(outbox, first)
    assert pump.round() == 1
    report_sent(outbox, failed_with)
    with refusing_connections(database_url):
        parts.store.engine.dispose()
        assert pump.round() is None  # it took the event, then found no database
    report_sent(outbox, newer)

    assert pump.round() == 1
    assert [parts.reload(message).status for message in (failed_with, newer)] == ["sent", "queued"]
    assert pump.round() == 1
    assert parts.reload(newer).status == "sent"
    assert parts.redis.llen(PROCESSING_KEY) == 0


def paused_round(parts: Parts) -> tuple[list[bytes], list[str]]:
    """A round of a holder paused (SIGSTOP, a VM stalled) after it took and applied its
    batch, before it finished it: the items it took, and its acknowledgements to set."""
    items = take(parts.redis, 100, 0)
    with events.one_round() as this_round, parts.store.batch():
        for job_id, fields in read_jobs(parts.redis, items):
            run_job(parts.redis, job_id, fields)
    return items, this_round.acknowledgements


@pytest.mark.parametrize("database_url", [pytest.param("postgresql", marks=pytest.mark.postgres)], indirect=True)
def test_a_round_a_paused_holder_finishes_after_another_took_over_leaves_the_others_unfinished_events_on_the_list(
    tmp_path, parts: Parts, database_url
):
    caller = parts.client()
    outbox, ledger = agent_outbox(tmp_path, parts, parts.device(caller))
    before_pause, failed_with = [parts.message(caller) for _ in range(2)], [parts.message(caller) for _ in range(3)]
    for message in before_pause:
        report_sent(outbox, message)
    paused = paused_round(parts)  # the old holder, paused longer than its lease
    new_holder = EventPump(parts.ctx, wait_seconds=0)
    assert new_holder.round() == 2  # it takes first what the old one left: repeats, no change
    for message in failed_with:
        report_sent(outbox, message)
    with refusing_connections(database_url):
        parts.store.engine.dispose()
        assert new_holder.round() is None  # it took these, then found no database

    finish(parts.redis, *paused)  # the old holder wakes, and ends the round it was in

    new_holder.round()  # its failed round, tried again
    assert [parts.reload(message).status for message in before_pause + failed_with] == ["sent"] * 5
    assert parts.redis.llen(PROCESSING_KEY) == 0
    assert outbox.flush() is True
    assert ledger.handed_events() == []  # every event acknowledged


def test_a_job_id_queued_twice_leaves_the_list_once_for_each_time_a_round_took_it(tmp_path, parts: Parts):
    caller = parts.client()
    outbox, ledger = agent_outbox(tmp_path, parts, parts.device(caller))
    message, later = parts.message(caller), parts.message(caller)
    report_sent(outbox, message)
    report_sent(outbox, later)
    queue = bus.queue_key(wire.EVENTS_QUEUE)
    [item, _] = parts.redis.lrange(queue, 0, -1)
    parts.redis.rpush(queue, item, item)  # a device may append any id, its own event's again too
    assert len(take(parts.redis, 100, 0)) == 4  # by a worker that died then
    pump = EventPump(parts.ctx, batch=3, wait_seconds=0)

    assert pump.round() == 3  # the item, the later one, and the item again: a repeat
    assert parts.redis.lrange(PROCESSING_KEY, 0, -1) == [item]  # the copy no round took yet
    assert pump.round() == 1
    assert parts.redis.llen(PROCESSING_KEY) == 0

    assert [parts.reload(m).status for m in (message, later)] == ["sent", "sent"]
    assert job_hashes(parts) == []
    assert outbox.flush() is True
    assert ledger.handed_events() == []


@pytest.mark.parametrize("wait_first", [False, True])
def test_a_round_takes_every_waiting_job_in_order_whether_it_looks_or_waits_first(
    tmp_path, parts: Parts, wait_first: bool
):
    caller = parts.client()
    outbox, _ = agent_outbox(tmp_path, parts, parts.device(caller))
    for message in [parts.message(caller) for _ in range(3)]:
        report_sent(outbox, message)
    queued = parts.redis.lrange(bus.queue_key(wire.EVENTS_QUEUE), 0, -1)

    assert take(parts.redis, 100, 1, wait_first=wait_first) == queued
    assert parts.redis.lrange(PROCESSING_KEY, 0, -1) == queued
    assert take(parts.redis, 100, 1, wait_first=wait_first) == []  # after a second's wait
