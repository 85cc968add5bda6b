"""Recovery returning claimed messages to their silent devices in a batch: each goes back to the
device that claimed it, pinned or shared, signed for that device alone; an OTP's fails as its code
is lost; and the batch reads the OTP rows and the devices' keys once, however many it holds."""

from __future__ import annotations

import re
from datetime import timedelta

from query_plans import statements_run
from relay_parts import AgentDevice, Parts, known_to_the_worker, otp_message

from relay_server.dispatch import placement
from relay_server.store.models import Caller, Message
from relay_server.worker.abandoned import Phones
from relay_server.worker.expiry import LOST_OTP
from relay_server.worker.recovery import STUCK_AFTER, requeue_orphans
from zimsend_common import bus, wire
from zimsend_common.timefmt import utcnow

KEYS_READ = r"SELECT (devices\.client_id, )?devices\.device_id, devices\.signing_key\s"  # what a read of keys runs


def claimed(parts: Parts, message: Message, device: AgentDevice) -> Message:
    """``message``, claimed by ``device``, its job taken off its queue."""
    parts.redis.set(wire.claim_key(message.client_id, message.message_id), wire.claim_value_device(device.device_id))
    return message


Claims = list[tuple[Message, AgentDevice]]


def stuck_batch(parts: Parts, caller: Caller) -> tuple[Claims, Claims]:
    """Of ``caller``'s, pinned and shared messages each claimed by one of two devices heard from
    now, and an OTP's message claimed by the first: (message, claimant) pairs, the OTP's apart."""
    first, second = parts.device(caller), parts.device(caller)
    for device in (first, second):
        device.heartbeat()
    returned = [
        (claimed(parts, parts.message(caller, device_id=first.device_id), first), first),
        (claimed(parts, parts.message(caller), second), second),
        (claimed(parts, parts.message(caller), first), first),
    ]
    otp = claimed(parts, otp_message(parts, caller, utcnow(), device_id=first.device_id), first)
    return returned, [(otp, first)]


def assert_returned_to(parts: Parts, message: Message, device: AgentDevice) -> None:
    job_id = wire.send_job_id(message.client_id, message.message_id)
    assert job_id in bus.queue(wire.device_queue(device.device_id, message.priority), parts.redis).job_ids
    job = bus.fetch(job_id, parts.redis)
    assert wire.SendJob.from_dict(job.args[0]).device_id == device.device_id
    assert list(job.args[1]) == [device.device_id]  # signed for the claimant alone
    assert parts.reload(message).status == "queued"


def test_a_batch_of_stuck_claims_goes_back_to_each_claimant_reading_otps_and_keys_once(parts: Parts):
    batches = [stuck_batch(parts, parts.client()) for _ in range(2)]
    known_to_the_worker(parts.redis)
    now = utcnow() + STUCK_AFTER + timedelta(seconds=1)

    ran = statements_run(parts.store.engine, lambda: requeue_orphans(parts.ctx, now, None, Phones(parts.store)), "")

    assert len([statement for statement, _ in ran if "FROM otps" in statement]) == 1
    assert len([statement for statement, _ in ran if re.match(KEYS_READ, statement)]) == 1
    for returned, otps in batches:
        for message, device in returned:
            assert_returned_to(parts, message, device)
        for otp, device in otps:
            failed = parts.reload(otp)
            assert failed.error is not None
            assert (failed.status, failed.error.code, failed.error.detail) == ("failed", "TIMEOUT", LOST_OTP)
            assert bus.queue(wire.device_queue(device.device_id, otp.priority), parts.redis).count == 0


def test_a_round_reads_the_keys_of_the_clients_it_returns_messages_to_once_for_its_device_states_too(parts: Parts):
    for _ in range(3):
        caller = parts.client()
        device = parts.device(caller)
        device.heartbeat()
        claimed(parts, parts.message(caller), device)
        placement.enqueue_sends(parts.redis, parts.store.devices.signing_keys, [parts.message(caller)])  # waiting
    known_to_the_worker(parts.redis)
    now = utcnow() + STUCK_AFTER + timedelta(seconds=1)

    ran = statements_run(parts.store.engine, lambda: requeue_orphans(parts.ctx, now, None, Phones(parts.store)), "")

    # One read of the three clients' keys; not one of every client's and then one of each's.
    assert len([statement for statement, _ in ran if re.match(KEYS_READ, statement)]) == 1
