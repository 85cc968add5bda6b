"""The worker SIGKILLed again and again under a stream of sends, some of them scheduled:
every send the relay accepted ends delivered, and none leaves twice.

The worker applies the agents' reports, releases the scheduled messages and recovers
what Redis holds; killed, it leaves its lease, its event pump's batch and its rounds
half done, and the next worker must finish them. The agents live on: their reports
wait in their journals for a worker to acknowledge them, so no send's outcome is lost.
The emulated networks' logs are the witness of what left.

ZIMSEND_SOAK_SECONDS sets how long the stream and the kills run (20 s by default,
what CI runs).
"""

from __future__ import annotations

import os
import random
import subprocess
import threading
import time
from collections import Counter
from datetime import timedelta

import pytest
from credentials import Credentials
from e2e_gateway import STARTUP_SECONDS, Gateway, wait_until
from fault_gateway import ON_EACH_DATABASE, worker_settled

from gateway_agent.backends.emulator import EmulatorConfig
from zimsend_common import wire
from zimsend_common.timefmt import isoformat_z, utcnow

SECONDS = float(os.environ.get("ZIMSEND_SOAK_SECONDS", "20"))
SEND_EVERY_SECONDS = 0.05
# Each worker is killed at a random moment this long after it became the active one (its
# duties' rounds run every half second), and another started at once.
KILL_AFTER_SECONDS = (0.1, 3.0)
SCHEDULED_EVERY = 5  # one send in this many is due a few seconds on, across the next kills
FINAL = ("delivered", "failed", "cancelled")
STALL_SECONDS = 120  # the most the unfinished messages' number may stay the same once the kills stopped

pytestmark = [pytest.mark.slow, pytest.mark.timeout(2 * SECONDS + 600)]  # relay, worker and agents as processes


@ON_EACH_DATABASE
def test_a_worker_killed_again_and_again_under_a_stream_loses_nothing_and_sends_nothing_twice(gateway: Gateway):
    account = gateway.new_account()
    agents = [gateway.new_agent(account, EmulatorConfig(send_delay=0.05)) for _ in range(2)]
    wait_until(lambda: worker_settled(gateway.redis), "the worker's first grace period to pass")
    accepted: dict[str, str] = {}  # message id -> text
    answers: Counter = Counter()  # HTTP status -> how many sends were answered so
    streaming = threading.Event()
    streaming.set()
    sender = threading.Thread(target=_stream, args=(gateway, account, accepted, answers, streaming))
    sender.start()
    rng = random.Random(7)
    [worker] = [process for process in gateway.processes if "worker" in process.args]
    kills = 0
    try:
        deadline = time.monotonic() + SECONDS
        while time.monotonic() < deadline:
            _wait_active(gateway, worker)
            time.sleep(rng.uniform(*KILL_AFTER_SECONDS))
            worker.kill()
            worker = gateway.start_worker()
            kills += 1
    finally:
        streaming.clear()
        sender.join(timeout=60)

    assert kills >= 2 and set(answers) == {202}, (kills, answers)  # the relay needs no worker to accept
    _wait_while_draining(gateway, account, list(accepted))
    finals = {message_id: gateway.status(account, message_id) for message_id in accepted}
    assert Counter(status["status"] for status in finals.values()) == {"delivered": len(accepted)}, {
        message_id: (status["status"], status.get("error"))
        for message_id, status in finals.items()
        if status["status"] != "delivered"
    }
    sent = Counter(text for agent in agents for text in agent.texts_sent())
    assert sent == Counter(accepted.values())  # each accepted send left once, and nothing else did


def _stream(
    gateway: Gateway, account: Credentials, accepted: dict[str, str], answers: Counter, streaming: threading.Event
) -> None:
    """Send while ``streaming``, every SCHEDULED_EVERY-th due a little later; counts each answer's status."""
    n = 0
    while streaming.is_set():
        text = f"worker kill {n}"
        body: dict[str, str] = {"to": "+263771002300", "message": text}
        if n % SCHEDULED_EVERY == 0:
            body["scheduled_at"] = isoformat_z(utcnow() + timedelta(seconds=3))
        answer = gateway.send(account, **body)
        answers[answer.status_code] += 1
        if answer.status_code == 202:
            accepted[answer.json()["message_id"]] = text
        n += 1
        time.sleep(SEND_EVERY_SECONDS)


def _wait_active(gateway: Gateway, worker: subprocess.Popen) -> None:
    """Return once ``worker`` holds the lease: its duties run (a worker killed while it
    imports would prove nothing)."""

    def holds() -> bool:
        holder = gateway.redis.get(wire.WORKER_LEASE_KEY)
        return isinstance(holder, bytes) and holder.split(b":")[1] == str(worker.pid).encode()

    wait_until(holds, f"worker {worker.pid} to become the active one", STARTUP_SECONDS)


def _wait_while_draining(gateway: Gateway, account: Credentials, message_ids: list[str]) -> None:
    """Return once every message is final; fail when the number of those that are not
    stopped falling for ``STALL_SECONDS`` (one stayed queued or in flight)."""
    unfinished = list(message_ids)
    falling_since = time.monotonic()
    while unfinished:
        now = [message_id for message_id in unfinished if gateway.status(account, message_id)["status"] not in FINAL]
        if len(now) < len(unfinished):
            falling_since = time.monotonic()
        unfinished = now
        assert time.monotonic() - falling_since < STALL_SECONDS, f"{unfinished[:10]} never reached a final state"
        if unfinished:
            time.sleep(0.5)
