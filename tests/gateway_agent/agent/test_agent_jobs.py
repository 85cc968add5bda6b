"""What an agent accepts from its queues, even when the job changed after it was dequeued."""

from __future__ import annotations

import pytest
from agent_support import CLIENT_ID, DEVICE_ID, OTHER_DEVICE_ID, SIGNING_KEY, enqueue
from rq.job import Job

from gateway_agent.agent import jobs
from zimsend_common import bus, wire

NORMAL = wire.device_queue(DEVICE_ID, 3)


def dequeue(conn) -> Job:
    job, _ = bus.dequeue_any([bus.queue(NORMAL, conn)], 1, conn)
    return job


@pytest.mark.parametrize("meanwhile", ["deleted", "cancelled"])
def test_a_job_deleted_or_cancelled_between_dequeue_and_accept_yields_its_message_and_leaves_no_job(conn, meanwhile):
    sent = enqueue(conn, NORMAL, "msg_00000000000000c1")
    job = dequeue(conn)
    same = bus.fetch(job.id, conn)
    if meanwhile == "deleted":
        same.delete()  # as recovery does before placing the message again
    else:
        same.cancel()  # as a cancel does; its claim decides what becomes of the message

    assert jobs.accept(job, CLIENT_ID, DEVICE_ID, SIGNING_KEY) == sent
    assert not conn.exists(job.key)


def test_a_job_meant_for_another_device_is_refused_and_removed(conn):
    enqueue(conn, NORMAL, "msg_00000000000000c2", device_id=OTHER_DEVICE_ID)
    job = dequeue(conn)

    assert jobs.accept(job, CLIENT_ID, DEVICE_ID, SIGNING_KEY) is None
    assert not conn.exists(job.key)
