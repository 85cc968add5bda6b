"""Poison on the radio, end to end: ``zimsend-relay worker`` and ``zimsend-agent run`` as
processes, an emulated modem on a real pty, SQLite and PostgreSQL.

Anyone can text a SIM: an SMS the database cannot hold as it is must be stored
once, exactly, and one it refuses outright must end as a dead letter the
operator can list, with the agent free of it and the messages after it stored.
"""

from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest
import redis
import sqlalchemy as sa
from e2e_gateway import BIN, Gateway, running_gateway, wait_until
from refusing_database import REFUSAL, refuse_incoming_text

from relay_server.store.dispatch_schema import incoming_messages
from relay_server.worker.events import MAX_EVENT_ATTEMPTS
from zimsend_common import wire

pytestmark = pytest.mark.slow  # relay, worker and agents as processes

SENDER = "+263772000111"


@pytest.fixture
def any_database_gateway(tmp_path: Path, database_url: str, redis_proc: Any, redisdb: redis.Redis):
    with running_gateway(tmp_path, database_url, f"redis://{redis_proc.host}:{redis_proc.port}/0", redisdb) as running:
        yield running


def _stored(gateway: Gateway, client_id: str) -> list[sa.Row]:
    with gateway.store.engine.connect() as conn:
        query = sa.select(incoming_messages).where(incoming_messages.c.client_id == client_id)
        return conn.execute(query.order_by(incoming_messages.c.created_at)).all()


def test_an_sms_with_nul_texted_to_a_modem_is_stored_once_exactly(any_database_gateway: Gateway):
    gateway = any_database_gateway
    account = gateway.new_account()
    agent = gateway.new_agent(account)

    agent.emulator.inject_incoming(SENDER, "PIN\x00 1234\x00")

    [row] = wait_until(lambda: _stored(gateway, account.client_id), "the SMS to be stored")
    wait_until(
        lambda: gateway.redis.exists(wire.event_ack_key(agent.device_id, row.event_id)),
        "the agent to be told it is kept",
    )
    time.sleep(3)  # three of the agent's re-hand intervals: nothing more may come of it
    assert len(_stored(gateway, account.client_id)) == 1
    found = gateway.store.get_incoming(account.client_id, row.message_id)
    assert (found.sender, found.text, found.device_id) == (SENDER, "PIN\x00 1234\x00", agent.device_id)
    assert gateway.store.list_dead_letters() == []


def test_an_sms_the_database_refuses_becomes_a_dead_letter_and_the_next_is_stored(any_database_gateway: Gateway):
    gateway = any_database_gateway
    account = gateway.new_account()
    agent = gateway.new_agent(account)
    refuse_incoming_text(gateway.store.engine, "POISON")

    agent.emulator.inject_incoming(SENDER, "POISON")
    [letter] = wait_until(gateway.store.list_dead_letters, "the refused SMS to be dead-lettered")
    agent.emulator.inject_incoming(SENDER, "the next one")

    [row] = wait_until(lambda: _stored(gateway, account.client_id), "the next SMS to be stored")
    assert row.body == "the next one"
    assert (letter.kind, letter.device_id, letter.attempts) == ("received", agent.device_id, MAX_EVENT_ATTEMPTS)
    assert letter.payload["data"]["text"] == "POISON"
    assert REFUSAL in letter.error
    wait_until(
        lambda: gateway.redis.exists(wire.event_ack_key(agent.device_id, letter.event_id)), "the agent to be released"
    )

    listed = subprocess.run(
        [str(BIN / "zimsend-relay"), "dead-letters"], env=gateway.env, capture_output=True, text=True, timeout=60
    )
    assert listed.returncode == 0, listed.stderr
    [line] = [json.loads(text) for text in listed.stdout.splitlines()]
    assert (line["event_id"], line["attempts"], line["payload"]["data"]["text"]) == (
        letter.event_id,
        MAX_EVENT_ATTEMPTS,
        "POISON",
    )
    assert agent.password not in listed.stdout
