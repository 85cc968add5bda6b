"""``zimsend-relay worker`` against jobs an attacker with Redis credentials plants on its queues."""

from __future__ import annotations

import signal
import time

import pytest
import redis
from planted_jobs import attacks, plant
from store_factories import new_message
from waiting import wait_until
from worker_process import start_worker

from relay_server.dispatch import placement
from relay_server.store.store import Store
from zimsend_common import bus, redis_acl, wire

pytestmark = pytest.mark.slow  # every test runs zimsend-relay worker as a process


@pytest.mark.parametrize("queue", [wire.EVENTS_QUEUE, wire.SIMULATED_QUEUE])
def test_a_planted_pickle_or_dotted_path_never_runs_and_the_worker_carries_on(
    tmp_path, sqlite_url, redis_proc, redisdb, queue
):
    store = Store.open(sqlite_url)
    client, _key = store.clients.create("acme")
    [message] = store.insert_messages([new_message(client.client_id, is_test=True, body="hi")])
    witnesses = []
    for name, (witness, fields) in attacks(tmp_path).items():
        plant(redisdb, queue, f"planted-{name}", fields)
        witnesses.append(witness)
    placement.enqueue_send(redisdb, store.devices.signing_keys, message)  # queued behind the planted jobs
    worker = start_worker(tmp_path, sqlite_url, f"redis://{redis_proc.host}:{redis_proc.port}/0")
    try:
        # Played after the planted jobs, the message's own is deleted (its text with it).
        wait_until(lambda: store.get_message_by_id(message.message_id).status == "delivered", "delivered", 30)
        assert [witness for witness in witnesses if witness.exists()] == []
        log = tmp_path / "worker.log"
        # The events queue is the active worker's, whose duties start a renewal of its lease after RQ's loop.
        wait_until(lambda: log.read_text().count('"job refused"') == 2, "both planted jobs refused", 30)
        worker.send_signal(signal.SIGTERM)
        assert worker.wait(timeout=20) == 0
    finally:
        worker.kill()
        store.close()


def test_a_device_that_puts_another_clients_send_job_on_the_events_queue_leaves_that_job_in_place(
    tmp_path, sqlite_url, redis_proc, redisdb
):
    store = Store.open(sqlite_url)
    victim, _ = store.clients.create("victim")
    store.devices.add(victim.client_id)
    [message] = store.insert_messages([new_message(victim.client_id, body="hi")])
    placement.enqueue_send(redisdb, store.devices.signing_keys, message)
    job_key = bus.BusJob.key_for(wire.send_job_id(victim.client_id, message.message_id))
    waiting = redisdb.hgetall(job_key)
    # Another client's device, on its own Redis user: it may not touch the job, but may append to the events queue.
    stranger, _ = store.clients.create("stranger")
    device, _ = store.devices.add(stranger.client_id)
    password = redis_acl.new_password()
    redisdb.execute_command(*redis_acl.setuser(device.device_id, stranger.client_id, password))
    as_device = redis.Redis(
        host=redis_proc.host, port=redis_proc.port, username=redis_acl.username(device.device_id), password=password
    )
    with pytest.raises(redis.exceptions.NoPermissionError):
        as_device.delete(job_key)
    as_device.rpush(bus.queue_key(wire.EVENTS_QUEUE), wire.send_job_id(victim.client_id, message.message_id))
    worker = start_worker(tmp_path, sqlite_url, f"redis://{redis_proc.host}:{redis_proc.port}/0")
    try:
        deadline = time.monotonic() + 30
        while '"job refused"' not in (tmp_path / "worker.log").read_text() and time.monotonic() < deadline:
            time.sleep(0.1)
        assert redisdb.llen(bus.queue_key(wire.EVENTS_QUEUE)) == 0
        assert redisdb.hgetall(job_key) == waiting  # the very job the relay placed, not one placed again
        worker.send_signal(signal.SIGTERM)
        assert worker.wait(timeout=20) == 0
    finally:
        worker.kill()
        store.close()
