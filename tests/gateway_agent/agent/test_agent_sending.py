"""The agent's loop against a real redis-server and an emulated modem on a real pty."""

from __future__ import annotations

import random
import time
from datetime import datetime, timedelta, timezone

import pytest
from agent_support import (
    CLIENT_ID,
    DEVICE_ID,
    OTHER_DEVICE_ID,
    enqueue,
    events_of,
    events_of_kind,
    eventually,
    kinds_of,
    serve_client,
)
from rq import Queue
from rq.job import Job

from gateway_agent.agent.ledger import Ledger
from gateway_agent.backends.emulator.fake_modem import FakeModem
from zimsend_common import signing, wire
from zimsend_common.timefmt import isoformat_z

NORMAL = wire.device_queue(DEVICE_ID, 3)


# python-gammu takes seconds on the pty: its run is left to the whole suite.
@pytest.mark.parametrize("backend", ["at", pytest.param("gammu", marks=pytest.mark.slow)])
def test_a_queued_message_leaves_once_and_is_reported_sent_then_delivered(
    conn, redis_url, start_emulator, start_agent, backend
):
    emulator = start_emulator(report_delay=0.2)
    serve_client(conn)
    start_agent(redis_url, emulator, backend=backend)

    enqueue(conn, NORMAL, "msg_0000000000000001", to="+263771234567", text="Hello from the gateway")

    eventually(lambda: kinds_of(conn, "msg_0000000000000001") == ["sent", "delivered"])
    [record] = emulator.sent
    assert (record.recipient, record.text) == ("+263771234567", "Hello from the gateway")
    sent, delivered = events_of(conn, "msg_0000000000000001")
    assert sent.device_id == DEVICE_ID
    assert sent.data["references"] == list(record.references)
    assert sent.data["sent_at"].endswith("Z")
    # The network's timestamps count whole seconds.
    sent_second = datetime.fromisoformat(sent.data["sent_at"]).replace(microsecond=0)
    assert datetime.fromisoformat(delivered.data["delivered_at"]) >= sent_second
    assert conn.get(wire.claim_key(CLIENT_ID, "msg_0000000000000001")) == wire.claim_value_device(DEVICE_ID).encode()
    assert conn.get(wire.inflight_key(DEVICE_ID)) is None
    assert not conn.exists(Job.key_for(wire.send_job_id(CLIENT_ID, "msg_0000000000000001")))


def test_each_send_leaves_how_long_it_took_for_the_relays_estimates_and_no_in_flight_mark(
    conn, redis_url, fake_modem, start_agent
):
    serve_client(conn)
    start_agent(redis_url, fake_modem)

    for number in range(3):
        enqueue(conn, NORMAL, f"msg_00000000000002{number:02x}")

    eventually(lambda: len(fake_modem.sent) == 3 and conn.llen(wire.send_times_key(DEVICE_ID)) == 3)
    assert all(0 <= float(seconds) < 5 for seconds in conn.lrange(wire.send_times_key(DEVICE_ID), 0, -1))
    assert conn.get(wire.inflight_key(DEVICE_ID)) is None


def test_a_send_times_key_of_another_kind_costs_the_estimates_only_never_an_event_or_a_send(
    conn, redis_url, fake_modem, start_agent
):
    serve_client(conn)
    conn.set(wire.send_times_key(DEVICE_ID), "not a list")
    start_agent(redis_url, fake_modem)

    message_ids = [f"msg_00000000000003{number:02x}" for number in range(2)]
    for message_id in message_ids:
        enqueue(conn, NORMAL, message_id)

    eventually(lambda: all(kinds_of(conn, message_id) == ["sent"] for message_id in message_ids))
    time.sleep(0.3)  # an event handed on twice would show by now
    assert [kinds_of(conn, message_id) for message_id in message_ids] == [["sent"], ["sent"]]
    assert len(fake_modem.sent) == 2
    assert conn.get(wire.inflight_key(DEVICE_ID)) is None
    assert conn.get(wire.send_times_key(DEVICE_ID)) == b"not a list"


