"""Applying agents' events: signed, forward only, idempotent, each client's own."""

from __future__ import annotations

import logging
from datetime import timedelta

import pytest
import sqlalchemy as sa
from database_outage import refusing_connections
from relay_parts import Parts
from rq.registry import ScheduledJobRegistry

from relay_server.api.models.inbox import IncomingMessage
from relay_server.store import inbox
from relay_server.store.dispatch_schema import device_events, incoming_messages
from relay_server.store.inbox import InboxQuery
from relay_server.store.models import StatusChange
from relay_server.store.store import Store
from relay_server.worker import context, events
from relay_server.worker.events import MAX_EVENT_ATTEMPTS, apply_event
from zimsend_common import bus, signing, wire
from zimsend_common.config import Settings
from zimsend_common.timefmt import isoformat_z, utcnow


def test_sent_then_delivered_move_the_message_with_the_reported_times(parts: Parts):
    caller = parts.client()
    device = parts.device(caller)
    message = parts.message(caller)
    sent_at = message.queued_at.replace(microsecond=0) + timedelta(seconds=1)
    delivered_at = sent_at + timedelta(seconds=4)
    assert (
        device.report("sent", {"message_id": message.message_id, "sent_at": isoformat_z(sent_at), "references": [7]})
        == "applied"
    )
    assert (
        device.report("delivered", {"message_id": message.message_id, "delivered_at": isoformat_z(delivered_at)})
        == "applied"
    )
    now = parts.reload(message)
    assert (now.status, now.sent_at, now.delivered_at, now.device_id) == (
        "delivered",
        sent_at,
        delivered_at,
        device.device_id,
    )


def test_a_repeated_event_changes_nothing(parts: Parts):
    caller = parts.client()
    device = parts.device(caller)
    message = parts.message(caller)
    document = device.event("sent", {"message_id": message.message_id, "sent_at": isoformat_z(utcnow())}).to_dict()
    signature = signing.sign(document, device.signing_key)
    assert apply_event(document, signature) == "applied"
    assert apply_event(document, signature) == "repeat"


def test_a_late_sent_after_delivered_never_moves_the_message_back(parts: Parts):
    caller = parts.client()
    device = parts.device(caller)
    message = parts.message(caller)
    device.report("sent", {"message_id": message.message_id, "sent_at": isoformat_z(utcnow())})
    device.report("delivered", {"message_id": message.message_id, "delivered_at": isoformat_z(utcnow())})
    device.report("sent", {"message_id": message.message_id, "sent_at": isoformat_z(utcnow())})
    assert parts.reload(message).status == "delivered"


def test_a_sent_report_for_a_message_cancelled_meanwhile_leaves_it_cancelled_with_a_warning(
    parts: Parts, caplog: pytest.LogCaptureFixture
):
    caller = parts.client()
    device = parts.device(caller)
    cancelled, delivered = parts.message(caller), parts.message(caller)
    parts.store.apply_status_change(StatusChange(cancelled.message_id, "cancelled", utcnow()))
    device.report("sent", {"message_id": delivered.message_id, "sent_at": isoformat_z(utcnow())})
    device.report("delivered", {"message_id": delivered.message_id, "delivered_at": isoformat_z(utcnow())})

    with caplog.at_level(logging.WARNING, logger="relay_server.worker.events"):
        device.report("sent", {"message_id": cancelled.message_id, "sent_at": isoformat_z(utcnow())})
        device.report("sent", {"message_id": delivered.message_id, "sent_at": isoformat_z(utcnow())})

    assert parts.reload(cancelled).status == "cancelled"
    [warning] = [record for record in caplog.records if record.levelno == logging.WARNING]
    assert "already ended unsent" in warning.getMessage()
    assert (warning.message_id, warning.device_id, warning.status) == (
        cancelled.message_id,
        device.device_id,
        "cancelled",
    )


