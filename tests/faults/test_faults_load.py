"""Many clients at once for a while, four agents draining: no 5xx, nothing lost, and
the API's answers, the store and the emulated networks' logs agree exactly, on
SQLite and on PostgreSQL.

ZIMSEND_SOAK_SECONDS sets how long the clients run (60 s by default, what CI
runs; a soak is the same test run for an hour).
"""

from __future__ import annotations

import os
import random
import threading
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import requests
from credentials import Credentials
from e2e_gateway import Gateway, running_gateway, worker_settled
from own_redis import OwnRedis
from waiting import wait_until

from gateway_agent.backends.emulator import EmulatorConfig

CLIENTS = 50
AGENTS = 4
SECONDS = float(os.environ.get("ZIMSEND_SOAK_SECONDS", "60"))
STALL_SECONDS = 180  # the most the unfinished messages' number may stay the same once the clients stopped
# The suite's 300 s would cut a soak short. The clients have messages accepted
# faster than four modems sending 20 a second take them (on two cores, about
# 130 against 60 a second), so the queue grows for as long as they run and then
# drains for about as long again: the limit allows four times their time, and
# ``STALL_SECONDS`` is what fails a drain that stopped.
pytestmark = [pytest.mark.slow, pytest.mark.timeout(4 * SECONDS + 600)]  # relay, worker and agents as processes


@dataclass
class Tally:
    """What the clients were told, all threads together."""

    accepted: dict[str, str] = field(default_factory=dict)  # message id -> text
    cancelled: set[str] = field(default_factory=set)
    refused_cancels: set[str] = field(default_factory=set)
    statuses: Counter = field(default_factory=Counter)  # (HTTP status, error code or "")
    lock: threading.Lock = field(default_factory=threading.Lock)

    def answered(self, answer: requests.Response) -> None:
        code = "" if answer.ok else answer.json().get("error", {}).get("code", "")
        with self.lock:
            self.statuses[answer.status_code, code] += 1


@pytest.fixture
def loaded_gateway(tmp_path: Path, empty_database_url: str, own_redis: OwnRedis) -> Iterator[Gateway]:
    """On SQLite and on PostgreSQL. Devices offline after 30 s of silence (the default is 60;
    the tests' 5 s is the least allowed): on 2 shared cores under this load the worker's
    round itself may run seconds late."""
    with running_gateway(
        tmp_path, empty_database_url, own_redis.url, own_redis.client(), ZIMSEND_DEVICE_OFFLINE_AFTER_SECONDS="30"
    ) as running:
        yield running


def test_fifty_clients_for_a_while_get_no_5xx_and_every_count_reconciles(loaded_gateway: Gateway):
    gateway = loaded_gateway
    account = gateway.new_account()
    agents = [gateway.new_agent(account, EmulatorConfig(send_delay=0.05)) for _ in range(AGENTS)]
    # Until the worker's first grace period is over a cancel is answered 503, as after a loss of Redis's data.
    wait_until(lambda: worker_settled(gateway.redis), "the worker's first grace period to pass")
    tally = Tally()
    deadline = time.monotonic() + SECONDS
    clients = [
        threading.Thread(target=_client, args=(gateway, account, tally, deadline, random.Random(n)))
        for n in range(CLIENTS)
    ]
    for client in clients:
        client.start()
    for client in clients:
        client.join(timeout=SECONDS + 120)

    assert not [status for status, _code in tally.statuses if status >= 500], tally.statuses
    assert tally.accepted, "no send was accepted"
    _wait_while_draining(gateway, account)
    finals = _statuses(gateway, account)
    assert set(finals) == set(tally.accepted)  # the store holds every accepted send, and only those
    assert set(finals.values()) <= {"delivered", "cancelled"}, Counter(finals.values())
    sent = Counter(text for agent in agents for text in agent.texts_sent())
    assert set(sent.values()) == {1}  # none twice
    delivered = {message_id for message_id, status in finals.items() if status == "delivered"}
    assert Counter(tally.accepted[message_id] for message_id in delivered) == sent  # exactly what left
    assert {message_id for message_id, status in finals.items() if status == "cancelled"} == tally.cancelled
    assert not tally.cancelled & delivered and tally.refused_cancels <= delivered


def _client(gateway: Gateway, account: Credentials, tally: Tally, deadline: float, rng: random.Random) -> None:
    http = requests.Session()
    mine: list[str] = []
    while time.monotonic() < deadline:
        action = rng.random()
        if action < 0.4 or not mine:
            text = f"load {threading.get_ident()} {len(mine)}"
            answer = http.post(
                gateway.url("/sms/send"),
                json={"to": "+263771004000", "message": text},
                headers=account.headers,
                timeout=60,
            )
            tally.answered(answer)
            if answer.status_code == 202:
                message_id = answer.json()["message_id"]
                mine.append(message_id)
                with tally.lock:
                    tally.accepted[message_id] = text
        elif action < 0.7:
            answer = http.get(gateway.url(f"/sms/status/{rng.choice(mine)}"), headers=account.headers, timeout=60)
            tally.answered(answer)
        elif action < 0.9:
            answer = http.get(gateway.url("/sms/history"), params={"limit": 20}, headers=account.headers, timeout=60)
            tally.answered(answer)
        else:
            message_id = rng.choice(mine)
            answer = http.delete(gateway.url(f"/sms/{message_id}"), headers=account.headers, timeout=60)
            tally.answered(answer)
            with tally.lock:
                if answer.status_code == 200:
                    tally.cancelled.add(message_id)
                elif message_id not in tally.cancelled:
                    tally.refused_cancels.add(message_id)


def _wait_while_draining(gateway: Gateway, account: Credentials) -> None:
    """Return once no message is queued or sent any more; fail when their number
    stopped falling for ``STALL_SECONDS`` (one stayed queued or in flight)."""
    unfinished, falling_since = _unfinished(gateway, account), time.monotonic()
    while unfinished:
        assert time.monotonic() - falling_since < STALL_SECONDS, f"{unfinished} messages never reached a final state"
        time.sleep(0.5)
        now = _unfinished(gateway, account)
        if now < unfinished:
            unfinished, falling_since = now, time.monotonic()


def _unfinished(gateway: Gateway, account: Credentials) -> int:
    return _history(gateway, account, status="queued,sent", limit=1)["pagination"]["total_items"]


def _statuses(gateway: Gateway, account: Credentials) -> dict[str, str]:
    """Every stored message's status, read a hundred a page (a soak's sends are too many to ask one by one)."""
    found: dict[str, str] = {}
    page = _history(gateway, account, limit=100)
    while True:
        found.update((item["message_id"], item["status"]) for item in page["data"])
        if page["next"] is None:
            return found
        page = _history(gateway, account, limit=100, after=page["next"])


def _history(gateway: Gateway, account: Credentials, **params: object) -> dict:
    answer = requests.get(gateway.url("/sms/history"), params=params, headers=account.headers, timeout=60)
    assert answer.status_code == 200, answer.text
    return answer.json()
