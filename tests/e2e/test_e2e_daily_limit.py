"""A rack of two modems where one SIM reached its daily send limit: the client's messages leave
through the other, each accepted by the network once."""

from __future__ import annotations

import time
from collections import Counter

import pytest
import requests
from e2e_gateway import Gateway
from waiting import wait_until

from zimsend_common.timefmt import parse_utc

pytestmark = pytest.mark.slow  # relay, worker and agents as processes

LIMIT = 4  # SMS parts a day
LONG = "a text of two parts " * 10  # 200 septets
TO = "+263771000300"


def test_a_device_past_its_daily_limit_leaves_the_clients_messages_to_the_other_each_sent_once(gateway: Gateway):
    account = gateway.new_account()
    limited = gateway.new_agent(account, ZIMSEND_DAILY_SEND_LIMIT=str(LIMIT))
    texts = [LONG] + [f"daily limit {n}" for n in range(6)]
    sent = requests.post(
        gateway.url("/sms/send-bulk"),
        json={"messages": [{"to": TO, "message": text} for text in texts]},
        headers=account.headers,
        timeout=30,
    )
    assert sent.status_code == 202, sent.text
    message_ids = [item["message_id"] for item in sent.json()["messages"]]

    # Alone, the limited device sends what fits in its day, then takes nothing more.
    until = wait_until(
        lambda: gateway.device(account, limited.device_id)["daily_limit_reached_until"], "the daily limit", 30
    )
    time.sleep(2.0)
    parts_sent = len(limited.emulator.accepted_parts)
    assert 3 <= parts_sent <= LIMIT  # four single parts, or a message of two that no longer fit after three
    assert gateway.device(account, limited.device_id)["online"] is True
    # Online, it is still a device to send through, and the estimate says when it sends again.
    late = gateway.send(account, to=TO, message="daily limit late")
    assert late.status_code == 202, late.text
    assert parse_utc(late.json()["estimated_delivery"]) >= parse_utc(until)

    other = gateway.new_agent(account)

    for message_id in [*message_ids, late.json()["message_id"]]:
        done = gateway.wait_for_status(account, message_id, "delivered", "failed", timeout=60)
        assert done["status"] == "delivered", done
    assert len(limited.emulator.accepted_parts) == parts_sent
    # The network's logs are the witness: each text accepted once, from one modem or the other.
    assert Counter(limited.texts_sent() + other.texts_sent()) == {text: 1 for text in [*texts, "daily limit late"]}
    assert other.texts_sent() and "daily limit late" in other.texts_sent()
    log = (gateway.workdir / f"agent-{limited.device_id}.log").read_text()
    assert log.count("daily send limit reached") == 1


THREE_PARTS = "a text of three parts " * 15  # 330 septets
ECONET = "+263771000301"


def test_a_message_longer_than_a_devices_whole_limit_fails_alone_and_leaves_once_through_a_larger_one(
    gateway: Gateway,
):
    account = gateway.new_account()
    small = gateway.new_agent(account, start=False, ZIMSEND_DAILY_SEND_LIMIT="2")
    gateway.store.devices.set_prefixes(small.device_id, ["+26377"])
    gateway.start_agent(small, account)

    # No other device: the small one declines it, and the relay fails it, saying why.
    alone = gateway.queue(account, to=ECONET, message=THREE_PARTS)
    failed = gateway.wait_for_status(account, alone, "delivered", "failed", timeout=60)
    assert failed["status"] == "failed" and failed["error"]["code"] == "DEVICE_ERROR", failed
    assert "daily_send_limit of 2" in failed["error"]["detail"] and small.device_id in failed["error"]["detail"]

    large = gateway.new_agent(account)
    long_one = gateway.queue(account, to=ECONET, message=THREE_PARTS)
    short_one = gateway.queue(account, to=ECONET, message="a text of one part")

    assert gateway.wait_for_status(account, long_one, "delivered", "failed", timeout=60)["device_id"] == (
        large.device_id
    )
    assert gateway.wait_for_status(account, short_one, "delivered", "failed", timeout=60)["device_id"] == (
        small.device_id
    )
    # The network's logs are the witness: each text accepted once, the long one from the larger device.
    assert small.texts_sent() == ["a text of one part"]
    assert large.texts_sent() == [THREE_PARTS]
