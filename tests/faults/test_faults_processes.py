"""Parts of the gateway killed or unplugged under a stream of messages: nothing is
sent twice, nothing stays pending, and every send the relay accepted is kept.

The emulated network's log is the witness of what left: a text in it twice is
a message sent twice. A message whose send was cut mid-way may end failed with
its outcome unknown; it must then have left once at most, never twice. The
relay's death is survived by what its database committed: that test runs on
SQLite and on PostgreSQL.
"""

from __future__ import annotations

import os
import signal
import threading
import time
import uuid
from collections import Counter
from pathlib import Path

import pytest
import requests
from credentials import Credentials
from e2e_gateway import Agent, Gateway, wait_until
from fault_gateway import ON_EACH_DATABASE
from process_tree import descendants

from gateway_agent.backends.emulator import EmulatorConfig
from relay_server.api.idempotency import ABANDONED_AFTER

pytestmark = pytest.mark.slow  # relay, worker and agents as processes

FINAL = ("delivered", "failed", "cancelled")
SETTLE_SECONDS = 90  # a killed agent's message is failed once the device is found offline
ABANDONED_SECONDS = ABANDONED_AFTER.total_seconds()


@ON_EACH_DATABASE
def test_an_agent_killed_again_and_again_mid_stream_sends_nothing_twice_and_leaves_nothing_pending(
    gateway: Gateway,
):
    account = gateway.new_account()
    agent = gateway.new_agent(account, EmulatorConfig(send_delay=0.2))
    texts = {gateway.queue(account, to="+263771002000", message=f"kill {n}"): f"kill {n}" for n in range(40)}
    for round_ in range(3):
        left = 5 * (round_ + 1)
        wait_until(lambda left=left: len(agent.emulator.sent) >= left, "some messages to leave")
        _kill(agent)
        gateway.start_agent(agent, account)

    finals = _settle(gateway, account, texts)
    _assert_sent_at_most_once(agent, texts, finals)
    failed = [message_id for message_id, status in finals.items() if status["status"] == "failed"]
    assert len(failed) <= 3  # one send cut per kill, at most
    for message_id in failed:
        assert "unknown" in finals[message_id]["error"]["detail"]


def test_a_modem_unplugged_and_plugged_back_mid_stream_loses_nothing(gateway: Gateway, tmp_path: Path):
    account = gateway.new_account()
    # Back on a new pty, as after USB re-enumeration: the agent follows the link.
    agent = gateway.new_agent(account, EmulatorConfig(send_delay=0.1, link=str(tmp_path / "modem")))
    texts = {gateway.queue(account, to="+263771002100", message=f"unplug {n}"): f"unplug {n}" for n in range(30)}
    wait_until(lambda: len(agent.emulator.sent) >= 5, "some messages to leave")
    agent.emulator.vanish()
    time.sleep(2)
    agent.emulator.restore()

    finals = _settle(gateway, account, texts)
    _assert_sent_at_most_once(agent, texts, finals)
    failed = [message_id for message_id, status in finals.items() if status["status"] == "failed"]
    assert len(failed) <= 1, {
        message_id: finals[message_id]["error"] for message_id in failed
    }  # only a send the unplugging cut may be left unknown
    assert gateway.device(account, agent.device_id)["online"]


@ON_EACH_DATABASE
def test_a_relay_killed_under_load_keeps_every_send_it_accepted_and_a_retried_key_sends_once(
    gateway: Gateway,
):
    account = gateway.new_account()
    agent = gateway.new_agent(account)
    keys = [str(uuid.uuid4()) for _ in range(60)]
    answers: dict[str, requests.Response | None] = {}

    def send_all(mine: list[str]) -> None:
        for key in mine:
            answers[key] = _send_with_key(gateway, account, key)

    senders = [threading.Thread(target=send_all, args=(keys[n::4],)) for n in range(4)]
    for sender in senders:
        sender.start()
    wait_until(lambda: len(answers) >= 10, "some sends to be answered")
    _kill_relay(gateway)
    for sender in senders:
        sender.join(timeout=60)
    gateway.start_relay()

    accepted = {key: answer.json()["message_id"] for key, answer in answers.items() if _accepted(answer)}
    seen = Counter(answer.status_code if answer is not None else "no answer" for answer in answers.values())
    assert accepted, f"the relay accepted no send before it died: {seen}"
    for message_id in accepted.values():
        assert gateway.status(account, message_id)["message_id"] == message_id  # kept, though the relay died
    # A client that saw no answer retries with the same key (one that saw a 202 may too), and
    # again while the relay says a request with that key is still in progress: the killed
    # relay's own request holds its key until it is taken for abandoned.
    retried = {key: _retry_until_answered(gateway, account, key) for key in keys}
    for key, answer in retried.items():
        assert answer is not None and answer.status_code == 202, (key, answer and answer.text)
        if key in accepted:
            assert answer.json()["message_id"] == accepted[key]
    texts = {answer.json()["message_id"]: f"key {key}" for key, answer in retried.items() if answer is not None}
    finals = _settle(gateway, account, texts)
    assert {status["status"] for status in finals.values()} == {"delivered"}
    assert Counter(agent.texts_sent()) == Counter(texts.values())  # each once, none lost


# -- helpers -------------------------------------------------------------------


def _kill(agent: Agent) -> None:
    assert agent.process is not None
    agent.process.send_signal(signal.SIGKILL)
    agent.process.wait(timeout=10)


def _kill_relay(gateway: Gateway) -> None:
    """SIGKILL the relay and every process it started, as a power cut would."""
    [relay] = [process for process in gateway.processes if "serve" in process.args and process.poll() is None]
    for pid in [*descendants(relay.pid), relay.pid]:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    relay.wait(timeout=10)


def _send_with_key(gateway: Gateway, account: Credentials, key: str, timeout: float = 10) -> requests.Response | None:
    """The relay's answer to one send, or None when the connection died with the relay."""
    try:
        return requests.post(
            gateway.url("/sms/send"),
            json={"to": "+263771002200", "message": f"key {key}"},
            headers={**account.headers, "Idempotency-Key": key},
            timeout=timeout,
        )
    except requests.RequestException:
        return None


def _retry_until_answered(gateway: Gateway, account: Credentials, key: str) -> requests.Response | None:
    deadline = time.monotonic() + ABANDONED_SECONDS + 60
    while True:
        answer = _send_with_key(gateway, account, key, timeout=40)
        in_progress = answer is not None and answer.status_code == 409
        if (answer is not None and not in_progress) or time.monotonic() > deadline:
            return answer
        time.sleep(1)


def _accepted(answer: requests.Response | None) -> bool:
    return answer is not None and answer.status_code == 202


def _settle(gateway: Gateway, account: Credentials, texts: dict[str, str]) -> dict[str, dict]:
    return {
        message_id: gateway.wait_for_status(account, message_id, *FINAL, timeout=SETTLE_SECONDS) for message_id in texts
    }


def _assert_sent_at_most_once(agent: Agent, texts: dict[str, str], finals: dict[str, dict]) -> None:
    sent = Counter(agent.texts_sent())
    for message_id, text in texts.items():
        assert sent[text] <= 1, f"{text} left {sent[text]} times"
        if finals[message_id]["status"] == "delivered":
            assert sent[text] == 1
