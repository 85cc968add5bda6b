"""A SIM without credit: the agent declines the client's shared messages for the other
devices, never sends them, drops their jobs placed again, and may leave the shared queues
alone for a while."""

from __future__ import annotations

import time

from agent_support import CLIENT_ID, DEVICE_ID, OTHER_DEVICE_ID, enqueue, events_of, eventually, kinds_of, serve_client

from gateway_agent.backends.emulator.fake_modem import FakeModem
from gateway_agent.errors import ModemError
from zimsend_common import bus, signing, wire
from zimsend_common.failures import FailureCode

SHARED = wire.client_queue(CLIENT_ID, 3)
OWN = wire.device_queue(DEVICE_ID, 3)
BARRED = "+CMS ERROR: 8 (Operator determined barring)"


def no_credit(recipient: str, text: str) -> ModemError:
    return ModemError(BARRED, temporary=False, failure=FailureCode.NO_CREDIT)


def without_credit(modem: FakeModem) -> FakeModem:
    modem.refuse(no_credit)
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
    heartbeat = signing.unseal(conn.get(wire.heartbeat_key(DEVICE_ID)), running.agent._signing_key)
    assert heartbeat is not None and heartbeat.data["shared_paused_until"] is not None


def test_by_default_the_agent_goes_on_taking_shared_jobs_after_a_refusal_for_credit(
    conn, redis_url, fake_modem, start_agent
):
    serve_client(conn)
    running = start_agent(redis_url, without_credit(fake_modem))

    for message_id in ("msg_00000000000d0006", "msg_00000000000d0007"):
        enqueue(conn, SHARED, message_id)

    eventually(lambda: all(kinds_of(conn, m) == ["declined"] for m in ("msg_00000000000d0006", "msg_00000000000d0007")))
    heartbeat = signing.unseal(conn.get(wire.heartbeat_key(DEVICE_ID)), running.agent._signing_key)
    assert heartbeat is not None and heartbeat.data["shared_paused_until"] is None


def test_a_shared_job_of_a_message_it_declined_is_dropped_and_the_jobs_behind_it_are_taken(
    conn, redis_url, fake_modem, start_agent
):
    serve_client(conn)
    barred = [True]
    fake_modem.refuse(lambda recipient, text: no_credit(recipient, text) if barred[0] else None)
    start_agent(redis_url, fake_modem, no_credit_pause_seconds=0)
    enqueue(conn, SHARED, "msg_00000000000d0008")
    eventually(lambda: kinds_of(conn, "msg_00000000000d0008") == ["declined"])
    barred[0] = False  # credit topped up

    # Placed again by the relay for the other device only, which then went offline: the
    # job must not stay at the head, keeping this device from the messages behind it.
    enqueue(conn, SHARED, "msg_00000000000d0008", signed_for=(OTHER_DEVICE_ID,))
    enqueue(conn, SHARED, "msg_00000000000d000b")

    eventually(lambda: kinds_of(conn, "msg_00000000000d000b") == ["sent"])
    assert not on_queue(conn, SHARED, "msg_00000000000d0008")
    assert not conn.exists(bus.BusJob.key_for(wire.send_job_id(CLIENT_ID, "msg_00000000000d0008")))
    assert conn.get(wire.claim_key(CLIENT_ID, "msg_00000000000d0008")) is None  # the relay's to place again
    assert [record.text for record in fake_modem.sent] == ["text of msg_00000000000d000b"]


def test_the_other_device_sends_what_this_one_declined_once(conn, redis_url, fake_modem, start_agent):
    serve_client(conn)
    serve_client(conn, OTHER_DEVICE_ID)
    other = FakeModem()
    declining = start_agent(redis_url, without_credit(fake_modem), no_credit_pause_seconds=0)
    enqueue(conn, SHARED, "msg_00000000000d0009")
    eventually(lambda: kinds_of(conn, "msg_00000000000d0009") == ["declined"])
    declining.stop()  # else it may drop the job placed again first, for the relay to place once more
    start_agent(redis_url, other, device_id=OTHER_DEVICE_ID)

    enqueue(conn, SHARED, "msg_00000000000d0009", signed_for=(OTHER_DEVICE_ID,))

    eventually(lambda: kinds_of(conn, "msg_00000000000d0009") == ["declined", "sent"])
    assert [record.text for record in other.sent] == ["text of msg_00000000000d0009"]
    assert fake_modem.sent == []
    claim = conn.get(wire.claim_key(CLIENT_ID, "msg_00000000000d0009"))
    assert claim == wire.claim_value_device(OTHER_DEVICE_ID).encode()
