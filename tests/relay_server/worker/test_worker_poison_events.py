"""Poison events, tried as an attacker or an odd radio would: none loops, none is lost,
none holds up the events behind it.

Each test runs the worker's own ``apply_event`` against a real redis-server and
a real database (SQLite and PostgreSQL), as the agent hands events to it,
again and again when no acknowledgement comes.
"""

from __future__ import annotations

from typing import Any

import pytest
import sqlalchemy as sa
from prometheus_client import REGISTRY
from refusing_database import REFUSAL, refusal_reason, refuse_incoming_text
from relay_parts import AgentDevice, Parts
from rq.registry import ScheduledJobRegistry

from relay_server.store.dispatch_schema import incoming_messages
from relay_server.worker.events import MAX_EVENT_ATTEMPTS, apply_event
from zimsend_common import signing, wire
from zimsend_common.timefmt import isoformat_z, utcnow

SENDER = "+263772000111"


def _received(device: AgentDevice, text: str, sender: str = SENDER) -> tuple[dict[str, Any], str]:
    document = device.event(
        "received", {"sender": sender, "text": text, "received_at": isoformat_z(utcnow()), "parts": 1}
    ).to_dict()
    return document, signing.sign(document, device.signing_key)


def _acknowledged(parts: Parts, document: dict[str, Any]) -> bool:
    return parts.redis.exists(wire.event_ack_key(document["device_id"], document["event_id"])) == 1


def _stored(parts: Parts, client_id: str) -> list[sa.Row]:
    with parts.store.engine.connect() as conn:
        return conn.execute(sa.select(incoming_messages).where(incoming_messages.c.client_id == client_id)).all()


def _retries_waiting(parts: Parts) -> list[str]:
    return ScheduledJobRegistry(wire.EVENTS_QUEUE, connection=parts.redis).get_job_ids()


def _dead_lettered_count(kind: str, reason: str) -> float:
    value = REGISTRY.get_sample_value("zimsend_events_dead_lettered_total", {"kind": kind, "reason": reason})
    return value or 0.0


@pytest.mark.parametrize("text", ["NUL \x00 inside", "\x00", "trailing NUL\x00"])
def test_an_sms_with_nul_is_stored_once_and_read_back_exactly_however_often_it_is_handed_on(parts: Parts, text: str):
    caller = parts.client()
    device = parts.device(caller)
    document, signature = _received(device, text, sender="+26377\x00000111")

    outcomes = [apply_event(document, signature) for _ in range(4)]

    assert outcomes == ["applied", "repeat", "repeat", "repeat"]
    assert _acknowledged(parts, document)
    [row] = _stored(parts, caller.client_id)
    found = parts.store.get_incoming(caller.client_id, row.message_id)
    assert (found.sender, found.text, found.event_id) == ("+26377\x00000111", text, document["event_id"])
    assert parts.store.list_dead_letters() == []
    assert _retries_waiting(parts) == []


def test_an_event_that_raises_every_time_is_tried_n_times_then_dead_lettered_and_the_rest_flow(parts: Parts):
    caller = parts.client()
    device = parts.device(caller)
    message = parts.message(caller)
    refuse_incoming_text(parts.store.engine, "POISON")
    poison, signature = _received(device, "POISON")
    reason = refusal_reason(parts.store.engine)
    counted_before = _dead_lettered_count("received", reason)

    outcomes = []
    for n in range(MAX_EVENT_ATTEMPTS):
        outcomes.append(apply_event(poison, signature))
        # Between the agent's hand-overs, other events keep coming and are applied.
        assert device.report("received", {"sender": SENDER, "text": f"after try {n}", "parts": 1}) == "applied"
        assert not _acknowledged(parts, poison) or n == MAX_EVENT_ATTEMPTS - 1

    assert outcomes == ["failed"] * (MAX_EVENT_ATTEMPTS - 1) + ["dead_lettered"]
    assert _acknowledged(parts, poison)  # the agent may forget it now
    assert _retries_waiting(parts) == []  # and the worker keeps no retry of its own
    assert device.report("sent", {"message_id": message.message_id, "sent_at": isoformat_z(utcnow())}) == "applied"
    assert parts.reload(message).status == "sent"
    assert sorted(row.body for row in _stored(parts, caller.client_id)) == [
        f"after try {n}" for n in range(MAX_EVENT_ATTEMPTS)
    ]

    [letter] = parts.store.list_dead_letters()
    assert (letter.event_id, letter.kind, letter.device_id, letter.attempts, letter.reason) == (
        poison["event_id"],
        "received",
        device.device_id,
        MAX_EVENT_ATTEMPTS,
        reason,
    )
    assert REFUSAL in letter.error
    assert letter.payload == poison
    assert letter.first_attempt_at < letter.last_attempt_at
    assert _dead_lettered_count("received", reason) == counted_before + 1

    # Handed on once more (its acknowledgement lost with Redis's data): still one dead letter.
    parts.redis.flushall()
    assert apply_event(poison, signature) == "dead_lettered"
    assert _acknowledged(parts, poison)
    assert len(parts.store.list_dead_letters()) == 1
    assert _dead_lettered_count("received", reason) == counted_before + 1