def test_a_failed_event_keeps_the_contract_code_and_the_modems_own_error(parts: Parts):
    caller = parts.client()
    device = parts.device(caller)
    message = parts.message(caller)
    device.report(
        "failed",
        {
            "message_id": message.message_id,
            "failed_at": isoformat_z(utcnow()),
            "code": "INVALID_NUMBER",
            "message": "The recipient's number is not valid",
            "detail": "+CMS ERROR: 1 (unassigned number)",
        },
    )
    failed = parts.reload(message)
    assert failed.status == "failed"
    assert (failed.error.code, failed.error.detail) == ("INVALID_NUMBER", "+CMS ERROR: 1 (unassigned number)")


def test_an_event_not_signed_by_the_device_it_names_is_acknowledged_to_no_one(parts: Parts):
    caller = parts.client()
    device, intruder = parts.device(caller), parts.device(parts.client())
    message = parts.message(caller)
    # The device's own event, which its agent keeps until the worker acknowledges it.
    document = device.event("sent", {"message_id": message.message_id, "sent_at": isoformat_z(utcnow())}).to_dict()
    ack = wire.event_ack_key(device.device_id, document["event_id"])

    assert apply_event(document, signing.sign(document, intruder.signing_key)) == "refused"
    assert parts.redis.exists(ack) == 0  # the device's agent keeps its event, and hands it on

    assert apply_event(document, signing.sign(document, device.signing_key)) == "applied"
    assert parts.redis.exists(ack) == 1
    assert parts.reload(message).status == "sent"


def test_an_event_its_device_signed_but_of_a_kind_the_worker_does_not_know_is_refused_and_settled(parts: Parts):
    device = parts.device(parts.client())
    document = {**device.event("sent", {}).to_dict(), "kind": "teleported"}
    assert apply_event(document, signing.sign(document, device.signing_key)) == "refused"
    assert parts.redis.exists(wire.event_ack_key(device.device_id, document["event_id"])) == 1


def test_a_device_cannot_move_another_clients_message(parts: Parts):
    caller = parts.client()
    message = parts.message(caller)
    intruder = parts.device(parts.client())
    assert intruder.report("sent", {"message_id": message.message_id, "sent_at": isoformat_z(utcnow())}) == "refused"
    assert parts.reload(message).status == "queued"


def test_a_device_cannot_move_a_message_meant_for_another_of_its_clients_devices(parts: Parts):
    caller = parts.client()
    chosen, other = parts.device(caller), parts.device(caller)
    message = parts.message(caller, device_id=chosen.device_id)
    assert other.report("sent", {"message_id": message.message_id, "sent_at": isoformat_z(utcnow())}) == "refused"
    assert parts.reload(message).status == "queued"


def test_a_device_cannot_move_its_clients_test_mode_message(parts: Parts):
    live = parts.client()
    test_side = parts.store.clients.authenticate(
        live.client_id, parts.store.clients.create_api_key(live.client_id, test=True)
    )
    message = parts.message(test_side)
    device = parts.device(live)
    assert device.report("sent", {"message_id": message.message_id, "sent_at": isoformat_z(utcnow())}) == "refused"
    assert parts.reload(message).status == "queued"


def test_a_report_on_a_message_the_store_never_held_is_refused_and_the_round_goes_on(parts: Parts):
    caller = parts.client()
    device = parts.device(caller)
    message = parts.message(caller)
    with events.one_round(), parts.store.batch():
        never_held = {"message_id": "msg_" + "0" * 16, "sent_at": isoformat_z(utcnow())}
        assert device.report("sent", never_held) == "refused"
        assert device.report("sent", {"message_id": message.message_id, "sent_at": isoformat_z(utcnow())}) == "applied"
    assert parts.reload(message).status == "sent"


def test_a_failed_event_with_a_code_outside_the_contract_is_refused(parts: Parts):
    caller = parts.client()
    device = parts.device(caller)
    message = parts.message(caller)
    result = device.report(
        "failed", {"message_id": message.message_id, "code": "ON_FIRE", "failed_at": isoformat_z(utcnow())}
    )
    assert result == "refused"
    assert parts.reload(message).status == "queued"


