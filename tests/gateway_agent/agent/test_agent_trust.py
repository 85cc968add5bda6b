"""What an agent does with what an attacker holding Redis credentials writes into Redis.

Planted pickles and dotted paths never run; forged or misdirected send jobs
never reach the modem (its log of sent SMS is the witness), are
reported to the relay as ``job_refused`` and move no message; a binding the
relay did not sign never opens another client's queue.
"""

from __future__ import annotations

import logging

import pytest
from agent_support import (
    CLIENT_ID,
    DEVICE_ID,
    OTHER_DEVICE_ID,
    SIGNING_KEY,
    enqueue,
    enqueue_batch,
    events_of_kind,
    eventually,
    kinds_of,
    serve_client,
)
from planted_jobs import attacks, plant

from zimsend_common import bus, manifest, signing, wire
from zimsend_common.timefmt import isoformat_z, utcnow

NORMAL = wire.device_queue(DEVICE_ID, 3)
SHARED = wire.client_queue(CLIENT_ID, 3)
OTHER_CLIENT = "client_9999999999"
VICTIM = "msg_00000000000000f1"


def forge(conn, queue: str, job_id: str, signatures: dict, **fields: object) -> None:
    """A send job of the right shape for a real message id, with the attacker's number and text."""
    job = wire.SendJob(
        message_id=VICTIM,
        client_id=CLIENT_ID,
        to="+15550006666",
        text="attacker text",
        priority=3,
        issued_at=isoformat_z(utcnow()),
        nonce=signing.new_nonce(),
    )
    document = {**job.to_dict(), **fields}
    bus.queue(queue, conn).enqueue(wire.SEND_JOB_FUNC, document, signatures, job_id=job_id)


def refusals(conn) -> list[str]:
    return [event.data["reason"] for event in events_of_kind(conn, "job_refused")]


@pytest.mark.parametrize("queue", [NORMAL, SHARED])
def test_a_planted_pickle_or_dotted_path_never_runs_and_the_agent_carries_on(
    conn, redis_url, fake_modem, start_agent, tmp_path, caplog, queue
):
    serve_client(conn)
    witnesses = []
    for name, (witness, fields) in attacks(tmp_path).items():
        plant(conn, queue, f"planted-{name}", fields)
        witnesses.append(witness)
    enqueue(conn, queue, "msg_00000000000000f0")
    with caplog.at_level(logging.WARNING, logger="zimsend_common.bus"):
        start_agent(redis_url, fake_modem)
        eventually(lambda: kinds_of(conn, "msg_00000000000000f0") == ["sent"])

    assert [witness for witness in witnesses if witness.exists()] == []
    assert [record.text for record in fake_modem.sent] == ["text of msg_00000000000000f0"]
    refused = {record.job_id for record in caplog.records if record.getMessage() == "job refused"}
    assert refused == {"planted-pickle", "planted-import"}


def test_a_forged_send_job_never_reaches_the_modem_and_moves_no_message(conn, redis_url, fake_modem, start_agent):
    serve_client(conn)
    forge(conn, NORMAL, "forged1", {})  # unsigned
    forge(conn, NORMAL, "forged2", {DEVICE_ID: signing.sign({"made": "up"}, SIGNING_KEY)})  # of something else
    forge(conn, NORMAL, "forged3", {DEVICE_ID: "ff" * 32}, device_id=DEVICE_ID)  # a guess
    forge(conn, SHARED, "forged4", {DEVICE_ID: signing.sign({}, "not the device's key")}, nonce="n")
    enqueue(conn, NORMAL, "msg_00000000000000f2")
    start_agent(redis_url, fake_modem)

    eventually(lambda: kinds_of(conn, "msg_00000000000000f2") == ["sent"])
    eventually(lambda: len(refusals(conn)) == 4)
    assert [record.text for record in fake_modem.sent] == ["text of msg_00000000000000f2"]
    assert set(kinds_of(conn, VICTIM)) == {"job_refused"}  # no sent/failed/delivered: nothing moves it
    assert sorted(refusals(conn)) == ["bad_signature", "bad_signature", "bad_signature", "unsigned"]
    assert {event.data["message_id"] for event in events_of_kind(conn, "job_refused")} == {VICTIM}
    assert conn.get(wire.claim_key(CLIENT_ID, VICTIM)) is None