def test_a_long_message_is_delivered_once_every_part_is(conn, redis_url, start_emulator, start_agent):
    emulator = start_emulator(report_delay=0.2)
    serve_client(conn)
    start_agent(redis_url, emulator)

    enqueue(conn, NORMAL, "msg_0000000000000002", text="x" * 400)

    eventually(lambda: kinds_of(conn, "msg_0000000000000002") == ["sent", "delivered"])
    [record] = emulator.sent
    assert record.text == "x" * 400 and len(record.references) == 3
    assert events_of(conn, "msg_0000000000000002")[0].data["references"] == list(record.references)


def test_a_recipient_the_network_refuses_fails_with_the_mapped_code_and_the_modems_error(
    conn, redis_url, start_emulator, start_agent
):
    emulator = start_emulator(failures={r"0000$": 1})
    serve_client(conn)
    start_agent(redis_url, emulator)

    enqueue(conn, NORMAL, "msg_0000000000000003", to="+263771230000")

    eventually(lambda: kinds_of(conn, "msg_0000000000000003") == ["failed"])
    failed = events_of(conn, "msg_0000000000000003")[0]
    assert failed.data["code"] == "INVALID_NUMBER"
    assert "CMS ERROR" in failed.data["detail"] and "1" in failed.data["detail"]
    assert emulator.sent == []


def test_a_send_the_modem_refused_for_a_passing_reason_is_retried_and_leaves_once(
    conn, redis_url, start_emulator, start_agent
):
    seed = 1  # its generator refuses the first send and accepts the second
    draws = random.Random(seed)
    assert draws.random() < 0.5 <= draws.random()
    emulator = start_emulator(failure_rate=0.5, seed=seed)
    serve_client(conn)
    start_agent(redis_url, emulator, send_retries=2)

    enqueue(conn, NORMAL, "msg_0000000000000004")

    eventually(lambda: "sent" in kinds_of(conn, "msg_0000000000000004"))
    assert [record.text for record in emulator.sent] == ["text of msg_0000000000000004"]
    assert kinds_of(conn, "msg_0000000000000004")[0] == "sent"


def test_a_send_refused_for_a_passing_reason_every_time_fails_after_the_retries(
    conn, redis_url, start_emulator, start_agent
):
    emulator = start_emulator(failures={r"5555$": 41})  # +CMS ERROR: 41, temporary failure
    serve_client(conn)
    start_agent(redis_url, emulator, send_retries=2)

    enqueue(conn, NORMAL, "msg_0000000000000011", to="+263771235555")

    eventually(lambda: kinds_of(conn, "msg_0000000000000011") == ["failed"])
    failed = events_of(conn, "msg_0000000000000011")[0]
    assert failed.data["code"] == "NETWORK_ERROR"
    assert "41" in failed.data["detail"] and "tried 3 times" in failed.data["detail"]
    assert emulator.sent == []


def test_a_long_message_whose_second_part_was_refused_for_now_sends_each_part_once_and_is_delivered(
    conn, redis_url, start_emulator, start_agent, tmp_path
):
    emulator = start_emulator(report_delay=0.2, refused_submissions=(2,))  # +CMS ERROR: 500, once
    serve_client(conn)
    agent = start_agent(redis_url, emulator)

    enqueue(conn, NORMAL, "msg_0000000000000012", text="x" * 400)

    eventually(lambda: kinds_of(conn, "msg_0000000000000012") == ["sent", "delivered"])
    assert [part.concat.sequence for part in emulator.accepted_parts if part.concat] == [1, 2, 3]
    [record] = emulator.sent
    assert record.text == "x" * 400
    assert events_of(conn, "msg_0000000000000012")[0].data["references"] == list(record.references)
    agent.stop()
    ledger = Ledger(tmp_path / "data" / "agents" / f"{DEVICE_ID}.sqlite3")
    try:
        parts = ledger.parts_of("msg_0000000000000012")
    finally:
        ledger.close()
    assert [(part.part, part.reference, part.outcome) for part in parts] == [
        (number, reference, "delivered") for number, reference in enumerate(record.references)
    ]


