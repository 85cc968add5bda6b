"""Scheduled messages leave once, and on time, whatever Redis or the worker went through
at their due time; the emulator's log of what the network accepted is the witness."""

from __future__ import annotations

import json
import time
from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timedelta

import pytest
from credentials import Credentials
from e2e_gateway import Agent, Gateway, wait_until
from fault_gateway import DUE_CHECK_SECONDS, ON_EACH_DATABASE, worker_settled
from own_redis import OwnRedis

from zimsend_common.timefmt import isoformat_z, utcnow

pytestmark = pytest.mark.slow  # relay, worker, agent and redis-server as processes

DUE_IN = timedelta(seconds=4)  # time enough to accept the messages before the fault
VALID_FOR = timedelta(seconds=2)  # past before the fault is over
# One look for due messages, with a second for the look itself on a busy machine.
ONE_LOOK = timedelta(seconds=DUE_CHECK_SECONDS + 1)
# To the network: that look, then the agent's own way back to Redis and to its modem.
LEAVES_WITHIN = ONE_LOOK + timedelta(seconds=5)


@dataclass
class Batch:
    texts: dict[str, str]  # message id -> text, each due at ``due_at``
    expiring: str  # due at ``due_at`` too, valid only VALID_FOR after it
    due_at: datetime


def schedule_batch(gateway: Gateway, own_redis: OwnRedis, account: Credentials, label: str) -> Batch:
    """Messages due DUE_IN from now, scheduled once the worker knows Redis as one that kept its data."""
    client = own_redis.client()
    wait_until(lambda: worker_settled(client), "the worker's first grace period to end")
    due_at = utcnow() + DUE_IN
    texts = {}
    for n in range(3):
        text = f"{label} {n}"
        texts[gateway.queue(account, to="+263771000300", message=text, scheduled_at=isoformat_z(due_at))] = text
    expiring = gateway.queue(
        account,
        to="+263771000301",
        message=f"{label} expiring",
        scheduled_at=isoformat_z(due_at),
        valid_until=isoformat_z(due_at + VALID_FOR),
    )
    return Batch(texts, expiring, due_at)


def sleep_until(moment: datetime) -> None:
    time.sleep(max(0.0, (moment - utcnow()).total_seconds()))


def assert_left_once_soon_after(
    gateway: Gateway, account: Credentials, agent: Agent, batch: Batch, back_at: datetime
) -> None:
    """Every message of the batch was released within one look of ``back_at``, saying it was
    late, and reached the network once soon after; the expiring one failed TIMEOUT unsent."""
    for message_id in batch.texts:
        gateway.wait_for_status(account, message_id, "sent", "delivered")
    expired = gateway.wait_for_status(account, batch.expiring, "failed")
    assert expired["error"]["code"] == "TIMEOUT"
    late = worker_log_lines(gateway, "scheduled message released late")
    released = {line["message_id"]: logged_at(line) for line in late}
    for message_id in batch.texts:
        assert released[message_id] - back_at <= ONE_LOOK, (message_id, released[message_id] - back_at)
    sent = Counter(agent.texts_sent())
    assert {text: sent[text] for text in batch.texts.values()} == {text: 1 for text in batch.texts.values()}
    assert not [text for text in sent if text.endswith("expiring")]
    accepted = {record.text: record.at for record in agent.emulator.sent}
    for text in batch.texts.values():
        assert accepted[text] - back_at <= LEAVES_WITHIN, (text, accepted[text] - back_at)


def logged_at(line: dict) -> datetime:
    return datetime.fromisoformat(line["time"].replace("Z", "+00:00"))


def worker_log_lines(gateway: Gateway, message: str) -> list[dict]:
    lines = (gateway.workdir / "worker.log").read_text(errors="replace").splitlines()
    found = []
    for line in lines:
        if message in line:
            try:
                found.append(json.loads(line))
            except ValueError:
                continue
    return found


def test_redis_paused_for_20_s_across_the_due_time(gateway: Gateway, own_redis: OwnRedis):
    account = gateway.new_account()
    agent = gateway.new_agent(account)
    batch = schedule_batch(gateway, own_redis, account, "paused")
    own_redis.pause()
    try:
        time.sleep(20)
    finally:
        own_redis.resume()
    back_at = utcnow()
    assert back_at > batch.due_at + VALID_FOR
    assert_left_once_soon_after(gateway, account, agent, batch, back_at)


@ON_EACH_DATABASE
def test_redis_restarted_empty_across_the_due_time(gateway: Gateway, own_redis: OwnRedis):
    account = gateway.new_account()
    agent = gateway.new_agent(account)
    batch = schedule_batch(gateway, own_redis, account, "flushed")
    own_redis.client().flushall()
    own_redis.stop()
    sleep_until(batch.due_at + VALID_FOR + timedelta(seconds=1))
    own_redis.start()
    back_at = utcnow()
    assert_left_once_soon_after(gateway, account, agent, batch, back_at)


@ON_EACH_DATABASE
def test_the_worker_killed_and_started_again_across_the_due_time(gateway: Gateway, own_redis: OwnRedis):
    account = gateway.new_account()
    agent = gateway.new_agent(account)
    [worker] = [process for process in gateway.processes if "worker" in process.args]
    batch = schedule_batch(gateway, own_redis, account, "no worker")
    worker.kill()
    worker.wait()
    sleep_until(batch.due_at + VALID_FOR + timedelta(seconds=1))
    gateway.start_worker()
    # The worker is back at its first look, once started (imports, store, Redis).
    first = wait_until(lambda: worker_log_lines(gateway, "scheduled message released"), "the worker's first look")
    assert_left_once_soon_after(gateway, account, agent, batch, min(logged_at(line) for line in first))