def test_an_incoming_sms_is_stored_once_for_the_devices_client(parts: Parts):
    caller = parts.client()
    device = parts.device(caller)
    document = device.event(
        "received", {"sender": "+263772000111", "text": "Yebo", "received_at": isoformat_z(utcnow()), "parts": 1}
    ).to_dict()
    signature = signing.sign(document, device.signing_key)
    assert apply_event(document, signature) == "applied"
    assert apply_event(document, signature) == "repeat"
    with parts.store.engine.connect() as conn:
        rows = conn.execute(sa.select(incoming_messages)).all()
    assert [(r.client_id, r.device_id, r.sender, r.body) for r in rows] == [
        (caller.client_id, device.device_id, "+263772000111", "Yebo")
    ]


def test_an_sms_from_a_hidden_sender_is_stored_and_listed_in_the_inbox_with_an_empty_sender(parts: Parts):
    caller = parts.client()
    device = parts.device(caller)
    # TP-OA of length 0 ("0004008100004250211150000002C834"): the AT and Gammu decoders say ''.
    data = {"sender": "", "text": "Hi", "received_at": isoformat_z(utcnow()), "parts": 1}
    assert device.report("received", data) == "applied"
    listed, total = parts.store.inbox.page(caller.client_id, InboxQuery())
    assert total == 1
    shown = IncomingMessage.model_validate(inbox.received_data(listed[0]))  # as the API answers it
    assert (shown.from_, shown.message, shown.device_id) == ("", "Hi", device.device_id)


def test_a_binary_sms_of_two_hundred_parts_is_stored_whole(parts: Parts):
    caller = parts.client()
    device = parts.device(caller)
    octets = "".join(format(n % 256, "02X") for n in range(140 * 200))  # 8-bit data travels as hex
    data = {"sender": "+263772000111", "text": octets, "parts": 200, "binary": True, "data_coding": 4}
    assert device.report("received", {**data, "received_at": isoformat_z(utcnow())}) == "applied"
    [listed], _ = parts.store.inbox.page(caller.client_id, InboxQuery())
    assert (listed.body, listed.parts, listed.kind) == (octets, 200, "data")


def test_a_heartbeat_records_the_devices_state(parts: Parts):
    caller = parts.client()
    device = parts.device(caller)
    device.heartbeat(model="SIM800L", firmware="1418B05", phone_number="+263771000222", sent_today=4, queue_depth=2)
    [state] = parts.store.devices.states(device_id=device.device_id)
    assert (state.model, state.firmware, state.phone_number, state.operator, state.signal_percent) == (
        "SIM800L",
        "1418B05",
        "+263771000222",
        "Econet",
        71,
    )
    assert (state.sent_today, state.queue_depth) == (4, 2)
    assert state.online(utcnow(), parts.ctx.offline_after)


def test_an_older_heartbeat_arriving_late_does_not_move_last_seen_back(parts: Parts):
    device = parts.device(parts.client())
    now = utcnow().replace(microsecond=0)
    device.heartbeat(at=now)
    device.heartbeat(at=now - timedelta(minutes=5))
    [state] = parts.store.devices.states(device_id=device.device_id)
    assert state.last_seen_at == now


def test_a_report_dated_before_the_previous_move_by_a_coarse_clock_is_dated_at_that_move(parts: Parts):
    caller = parts.client()
    device = parts.device(caller)
    message = parts.message(caller)
    early = message.queued_at - timedelta(seconds=1)
    device.report("sent", {"message_id": message.message_id, "sent_at": isoformat_z(early)})
    device.report("delivered", {"message_id": message.message_id, "delivered_at": isoformat_z(early)})
    done = parts.reload(message)
    assert done.queued_at == done.sent_at == done.delivered_at