def test_a_heartbeat_with_over_long_and_odd_fields_keeps_what_fits_and_does_not_loop(parts: Parts):
    device = parts.device(parts.client())
    outcome = device.heartbeat(
        operator="E" * 10_000,
        model="SIM\x00800",
        firmware="\x00" * 100,
        phone_number="+" + "7" * 40,
        registration="home" * 20,
        state="online" * 10,
        signal_percent=2**40,
        signal_dbm=float("nan"),
        sent_today=3,
    )
    assert outcome == "applied"
    [state] = parts.store.devices.states(device_id=device.device_id)
    assert state.operator == "E" * 64
    assert state.model == "SIM\ufffd800"
    assert state.firmware == "\ufffd" * 64
    # A number, a registration or a state that does not fit is not kept wrong: it is left out.
    assert (state.phone_number, state.registration, state.agent_state) == (None, None, None)
    assert (state.signal_percent, state.sent_today) == (None, 3)
    assert state.online(utcnow(), parts.ctx.offline_after)
    assert parts.store.list_dead_letters() == []
    assert _retries_waiting(parts) == []


def test_an_over_long_message_id_is_refused_as_malformed_and_settled(parts: Parts):
    device = parts.device(parts.client())
    document = device.event("sent", {"message_id": "msg_" + "0" * 10_000, "sent_at": isoformat_z(utcnow())}).to_dict()
    assert apply_event(document, signing.sign(document, device.signing_key)) == "refused"
    assert _acknowledged(parts, document)
    assert parts.store.list_dead_letters() == []


@pytest.mark.parametrize("device_id", ["device_" + "a" * 10_000, "device_\x00bcdefghijk", 12345])
def test_an_over_long_or_odd_device_id_is_refused_as_malformed_without_touching_the_database(
    parts: Parts, device_id: Any
):
    document = wire.Event(kind="heartbeat", device_id=device_id, at=isoformat_z(utcnow()), data={}).to_dict()
    assert apply_event(document, "00") == "refused"
    assert parts.store.list_dead_letters() == []


@pytest.mark.parametrize("event_id", ["evt_" + "f" * 100, "evt_\x00", "evt_ü", ""])
def test_an_event_id_the_store_cannot_keep_is_refused(parts: Parts, event_id: str):
    device = parts.device(parts.client())
    document = {**device.event("received", {"sender": SENDER, "text": "hi"}).to_dict(), "event_id": event_id}
    assert apply_event(document, signing.sign(document, device.signing_key)) == "refused"
    assert _stored(parts, device.client_id) == []


def test_an_event_with_a_lone_surrogate_no_agent_could_sign_is_refused_not_dead_lettered(parts: Parts):
    device = parts.device(parts.client())
    document = device.event("received", {"sender": SENDER, "text": "\ud800"}).to_dict()
    for _ in range(MAX_EVENT_ATTEMPTS + 1):
        assert apply_event(document, "00" * 32) == "refused"
    assert parts.store.list_dead_letters() == []


def test_a_timestamp_before_the_first_utc_moment_is_refused(parts: Parts):
    device = parts.device(parts.client())
    data = {"sender": SENDER, "text": "old", "received_at": "0001-01-01T00:00:00+14:00"}
    assert device.report("received", data) == "refused"
    assert parts.store.list_dead_letters() == []
