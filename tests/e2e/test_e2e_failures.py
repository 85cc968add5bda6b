"""When things break: races, a killed agent, a Redis that loses its data, forged events."""

from __future__ import annotations

import json
import signal
import threading
import time
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import redis
import requests
from e2e_gateway import (
    OFFLINE_AFTER_SECONDS,
    RECOVERY_GRACE_SECONDS,
    Gateway,
    running_gateway,
    wait_until,
    worker_settled,
)
from own_redis import OwnRedis

from gateway_agent.backends.emulator import EmulatorConfig
from zimsend_common import bus, signing, wire
from zimsend_common.timefmt import isoformat_z, utcnow

pytestmark = pytest.mark.slow  # relay, worker and agents as processes


RACES = 200


def test_every_cancel_racing_a_send_ends_cancelled_and_unsent_or_refused_and_sent_once(gateway: Gateway):
    account = gateway.new_account()
    agent = gateway.new_agent(account)
    # A cancel just after the worker's first start waits for its grace period, as after a loss of Redis's data.
    wait_until(lambda: worker_settled(gateway.redis), "the worker's first grace period to pass")
    bulk = requests.post(
        gateway.url("/sms/send-bulk"),
        json={"messages": [{"to": "+263771000700", "message": f"race {n}"} for n in range(RACES)]},
        headers=account.headers,
        timeout=30,
    )
    assert bulk.status_code == 202, bulk.text
    texts = {item["message_id"]: f"race {n}" for n, item in enumerate(bulk.json()["messages"])}
    sessions = threading.local()

    def cancel(message_id: str) -> requests.Response:
        # One keep-alive connection per thread, as a client library would use.
        if not hasattr(sessions, "http"):
            sessions.http = requests.Session()
        return sessions.http.delete(gateway.url(f"/sms/{message_id}"), headers=account.headers, timeout=10)

    with ThreadPoolExecutor(max_workers=4) as pool:
        answers = dict(zip(texts, pool.map(cancel, texts)))
    finals = {
        message_id: gateway.wait_for_status(account, message_id, "cancelled", "sent", "delivered", "failed")
        for message_id in texts
    }
    wait_until(
        lambda: gateway.redis.llen("rq:queue:" + wire.client_queue(account.client_id, 3)) == 0, "the queue to drain"
    )
    sent = Counter(agent.texts_sent())
    cancelled = {message_id for message_id, answer in answers.items() if answer.status_code == 200}
    for message_id in cancelled:
        assert finals[message_id]["status"] == "cancelled"
        assert sent[texts[message_id]] == 0
    refused = set(texts) - cancelled
    for message_id in refused:
        assert answers[message_id].json()["error"]["code"] == "CANNOT_CANCEL_MESSAGE"
        if finals[message_id]["status"] == "failed":
            # The agent had it: a modem that did not answer leaves its outcome unknown, never resent.
            assert sent[texts[message_id]] <= 1
        else:
            assert finals[message_id]["status"] in ("sent", "delivered")
            assert sent[texts[message_id]] == 1
    assert cancelled and refused  # the race really was run both ways


def test_an_agent_killed_mid_send_leaves_its_message_failed_as_unknown_and_never_sent_again(gateway: Gateway):
    account = gateway.new_account()
    agent = gateway.new_agent(account, EmulatorConfig(send_delay=3.0))
    message_id = gateway.queue(account, to="+263771000800", message="interrupted")
    wait_until(lambda: gateway.redis.get(wire.inflight_key(agent.device_id)), "the send to start")
    agent.process.send_signal(signal.SIGKILL)
    agent.process.wait(timeout=10)
    failed = gateway.wait_for_status(account, message_id, "failed", timeout=OFFLINE_AFTER_SECONDS + 30)
    assert failed["error"]["code"] == "DEVICE_ERROR"
    assert "unknown" in failed["error"]["detail"]
    # The agent comes back: it sends new messages, never the interrupted one again.
    gateway.start_agent(agent, account)
    after = gateway.queue(account, to="+263771000800", message="after restart")
    gateway.wait_for_status(account, after, "delivered")
    assert agent.texts_sent().count("interrupted") <= 1
    assert agent.texts_sent()[-1] == "after restart"
    assert gateway.status(account, message_id)["status"] == "failed"