@pytest.mark.postgres
def test_an_event_that_finds_the_database_down_waits_and_is_neither_lost_nor_dead_lettered(postgres_url, redisdb):
    store = Store.open(postgres_url)
    ctx = context.WorkerContext(store=store, redis=redisdb, settings=Settings())
    context.install(ctx)
    parts = Parts(ctx)
    caller = parts.client()
    device = parts.device(caller)
    message = parts.message(caller)
    with refusing_connections(postgres_url):
        store.engine.dispose()
        document = device.event("sent", {"message_id": message.message_id, "sent_at": isoformat_z(utcnow())}).to_dict()
        # However often it is handed on, an outage is no fault of the event's.
        tries = MAX_EVENT_ATTEMPTS + 2
        assert [apply_event(document, signing.sign(document, device.signing_key)) for _ in range(tries)] == [
            "deferred"
        ] * tries
        waiting = ScheduledJobRegistry(wire.EVENTS_QUEUE, connection=redisdb).get_job_ids()
        assert len(waiting) == tries
    assert store.list_dead_letters() == []
    job = bus.fetch(waiting[0], redisdb)
    assert apply_event(*job.args) == "applied"
    assert parts.reload(message).status == "sent"
    store.close()


def test_an_applied_or_repeated_event_is_acknowledged_to_its_agent_and_a_heartbeat_is_not(parts: Parts):
    caller = parts.client()
    device = parts.device(caller)
    message = parts.message(caller)
    sent = device.event("sent", {"message_id": message.message_id, "sent_at": isoformat_z(utcnow())}).to_dict()
    heartbeat = device.event("heartbeat", {"signal_percent": 60}).to_dict()

    assert apply_event(sent, signing.sign(sent, device.signing_key)) == "applied"
    assert apply_event(heartbeat, signing.sign(heartbeat, device.signing_key)) == "applied"
    assert parts.redis.exists(wire.event_ack_key(sent["device_id"], sent["event_id"])) == 1
    assert parts.redis.exists(wire.event_ack_key(heartbeat["device_id"], heartbeat["event_id"])) == 0

    parts.redis.flushall()  # the acknowledgement lost with Redis's data: the agent hands the event on again
    assert apply_event(sent, signing.sign(sent, device.signing_key)) == "repeat"
    assert parts.redis.exists(wire.event_ack_key(sent["device_id"], sent["event_id"])) == 1
    assert 0 < parts.redis.ttl(wire.event_ack_key(sent["device_id"], sent["event_id"])) <= wire.EVENT_ACK_TTL_SECONDS


def test_an_event_applied_in_a_batch_is_acknowledged_only_once_the_batch_has_committed(parts: Parts):
    caller = parts.client()
    device = parts.device(caller)
    message = parts.message(caller)
    sent = device.event("sent", {"message_id": message.message_id, "sent_at": isoformat_z(utcnow())}).to_dict()
    ack = wire.event_ack_key(sent["device_id"], sent["event_id"])

    with parts.ctx.store.batch():
        assert apply_event(sent, signing.sign(sent, device.signing_key)) == "applied"
        assert parts.redis.exists(ack) == 0  # a crash now would lose the change: the agent must keep the event

    assert parts.redis.exists(ack) == 1
    assert parts.reload(message).status == "sent"


def test_a_job_an_agent_refused_is_kept_as_the_devices_job_refused_event_once(parts: Parts):
    caller = parts.client()
    device = parts.device(caller)
    refusal = device.event(
        "job_refused",
        {
            "reason": "bad_signature",
            "job_id": "forged1",
            "queue": wire.device_queue(device.device_id, 3),
            "message_id": "msg_00000000000000f1",
        },
    ).to_dict()
    signature = signing.sign(refusal, device.signing_key)
    assert apply_event(refusal, signature) == "applied"
    assert apply_event(refusal, signature) == "repeat"
    with parts.store.engine.connect() as conn:
        rows = conn.execute(
            sa.select(device_events.c.event, device_events.c.reason, device_events.c.client_id).where(
                device_events.c.device_id == device.device_id
            )
        ).all()
    assert [tuple(row) for row in rows] == [("job.refused", "bad_signature", caller.client_id)]
