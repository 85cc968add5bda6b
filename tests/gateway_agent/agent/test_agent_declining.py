"""A SIM without credit: the agent declines the client's shared messages for the other
devices, never sends them, and leaves the shared queues alone for a while."""

from __future__ import annotations

import time

from agent_support import CLIENT_ID, DEVICE_ID, OTHER_DEVICE_ID, enqueue, events_of, eventually, kinds_of, serve_client

from gateway_agent.backends.emulator.fake_modem import FakeModem
from gateway_agent.errors import ModemError
from zimsend_common import bus, wire
from zimsend_common.failures import FailureCode

SHARED = wire.client_queue(CLIENT_ID, 3)
OWN = wire.device_queue(DEVICE_ID, 3)
BARRED = "+CMS ERROR: 8 (Operator determined barring)"


def without_credit(modem: FakeModem) -> FakeModem:
    modem.refuse(lambda recipient, text: ModemError(BARRED, temporary=False, failure=FailureCode.NO_CREDIT))
    return modem


def on_queue(conn, queue: str, message_id: str) -> bool:
    return wire.send_job_id(CLIENT_ID, message_id).encode() in conn.lrange(bus.queue_key(queue), 0, -1)


def test_a_shared_message_the_sim_refuses_for_want_of_credit_is_declined_and_its_claim_given_back(
    conn, redis_url, fake_modem, start_agent
):
    serve_client(conn)
    start_agent(redis_url, without_credit(fake_modem))

    enqueue(conn, SHARED, "msg_00000000000d0001")

    [event] = eventually(lambda: events_of(conn, "msg_00000000000d0001"))
    assert event.kind == "declined"
    assert (event.data["code"], event.data["detail"]) == ("NO_CREDIT", BARRED)
    assert conn.get(wire.claim_key(CLIENT_ID, "msg_00000000000d0001")) is None
    assert fake_modem.sent == []


def test_a_message_pinned_to_the_device_still_fails_no_credit(conn, redis_url, fake_modem, start_agent):
    serve_client(conn)
    start_agent(redis_url, without_credit(fake_modem))

    enqueue(conn, OWN, "msg_00000000000d0002", device_id=DEVICE_ID)

    eventually(lambda: kinds_of(conn, "msg_00000000000d0002") == ["failed"])
    assert events_of(conn, "msg_00000000000d0002")[0].data["code"] == "NO_CREDIT"
    assert conn.get(wire.claim_key(CLIENT_ID, "msg_00000000000d0002")) == wire.claim_value_device(DEVICE_ID).encode()


def test_after_a_refusal_for_credit_the_agent_leaves_the_shared_queues_but_serves_its_own(
    conn, redis_url, fake_modem, start_agent
):
    serve_client(conn)
    refusing = [True]
    fake_modem.refuse(
        lambda recipient, text: ModemError(BARRED, failure=FailureCode.NO_CREDIT) if refusing[0] else None
    )
    running = start_agent(redis_url, fake_modem, no_credit_pause_seconds=600)
    enqueue(conn, SHARED, "msg_00000000000d0003")
    eventually(lambda: kinds_of(conn, "msg_00000000000d0003") == ["declined"])
    refusing[0] = False  # whatever the SIM would do now, the shared queue waits for the pause

    enqueue(conn, SHARED, "msg_00000000000d0004")
    enqueue(conn, OWN, "msg_00000000000d0005", device_id=DEVICE_ID)

    eventually(lambda: kinds_of(conn, "msg_00000000000d0005") == ["sent"])
    time.sleep(1.0)
    assert [record.text for record in fake_modem.sent] == ["text of msg_00000000000d0005"]
    assert on_queue(conn, SHARED, "msg_00000000000d0004")
    heartbeat = wire.unseal(conn.get(wire.heartbeat_key(DEVICE_ID)), running.agent._signing_key)
    assert heartbeat is not None and heartbeat.data["shared_paused_until"] is not None


def test_by_default_the_agent_goes_on_taking_shared_jobs_after_a_refusal_for_credit(
    conn, redis_url, fake_modem, start_agent
):
    serve_client(conn)
    running = start_agent(redis_url, without_credit(fake_modem))

    for message_id in ("msg_00000000000d0006", "msg_00000000000d0007"):
        enqueue(conn, SHARED, message_id)

    eventually(lambda: all(kinds_of(conn, m) == ["declined"] for m in ("msg_00000000000d0006", "msg_00000000000d0007")))
    heartbeat = wire.unseal(conn.get(wire.heartbeat_key(DEVICE_ID)), running.agent._signing_key)
    assert heartbeat is not None and heartbeat.data["shared_paused_until"] is None


def test_a_shared_job_for_a_message_the_device_declined_is_left_on_its_queue_for_the_others(
    conn, redis_url, fake_modem, start_agent
):
    serve_client(conn)
    start_agent(redis_url, without_credit(fake_modem), no_credit_pause_seconds=0)
    enqueue(conn, SHARED, "msg_00000000000d0008")
    eventually(lambda: kinds_of(conn, "msg_00000000000d0008") == ["declined"])

    # Placed again by the relay, for the other device only.
    enqueue(conn, SHARED, "msg_00000000000d0008", signed_for=(OTHER_DEVICE_ID,))
    time.sleep(1.5)

    assert on_queue(conn, SHARED, "msg_00000000000d0008")
    assert conn.get(wire.claim_key(CLIENT_ID, "msg_00000000000d0008")) is None
    assert fake_modem.sent == []


def test_a_shared_job_of_a_message_it_declined_that_is_claimed_already_is_dropped_not_left_at_the_head(
    conn, redis_url, fake_modem, start_agent
):
    serve_client(conn)
    start_agent(redis_url, without_credit(fake_modem), no_credit_pause_seconds=0)
    enqueue(conn, SHARED, "msg_00000000000d000a")
    eventually(lambda: kinds_of(conn, "msg_00000000000d000a") == ["declined"])
    # Every device refused it: the relay holds its claim and failed it; a job of it left
    # on the queue must not keep every device from the messages behind it.
    conn.set(wire.claim_key(CLIENT_ID, "msg_00000000000d000a"), wire.CLAIM_DECLINED)
    enqueue(conn, SHARED, "msg_00000000000d000a", signed_for=(OTHER_DEVICE_ID,))
    enqueue(conn, SHARED, "msg_00000000000d000b")

    eventually(lambda: kinds_of(conn, "msg_00000000000d000b") == ["declined"])
    assert not on_queue(conn, SHARED, "msg_00000000000d000a")
    assert fake_modem.sent == []


def test_the_other_device_sends_what_this_one_declined_once(conn, redis_url, fake_modem, start_agent):
    serve_client(conn)
    serve_client(conn, OTHER_DEVICE_ID)
    other = FakeModem()
    start_agent(redis_url, without_credit(fake_modem), no_credit_pause_seconds=0)
    enqueue(conn, SHARED, "msg_00000000000d0009")
    eventually(lambda: kinds_of(conn, "msg_00000000000d0009") == ["declined"])
    start_agent(redis_url, other, device_id=OTHER_DEVICE_ID)

    enqueue(conn, SHARED, "msg_00000000000d0009", signed_for=(OTHER_DEVICE_ID,))

    eventually(lambda: kinds_of(conn, "msg_00000000000d0009") == ["declined", "sent"])
    assert [record.text for record in other.sent] == ["text of msg_00000000000d0009"]
    assert fake_modem.sent == []
    claim = conn.get(wire.claim_key(CLIENT_ID, "msg_00000000000d0009"))
    assert claim == wire.claim_value_device(OTHER_DEVICE_ID).encode()