@pytest.fixture
def patient_gateway(tmp_path: Path, sqlite_url: str, redis_proc: Any, redisdb: redis.Redis) -> Iterator[Gateway]:
    """A gateway whose devices stay online for a minute without a heartbeat applied:
    for tests of Redis losing its data (heartbeats with it) or of a stopped worker,
    which must not turn into tests of offline detection on a slow machine."""
    redis_url = f"redis://{redis_proc.host}:{redis_proc.port}/0"
    with running_gateway(
        tmp_path, sqlite_url, redis_url, redisdb, ZIMSEND_DEVICE_OFFLINE_AFTER_SECONDS="60"
    ) as running:
        yield running


def test_redis_losing_all_its_data_mid_run_loses_no_message_or_report_and_sends_none_twice(
    patient_gateway: Gateway,
):
    gateway = patient_gateway
    account = gateway.new_account()
    agent = gateway.new_agent(account, EmulatorConfig(send_delay=0.1))
    ids = [gateway.queue(account, to="+263771000900", message=f"survivor {n}") for n in range(30)]
    wait_until(lambda: len(agent.emulator.sent) >= 5, "some messages to leave")
    gateway.redis.flushall()
    later = [gateway.queue(account, to="+263771000900", message=f"survivor {n}") for n in range(30, 35)]
    for message_id in ids + later:
        # An event Redis lost before the worker applied it is handed on again by its agent.
        gateway.wait_for_status(account, message_id, "delivered", timeout=60)
    counts = Counter(agent.texts_sent())
    assert sorted(counts) == sorted(f"survivor {n}" for n in range(35))
    assert set(counts.values()) == {1}


def test_a_message_sent_just_before_redis_lost_its_data_is_not_sent_again_by_another_device(
    patient_gateway: Gateway,
):
    gateway = patient_gateway
    account = gateway.new_account()
    # Once a minute at most: the message, if placed again, can only go to the other device.
    first = gateway.new_agent(account, ZIMSEND_SEND_RATE_PER_MINUTE="1")
    second = gateway.new_agent(account, start=False)
    wait_until(lambda: gateway.redis.get(wire.device_client_key(second.device_id)), "the worker to publish clients")
    [worker] = [process for process in gateway.processes if "worker" in process.args]
    worker.send_signal(signal.SIGTERM)
    worker.wait(timeout=30)

    message_id = gateway.queue(account, to="+263771000960", message="sent once")
    wait_until(lambda: first.texts_sent() == ["sent once"], "the first device to send")
    gateway.start_agent(second, account, wait_online=False)
    wait_until(lambda: gateway.redis.get(wire.heartbeat_key(second.device_id)), "the second device to heartbeat")
    gateway.redis.flushall()  # the claim and the unapplied sent event are gone
    gateway.start_worker()

    gateway.wait_for_status(account, message_id, "delivered")
    gateway.wait_online(account, second)
    time.sleep(RECOVERY_GRACE_SECONDS + 2)  # recovery resumed: a second send would have happened by now
    assert first.texts_sent() + second.texts_sent() == ["sent once"]


