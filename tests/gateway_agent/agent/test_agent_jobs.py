"""What an agent accepts from its queues, even when the job changed after it was dequeued."""

from __future__ import annotations

import pytest
from agent_support import CLIENT_ID, DEVICE_ID, OTHER_DEVICE_ID, SIGNING_KEY, enqueue, enqueue_batch

from gateway_agent.agent import jobs
from gateway_agent.agent.manifests import Manifests
from zimsend_common import bus, manifest, wire

NORMAL = wire.device_queue(DEVICE_ID, 3)


def dequeue(conn) -> bus.TakenJob:
    job = bus.take([NORMAL], 1, conn)
    assert job is not None
    return job


@pytest.mark.parametrize("meanwhile", ["deleted", "cancelled"])
def test_a_job_deleted_or_cancelled_between_dequeue_and_accept_yields_its_message_for_the_claim_to_decide(
    conn, meanwhile
):
    sent = enqueue(conn, NORMAL, "msg_00000000000000c1")
    job = dequeue(conn)
    same = bus.fetch(job.id, conn)
    if meanwhile == "deleted":
        same.delete()  # as recovery does before placing the message again
    else:
        same.cancel()  # as a cancel does; its claim decides what becomes of the message

    taken = jobs.accept(job, CLIENT_ID, DEVICE_ID, SIGNING_KEY, Manifests(conn, DEVICE_ID, SIGNING_KEY))
    assert taken is not None and taken.send == sent


def test_a_job_meant_for_another_device_is_refused_and_removed(conn):
    enqueue(conn, NORMAL, "msg_00000000000000c2", device_id=OTHER_DEVICE_ID)
    job = dequeue(conn)

    assert jobs.accept(job, CLIENT_ID, DEVICE_ID, SIGNING_KEY, Manifests(conn, DEVICE_ID, SIGNING_KEY)) is None
    assert not conn.exists(bus.BusJob.key_for(job.id))


SHARED = wire.client_queue(CLIENT_ID, 3)


def take_shared(conn, manifests: Manifests, refusals: list[jobs.JobRefusal]) -> wire.SendJob | None:
    job = bus.take([SHARED], 1, conn)
    assert job is not None
    taken = jobs.accept(job, CLIENT_ID, DEVICE_ID, SIGNING_KEY, manifests, refusals.append)
    return None if taken is None else taken.send


def test_the_jobs_of_a_batch_are_taken_on_the_manifest_signed_for_this_device(conn):
    _, placed = enqueue_batch(conn, ["msg_00000000000000d1", "msg_00000000000000d2"])
    manifests, refusals = Manifests(conn, DEVICE_ID, SIGNING_KEY), []

    assert [take_shared(conn, manifests, refusals) for _ in placed] == placed
    assert refusals == []
    assert bus.queue(SHARED, conn).count == 0


def test_a_batch_job_whose_manifest_lapsed_is_dropped_and_left_for_the_relay(conn):
    manifest_id, _ = enqueue_batch(conn, ["msg_00000000000000d3"])
    conn.delete(manifest.key(CLIENT_ID, manifest_id))
    refusals: list[jobs.JobRefusal] = []

    assert take_shared(conn, Manifests(conn, DEVICE_ID, SIGNING_KEY), refusals) is None
    assert [(r.reason, r.message_id) for r in refusals] == [(jobs.MANIFEST_LAPSED, "msg_00000000000000d3")]
    assert conn.keys("rq:job:*msg_00000000000000d3") == []


def test_a_batch_signed_before_this_device_was_added_is_left_for_the_relay(conn):
    enqueue_batch(conn, ["msg_00000000000000d4"], signed_for=(OTHER_DEVICE_ID,))
    refusals: list[jobs.JobRefusal] = []

    assert take_shared(conn, Manifests(conn, DEVICE_ID, SIGNING_KEY), refusals) is None
    assert [r.reason for r in refusals] == [jobs.NOT_SIGNED_FOR_DEVICE]


def test_a_batch_job_rewritten_or_its_manifest_forged_is_refused(conn):
    """An attacker with the client's Redis keys rewrites a job's number, then forges a
    manifest listing the rewritten job, signed with a key that is not this device's."""
    manifest_id, placed = enqueue_batch(conn, ["msg_00000000000000d5", "msg_00000000000000d6"])
    rewritten = {**placed[0].to_dict(), "to": "+15550006666"}
    job_key = f"rq:job:{wire.send_job_id(CLIENT_ID, placed[0].message_id)}"
    conn.hset(job_key, "data", bus.JSONSerializer.dumps([wire.SEND_JOB_FUNC, None, [rewritten, manifest_id], {}]))
    refusals: list[jobs.JobRefusal] = []

    assert take_shared(conn, Manifests(conn, DEVICE_ID, SIGNING_KEY), refusals) is None  # the manifest does not list it
    forged = manifest.signed(CLIENT_ID, manifest_id, [placed[1].to_dict()], {DEVICE_ID: "the attacker's key"})
    conn.set(manifest.key(CLIENT_ID, manifest_id), forged)
    assert (
        take_shared(conn, Manifests(conn, DEVICE_ID, SIGNING_KEY), refusals) is None
    )  # its signature is not this device's
    assert [r.reason for r in refusals] == ["bad_signature", "bad_signature"]


def test_a_job_naming_a_manifest_is_refused_by_a_device_that_does_not_know_its_client(conn):
    """A batch is a client's shared jobs: a device that cannot name its client reads no manifest."""
    _, [placed] = enqueue_batch(conn, ["msg_00000000000000d7"])
    payload = {**placed.to_dict(), "device_id": DEVICE_ID}
    manifest_id = manifest.new_id()  # a manifest listing the payload exactly, signed for this device
    conn.set(
        manifest.key(CLIENT_ID, manifest_id),
        manifest.signed(CLIENT_ID, manifest_id, [payload], {DEVICE_ID: SIGNING_KEY}),
    )
    bus.queue(NORMAL, conn).enqueue(wire.SEND_JOB_FUNC, payload, manifest_id, job_id="direct")
    refusals: list[jobs.JobRefusal] = []

    found = Manifests(conn, DEVICE_ID, SIGNING_KEY)
    assert jobs.accept(dequeue(conn), None, DEVICE_ID, SIGNING_KEY, found, refusals.append) is None
    assert [r.reason for r in refusals] == ["unsigned"]


def test_a_routed_job_on_the_device_queue_is_taken_before_the_device_knows_its_client(conn):
    # A shared message routed by its destination (dispatch.routes): on the device's own queue,
    # its payload naming no device, signed for this device alone. The relay's signature names
    # this device; the agent may not have read its client's binding yet (a device just added).
    sent = enqueue(conn, NORMAL, "msg_00000000000000c9", signed_for=(DEVICE_ID,))
    assert sent.device_id is None
    refusals: list[jobs.JobRefusal] = []

    taken = jobs.accept(
        dequeue(conn), None, DEVICE_ID, SIGNING_KEY, Manifests(conn, DEVICE_ID, SIGNING_KEY), refusals.append
    )
    assert refusals == []
    assert taken is not None and taken.send == sent