def test_a_long_message_whose_later_parts_are_refused_every_time_fails_as_unknown_outcome_never_begun_again(
    conn, redis_url, start_emulator, start_agent
):
    emulator = start_emulator(refused_submissions=(2, 3, 4))  # part 2 on every one of the 3 tries
    serve_client(conn)
    start_agent(redis_url, emulator, send_retries=2)

    enqueue(conn, NORMAL, "msg_0000000000000013", text="x" * 400)

    eventually(lambda: kinds_of(conn, "msg_0000000000000013") == ["failed"])
    failed = events_of(conn, "msg_0000000000000013")[0]
    assert failed.data["code"] == "NETWORK_ERROR"
    assert failed.data["detail"].startswith("outcome unknown: ")
    assert "500" in failed.data["detail"] and "1 of 3 parts sent" in failed.data["detail"]
    assert [part.concat.sequence for part in emulator.accepted_parts if part.concat] == [1]


@pytest.mark.slow
def test_a_send_the_modem_never_answered_fails_as_unknown_outcome_and_is_not_retried(
    conn, redis_url, start_emulator, start_agent
):
    emulator = start_emulator(send_delay=2.0, report_delay=None)
    serve_client(conn)
    start_agent(redis_url, emulator, send_timeout_seconds=0.5, send_retries=3)

    enqueue(conn, NORMAL, "msg_0000000000000010")

    eventually(lambda: kinds_of(conn, "msg_0000000000000010") == ["failed"])
    failed = events_of(conn, "msg_0000000000000010")[0]
    assert failed.data["code"] == "TIMEOUT"
    assert "outcome unknown" in failed.data["detail"]
    eventually(lambda: emulator.sent)  # the network took it after all
    beats = len(events_of_kind(conn, "heartbeat"))
    eventually(lambda: len(events_of_kind(conn, "heartbeat")) >= beats + 3)  # time for a wrong retry
    assert [record.text for record in emulator.sent] == ["text of msg_0000000000000010"]


def test_messages_leave_in_priority_order_the_devices_own_before_the_shared_ones(
    conn, redis_url, fake_modem, start_agent
):
    serve_client(conn)
    waiting = [
        (wire.client_queue(CLIENT_ID, 5), "msg_000000000000c005"),
        (wire.device_queue(DEVICE_ID, 5), "msg_000000000000d005"),
        (wire.client_queue(CLIENT_ID, 3), "msg_000000000000c003"),
        (wire.client_queue(CLIENT_ID, 1), "msg_000000000000c001"),
        (wire.device_queue(DEVICE_ID, 3), "msg_000000000000d003"),
    ]
    for queue, message_id in waiting:
        enqueue(conn, queue, message_id)
    start_agent(redis_url, fake_modem)

    eventually(lambda: len(fake_modem.sent) == len(waiting))
    sent_order = [record.text.removeprefix("text of ") for record in fake_modem.sent]
    assert sent_order == [
        "msg_000000000000c001",
        "msg_000000000000d003",
        "msg_000000000000c003",
        "msg_000000000000d005",
        "msg_000000000000c005",
    ]


def test_two_devices_of_a_client_share_its_queue_and_each_message_leaves_once(conn, redis_url, start_agent):
    first, second = FakeModem(), FakeModem()
    serve_client(conn, DEVICE_ID)
    serve_client(conn, OTHER_DEVICE_ID)
    start_agent(redis_url, first)
    start_agent(redis_url, second, device_id=OTHER_DEVICE_ID)
    message_ids = [f"msg_00000000000002{number:02x}" for number in range(12)]

    for message_id in message_ids:
        enqueue(conn, wire.client_queue(CLIENT_ID, 3), message_id)

    eventually(lambda: len(first.sent) + len(second.sent) == len(message_ids))
    texts = sorted(record.text for record in first.sent + second.sent)
    assert texts == [f"text of {message_id}" for message_id in message_ids]
    for modem, device_id in ((first, DEVICE_ID), (second, OTHER_DEVICE_ID)):
        for record in modem.sent:
            claim = conn.get(wire.claim_key(CLIENT_ID, record.text.removeprefix("text of ")))
            assert claim == wire.claim_value_device(device_id).encode()


