"""A rack of modems where one SIM has no credit: its client's messages leave through the others."""

from __future__ import annotations

from collections import Counter

import pytest
import requests
import sqlalchemy as sa
from e2e_gateway import Gateway

from gateway_agent.backends.emulator import EmulatorConfig
from relay_server.store.schema import message_events

pytestmark = pytest.mark.slow  # relay, worker and agents as processes

BARRED = EmulatorConfig(failures={r".*": 8})  # +CMS ERROR: 8, Operator determined barring: NO_CREDIT


def send_bulk(gateway: Gateway, account, count: int) -> list[str]:
    texts = [{"to": "+263771000200", "message": f"failover {n}"} for n in range(count)]
    answer = requests.post(gateway.url("/sms/send-bulk"), json={"messages": texts}, headers=account.headers, timeout=30)
    assert answer.status_code == 202, answer.text
    return [item["message_id"] for item in answer.json()["messages"]]


def test_messages_a_device_without_credit_refuses_are_delivered_once_through_the_other(gateway: Gateway):
    account = gateway.new_account()
    barred = gateway.new_agent(account, BARRED)
    healthy = gateway.new_agent(account)

    message_ids = send_bulk(gateway, account, 6)

    for message_id in message_ids:
        done = gateway.wait_for_status(account, message_id, "delivered", "failed", timeout=60)
        assert (done["status"], done["device_id"]) == ("delivered", healthy.device_id), done
    assert barred.texts_sent() == []
    # The network's log is the witness: each text accepted once, from the healthy modem.
    assert Counter(healthy.texts_sent()) == {f"failover {n}": 1 for n in range(6)}


def test_when_every_device_is_without_credit_each_message_fails_no_credit_once(gateway: Gateway):
    account = gateway.new_account()
    # With the default settings (no pause after a refusal): a batch fails as soon as both refused each message.
    first = gateway.new_agent(account, BARRED)
    second = gateway.new_agent(account, BARRED)

    message_ids = send_bulk(gateway, account, 10)

    for message_id in message_ids:
        failed = gateway.wait_for_status(account, message_id, "failed", "delivered", timeout=60)
        assert failed["status"] == "failed" and failed["sent_at"] is None, failed
        assert failed["error"]["code"] == "NO_CREDIT"
        assert "Operator determined barring" in failed["error"]["detail"]
        assert first.device_id in failed["error"]["detail"] and second.device_id in failed["error"]["detail"]
    assert first.texts_sent() == [] and second.texts_sent() == []
    # Failed once: one move to failed each in the store's history of moves.
    query = sa.select(message_events.c.message_id).where(
        message_events.c.message_id.in_(message_ids), message_events.c.status == "failed"
    )
    with gateway.store.engine.connect() as conn:
        assert Counter(conn.execute(query).scalars()) == {message_id: 1 for message_id in message_ids}