def test_a_genuine_job_for_another_device_or_client_or_long_expired_is_refused_unsent(
    conn, redis_url, fake_modem, start_agent
):
    serve_client(conn)
    enqueue(conn, NORMAL, "msg_00000000000000f3", device_id=OTHER_DEVICE_ID)
    enqueue(conn, SHARED, "msg_00000000000000f4", client_id=OTHER_CLIENT)
    enqueue(conn, NORMAL, "msg_00000000000000f5", issued_at="2020-01-01T00:00:00+00:00")
    enqueue(conn, NORMAL, "msg_00000000000000f6")
    start_agent(redis_url, fake_modem)

    eventually(lambda: kinds_of(conn, "msg_00000000000000f6") == ["sent"])
    eventually(lambda: len(refusals(conn)) == 3)
    assert [record.text for record in fake_modem.sent] == ["text of msg_00000000000000f6"]
    assert sorted(refusals(conn)) == ["expired_signature", "other_client", "other_device"]


def signed_for_other_devices_only(conn, message_id: str) -> None:
    enqueue(conn, SHARED, message_id, signed_for=(OTHER_DEVICE_ID,))


def batch_manifest_lapsed(conn, message_id: str) -> None:
    manifest_id, _ = enqueue_batch(conn, [message_id])
    conn.delete(manifest.key(CLIENT_ID, manifest_id))  # as Redis does after manifest.KEPT_SECONDS


@pytest.mark.parametrize("leave", [signed_for_other_devices_only, batch_manifest_lapsed])
def test_a_shared_job_the_device_cannot_believe_for_want_of_its_signature_is_left_for_the_relay(
    conn, redis_url, fake_modem, start_agent, leave
):
    serve_client(conn)
    leave(conn, "msg_00000000000000f7")
    enqueue(conn, NORMAL, "msg_00000000000000f8")
    start_agent(redis_url, fake_modem)

    eventually(lambda: kinds_of(conn, "msg_00000000000000f8") == ["sent"])
    # Taken off the queue and dropped: the message has no job, so the relay's recovery places it again.
    eventually(lambda: not conn.exists("rq:job:" + wire.send_job_id(CLIENT_ID, "msg_00000000000000f7")))
    assert bus.queue(SHARED, conn).count == 0
    assert [record.text for record in fake_modem.sent] == ["text of msg_00000000000000f8"]
    assert conn.get(wire.claim_key(CLIENT_ID, "msg_00000000000000f7")) is None  # neither claimed
    assert kinds_of(conn, "msg_00000000000000f7") == []  # nor reported


@pytest.mark.parametrize("binding", ["unsigned", "signed with another key", "another device's"])
def test_a_device_pointed_at_another_client_takes_none_of_its_messages(
    conn, redis_url, fake_modem, start_agent, binding
):
    value = {
        "unsigned": OTHER_CLIENT,
        "signed with another key": signing.binding(DEVICE_ID, OTHER_CLIENT, "another key"),
        "another device's": signing.binding(OTHER_DEVICE_ID, OTHER_CLIENT, SIGNING_KEY),
    }[binding]
    conn.set(wire.device_client_key(DEVICE_ID), value)
    theirs = wire.client_queue(OTHER_CLIENT, 3)
    enqueue(conn, theirs, "msg_00000000000000f9", client_id=OTHER_CLIENT)
    enqueue(conn, NORMAL, "msg_00000000000000fa", device_id=DEVICE_ID)  # its own queue still serves
    start_agent(redis_url, fake_modem)

    eventually(lambda: kinds_of(conn, "msg_00000000000000fa") == ["sent"])
    eventually(lambda: events_of_kind(conn, "heartbeat"))
    assert [record.text for record in fake_modem.sent] == ["text of msg_00000000000000fa"]
    assert bus.queue(theirs, conn).job_ids == [wire.send_job_id(OTHER_CLIENT, "msg_00000000000000f9")]