def test_a_message_claimed_by_a_cancel_an_expiry_or_another_device_never_reaches_the_modem(
    conn, redis_url, fake_modem, start_agent
):
    serve_client(conn)
    conn.set(wire.claim_key(CLIENT_ID, "msg_0000000000000005"), wire.CLAIM_CANCELLED)
    conn.set(wire.claim_key(CLIENT_ID, "msg_0000000000000006"), wire.claim_value_device(OTHER_DEVICE_ID))
    conn.set(wire.claim_key(CLIENT_ID, "msg_0000000000000008"), wire.CLAIM_EXPIRED)
    messages = ("msg_0000000000000005", "msg_0000000000000006", "msg_0000000000000008", "msg_0000000000000007")
    for message_id in messages:
        enqueue(conn, NORMAL, message_id)
    start_agent(redis_url, fake_modem)

    eventually(lambda: kinds_of(conn, "msg_0000000000000007") == ["sent"])
    assert [record.text for record in fake_modem.sent] == ["text of msg_0000000000000007"]
    assert [kinds_of(conn, message_id) for message_id in messages[:3]] == [[], [], []]
    assert conn.get(wire.claim_key(CLIENT_ID, "msg_0000000000000005")) == wire.CLAIM_CANCELLED.encode()
    assert conn.get(wire.claim_key(CLIENT_ID, "msg_0000000000000008")) == wire.CLAIM_EXPIRED.encode()
    # Claimed or not, the job that carried each message is gone: the claim speaks for it.
    for message_id in messages:
        assert not conn.exists(Job.key_for(wire.send_job_id(CLIENT_ID, message_id)))


def test_a_message_past_its_validity_fails_with_timeout_unsent(conn, redis_url, fake_modem, start_agent):
    serve_client(conn)
    past = isoformat_z(datetime.now(timezone.utc) - timedelta(seconds=1))
    enqueue(conn, NORMAL, "msg_0000000000000008", valid_until=past)
    start_agent(redis_url, fake_modem)

    eventually(lambda: kinds_of(conn, "msg_0000000000000008") == ["failed"])
    assert events_of(conn, "msg_0000000000000008")[0].data["code"] == "TIMEOUT"
    assert fake_modem.sent == []


def test_a_message_of_another_client_on_the_devices_queue_is_refused_unsent(conn, redis_url, fake_modem, start_agent):
    serve_client(conn)
    enqueue(conn, NORMAL, "msg_0000000000000009", client_id="client_9999999999")
    enqueue(conn, NORMAL, "msg_000000000000000a")
    start_agent(redis_url, fake_modem)

    eventually(lambda: kinds_of(conn, "msg_000000000000000a") == ["sent"])
    assert [record.text for record in fake_modem.sent] == ["text of msg_000000000000000a"]
    assert conn.get(wire.claim_key(CLIENT_ID, "msg_0000000000000009")) is None


def test_a_job_that_is_not_a_well_formed_send_is_refused_unrun_and_the_agent_carries_on(
    conn, redis_url, fake_modem, start_agent, tmp_path
):
    serve_client(conn)
    planted = tmp_path / "planted"
    queue = Queue(NORMAL, connection=conn)
    queue.enqueue("pathlib.Path.touch", planted)
    queue.enqueue(wire.SEND_JOB_FUNC, {"message_id": "msg_0000000000000012"})
    queue.enqueue(wire.SEND_JOB_FUNC, "not a payload")
    enqueue(conn, NORMAL, "msg_0000000000000013")
    start_agent(redis_url, fake_modem)

    eventually(lambda: kinds_of(conn, "msg_0000000000000013") == ["sent"])
    assert not planted.exists()
    assert [record.text for record in fake_modem.sent] == ["text of msg_0000000000000013"]
    assert queue.count == 0