def test_a_message_sent_after_redis_last_saved_is_not_sent_again_when_redis_restarts_without_it(
    tmp_path: Path, sqlite_url: str, own_redis: OwnRedis
):
    # Redis keeps the worker's sentinel across the restart: only the claim and the job are lost.
    with running_gateway(
        tmp_path, sqlite_url, own_redis.url, own_redis.client(), ZIMSEND_DEVICE_OFFLINE_AFTER_SECONDS="60"
    ) as gateway:
        account = gateway.new_account()
        # No report comes to settle the message, and its `sent` event is handed on again
        # only when the agent sees the sentinel change.
        first = gateway.new_agent(
            account,
            EmulatorConfig(report_delay=None),
            ZIMSEND_SEND_RATE_PER_MINUTE="1",
            ZIMSEND_EVENT_REHAND_SECONDS="600",
        )
        second = gateway.new_agent(account, start=False)
        wait_until(lambda: gateway.redis.get(wire.device_client_key(second.device_id)), "the worker to publish clients")
        [worker] = [process for process in gateway.processes if "worker" in process.args]
        worker.send_signal(signal.SIGTERM)
        worker.wait(timeout=30)
        own_redis.snapshot()

        message_id = gateway.queue(account, to="+263771000970", message="sent once")
        wait_until(lambda: first.texts_sent() == ["sent once"], "the first device to send")
        own_redis.restart()  # back at the snapshot: the claim, the job and the sent event are gone
        gateway.start_agent(second, account, wait_online=False)
        gateway.start_worker()

        gateway.wait_for_status(account, message_id, "sent", "delivered")
        gateway.wait_online(account, second)
        time.sleep(RECOVERY_GRACE_SECONDS + 2)  # recovery resumed: a second send would have happened by now
        assert first.texts_sent() + second.texts_sent() == ["sent once"]


def test_sends_made_while_redis_is_down_are_accepted_and_leave_once_it_is_back(gateway: Gateway, redis_proc):
    account = gateway.new_account()
    agent = gateway.new_agent(account)
    # With Redis down the relay knows a device's heartbeat from the store alone: wait for the
    # worker to have recorded one (the API may show it online from its key in Redis first).
    offline_after = timedelta(seconds=OFFLINE_AFTER_SECONDS)
    wait_until(
        lambda: gateway.store.devices.states(device_id=agent.device_id)[0].online(utcnow(), offline_after),
        "the worker to record the device's heartbeat",
    )
    redis_proc.stop()
    try:
        answer = gateway.send(account, to="+263771000950", message="while Redis is away")
        assert answer.status_code == 202, answer.text
        assert gateway.status(account, answer.json()["message_id"])["status"] == "queued"
    finally:
        redis_proc.start()  # empty: whatever Redis held is gone
    gateway.wait_for_status(account, answer.json()["message_id"], "delivered")
    assert agent.texts_sent() == ["while Redis is away"]


def test_an_event_forged_for_another_device_is_refused_by_the_worker(gateway: Gateway):
    acme, globex = gateway.new_account("acme"), gateway.new_account("globex")
    attacker = gateway.new_agent(acme)
    victim_device, _password = gateway.store.devices.add(globex.client_id)
    # Scheduled, so it is accepted while globex has no device running, and stays queued.
    victim_message = gateway.queue(
        globex, to="+263771001000", message="not yours", scheduled_at=isoformat_z(utcnow() + timedelta(days=1))
    )
    attacker_key = signing.device_signing_key(attacker.password)
    events = bus.queue(wire.EVENTS_QUEUE, gateway.redis)
    forged = []
    for device_id in (victim_device.device_id, attacker.device_id):
        document = wire.Event(
            kind="sent",
            device_id=device_id,
            at=isoformat_z(utcnow()),
            data={"message_id": victim_message, "sent_at": isoformat_z(utcnow())},
        ).to_dict()
        forged.append(events.enqueue(wire.APPLY_EVENT_FUNC, document, signing.sign(document, attacker_key)))
    claiming_the_victim, the_attackers_own = (
        wire.event_ack_key(job.args[0]["device_id"], job.args[0]["event_id"]) for job in forged
    )
    # Refused after its signature verified, the attacker's own event is settled: its agent may forget it.
    wait_until(lambda: gateway.redis.exists(the_attackers_own), "the worker to judge the attacker's own event")

    def refused_ids() -> list[str]:
        log = (gateway.workdir / "worker.log").read_text()
        return sorted(json.loads(line)["event_id"] for line in log.splitlines() if '"agent event refused"' in line)

    forged_ids = sorted(job.args[0]["event_id"] for job in forged)
    wait_until(lambda: refused_ids() == forged_ids, "the worker to refuse both events")
    # One the victim's key did not sign tells the victim's agent nothing.
    assert not gateway.redis.exists(claiming_the_victim)
    assert gateway.status(globex, victim_message)["status"] == "queued"