def test_a_repeated_job_is_answered_with_the_events_already_reported_not_sent_again(
    conn, redis_url, fake_modem, start_agent
):
    serve_client(conn)
    start_agent(redis_url, fake_modem)
    enqueue(conn, NORMAL, "msg_000000000000000b")
    [first] = eventually(lambda: events_of(conn, "msg_000000000000000b"))
    # As when Redis lost its data: the claim and the event's job are gone.
    conn.delete(wire.claim_key(CLIENT_ID, "msg_000000000000000b"))
    Queue(wire.EVENTS_QUEUE, connection=conn).empty()

    enqueue(conn, NORMAL, "msg_000000000000000b")

    [again] = eventually(lambda: events_of(conn, "msg_000000000000000b"))
    assert (again.kind, again.event_id) == ("sent", first.event_id)
    assert len(fake_modem.sent) == 1
    assert conn.get(wire.claim_key(CLIENT_ID, "msg_000000000000000b")) == wire.claim_value_device(DEVICE_ID).encode()


def test_the_send_rate_per_minute_is_honoured(conn, redis_url, fake_modem, start_agent):
    serve_client(conn)
    for number in range(5):
        enqueue(conn, NORMAL, f"msg_00000000000001{number:02x}")
    start_agent(redis_url, fake_modem, send_rate_per_minute=3)

    eventually(lambda: len(fake_modem.sent) == 3)
    eventually(lambda: Queue(NORMAL, connection=conn).count == 2)
    # Give the agent time it could misuse, then check nothing more left within the minute.
    eventually(lambda: len(events_of_kind(conn, "heartbeat")) >= 5)
    window = fake_modem.sent[-1].at - fake_modem.sent[0].at
    assert len(fake_modem.sent) == 3 and window < timedelta(minutes=1)
    assert Queue(NORMAL, connection=conn).count == 2


def test_an_incoming_sms_is_reported_received(conn, redis_url, start_emulator, start_agent):
    emulator = start_emulator()
    serve_client(conn)
    start_agent(redis_url, emulator)
    eventually(lambda: events_of_kind(conn, "heartbeat"))

    emulator.inject_incoming("+263772222222", "STOP please")

    [received] = eventually(lambda: events_of_kind(conn, "received"))
    assert (received.data["sender"], received.data["text"]) == ("+263772222222", "STOP please")
    assert received.data["received_at"].endswith("Z")


def test_heartbeats_say_what_the_modem_and_its_queues_are_doing(conn, redis_url, start_emulator, start_agent):
    emulator = start_emulator(model="E3372", operator="Econet", phone_number="+263771000001")
    serve_client(conn)
    enqueue(conn, wire.client_queue(CLIENT_ID, 5), "msg_000000000000000c")
    start_agent(redis_url, emulator, send_rate_per_minute=1)
    eventually(lambda: len(emulator.sent) == 1)
    enqueue(conn, wire.client_queue(CLIENT_ID, 5), "msg_000000000000000d")

    def latest() -> wire.Event | None:
        raw = conn.get(wire.heartbeat_key(DEVICE_ID))
        beat = raw and signing.unseal(raw, signing.device_signing_key("correct horse battery staple"))
        return beat if beat and beat.data["sent_today"] == 1 and beat.data["queue_depth"] == 1 else None

    beat = eventually(latest)
    assert beat.data["state"] == "online" and beat.data["modem_lost"] is False
    assert beat.data["model"] == "E3372" and beat.data["operator"] == "Econet"
    assert beat.data["registration"] in ("home", "roaming")
    assert 0 <= beat.data["signal_percent"] <= 100
    assert conn.ttl(wire.heartbeat_key(DEVICE_ID)) > 0
